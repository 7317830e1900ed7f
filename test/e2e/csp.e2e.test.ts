import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app";
import { launchBrowser, screenshot } from "../support/browser";

const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

/**
 * The Content-Security-Policy (cli/server.ts, decision 0706) in a real browser: the app hydrates
 * under it (sign-in, a new journey's canvas, the palette, Settings › Channels with its tRPC data,
 * the Messages page) and the console reports no CSP violation anywhere.
 */
describe("CSP: the app runs under its Content-Security-Policy", () => {
  let app: TestApp;
  let browser: Browser;
  let page: Page;
  const violations: string[] = [];

  beforeAll(async () => {
    app = await startTestApp({ serve: true, env: { NODE_ENV: "production" } });
    browser = await launchBrowser();
    page = await browser.newPage({ locale: "en-US", viewport: { width: 1280, height: 800 } });
    page.on("console", (message) => {
      if (/Content[- ]Security[- ]Policy|Refused to (execute|load|apply|connect|frame)/i.test(message.text())) violations.push(message.text());
    });
    // Also the DOM event, which fires for violations the console might word differently.
    await page.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) => console.error(`Content-Security-Policy violation: ${e.violatedDirective} ${e.blockedURI}`));
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it("signs in, opens a canvas and the settings pages with no CSP violation", async () => {
    const developer = await app.addOperator("developer");
    const response = await page.goto(`${app.url}/login?next=/journeys`);
    expect(response!.headers()["content-security-policy"]).toContain("'nonce-");
    await page.getByLabel("Email").fill(developer.email);
    await page.getByLabel("Password").fill(developer.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/journeys$/);

    // Client-side interaction proves hydration: the "new journey" form only opens in React.
    await page.getByTestId("new-journey").click();
    await page.getByTestId("new-journey-name").fill("CSP check");
    await page.getByTestId("create-journey").click();
    await page.waitForURL(/\/journeys\/[0-9a-f-]{36}$/);
    await poll(() => page.getByTestId("canvas-empty").isVisible()).toBe(true);
    await page.getByTestId("palette-core.trigger").dragTo(page.getByTestId("canvas"), { targetPosition: { x: 300, y: 200 } });
    await poll(() => page.locator(".react-flow__node").count()).toBe(1);
    await screenshot(page, "csp-01-canvas");

    await page.goto(`${app.url}/settings/channels`);
    await poll(() => page.getByTestId("provider-email").isVisible()).toBe(true);
    // Secrets bound to their destination (decision 0703): the form says so, and warns on a change.
    const email = page.getByTestId("provider-email");
    await email.getByLabel("Provider", { exact: true }).selectOption("smtp");
    await email.getByLabel("Host", { exact: true }).fill("smtp.example.com");
    await email.getByLabel("Port", { exact: true }).fill("587");
    await email.getByLabel("User", { exact: true }).fill("ops");
    await email.getByLabel("Password", { exact: true }).fill("e2e-secret");
    await email.getByLabel("From", { exact: true }).fill("ops@example.com");
    await email.getByRole("button", { name: "Save", exact: true }).click();
    await poll(() => email.getByTestId("secret-pass").textContent()).toContain("set · ••••");
    await poll(() => email.getByTestId("destination-notice-email").textContent()).toContain("Saved secrets belong to this destination");
    await email.getByLabel("Host", { exact: true }).fill("smtp.other.example");
    await poll(() => email.getByTestId("destination-notice-email").textContent()).toContain("The destination changed: saving clears the saved secret");
    await screenshot(page, "csp-02-destination-warning");
    await page.goto(`${app.url}/messages`);
    await page.waitForLoadState("networkidle");
    await screenshot(page, "csp-03-messages");

    expect(violations).toEqual([]);
  });
});
