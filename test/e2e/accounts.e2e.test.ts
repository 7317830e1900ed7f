import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signIn } from "../../app/lib/accounts.server";
import { readSession } from "../../app/lib/auth.server";
import { startTestApp, type TestApp } from "../support/app";
import { launchBrowser, screenshot } from "../support/browser";

const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

/** My account and Team in real Chromium against the built app. */
describe("accounts in the browser", () => {
  let app: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    app = await startTestApp({ serve: true });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  /** A signed-in browser context without going through the form (the sign-in form has its own tests). */
  async function contextFor(who: { email: string; password: string }) {
    const result = await signIn(app.services, { email: who.email, password: who.password, ttlHours: 1 });
    if (!result.ok) throw new Error(`sign-in failed: ${result.reason}`);
    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 860 } });
    await context.addCookies([{ name: "waypost_session", value: result.token, url: app.url }]);
    return { context, token: result.token };
  }

  it("an operator changes their password on My account; other devices are signed out, this one stays", async () => {
    const me = await app.addOperator("developer");
    const other = await contextFor(me);
    const { context } = await contextFor(me);
    const page = await context.newPage();
    await page.goto(`${app.url}/settings`);
    await page.getByTestId("account-settings-link").click();
    await page.waitForURL(/\/settings\/account$/);
    await poll(() => page.getByTestId("account-email").textContent()).toBe(me.email);

    // A wrong current password is marked at its field and changes nothing.
    await page.getByLabel("Current password").fill("not-the-password");
    await page.getByLabel("New password", { exact: true }).fill("brand-new-password-1");
    await page.getByLabel("New password again").fill("brand-new-password-1");
    await page.getByRole("button", { name: "Change password" }).click();
    await poll(() => page.getByText("The current password is not correct.").count()).toBe(1);

    await page.getByLabel("Current password").fill(me.password);
    await page.getByRole("button", { name: "Change password" }).click();
    await poll(() => page.getByTestId("password-changed").textContent()).toContain("Password changed. Your other devices have been signed out (1).");
    await screenshot(page, "accounts-password-changed");

    expect(await readSession(app.services.db, other.token)).toBeNull();
    await page.reload();
    await poll(() => page.getByTestId("open-sessions").textContent()).toBe("1");
    expect((await signIn(app.services, { email: me.email, password: "brand-new-password-1", ttlHours: 1 })).ok).toBe(true);
    await context.close();
    await other.context.close();
  });

  it("an admin deactivates an operator on Team: their open page is signed out at once", async () => {
    const admin = await app.addOperator("admin");
    const marketer = await app.addOperator("marketer");
    const theirs = await contextFor(marketer);
    const theirPage = await theirs.context.newPage();
    await theirPage.goto(`${app.url}/journeys`);
    expect(new URL(theirPage.url()).pathname).toBe("/journeys");

    const { context } = await contextFor(admin);
    const page = await context.newPage();
    page.on("dialog", (dialog) => void dialog.accept());
    await page.goto(`${app.url}/settings/team`);
    const row = page.locator(`tr[data-email="${marketer.email}"]`);
    await poll(() => row.getByTestId("status").textContent()).toBe("Active");
    await row.getByRole("button", { name: "Deactivate" }).click();
    await poll(() => row.getByTestId("status").textContent()).toBe("Deactivated");
    await screenshot(page, "accounts-team-deactivated");

    await theirPage.reload();
    expect(new URL(theirPage.url()).pathname).toBe("/login");

    // Reactivated, they can sign in again with their password.
    await row.getByRole("button", { name: "Reactivate" }).click();
    await poll(() => row.getByTestId("status").textContent()).toBe("Active");
    const login = await theirs.context.newPage();
    await login.goto(`${app.url}/login`);
    await login.getByLabel("Email").fill(marketer.email);
    await login.getByLabel("Password").fill(marketer.password);
    await login.getByRole("button", { name: "Sign in" }).click();
    await login.waitForURL(/\/journeys/);
    await context.close();
    await theirs.context.close();

    // The same pages in 简体中文.
    const zh = await contextFor(admin);
    const zhPage = await zh.context.newPage();
    await zh.context.addCookies([{ name: "waypost_lang", value: "zh", url: app.url }]);
    await zhPage.goto(`${app.url}/settings/team`);
    expect(await zhPage.getByRole("heading", { level: 1 }).textContent()).toBe("团队");
    await poll(() => zhPage.locator(`tr[data-email="${marketer.email}"]`).getByTestId("status").textContent()).toBe("正常");
    await zhPage.goto(`${app.url}/settings/account`);
    expect(await zhPage.getByRole("heading", { level: 1 }).textContent()).toBe("我的账号");
    await screenshot(zhPage, "accounts-account-zh");
    await zh.context.close();
  });
});
