import { sql } from "drizzle-orm";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { buildJourney } from "../../workflows/builder";
import { rows } from "../../workflows/embedded/db.server";
import { createEmbeddedEngine, type EmbeddedEngine } from "../../workflows/embedded/engine.server";
import { executeNode } from "../../nodes/registry.server";
import { LOCALE_COOKIE } from "../../app/i18n";
import { startTestApp, type TestApp } from "../support/app";
import { launchBrowser, screenshot } from "../support/browser";

const HOUR = 3_600_000;
// Generous: the page may still be loading on a busy machine (expect.poll alone gives up after 1 s).
const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

function waitThenPush(name: string, hours: number) {
  return buildJourney({
    name,
    settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "api" } },
      { id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: hours, unit: "hours" } } },
      { id: "push", type: "core.push", config: { title: "Hi", body: "Hello {{ user.id }}" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "wait"],
      ["wait", "next", "push"],
      ["push", "sent", "exit"],
      ["push", "failed", "exit"],
    ],
  });
}

/** The Instances page on real instances: the embedded engine runs in the test on the app's database and clock. */
describe("instances page", () => {
  let app: TestApp;
  let browser: Browser;
  let engine: EmbeddedEngine;
  let admin: { email: string; password: string; id: string };
  let winBack: string;
  // Near real time: sign-in sessions are checked against the app clock.
  let clock = Date.now();
  const sends: string[] = [];

  beforeAll(async () => {
    app = await startTestApp({ serve: true, now: () => new Date(clock) });
    admin = await app.addOperator("admin");
    const db = app.services.db;
    const actor = { workspaceId: app.workspaceId, operatorId: admin.id };
    const publish = async (doc: unknown, name: string) => {
      const { id } = await createJourney(db, actor, { name, document: doc });
      const published = await publishJourney(db, actor, { journeyId: id });
      if (!published.ok) throw new Error("journey does not publish");
      return id;
    };
    winBack = await publish(waitThenPush("流失召回 · Win-back", 24), "流失召回 · Win-back");
    const welcome = await publish(waitThenPush("Welcome", 2), "Welcome");
    engine = createEmbeddedEngine({ db, now: () => new Date(clock), database: { kind: app.database.kind } }, { onSandboxSend: (d) => sends.push(d.request.idempotencyKey) });
    for (const userId of ["u-1001", "u-1002", "u-1003"]) await engine.triggerJourney({ workspaceId: app.workspaceId, journeyId: winBack, userId });
    for (const userId of ["u-2001", "u-2002"]) await engine.triggerJourney({ workspaceId: app.workspaceId, journeyId: welcome, userId });
    await engine.runUntilIdle();
    clock += 3 * HOUR;
    await engine.runUntilIdle(); // Welcome's 2-hour wait is over: two pushes, two completed instances.
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await engine?.stop();
    await app?.close();
  });

  it("lists real instances, filters by journey, opens a timeline and skips its wait", async () => {
    expect(sends).toHaveLength(2);
    const page = await browser.newPage({ locale: "en-US", viewport: { width: 1280, height: 860 } });
    await page.goto(`${app.url}/login?next=/instances`);
    await page.getByLabel("Email").fill(admin.email);
    await page.getByLabel("Password").fill(admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname === "/instances");
    await poll(() => page.getByTestId("instance-row").count()).toBe(5);
    await poll(() => page.getByTestId("health-active").textContent()).toContain("3");
    // Pause is a journey action: not on every row, only once the list shows one journey.
    expect(await page.getByTestId("journey-toggle").count()).toBe(0);
    // The current node in operator words (the type's label), its id kept as a tooltip.
    const waiting = page.getByTestId("instance-row").filter({ hasText: "u-1001" }).locator(".ops-node");
    expect(await waiting.textContent()).toBe("Wait");
    expect(await waiting.getAttribute("title")).toBe("wait");
    await screenshot(page, "instances-01-list");

    await page.waitForLoadState("networkidle");
    await page.getByTestId("filter-journey").selectOption({ label: "流失召回 · Win-back" });
    await page.getByTestId("filter-apply").click();
    await page.waitForURL(/journey=/);
    await poll(() => page.getByTestId("instance-row").count()).toBe(3);
    for (const text of await page.getByTestId("instance-row").allTextContents()) {
      expect(text).toContain("Win-back");
      expect(text).toContain("Waiting");
    }
    await screenshot(page, "instances-02-filtered");

    await page.getByRole("link", { name: "u-1002" }).click();
    await page.waitForURL(/\/instances\/[0-9a-f-]{36}$/);
    await poll(() => page.getByTestId("timeline").textContent()).toContain("Entered Wait");
    expect(await page.getByTestId("wait-until").textContent()).toMatch(/20\d\d/);
    await screenshot(page, "instances-03-timeline-waiting");

    // The action button needs the hydrated page (its handler asks for confirmation first).
    await page.waitForLoadState("networkidle");
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByTestId("action-skip").click();
    await poll(() => page.getByTestId("ops-notice").textContent()).toContain("Wait skipped");
    await engine.runUntilIdle(); // the worker runs the push the skip queued
    expect(sends).toHaveLength(3);
    await page.reload();
    await poll(() => page.getByTestId("instance-detail").getAttribute("data-view")).toBe("completed");
    const text = await page.getByTestId("timeline").textContent();
    expect(text).toContain("Left Wait");
    expect(text).toContain("Entered Push");
    expect(text).toContain("Left Push (Sent)");
    expect(text).toContain("Push message sent");
    expect(text).toContain("Finished: Reached an exit");
    // No raw ids or codes in the words (they stay in tooltips for developers).
    expect(text).not.toMatch(/\bby next\b|exit_node|\bwait\b|\bpush\b/);
    // Ordered by time, then sequence.
    const order = await page.getByTestId("timeline").locator("li").evaluateAll((items) => items.map((li) => [Date.parse(li.getAttribute("data-at") ?? ""), Number(li.getAttribute("data-seq"))]));
    expect(order.length).toBeGreaterThan(4);
    expect([...order].sort((a, b) => a[0] - b[0] || a[1] - b[1])).toEqual(order);
    expect(await page.getByTestId("operator-actions").textContent()).toContain(`${admin.email} skipped the wait`);
    await screenshot(page, "instances-04-after-skip");

    await page.goto(`${app.url}/instances?journey=${winBack}&status=waiting`);
    await poll(() => page.getByTestId("instance-row").count()).toBe(2);
    // Times in the one shared format with the workspace zone named.
    expect(await page.getByTestId("instance-row").first().textContent()).toMatch(/20\d\d-\d\d-\d\d \d\d:\d\d:\d\d GMT\+8 \(Asia\/Shanghai\)/);
    // A journey without a goal has no conversion rate to show: "—", not "0%".
    await page.goto(`${app.url}/journeys`);
    await poll(() => page.getByTestId("conversion").count()).toBe(2);
    for (const text of await page.getByTestId("conversion").allTextContents()) expect(text).toBe("—");
    await page.close();
  });

  it("pauses a journey holding its users (the choice is asked), then cancels the filtered instances after a confirmation that counts them", async () => {
    const page = await browser.newPage({ locale: "en-US", viewport: { width: 1280, height: 860 } });
    await page.goto(`${app.url}/login?next=${encodeURIComponent(`/instances?journey=${winBack}&status=waiting`)}`);
    await page.getByLabel("Email").fill(admin.email);
    await page.getByLabel("Password").fill(admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname === "/instances");
    await poll(() => page.getByTestId("instance-row").count()).toBe(2);
    await page.waitForLoadState("networkidle");

    await page.getByTestId("journey-toggle").first().click();
    await poll(() => page.getByTestId("pause-choice").textContent()).toContain("What happens to users already inside?");
    expect(await page.getByTestId("pause-keep_running").isChecked()).toBe(true);
    await page.getByTestId("pause-hold").check();
    await screenshot(page, "instances-07-pause-choice");
    await page.getByTestId("pause-confirm").click();
    await poll(() => page.getByRole("status").textContent()).toContain("held where they are");
    await poll(() => page.getByTestId("instance-row").first().textContent()).toContain("paused · users held");
    const [journey] = await rows<{ status: string; held: boolean }>(app.services.db, sql`select status, held from journeys where id = ${winBack}::uuid`);
    expect(journey).toMatchObject({ status: "paused", held: true });

    const confirmation = new Promise<string>((resolve) => {
      page.once("dialog", (dialog) => {
        resolve(dialog.message());
        void dialog.accept();
      });
    });
    await page.getByTestId("bulk-cancel").click();
    expect(await confirmation).toContain("Cancel 2 instances");
    await poll(() => page.getByRole("status").textContent()).toBe("2 instances cancelled.");
    await poll(() => page.getByTestId("instances-empty").count()).toBe(1);
    await screenshot(page, "instances-08-bulk-cancelled");
    clock += 48 * HOUR;
    await engine.runUntilIdle();
    expect(sends).toHaveLength(3);
    await page.close();
  });

  it("speaks Chinese (实例)", async () => {
    const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 860 } });
    await context.addCookies([{ name: LOCALE_COOKIE, value: "zh", url: app.url }]);
    const page = await context.newPage();
    await page.goto(`${app.url}/login?next=/instances`);
    await page.locator("input[type=email], input[name=email]").first().fill(admin.email);
    await page.locator("input[type=password]").first().fill(admin.password);
    await page.locator("button.primary[type=submit]").click();
    await page.waitForURL((url) => url.pathname === "/instances");
    await poll(() => page.locator("main h1").textContent()).toBe("实例");
    expect(await page.getByTestId("engine-health").textContent()).toContain("引擎状态");
    await screenshot(page, "instances-05-zh");
    await page.getByTestId("instance-link").first().click();
    await page.waitForURL(/\/instances\/[0-9a-f-]{36}$/);
    await poll(() => page.getByTestId("timeline").textContent()).toContain("进入");
    const zhText = (await page.getByTestId("timeline").textContent()) ?? "";
    expect(zhText).toMatch(/20\d\d年\d{1,2}月\d{1,2}日 \d\d:\d\d:\d\d \(Asia\/Shanghai\)/);
    expect(zhText).toMatch(/进入 (等待|推送)/);
    expect(zhText).not.toMatch(/exit_node|\bwait\b|\bpush\b|\bnext\b/);
    await screenshot(page, "instances-06-zh-timeline");
    await context.close();
  });
  it("offers Retry failed step only for a failure that can succeed, naming the reason in words", async () => {
    const db = app.services.db;
    const actor = { workspaceId: app.workspaceId, operatorId: admin.id };
    const { id: journeyId } = await createJourney(db, actor, { name: "Consent check", document: waitThenPush("Consent check", 1) });
    if (!(await publishJourney(db, actor, { journeyId })).ok) throw new Error("journey does not publish");
    // The push's outcome is chosen per user at the provider boundary (no real push service here).
    const failing = createEmbeddedEngine(
      { db, now: () => new Date(clock), database: { kind: app.database.kind } },
      {
        executeAction: async (type, ctx, config) => {
          if (type === "core.push" && ctx.user.id === "nc-1") return { output: "failed", detail: { reason: "no_consent" } };
          if (type === "core.push" && ctx.user.id === "down-1") return { output: "failed", detail: { reason: "provider_unavailable" } };
          return executeNode(type, ctx, config);
        },
      },
    );
    try {
      for (const userId of ["nc-1", "down-1"]) await failing.triggerJourney({ workspaceId: app.workspaceId, journeyId, userId });
      await failing.runUntilIdle();
      clock += 2 * HOUR;
      await failing.runUntilIdle();
    } finally {
      await failing.stop();
    }
    const idOf = async (userId: string) => (await rows<{ id: string }>(db, sql`select id::text as id from journey_instances where journey_id = ${journeyId}::uuid and user_id = ${userId}`))[0]!.id;
    const page = await browser.newPage({ locale: "en-US", viewport: { width: 1280, height: 860 } });
    await page.goto(`${app.url}/login?next=${encodeURIComponent(`/instances/${await idOf("nc-1")}`)}`);
    await page.getByLabel("Email").fill(admin.email);
    await page.getByLabel("Password").fill(admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/instances\/[0-9a-f-]{36}$/);
    await poll(() => page.getByTestId("failed-step").textContent()).toContain("No consent for this channel");
    expect(await page.getByTestId("failed-step").textContent()).toContain("Push");
    expect(await page.getByTestId("action-retry").count()).toBe(0);
    expect(await page.getByTestId("timeline").textContent()).not.toContain("no_consent");
    await screenshot(page, "instances-09-no-retry-no-consent");
    await page.goto(`${app.url}/instances/${await idOf("down-1")}`);
    await poll(() => page.getByTestId("failed-step").textContent()).toContain("Provider unavailable");
    expect(await page.getByTestId("action-retry").count()).toBe(1);
    await page.close();
  });
});
