import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCALE_COOKIE } from "../../app/i18n";
import { journeyReport } from "../../app/lib/report.server";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { events, users } from "../../db/schema";
import type { IncomingEvent } from "../../workflows/engine";
import { createEmbeddedEngine, type EmbeddedEngine } from "../../workflows/embedded/engine.server";
import { registeredNoOrderJourney } from "../../workflows/demo-journeys";
import { startTestApp, type TestApp } from "../support/app";
import { launchBrowser, screenshot } from "../support/browser";


const HOUR = 3_600_000;

/**
 * The journey report of PRODUCT.md journey 2 run by the embedded engine for 40 sign-ups, 10 of
 * whom order within the day; the rest get the SMS after 24 hours. Opened from the editor's Report
 * link in real Chromium: non-zero funnel numbers, a drawn chart, the loss-reason table, Chinese.
 */
describe("journey report on a live journey", () => {
  let app: TestApp;
  let browser: Browser;
  let engine: EmbeddedEngine;
  let journeyId: string;
  let marketer: { email: string; password: string; id: string };
  let clock = Date.parse("2026-03-02T02:00:00.000Z");
  let track: (userId: string, name: string) => Promise<IncomingEvent>;

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
    track = async (userId: string, name: string): Promise<IncomingEvent> => {
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

  it("opens from the editor and shows the funnel, a chart and the loss reasons; in Chinese too", async () => {
    const report = await journeyReport(app.services.db, app.workspaceId, journeyId);
    const sms = report.loss.find((l) => l.nodeId === "sms_hongbao");
    expect(sms?.stages.find((s) => s.stage === "sent")?.n).toBe(30);

    const page = await browser.newPage({ locale: "en-US", viewport: { width: 1280, height: 900 } });
    await page.goto(`${app.url}/login?next=/journeys/${journeyId}`);
    await page.getByLabel("Email").fill(marketer.email);
    await page.getByLabel("Password").fill(marketer.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(new RegExp(`/journeys/${journeyId}$`));
    await page.getByTestId("journey-report-link").click();
    await page.waitForURL(/\/report$/);

    const funnel = page.getByTestId("report-funnel");
    expect(await funnel.locator("tbody tr").first().textContent()).toContain(String(report.funnel.entered));
    expect(report.funnel.entered).toBeGreaterThan(0);
    expect(await funnel.textContent()).toContain("Goal reached");
    // The chart is drawn: an SVG with bars (paths) and the axis labels.
    const chart = funnel.getByTestId("report-chart").locator("svg");
    expect(await chart.count()).toBe(1);
    expect(await chart.locator("path").count()).toBeGreaterThan(3);
    // Loss reasons of the SMS step: every stage with its count.
    const loss = page.getByTestId("report-loss-sms_hongbao");
    const lossText = (await loss.textContent()) ?? "";
    for (const stage of ["Requested", "Sendable", "Sent", "Delivered", "Opened", "Clicked"]) expect(lossText).toContain(stage);
    expect(await loss.locator("tbody tr").nth(2).locator("td").nth(2).textContent()).toBe("30");
    expect(await page.getByTestId("report-hours").getByTestId("report-chart").locator("svg").count()).toBe(1);
    // Nobody converted after the SMS yet (the 10 buyers ordered before it): no best hour, said plainly.
    expect(await page.getByTestId("report-best-hours").textContent()).toBe("No best hour yet: nobody converted after a message in this period.");
    // Which hours may be ranked is said on the page (decision 0861): 30 sends here, and the 30 SMS all went out in one hour.
    expect(await page.getByTestId("report-best-hours-rule").textContent()).toBe("Only hours with at least 30 messages sent are ranked: fewer are too few to compare. The chart shows every hour.");
    // The unlabeled SMS step is named once, in the tables and in the chart.
    expect(await loss.locator("h2").textContent()).toBe("Loss reasons: SMS");
    expect(await funnel.locator("tbody tr").nth(1).locator("td").first().textContent()).toBe("SMS");
    expect(await page.locator("main").textContent()).not.toContain("SMS (SMS)");
    expect(await funnel.getByTestId("report-chart").textContent()).toContain("SMS");
    await screenshot(page, "journey-report-01-en");
    // CSV export of a table: the loss stages as the page shows them.
    const [download] = await Promise.all([page.waitForEvent("download"), loss.getByRole("button", { name: "Export CSV" }).click()]);
    const csv = readFileSync((await download.path())!, "utf8");
    expect(csv.split("\r\n")[0]).toBe("\uFEFFStage,Reason,Count,Rate");
    expect(csv).toContain("Sent,,30,100%");

    // A period before the sign-ups holds nobody.
    await page.goto(`${app.url}/journeys/${journeyId}/report?from=2026-02-01&to=2026-02-02`);
    expect(await page.getByTestId("report-funnel").locator("tbody tr").first().textContent()).toContain("0");
    // Bad input is a 400 naming the field.
    const bad = await page.goto(`${app.url}/journeys/${journeyId}/report?from=someday`);
    expect(bad?.status()).toBe(400);

    // Three SMS recipients order an hour later: conversions after the send give a best hour, and returns on day 1.
    clock += HOUR;
    await engine.handleEvents(await Promise.all(["signup-10", "signup-11", "signup-12"].map((id) => track(id, "order_completed"))));
    await engine.runUntilIdle();
    const after = await journeyReport(app.services.db, app.workspaceId, journeyId);
    expect(after.sendHours.best).toHaveLength(1);
    expect(after.sendHours.minSent).toBe(30);
    expect(after.sendHours.best[0]).toMatchObject({ sent: 30, converted: 3 });
    expect(after.returns.days[0]).toEqual({ day: 1, returned: 3, rate: 0.1 });

    // In Chinese: the loss-reason analysis under its operators' name, the chart still drawn.
    await page.context().addCookies([{ name: LOCALE_COOKIE, value: "zh", url: app.url }]);
    await page.goto(`${app.url}/journeys/${journeyId}/report`);
    expect(await page.getByTestId("report-loss-sms_hongbao").locator("h2").textContent()).toBe("折损原因分析：短信");
    expect(await page.locator("main").textContent()).not.toContain("短信（短信）");
    const hour = String(after.sendHours.best[0].hour).padStart(2, "0");
    expect(await page.getByTestId("report-best-hours").textContent()).toBe(`最佳发送时刻：${hour}:00 (10%)`);
    expect(await page.getByTestId("report-best-hours-rule").textContent()).toBe("只比较发送量至少 30 条的时刻，更少则不足以比较；图表显示每个时刻。");
    expect(await page.getByTestId("report-returns").locator("tbody tr").first().textContent()).toContain("10%");
    expect(await page.getByTestId("report-funnel").textContent()).toContain("达成目标");
    expect(await page.getByTestId("report-funnel").getByTestId("report-chart").locator("svg").count()).toBe(1);
    await screenshot(page, "journey-report-02-zh");
    await page.close();
  });
});
