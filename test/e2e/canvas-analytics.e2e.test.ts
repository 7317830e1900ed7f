import { randomUUID } from "node:crypto";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { journeyStats } from "../../app/lib/analytics.server";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { events, users } from "../../db/schema";
import type { IncomingEvent } from "../../workflows/engine";
import { createEmbeddedEngine, type EmbeddedEngine } from "../../workflows/embedded/engine.server";
import { registeredNoOrderJourney } from "../../workflows/demo-journeys";
import { startTestApp, type TestApp } from "../support/app";
import { launchBrowser, screenshot } from "../support/browser";

const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

const HOUR = 3_600_000;

/**
 * A live journey's cards carry its real counts: PRODUCT.md journey 2 run by the embedded engine
 * for 40 sign-ups, 10 of whom order within the day (converting); the rest get the SMS after 24 hours.
 */
describe("canvas: node analytics on a live journey", () => {
  let app: TestApp;
  let browser: Browser;
  let engine: EmbeddedEngine;
  let journeyId: string;
  let marketer: { email: string; password: string; id: string };
  let clock = Date.parse("2026-03-02T02:00:00.000Z");

  beforeAll(async () => {
    app = await startTestApp({ serve: true });
    marketer = await app.addOperator("marketer");
    const db = app.services.db;
    const actor = { workspaceId: app.workspaceId, operatorId: marketer.id };
    journeyId = (await createJourney(db, actor, { name: "注册未下单 · Registered, no order in 24 h", document: registeredNoOrderJourney() })).id;
    const published = await publishJourney(db, actor, { journeyId });
    if (!published.ok) throw new Error("demo journey does not publish");

    engine = createEmbeddedEngine({ db, now: () => new Date(clock), database: { kind: app.database.kind } });
    const ids = Array.from({ length: 40 }, (_, i) => `signup-${String(i).padStart(2, "0")}`);
    await db.insert(users).values(
      ids.map((id, i) => ({
        workspaceId: app.workspaceId,
        id,
        traits: { name: `用户${i}` },
        phone: `+86138${String(10_000_000 + i)}`,
        timezone: "Asia/Shanghai",
        consent: { sms: { marketing: true, transactional: true } },
      })),
    );
    const track = async (userId: string, name: string): Promise<IncomingEvent> => {
      const event = { workspaceId: app.workspaceId, userId, messageId: randomUUID(), name, properties: {}, timestamp: clock };
      await db.insert(events).values({ workspaceId: app.workspaceId, messageId: event.messageId, userId, name, properties: {}, timestamp: new Date(clock) });
      return event;
    };
    await engine.handleEvents(await Promise.all(ids.map((id) => track(id, "signed_up"))));
    await engine.runUntilIdle();
    clock += 2 * HOUR;
    await engine.handleEvents(await Promise.all(ids.slice(0, 10).map((id) => track(id, "order_completed"))));
    await engine.runUntilIdle();
    clock += 23 * HOUR;
    await engine.runUntilIdle();

    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await engine?.stop();
    await app?.close();
  });

  it("shows entered, per-output and message funnel counts on the cards, and totals in the list", async () => {
    const stats = await journeyStats(app.services.db, app.workspaceId, journeyId);
    expect(stats.totals.entered).toBe(40);
    // The goal (order_completed within 7 days) ends the journey for the 10 buyers as converted.
    expect(stats.nodes.wait_order.left).toEqual({ timed_out: 30 });
    expect(stats.totals).toMatchObject({ converted: 10, conversionRate: 0.25 });

    const page = await browser.newPage({ locale: "en-US", viewport: { width: 1280, height: 800 } });
    await page.goto(`${app.url}/login?next=/journeys`);
    await page.getByLabel("Email").fill(marketer.email);
    await page.getByLabel("Password").fill(marketer.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/journeys$/);
    const row = page.getByTestId(`journey-row-${journeyId}`);
    expect(await row.textContent()).toContain("40");
    expect(await row.textContent()).toContain("25%");
    await screenshot(page, "canvas-analytics-01-list");

    await page.goto(`${app.url}/journeys/${journeyId}`);
    await poll(() => page.getByTestId("stats-bar").isVisible()).toBe(true);
    expect(await page.getByTestId("stats-bar").textContent()).toContain("40 entered");
    expect(await page.getByTestId("stats-bar").textContent()).toContain("10 converted (25%)");
    await poll(() => page.getByTestId("node-stats-wait_order").textContent()).toContain("40 entered");
    const card = page.getByTestId("node-wait_order");
    expect(await card.getByTestId("port-count-happened").textContent()).toBe("0 · 0%");
    expect(await card.getByTestId("port-count-timed_out").textContent()).toBe("30 · 75%");
    const sms = stats.nodes.sms_hongbao.messages;
    expect(sms.sent).toBe(30);
    expect(await page.getByTestId("node-stats-sms_hongbao").textContent()).toContain(`sent ${sms.sent} · delivered ${sms.delivered}`);
    // Every user accounted for: the 10 buyers left the journey at the wait by the goal (its awaited
    // event is the goal too), and the 30 at Exit are watched for the goal, not "waiting".
    expect(await page.getByTestId("node-exits-wait_order").textContent()).toBe("Left the journey here: goal 10");
    expect(await page.getByTestId("node-waiting-exit").textContent()).toBe("30 in the goal window");
    expect(await page.getByTestId("node-waiting-wait_order").count()).toBe(0);
    await screenshot(page, "canvas-analytics-02-canvas");

    // Any period of entry, not only presets: a day after the sign-ups holds nobody, their day all 40.
    await page.getByLabel("Period").selectOption("custom");
    await page.getByTestId("stats-from").fill("2026-03-03");
    await poll(() => page.getByTestId("node-stats-wait_order").textContent()).toBe("0 entered");
    expect(await page.getByTestId("stats-bar").textContent()).toMatch(/(^|\D)0 entered/);
    await page.getByTestId("stats-from").fill("2026-03-02");
    await page.getByTestId("stats-to").fill("2026-03-02");
    await poll(() => page.getByTestId("node-stats-wait_order").textContent()).toContain("40 entered");
    expect(await page.getByTestId("node-exits-wait_order").textContent()).toBe("Left the journey here: goal 10");

    // Editing makes a draft; the counts belong to the published version and step aside.
    await page.getByTestId("edit").click();
    await poll(() => page.getByTestId("stats-bar").count()).toBe(0);
    expect(await page.getByTestId("node-stats-wait_order").count()).toBe(0);
  });
});
