import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app";

// Browsers ask for /favicon.ico on every page: it must be a real icon, not a 404 that the
// Remix handler logs with a stack trace. Served by the built app over HTTP.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ serve: true });
});
afterAll(() => app?.close());

describe("favicon", () => {
  it("/favicon.ico and /favicon.svg are served as images", async () => {
    const ico = await fetch(`${app.url}/favicon.ico`);
    expect(ico.status).toBe(200);
    expect(ico.headers.get("content-type")).toMatch(/icon/);
    const bytes = new Uint8Array(await ico.arrayBuffer());
    // ICONDIR header: reserved 0, type 1 (icon), at least one image.
    expect([bytes[0], bytes[1], bytes[2], bytes[3]]).toEqual([0, 0, 1, 0]);
    expect(bytes[4]).toBeGreaterThan(0);

    const svg = await fetch(`${app.url}/favicon.svg`);
    expect(svg.status).toBe(200);
    expect(svg.headers.get("content-type")).toMatch(/image\/svg\+xml/);
  });

  it("every page links the icon", async () => {
    const html = await (await fetch(`${app.url}/login`)).text();
    expect(html).toContain('rel="icon" href="/favicon.svg"');
  });
});
