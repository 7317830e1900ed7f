import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { journeyListStats, journeyStats, reconcileJourney } from "../../app/lib/analytics.server";
import { chooseSplitBranch, type SplitConfig } from "../../nodes/split/definition";
import { buildJourney } from "../../workflows/builder";
import { isHoldout } from "../../workflows/interpreter";
import type { JourneyProgram } from "../../workflows/program";
import { rows } from "../../workflows/embedded/db.server";
import { createTestDb, testDatabaseKind, type TestDb } from "../support/db";
import { createHarness } from "./support";

const T0 = Date.parse("2024-05-06T00:00:00.000Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const split: SplitConfig = { branches: [{ id: "a", label: "A", percent: 50 }, { id: "b", label: "B", percent: 50 }] };

function journey(name: string, holdoutPercent: number) {
  return buildJourney({
    name,
    settings: { entry: { rule: "once" }, holdoutPercent, goal: { event: "order_completed", filters: [], windowMs: 7 * DAY }, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "api" } },
      { id: "ab", type: "core.split", config: split },
      { id: "push", type: "core.push", config: { title: "¥10", body: "券已到账" } },
      { id: "wait_order", type: "core.wait-for-event", config: { event: "order_completed", filters: [], timeout: { amount: 1, unit: "days" } } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "ab"],
      ["ab", "a", "push"],
      ["ab", "b", "push"],
      ["push", "sent", "wait_order"],
      ["push", "failed", "exit"],
      ["wait_order", "happened", "exit"],
      ["wait_order", "timed_out", "exit"],
    ],
  });
}

describe(`journey analytics from node events (${testDatabaseKind()})`, () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("counts entries, waiting users, outputs, message outcomes and conversions exactly, by version and period", async () => {
    const h = await createHarness({ db, start: T0 });
    try {
      const { journeyId, versionId } = await h.publish(journey("analytics", 20));
      const [{ program }] = await rows<{ program: JourneyProgram }>(h.db.db, sql`select program from journey_versions where id = ${versionId}::uuid`);
      const users = Array.from({ length: 30 }, (_, i) => `an-${i}`);
      const holdout = users.filter((u) => isHoldout(program, u));
      const treated = users.filter((u) => !holdout.includes(u));
      expect(holdout.length).toBeGreaterThan(0);
      const buyers = [...treated.slice(0, 4), holdout[0]];
      const branch = (u: string) => chooseSplitBranch(split, u, "ab");

      for (const u of users) await h.engine.handleEvents([await h.storeEvent(u, "$api.trigger")]);
      await h.engine.runUntilIdle();
      // The channels layer records engagement on the message row.
      await rows(h.db.db, sql`update messages set state = 'clicked', opened_at = now(), clicked_at = now() where user_id = ${treated[0]} and journey_id = ${journeyId}`);

      h.clock.advance(HOUR);
      const orders = [];
      for (const u of buyers) orders.push(await h.storeEvent(u, "order_completed", { amount: 99 }));
      await h.engine.handleEvents(orders);
      // A client resending the same calls: nothing is counted twice.
      await h.engine.handleEvents(orders);
      await h.engine.runUntilIdle();

      const during = await journeyStats(h.db.db, h.workspaceId, journeyId);
      expect(during.totals).toMatchObject({
        inside: users.length - buyers.length,
        entered: users.length,
        converted: 4,
        conversionRate: 4 / treated.length,
        holdout: { entered: holdout.length, converted: 1, conversionRate: 1 / holdout.length },
        exitReasons: { goal: 5 },
      });
      expect(during.nodes.trigger).toMatchObject({ entered: users.length, left: { next: treated.length }, waiting: holdout.length - 1 });
      const inA = treated.filter((u) => branch(u) === "a");
      expect(during.nodes.ab.left).toEqual({ ...(inA.length ? { a: inA.length } : {}), ...(treated.length - inA.length ? { b: treated.length - inA.length } : {}) });
      expect(during.nodes.push.messages).toEqual({ sent: treated.length, delivered: treated.length, opened: 1, clicked: 1, failed: 0, deferred: 0 });
      expect(during.nodes.push.conversions).toBe(4);
      expect(during.nodes.wait_order).toMatchObject({ entered: treated.length, waiting: treated.length - 4, left: {} });
      const buyersA = buyers.slice(0, 4).filter((u) => branch(u) === "a").length;
      expect(during.nodes.ab.branchConversions).toEqual({ ...(buyersA ? { a: buyersA } : {}), ...(4 - buyersA ? { b: 4 - buyersA } : {}) });

      h.clock.advance(DAY);
      await h.engine.runUntilIdle();
      // Holdout users are watched for the goal until its window closes.
      h.clock.advance(7 * DAY);
      await h.engine.runUntilIdle();
      const after = await journeyStats(h.db.db, h.workspaceId, journeyId);
      expect(after.totals.inside).toBe(0);
      expect(after.totals.exitReasons).toEqual({ goal: 5, exit_node: treated.length - 4, holdout: holdout.length - 1 });
      expect(after.nodes.wait_order.left).toEqual({ timed_out: treated.length - 4 });
      expect(after.nodes.exit.entered).toBe(treated.length - 4);

      // A new version: its users are counted under it only.
      const { versionId: v2 } = await h.republish(journeyId, journey("analytics v2", 0));
      await h.engine.handleEvents([await h.storeEvent("late", "$api.trigger")]);
      await h.engine.runUntilIdle();
      const first = await journeyStats(h.db.db, h.workspaceId, journeyId, { versionId });
      const second = await journeyStats(h.db.db, h.workspaceId, journeyId, { versionId: v2 });
      expect(first.totals.entered).toBe(users.length);
      expect(second.totals).toMatchObject({ entered: 1, inside: 1 });
      expect(second.nodes.push.messages.sent).toBe(1);

      // A period selects users by when they entered (entry cohort, docs/analytics.md): nobody
      // entered a day later, though the timeouts happened then; the entry hour holds everything.
      const period = await journeyStats(h.db.db, h.workspaceId, journeyId, { versionId, from: T0 + HOUR + DAY - 1, to: T0 + 2 * DAY });
      expect(period.totals.entered).toBe(0);
      expect(period.nodes.wait_order).toBeUndefined();
      const cohort = await journeyStats(h.db.db, h.workspaceId, journeyId, { versionId, from: T0, to: T0 + HOUR });
      expect(cohort.totals.entered).toBe(users.length);
      expect(cohort.nodes.wait_order).toMatchObject({ entered: treated.length, waiting: 0, left: { timed_out: treated.length - 4 }, exits: { goal: 4 } });
      expect(cohort.nodes.trigger).toMatchObject({ entered: users.length, waiting: 0, left: { next: treated.length }, exits: { goal: 1, holdout: holdout.length - 1 } });
      expect(cohort.nodes.push.messages.sent).toBe(treated.length);
      expect(await reconcileJourney(h.db.db, journeyId)).toEqual([]);

      const list = await journeyListStats(h.db.db, h.workspaceId, [journeyId]);
      expect(list[journeyId]).toEqual({ inside: 1, entered: users.length + 1, converted: 4, conversionRate: 4 / (users.length + 1 - holdout.length) });
    } finally {
      await h.close();
    }
  });
});
