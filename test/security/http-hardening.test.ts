import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChannelsRuntime, type ChannelsRuntime } from "../../nodes/channels/runtime.server";
import { savePolicySettings, saveProviderSettings } from "../../nodes/channels/settings.server";
import { createUser, request } from "../channels/support";
import { startSmtpFake, type SmtpFake } from "../fakes/smtp-server";
import { startTestApp, type TestApp } from "../support/app";

/**
 * The HTTP surface over real HTTP (the Remix build behind express): security headers with a
 * per-response CSP nonce that Remix's inline scripts carry, no stack pages for odd Origins, and
 * RFC 8058 one-click unsubscribe accepted from any Origin (it carries its own signature).
 */
let app: TestApp;
let smtp: SmtpFake;
let channels: ChannelsRuntime;

beforeAll(async () => {
  [app, smtp] = await Promise.all([
    // NODE_ENV=production: the mode `npm start` runs in (bin/waypost.mjs).
    startTestApp({ serve: true, env: { NODE_ENV: "production", WAYPOST_SECRET_KEY: "hardening-test-secret-key-0123456789abcdef", WAYPOST_OUTBOUND_ALLOW: "127.0.0.1" } }),
    startSmtpFake(),
  ]);
  channels = app.services.channels = createChannelsRuntime(app.services, { timeoutMs: 2_000 });
  await saveProviderSettings(app.services.db, channels.key(), {
    workspaceId: app.workspaceId,
    channel: "email",
    provider: "smtp",
    config: { host: "127.0.0.1", port: smtp.port, from: "路标商城 <news@shop.example.com>", trackingBaseUrl: app.url },
  });
  await savePolicySettings(app.services.db, app.workspaceId, { frequencyCaps: [], quietHours: { enabled: false } });
});
afterAll(async () => {
  await channels?.close();
  await smtp?.close();
  await app?.close();
});

describe("security headers", () => {
  it("sends CSP with a fresh nonce that every inline script carries, frame-ancestors 'none', nosniff, a referrer policy", async () => {
    const pages = await Promise.all([fetch(`${app.url}/login`), fetch(`${app.url}/login`)]);
    const nonces: string[] = [];
    for (const page of pages) {
      expect(page.status).toBe(200);
      const csp = page.headers.get("content-security-policy")!;
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);
      const nonce = /script-src 'self' 'nonce-([^']+)'/.exec(csp)![1]!;
      nonces.push(nonce);
      expect(page.headers.get("x-content-type-options")).toBe("nosniff");
      expect(page.headers.get("x-frame-options")).toBe("DENY");
      expect(page.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
      expect(page.headers.get("x-powered-by")).toBeNull();
      const html = await page.text();
      const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]!);
      expect(scripts.length).toBeGreaterThan(0);
      for (const attributes of scripts) expect(attributes).toContain(`nonce="${nonce}"`);
    }
    expect(nonces[0]).not.toBe(nonces[1]);
  });

  it("answers a cross-origin or Origin: null write with a JSON 403, never a stack page", async () => {
    for (const origin of ["null", "https://evil.example", "not a url"]) {
      const res = await fetch(`${app.url}/login`, { method: "POST", headers: { origin, "content-type": "application/x-www-form-urlencoded" }, body: "email=a&password=b" });
      expect(res.status, origin).toBe(403);
      expect(res.headers.get("content-type"), origin).toMatch(/application\/json/);
      const body = await res.text();
      expect(body, origin).toContain("cross_origin");
      expect(body, origin).not.toMatch(/at .*\.(ts|js):\d+|\/work\/|node_modules/);
    }
  });

  it("sends no stack or server path when a route fails", async () => {
    const res = await fetch(`${app.url}/journeys/not-a-uuid`, { headers: { accept: "text/html" } });
    const body = await res.text();
    expect(body).not.toMatch(/at .*\.(ts|js|tsx):\d+|\/work\/|node_modules/);
  });
});

describe("RFC 8058 one-click unsubscribe", () => {
  it("is accepted whatever Origin the mail client sends", async () => {
    const origins = ["https://mail.example.com", "null", undefined];
    for (const [i, origin] of origins.entries()) {
      const userId = `oneclick-${i}`;
      await createUser({ db: app.services.db } as never, app.workspaceId, userId, { email: `${userId}@example.com` });
      const sent = await channels.messaging.sendMessage(request(app.workspaceId, { userId, channel: "email", category: "marketing", content: { subject: "促销", html: "<p>x</p>" } }));
      expect(sent.status).toBe("sent");
      const url = /<([^>]+\/t\/u\/[^>]+)>/.exec(smtp.mails.at(-1)!.headers["list-unsubscribe"]!)![1]!;
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...(origin ? { origin } : {}) },
        body: "List-Unsubscribe=One-Click",
      });
      expect(res.status, String(origin)).toBe(200);
      expect(await res.text()).toBe("Unsubscribed");
      const again = await channels.messaging.sendMessage(request(app.workspaceId, { userId, channel: "email", category: "marketing", content: { subject: "再来", html: "<p>x</p>" } }));
      expect(again).toMatchObject({ status: "failed", reason: "unsubscribed" });
    }
    // Its signature is still what counts: a forged token from another origin is refused.
    const forged = await fetch(`${app.url}/t/u/eyJtIjoieCJ9.AAAA`, { method: "POST", headers: { origin: "https://mail.example.com", "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" });
    expect(forged.status).toBe(400);
  });
});
