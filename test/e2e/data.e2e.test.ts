import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app";
import { launchBrowser, screenshot } from "../support/browser";
import { send, writeKey } from "../ingest/helpers";

const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

/**
 * A marketer finds a user sent through the ingestion API, imports a CSV with a bad row, adds the
 * lifecycle presets, and builds a segment with the rule builder while the audience count updates.
 */
describe("Users and Segments pages", () => {
  let app: TestApp;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    app = await startTestApp({ serve: true });
    const key = await writeKey(app);
    await send(app, "identify", { userId: "e2e-fang", traits: { name: "王芳", email: "fang@example.com", phone: "+8613800138000", city: "上海", tags: ["美食爱好者"] } }, { key });
    await send(app, "track", { userId: "e2e-fang", event: "order_completed", properties: { amount: 88, currency: "CNY" } }, { key });
    await send(app, "identify", { userId: "e2e-lei", traits: { name: "李雷", email: "lei@example.com", city: "北京" } }, { key });
    const marketer = await app.addOperator("marketer");
    browser = await launchBrowser();
    page = await browser.newPage({ locale: "en-US", viewport: { width: 1280, height: 900 } });
    await page.goto(`${app.url}/login?next=/users`);
    await page.getByLabel("Email").fill(marketer.email);
    await page.getByLabel("Password").fill(marketer.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/users$/);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it("searches users and opens a profile with traits, segments and the event timeline", async () => {
    await poll(() => page.getByTestId("users-total").textContent()).toBe("2 users");
    await page.getByTestId("users-search").fill("fang@");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await poll(() => page.getByTestId("users-table").locator("tbody tr").count()).toBe(1);
    await page.getByRole("link", { name: "e2e-fang" }).click();
    await page.waitForURL(/\/users\/e2e-fang$/);
    await poll(() => page.getByTestId("user-traits").textContent()).toContain("上海");
    expect(await page.getByTestId("user-events").textContent()).toContain("order_completed");
    await screenshot(page, "data-user-profile");
  });

  it("imports a CSV with progress, listing the bad row by line and column", async () => {
    await page.goto(`${app.url}/users`);
    await page.getByTestId("csv-file").setInputFiles({
      name: "users.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("user_id,email,tags\ncsv-1,one@example.com,旅游人群\ncsv-2,not-an-email,\ncsv-3,three@example.com,\n"),
    });
    await page.getByTestId("csv-start").click();
    await poll(() => page.getByTestId("csv-status").getAttribute("data-status")).toBe("done");
    expect(await page.getByTestId("csv-status").textContent()).toContain("Imported 2 users; 1 bad rows.");
    const bad = await page.getByTestId("csv-errors").locator("tbody tr").allInnerTexts();
    expect(bad).toEqual([expect.stringMatching(/^3\s+email\s+"not-an-email" is not an email address$/)]);
    await poll(() => page.getByTestId("users-total").textContent()).toBe("4 users");
    await screenshot(page, "data-users-import");
  });

  it("adds lifecycle presets and builds a segment with a live audience count", async () => {
    await page.goto(`${app.url}/segments`);
    await page.getByTestId("add-lifecycle").click();
    await poll(() => page.getByTestId("segments-table").locator("tbody tr").count()).toBe(4);
    expect(await page.getByTestId("count-lifecycle_new").textContent()).toBe("4 users");

    await page.getByTestId("new-segment").click();
    await page.getByTestId("new-segment-name").fill("Shanghai foodies");
    await page.getByTestId("create-segment").click();
    await page.waitForURL(/\/segments\/[0-9a-f-]{36}$/);
    await poll(() => page.getByTestId("audience-preview").textContent()).toContain("4 users match");

    await page.getByTestId("add-rule").click();
    await page.getByTestId("rule-trait").fill("city");
    await page.getByTestId("rule-value").fill("上海");
    await poll(() => page.getByTestId("audience-preview").textContent()).toContain("1 user matches");
    await page.getByTestId("add-rule").click();
    await page.getByTestId("rule-kind").nth(1).selectOption("tag");
    await page.getByTestId("rule-tag").fill("美食爱好者");
    await page.getByTestId("group-match").first().selectOption("any");
    await poll(() => page.getByTestId("audience-preview").textContent()).toContain("1 user matches");
    await page.getByTestId("save-segment").click();
    await poll(() => page.getByTestId("segment-members").textContent()).toContain("e2e-fang");
    await poll(() => page.getByTestId("segment-members-count").textContent()).toBe("1 member");
    await screenshot(page, "data-segment-builder");
  });

  it("speaks 简体中文", async () => {
    await page.context().addCookies([{ name: "waypost_lang", value: "zh", url: app.url }]);
    await page.goto(`${app.url}/segments`);
    await poll(() => page.locator("h1").textContent()).toBe("人群");
    // Names stay as created (the presets were added in English); the page around them is Chinese.
    const table = await page.getByTestId("segments-table").textContent();
    expect(table).toContain("人数");
    expect(table).toContain("预设");
    expect(table).toContain("首次访问在 7 天 内");
    await screenshot(page, "data-segments-zh");
    await page.goto(`${app.url}/users`);
    await poll(() => page.locator("h1").textContent()).toBe("用户");
    await page.context().clearCookies({ name: "waypost_lang" });
  });
});
