import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSmtpFake, type SmtpFake } from "../fakes/smtp-server";
import { startTestApp, type TestApp } from "../support/app";
import { launchBrowser, screenshot } from "../support/browser";

const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

/**
 * A developer sets up SMTP in Settings → Channels against the loopback SMTP server, sends a test
 * message, and support finds it on the Messages page with its state history — then a test to a
 * refused address shows its failure reason.
 */
describe("Settings → Channels → Messages", () => {
  let app: TestApp;
  let smtp: SmtpFake;
  let browser: Browser;
  let page: Page;
  let dev: { email: string; password: string };

  beforeAll(async () => {
    [app, smtp] = await Promise.all([startTestApp({ serve: true, env: { WAYPOST_SECRET_KEY: "e2e-messages-secret-key-0123456789abcdef", WAYPOST_OUTBOUND_ALLOW: "127.0.0.1" } }) /* the loopback SMTP fake, allowed explicitly */, startSmtpFake()]);
    dev = await app.addOperator("developer");
    browser = await launchBrowser();
    page = await browser.newPage({ locale: "en-US", viewport: { width: 1280, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.services.channels?.close();
    await smtp?.close();
    await app?.close();
  });

  it("configures SMTP, refuses a bad port naming the field, hides the saved password, and sends a test email", async () => {
    await page.goto(`${app.url}/login?next=/settings`);
    await page.getByLabel("Email").fill(dev.email);
    await page.getByLabel("Password").fill(dev.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("channels-settings-link").click();
    await page.waitForURL(/\/settings\/channels$/);

    const email = page.getByTestId("provider-email");
    await email.getByLabel("Provider", { exact: true }).selectOption("smtp");
    await email.getByLabel("Host", { exact: true }).fill("127.0.0.1");
    await email.getByLabel("Port", { exact: true }).fill("99999");
    await email.getByLabel("From", { exact: true }).fill("路标商城 <news@shop.example.com>");
    await email.getByLabel("Password", { exact: true }).fill("smtp-password-e2e");
    await email.getByRole("button", { name: "Save", exact: true }).click();
    await poll(() => email.getByRole("alert").allTextContents()).toContain("Nothing was saved: fix the marked fields.");
    await expect.poll(() => email.getByLabel("Port", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    await screenshot(page, "channels-settings-invalid");

    await email.getByLabel("Port", { exact: true }).fill(String(smtp.port));
    await email.getByRole("button", { name: "Save", exact: true }).click();
    await poll(() => email.getByRole("status").first().textContent()).toBe("Saved");
    // The password is never sent back: the field shows that one is set, with Replace.
    await poll(() => email.getByTestId("secret-pass").textContent()).toContain("set · ••••");
    expect(await page.content()).not.toContain("smtp-password-e2e");

    await email.getByLabel("Email address", { exact: true }).fill("rider@example.com");
    await email.getByRole("button", { name: "Send test message" }).click();
    await poll(() => email.getByTestId("test-result-email").textContent()).toContain("Sent");
    expect(smtp.mails.at(-1)!.envelope.to).toEqual(["rider@example.com"]);

    smtp.rejectRecipient.set("gone@example.com", { code: 550, message: "5.1.1 User unknown" });
    await email.getByLabel("Email address", { exact: true }).fill("gone@example.com");
    await email.getByRole("button", { name: "Send test message" }).click();
    await poll(() => email.getByTestId("test-result-email").textContent()).toContain("Not sent: Bounced");
    await screenshot(page, "channels-settings");
  });

  it("finds both on the Messages page with state history, failure reason and a CSV export", async () => {
    await page.goto(`${app.url}/messages`);
    await page.getByLabel("Search by").selectOption("email");
    await page.getByLabel("Search for").fill("Rider@Example.com");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await poll(() => page.getByTestId("message").count()).toBe(1);
    const sent = page.getByTestId("message").first();
    expect(await sent.getByTestId("message-state").textContent()).toBe("Sent");
    expect(await sent.getByTestId("history").locator("li").allInnerTexts()).toEqual([expect.stringMatching(/^Queued/), expect.stringMatching(/^Sent/)]);
    expect(await sent.getByTestId("copy").textContent()).toContain("Waypost test email");
    await screenshot(page, "messages-sent");

    await page.getByLabel("Search for").fill("gone@example.com");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await poll(() => page.getByTestId("failure").textContent()).toContain("Failure reason: Bounced");
    const failed = page.getByTestId("message").first();
    expect(await failed.getByTestId("history").locator("li").allInnerTexts()).toEqual([expect.stringMatching(/^Queued/), expect.stringMatching(/^Failed[\s\S]*Bounced/)]);
    // Never an empty bubble, and history times in the one format with the workspace zone named.
    expect(((await failed.getByTestId("copy").textContent()) ?? "").trim()).not.toBe("");
    expect(await failed.getByTestId("history").textContent()).toMatch(/\d\d:\d\d:\d\d GMT\+8 \(Asia\/Shanghai\)/);

    const href = await page.getByRole("link", { name: "Export CSV" }).getAttribute("href");
    const csv = await page.evaluate(async (url) => (await fetch(url!)).text(), href);
    expect(csv.split("\r\n")[0]).toContain("created_at,message_id,user_id,channel");
    expect(csv).toContain("gone@example.com");
    expect(csv).toContain("bounced,Bounced");

    // The same page in Chinese.
    await page.context().addCookies([{ name: "waypost_lang", value: "zh", url: app.url }]);
    await page.reload();
    await poll(() => page.getByTestId("failure").textContent()).toContain("失败原因: 退信");
    await screenshot(page, "messages-failed-zh");
  });
});
