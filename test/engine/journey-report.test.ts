import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { journeyReport, parseReportRange, ReportInputError } from "../../app/lib/report.server";
import { JourneyNotFoundError } from "../../app/lib/journeys.server";
import { buildJourney } from "../../workflows/builder";
import { createTestDb, testDatabaseKind, type TestDb } from "../support/db";
import { createHarness } from "./support";

/**
 * The journey report on a small journey run by the embedded engine: 40 users, a 25 % holdout, a
 * 50/50 split into two push messages, some users ordering. Every table must agree with the
 * users that were actually run (counted here independently from the engine's own records).
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.parse("2026-03-02T09:00:00.000Z");

const journey = () =>
  buildJourney({
    name: "report",
    settings: { entry: { rule: "once" }, holdoutPercent: 25, goal: { event: "order_completed", filters: [], windowMs: 7 * DAY }, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "api" } },
      { id: "ab", type: "core.split", config: { branches: [{ id: "a", label: "A", percent: 50 }, { id: "b", label: "B", percent: 50 }] } },
      { id: "push_a", type: "core.push", config: { title: "¥10", body: "券已到账", category: "transactional" } },
      { id: "push_b", type: "core.push", config: { title: "¥20", body: "券已到账", category: "transactional" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "ab"],
      ["ab", "a", "push_a"],
      ["ab", "b", "push_b"],
      ["push_a", "sent", "exit"],
      ["push_a", "failed", "exit"],
      ["push_b", "sent", "exit"],
      ["push_b", "failed", "exit"],
    ],
  });

describe(`journey report (${testDatabaseKind()})`, () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("funnel, uplift against the holdout, split test, loss stages, send hours, returns and versions agree with the run", async () => {
    const h = await createHarness({ db, start: START, timezone: "Asia/Shanghai" });
    try {
      const ids = Array.from({ length: 40 }, (_, i) => `u${i}`);
      await h.insertUsers(ids.map((id) => ({ id, timezone: "Asia/Shanghai" })));
      const { journeyId, versionId } = await h.publish(journey());
      for (const userId of ids) await h.engine.triggerJourney({ workspaceId: h.workspaceId, journeyId, userId });
      await h.engine.runUntilIdle();
      // Every third user orders two hours later (inside the goal window) and comes back.
      h.clock.set(START + 2 * HOUR);
      const buyers = ids.filter((_, i) => i % 3 === 0);
      await h.engine.handleEvents(await Promise.all(buyers.map((id) => h.storeEvent(id, "order_completed", { amount: 30 }))));
      await h.engine.runUntilIdle();

      const report = await journeyReport(h.db.db, h.workspaceId, journeyId);
      const { treated, holdout } = report.uplift;
      expect(treated.entered + holdout.entered).toBe(40);
      expect(holdout.entered).toBeGreaterThan(0);
      expect(treated.entered).toBeGreaterThan(holdout.entered);
      // The funnel: entry (outside the holdout) → the two push steps in path order → the goal.
      expect(report.funnel.entered).toBe(treated.entered);
      expect(report.funnel.steps.map((s) => s.nodeId)).toEqual(["push_a", "push_b"]);
      expect(report.funnel.steps[0].entered + report.funnel.steps[1].entered).toBe(treated.entered);
      expect(report.funnel.steps[0].sent + report.funnel.steps[1].sent).toBe(treated.entered);
      expect(report.funnel.converted).toBe(treated.converted);
      expect(treated.converted + holdout.converted).toBe(buyers.length);
      expect(report.uplift.result).not.toBeNull();
      expect(report.uplift.result!.interval.low).toBeLessThan(report.uplift.result!.difference);
      expect(report.uplift.result!.interval.high).toBeGreaterThan(report.uplift.result!.difference);
      // The split: both branches, the users add up, one comparison B against A.
      const [split] = report.splits;
      expect(split.branches.map((b) => b.output)).toEqual(["a", "b"]);
      expect(split.branches[0].users + split.branches[1].users).toBe(treated.entered);
      expect(split.branches[0].converted + split.branches[1].converted).toBe(treated.converted);
      expect(split.comparisons).toHaveLength(1);
      expect(split.comparisons[0]).toMatchObject({ output: "b", against: "a" });
      // Loss stages: requested = sendable = sent for every push here (nothing refused).
      for (const row of report.loss) {
        expect(row.stages.map((s) => s.stage)).toEqual(["requested", "sendable", "sent", "delivered", "opened", "clicked"]);
        expect(row.stages[0].n).toBeGreaterThan(0);
        expect(row.stages[2].n).toBe(row.stages[0].n);
      }
      // Send hours: all sent at 09:00Z = 17:00 in Shanghai.
      expect(report.sendHours.rows).toHaveLength(24);
      expect(report.sendHours.rows[17].sent).toBe(treated.entered);
      // Best hours only among hours with 30+ sends (decision 0861): 17:00 when the treated users reach 30 (the holdout is random).
      expect(report.sendHours.minSent).toBe(30);
      expect(report.sendHours.best.map((b) => b.hour)).toEqual(treated.entered >= 30 ? [17] : []);
      // Returns: the messaged buyers (the holdout got no message) came back within a day.
      expect(report.returns.messaged).toBe(treated.entered);
      expect(report.returns.days.map((d) => d.returned)).toEqual([treated.converted, treated.converted, treated.converted]);
      // Versions side by side: one version, the same totals.
      expect(report.byVersion).toEqual([expect.objectContaining({ versionId, version: 1, entered: treated.entered, converted: treated.converted })]);

      // A period before anyone entered is empty; the chosen version narrows; unknown version is not found.
      const empty = await journeyReport(h.db.db, h.workspaceId, journeyId, { from: new Date(START - 3 * DAY), to: new Date(START - 2 * DAY) });
      expect(empty.funnel.entered).toBe(0);
      expect(empty.uplift.result).toBeNull();
      expect((await journeyReport(h.db.db, h.workspaceId, journeyId, { versionId })).funnel.entered).toBe(treated.entered);
      await expect(journeyReport(h.db.db, h.workspaceId, journeyId, { versionId: "00000000-0000-4000-8000-000000000000" })).rejects.toBeInstanceOf(JourneyNotFoundError);
    } finally {
      await h.close();
    }
  });

  it("reads periods from query text and names the bad field", () => {
    expect(parseReportRange({ from: "2026-03-01", to: "2026-03-01" })).toEqual({ from: new Date("2026-03-01T00:00:00Z"), to: new Date("2026-03-02T00:00:00Z") });
    expect(() => parseReportRange({ from: "yesterday" })).toThrow(/"from" must be a date/);
    expect(() => parseReportRange({ from: "2026-03-02", to: "2026-03-01" })).toThrow(ReportInputError);
    expect(() => parseReportRange({ version: "v1" })).toThrow(/"version" must be a version id/);
  });
});

