import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCALE_COOKIE } from "../../app/i18n";
import { launchBrowser, screenshot } from "../support/browser";
import { createTestDb, type TestDb } from "../support/db";

const poll = expect.poll;
const POLL = { timeout: 120_000 };

/** The first number in a text ("1,234 entered" → 1234). */
const firstNumber = (text: string | null): number => Number((/\d[\d,]*/.exec(text ?? "")?.[0] ?? "0").replace(/,/g, ""));

/**
 * A fresh first start as a new user runs it — `waypost start` on an empty database with the demo
 * on — and the demo win-back journey read as a marketer would: a month of numbers on every card,
 * cards that do not overlap, the numbers spread over the month (a period filter shows it), and the
 * journey report's charts and loss reasons. On PGlite (the default) or, when DATABASE_URL is set,
 * on a throwaway PostgreSQL database.
 */
describe("first start: the demo journeys come with 30 days of history", () => {
  let child: ChildProcess;
  let output = "";
  let dataDir: string;
  let pgDb: TestDb | undefined;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "waypost-demo-first-"));
    const env: NodeJS.ProcessEnv = { ...process.env, WAYPOST_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", WAYPOST_DEMO_USERS: "1000", WAYPOST_LOG_LEVEL: "warn" };
    if (process.env.DATABASE_URL) {
      pgDb = await createTestDb({ migrate: false });
      env.DATABASE_URL = pgDb.url;
    } else delete env.DATABASE_URL;
    child = spawn(process.execPath, ["bin/waypost.mjs", "start"], { env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));
    const started = Date.now();
    while (!/demo data loaded/.test(output)) {
      if (child.exitCode !== null) throw new Error(`waypost start exited early:\n${output}`);
      if (Date.now() - started > 900_000) throw new Error(`waypost start did not finish seeding:\n${output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    console.log(`first start (${pgDb ? "PostgreSQL" : "PGlite"}, 1,000 demo users): demo data loaded after ${Date.now() - started} ms; ${/demo history replayed[^\n]*/.exec(output)?.[0]}`);
    url = /URL:\s+(\S+)\/login/.exec(output)![1]!;
    browser = await launchBrowser();
  }, 960_000);

  afterAll(async () => {
    await browser?.close();
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
    await pgDb?.drop();
  });

  it("says it replays the history once, and how long it took", () => {
    expect(output).toContain("replaying 30 days of demo history…");
    expect(output).toMatch(/demo history replayed in \d+(\.\d)? s: [1-9]\d* journey entries, [1-9]\d* messages sent/);
    // The history is printed after the login, so the login is readable while it replays.
    expect(output.indexOf("Password:")).toBeLessThan(output.indexOf("replaying"));
  });

  it("opens the win-back journey with non-zero numbers on its cards, none overlapping, spread over the month; then its report", async () => {
    const email = /Email:\s+(\S+)/.exec(output)![1]!;
    const password = /Password:\s+(\S+)/.exec(output)![1]!;
    const page = await browser.newPage({ locale: "en-US", viewport: { width: 1440, height: 1000 } });
    // Right after the first start the app's engine and segment sweep catch up with the history's
    // last hour on the same database: pages can be slow on a loaded machine.
    page.setDefaultTimeout(120_000);
    await page.goto(`${url}/journeys`);
    await page.waitForURL(/\/login/);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/settings\/account\?required=1/);
    await page.getByLabel("Current password").fill(password);
    await page.getByLabel("New password", { exact: true }).fill("demo-admin-password");
    await page.getByLabel("New password again").fill("demo-admin-password");
    await page.getByRole("button", { name: "Change password" }).click();
    await page.waitForURL(/\/journeys$/);

    // The list already counts users for every demo journey.
    const rows = page.locator("[data-testid^='journey-row-']");
    await poll(() => rows.count(), POLL).toBe(4);
    for (let i = 0; i < 4; i++) expect(firstNumber(await rows.nth(i).locator("td").nth(4).textContent()), await rows.nth(i).textContent() ?? "").toBeGreaterThan(0);
    await screenshot(page, "demo-first-start-01-journeys");

    // Every demo canvas: numbers on the cards and no two cards on top of each other.
    const links = await page.locator(".wp-journey-link").evaluateAll((as) => as.map((a) => [a.textContent ?? "", (a as HTMLAnchorElement).href]));
    for (const [name, href] of links) {
      await page.goto(href!);
      await poll(() => page.getByTestId("node-stats-trigger").textContent(), POLL).toMatch(/[1-9][\d,]* entered/);
      const boxes = await cardBoxes(page);
      expect(boxes.length, name).toBeGreaterThanOrEqual(3);
      expectNoOverlaps(name!, boxes);
    }
    await page.goto(`${url}/journeys`);

    await page.getByRole("link", { name: "流失召回 · Lapsed-buyer win-back" }).click();
    await page.waitForURL(/\/journeys\/[0-9a-f-]{36}$/);
    const journeyUrl = page.url();
    await poll(() => page.getByTestId("stats-bar").isVisible(), POLL).toBe(true);
    const nodes = ["trigger", "send_time", "ab_copy", "push_winback", "push_free_shipping", "sms_fallback", "wait_order", "wait_3d", "email_winback", "exit"];
    await poll(() => page.getByTestId("node-stats-push_winback").textContent(), POLL).toMatch(/[1-9][\d,]* entered/);
    const entered: Record<string, number> = {};
    for (const id of nodes) {
      entered[id] = firstNumber(await page.getByTestId(`node-stats-${id}`).textContent());
      expect(entered[id], `${id} entered`).toBeGreaterThan(0);
    }
    // Outputs under the ports, message funnels and failure reasons (varied, from the sandbox).
    for (const [id, port] of [["ab_copy", "coupon"], ["ab_copy", "free_shipping"], ["push_winback", "sent"], ["push_winback", "failed"], ["wait_order", "timed_out"], ["email_winback", "sent"]]) {
      expect(firstNumber(await page.getByTestId(`node-${id}`).getByTestId(`port-count-${port}`).textContent()), `${id}.${port}`).toBeGreaterThan(0);
    }
    expect(await page.getByTestId("node-stats-push_winback").textContent()).toMatch(/sent [1-9][\d,]* · delivered [1-9]/);
    const reasons = (await page.getByTestId("node-reasons-push_winback").getAttribute("title")) ?? "";
    expect(reasons.split("\n").length, reasons).toBeGreaterThanOrEqual(2);
    expect(firstNumber(await page.getByTestId("node-exit-wait_order-goal").textContent())).toBeGreaterThan(0);
    // Held-out users are watched for the goal on the trigger or left it (holdout / goal).
    expect(await page.getByTestId("node-exits-trigger").textContent()).toMatch(/holdout [1-9]|goal [1-9]/);

    // No two cards overlap (their rendered boxes, with the numbers in them).
    const boxes = await cardBoxes(page);
    expect(boxes.length).toBe(nodes.length);
    // Card sizes at zoom 1 (cards are 240 px wide), for the demo layout (workflows/demo-journeys.ts).
    console.log("win-back card heights at zoom 1:", boxes.map((b) => `${b.id} ${Math.round((b.h * 240) / b.w)}`).join(", "));
    expectNoOverlaps("win-back", boxes);
    await screenshot(page, "demo-first-start-02-win-back-canvas");
    // Closer, so the numbers on the cards can be read on the screenshot.
    await page.locator(".react-flow__controls-zoomin").click();
    await page.locator(".react-flow__controls-zoomin").click();
    await screenshot(page, "demo-first-start-02b-win-back-canvas-zoomed");

    // The history spreads over the month: users who entered 20–27 days ago are a part of all.
    const day = (daysAgo: number) => {
      const d = new Date(Date.now() - daysAgo * 86_400_000);
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
    };
    await page.getByLabel("Period").selectOption("custom");
    await page.getByTestId("stats-from").fill(day(27));
    await page.getByTestId("stats-to").fill(day(20));
    await poll(async () => firstNumber(await page.getByTestId("node-stats-trigger").textContent()), POLL).toBeLessThan(entered.trigger!);
    const early = firstNumber(await page.getByTestId("node-stats-trigger").textContent());
    expect(early).toBeGreaterThan(0);
    expect(firstNumber(await page.getByTestId("node-stats-push_winback").textContent())).toBeGreaterThan(0);

    await page.goto(journeyUrl);
    await page.getByTestId("journey-report-link").click();
    await page.waitForURL(/\/report$/);
    await checkReport(page, "en");
    await screenshot(page, "demo-first-start-03-report-en");

    // The same month, in Chinese.
    await page.context().addCookies([{ name: LOCALE_COOKIE, value: "zh", url }]);
    await page.goto(journeyUrl);
    await poll(() => page.getByTestId("node-stats-push_winback").textContent(), POLL).toMatch(/[1-9]/);
    await screenshot(page, "demo-first-start-04-win-back-canvas-zh");
    await page.goto(`${journeyUrl}/report`);
    await checkReport(page, "zh");
    await screenshot(page, "demo-first-start-05-report-zh");
    await page.close();
  });
});

async function cardBoxes(page: Page): Promise<Array<{ id: string; x: number; y: number; w: number; h: number }>> {
  return page.locator(".react-flow__node").evaluateAll((els) =>
    els.map((el) => {
      const r = el.getBoundingClientRect();
      return { id: el.getAttribute("data-id") ?? "", x: r.x, y: r.y, w: r.width, h: r.height };
    }),
  );
}

function expectNoOverlaps(journey: string, boxes: Array<{ id: string; x: number; y: number; w: number; h: number }>) {
  for (const a of boxes) {
    for (const b of boxes) {
      if (a.id >= b.id) continue;
      const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      expect(overlap, `${journey}: ${a.id} ${JSON.stringify(a)} overlaps ${b.id} ${JSON.stringify(b)}`).toBe(false);
    }
  }
}

async function checkReport(page: Page, locale: "en" | "zh") {
  // Funnel: entry, both pushes, the SMS and the email, each with people; a drawn bar chart.
  const funnel = page.getByTestId("report-funnel");
  const funnelRows = funnel.locator("tbody tr");
  expect(await funnelRows.count()).toBeGreaterThanOrEqual(6);
  expect(firstNumber(await funnelRows.first().locator("td").nth(2).textContent())).toBeGreaterThan(0);
  for (let i = 1; i <= 4; i++) expect(firstNumber(await funnelRows.nth(i).locator("td").nth(3).textContent()), `funnel step ${i} sent`).toBeGreaterThan(0);
  expect(await funnel.getByTestId("report-chart").locator("svg path").count()).toBeGreaterThan(3);
  // Uplift against the holdout: both groups have users and a verdict is stated.
  const uplift = page.getByTestId("report-uplift");
  for (let i = 0; i < 2; i++) expect(firstNumber(await uplift.locator("tbody tr").nth(i).locator("td").nth(1).textContent())).toBeGreaterThan(0);
  expect(((await page.getByTestId("report-uplift-verdict").textContent()) ?? "").length).toBeGreaterThan(10);
  // The copy A/B test: two branches with users and conversions, compared.
  const split = page.getByTestId("report-split-ab_copy");
  for (let i = 0; i < 2; i++) {
    expect(firstNumber(await split.locator("tbody tr").nth(i).locator("td").nth(1).textContent())).toBeGreaterThan(0);
    expect(firstNumber(await split.locator("tbody tr").nth(i).locator("td").nth(2).textContent())).toBeGreaterThan(0);
  }
  // Loss reasons of the coupon push: every stage counted, and reason rows with users lost.
  const loss = page.getByTestId("report-loss-push_winback");
  const lossRows = loss.locator("tbody tr");
  const stages = await lossRows.count();
  expect(stages).toBeGreaterThan(6);
  for (let i = 0; i < 5; i++) expect(firstNumber(await lossRows.nth(i).locator("td").nth(2).textContent()), `stage ${i}`).toBeGreaterThan(0);
  const reasonRows = await lossRows.evaluateAll((trs) => trs.slice(6).map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")));
  expect(reasonRows.filter((r) => Number(r[2]) > 0).length, JSON.stringify(reasonRows)).toBeGreaterThanOrEqual(2);
  expect(await loss.textContent()).toContain(locale === "zh" ? "折损原因分析" : "Loss reasons");
  // Conversion by send hour: a chart and a best hour; return rates with people who came back.
  const hours = page.getByTestId("report-hours");
  expect(await hours.getByTestId("report-chart").locator("svg").count()).toBe(1);
  expect(await hours.getByTestId("report-chart").locator("svg path").count()).toBeGreaterThan(3);
  expect(await page.getByTestId("report-best-hours").textContent()).toMatch(/\d\d:00/);
  const returns = page.getByTestId("report-returns").locator("tbody tr");
  expect(await returns.count()).toBe(3);
  for (let i = 0; i < 3; i++) expect(firstNumber(await returns.nth(i).locator("td").nth(2).textContent())).toBeGreaterThan(0);
  expect(await page.locator("[data-testid='report-chart'] svg").count()).toBeGreaterThanOrEqual(2);
}
