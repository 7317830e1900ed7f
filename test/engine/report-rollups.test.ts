import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { returnRates, sendHourConversions } from "../../app/lib/analytics.server";
import type { AppServices } from "../../app/services.server";
import { eraseUser } from "../../app/users/profiles.server";
import { messageReturns, reconcileMessageSends, sendHours } from "../../app/lib/report-queries.server";
import { buildJourney } from "../../workflows/builder";
import { rows } from "../../workflows/embedded/db.server";
import { createTestDb, testDatabaseKind, type TestDb } from "../support/db";
import { createHarness, type EngineHarness } from "./support";

/**
 * The report's send hours and return rates from the rollups kept by the triggers of migration
 * 0022 (decision 0860), on the embedded engine: the same numbers as the raw-table queries they
 * replace (across the New York DST change, an invalid zone, returns on days 1/3/7), the hour kept
 * as it was at the send when a user moves, rows arriving in any order, and deletes, updates and
 * an erasure subtracting again. `reconcileMessageSends` checks the sends table against the raw
 * node events and events, and the rollup against the sends table, after every step.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// 2024-03-10 07:00Z is 02:00 EST → 03:00 EDT in New York.
const BEFORE_DST = Date.parse("2024-03-10T06:30:00.000Z"); // 01:30 EST, 14:30 Shanghai
const AFTER_DST = Date.parse("2024-03-10T07:30:00.000Z"); // 03:30 EDT

const journey = () =>
  buildJourney({
    name: "report rollups",
    settings: { entry: { rule: "once" }, holdoutPercent: 0, goal: { event: "order_completed", filters: [], windowMs: 7 * DAY }, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "api" } },
      { id: "push", type: "core.push", config: { title: "¥10", body: "券已到账", category: "transactional" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "push"],
      ["push", "sent", "exit"],
      ["push", "failed", "exit"],
    ],
  });

describe(`report rollups: send hours and return rates (${testDatabaseKind()})`, () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db.drop();
  });

  const enter = async (h: EngineHarness, journeyId: string, userId: string) => {
    await h.engine.triggerJourney({ workspaceId: h.workspaceId, journeyId, userId });
    await h.engine.runUntilIdle();
  };

  it("agrees with the raw-table queries across DST and an invalid zone, and keeps agreeing through deletes, updates and an erasure", async () => {
    const h = await createHarness({ db, start: BEFORE_DST, timezone: "Asia/Shanghai" });
    try {
      await h.insertUsers([
        { id: "ny-early", timezone: "America/New_York" },
        { id: "ny-late", timezone: "America/New_York" },
        { id: "sh", timezone: "Asia/Shanghai" },
        { id: "bad-zone", timezone: "Mars/Olympus_Mons" },
      ]);
      const { journeyId } = await h.publish(journey());
      await enter(h, journeyId, "ny-early");
      await enter(h, journeyId, "sh");
      await enter(h, journeyId, "bad-zone");
      h.clock.set(AFTER_DST);
      await enter(h, journeyId, "ny-late");
      // ny-early orders an hour after the send (a conversion, and a return on day 1).
      h.clock.set(AFTER_DST + HOUR);
      await h.engine.handleEvents([await h.storeEvent("ny-early", "order_completed", { amount: 30 })]);
      await h.engine.runUntilIdle();
      // Returns: sh opens the app 12 h after, ny-late on day 2, bad-zone on day 6; a delivery report is no return.
      await h.storeEvent("sh", "app_opened", {}, BEFORE_DST + 12 * HOUR);
      await h.storeEvent("ny-late", "app_opened", {}, AFTER_DST + 2 * DAY);
      await h.storeEvent("bad-zone", "app_opened", {}, BEFORE_DST + 6 * DAY);
      await h.storeEvent("bad-zone", "$message.delivered", {}, BEFORE_DST + 60_000);

      const hours = [
        { hour: 1, sent: 1, converted: 1 }, // 06:30Z = 01:30 EST
        { hour: 3, sent: 1, converted: 0 }, // 07:30Z = 03:30 EDT (02:00–03:00 does not exist that day)
        { hour: 14, sent: 2, converted: 0 }, // Shanghai, and the invalid zone on the workspace's Shanghai
      ];
      const returns = {
        messaged: 4,
        days: [
          { day: 1, returned: 2, rate: 0.5 },
          { day: 3, returned: 3, rate: 0.75 },
          { day: 7, returned: 4, rate: 1 },
        ],
      };
      expect(await sendHours(h.db.db, h.workspaceId, journeyId)).toEqual(hours);
      expect(await sendHourConversions(h.db.db, h.workspaceId, journeyId)).toEqual(hours);
      expect(await messageReturns(h.db.db, h.workspaceId, journeyId)).toEqual(returns);
      expect(await returnRates(h.db.db, h.workspaceId, journeyId)).toEqual(returns);
      // A chosen event, and days the rollup has no bucket for, read the sends table and the events.
      expect((await messageReturns(h.db.db, h.workspaceId, journeyId, {}, { event: "order_completed", days: [1] })).days).toEqual([{ day: 1, returned: 1, rate: 0.25 }]);
      expect(await messageReturns(h.db.db, h.workspaceId, journeyId, {}, { days: [2, 6, 8] })).toEqual(await returnRates(h.db.db, h.workspaceId, journeyId, {}, { days: [2, 6, 8] }));
      // A period selects by entry: the hour after the DST change holds ny-late only.
      expect(await sendHours(h.db.db, h.workspaceId, journeyId, { from: AFTER_DST, to: AFTER_DST + 1 })).toEqual([{ hour: 3, sent: 1, converted: 0 }]);
      expect(await messageReturns(h.db.db, h.workspaceId, journeyId, { from: AFTER_DST, to: AFTER_DST + 1 })).toEqual({
        messaged: 1,
        days: [
          { day: 1, returned: 0, rate: 0 },
          { day: 3, returned: 1, rate: 1 },
          { day: 7, returned: 1, rate: 1 },
        ],
      });
      // Another workspace reads nothing of this journey.
      const other = await createHarness({ db, start: BEFORE_DST });
      try {
        expect(await sendHours(h.db.db, other.workspaceId, journeyId)).toEqual([]);
        expect((await messageReturns(h.db.db, other.workspaceId, journeyId)).messaged).toBe(0);
      } finally {
        await other.close();
      }
      expect(await reconcileMessageSends(h.db.db, journeyId)).toEqual([]);

      // The hour is the one on the user's clock at the send: moving to Shanghai later moves nothing
      // (the raw query, which reads today's zone, now disagrees — which is why the hour is recorded).
      await rows(h.db.db, sql`update users set timezone = 'Asia/Shanghai' where workspace_id = ${h.workspaceId}::uuid and id = 'ny-late'`);
      expect(await sendHours(h.db.db, h.workspaceId, journeyId)).toEqual(hours);
      expect((await sendHourConversions(h.db.db, h.workspaceId, journeyId)).find((r) => r.hour === 3)).toBeUndefined();

      // An earlier return replaces a later one (bad-zone: day 6 → day 1); deleting it brings day 6 back.
      const early = await h.storeEvent("bad-zone", "app_opened", {}, BEFORE_DST + 3 * HOUR);
      expect((await messageReturns(h.db.db, h.workspaceId, journeyId)).days[0]).toEqual({ day: 1, returned: 3, rate: 0.75 });
      await rows(h.db.db, sql`delete from events where workspace_id = ${h.workspaceId}::uuid and message_id = ${early.messageId}`);
      expect(await messageReturns(h.db.db, h.workspaceId, journeyId)).toEqual(returns);
      // A profile merge moves events to another user (an update of events): sh's return leaves with them.
      await rows(h.db.db, sql`update events set user_id = 'sh-merged' where workspace_id = ${h.workspaceId}::uuid and user_id = 'sh'`);
      expect((await messageReturns(h.db.db, h.workspaceId, journeyId)).days[0]).toEqual({ day: 1, returned: 1, rate: 0.25 });
      await rows(h.db.db, sql`update events set user_id = 'sh' where workspace_id = ${h.workspaceId}::uuid and user_id = 'sh-merged'`);
      expect(await messageReturns(h.db.db, h.workspaceId, journeyId)).toEqual(returns);
      expect(await reconcileMessageSends(h.db.db, journeyId)).toEqual([]);

      // A rewind removes ny-early's conversion: its send is no longer converted; then its node events go.
      await rows(h.db.db, sql`delete from journey_node_events where journey_id = ${journeyId}::uuid and user_id = 'ny-early' and kind = 'conversion'`);
      expect(await sendHours(h.db.db, h.workspaceId, journeyId)).toEqual([{ hour: 1, sent: 1, converted: 0 }, hours[1], hours[2]]);
      expect(await reconcileMessageSends(h.db.db, journeyId)).toEqual([]);
      await rows(h.db.db, sql`delete from journey_node_events where journey_id = ${journeyId}::uuid and user_id = 'ny-early'`);
      expect(await sendHours(h.db.db, h.workspaceId, journeyId)).toEqual([hours[1], hours[2]]);
      expect((await messageReturns(h.db.db, h.workspaceId, journeyId)).messaged).toBe(3);
      expect(await reconcileMessageSends(h.db.db, journeyId)).toEqual([]);

      // Erasing ny-late (events, sends, node events, profile) takes its send and its day-3 return away.
      const { deleted } = await eraseUser({ db: h.db.db } as unknown as AppServices, h.workspaceId, "ny-late", { via: "test" });
      expect(deleted).toMatchObject({ events: 1, journey_node_events: 6 });
      expect(await rows(h.db.db, sql`select 1 from journey_message_sends where workspace_id = ${h.workspaceId}::uuid and user_id = 'ny-late'`)).toEqual([]);
      expect(await sendHours(h.db.db, h.workspaceId, journeyId)).toEqual([hours[2]]);
      expect(await messageReturns(h.db.db, h.workspaceId, journeyId)).toEqual({
        messaged: 2,
        days: [
          { day: 1, returned: 1, rate: 0.5 },
          { day: 3, returned: 1, rate: 0.5 },
          { day: 7, returned: 2, rate: 1 },
        ],
      });
      expect(await reconcileMessageSends(h.db.db, journeyId)).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it("counts the same whatever order sends, conversions and events arrive in", async () => {
    const h = await createHarness({ db, start: BEFORE_DST, timezone: "Asia/Shanghai" });
    try {
      await h.insertUsers([{ id: "a", timezone: "America/New_York" }, { id: "b" }]);
      const { journeyId, versionId } = await h.publish(journey());
      // An event already stored for a time after the send (a virtual clock, a late send record): a return on day 1.
      await h.storeEvent("a", "app_opened", {}, BEFORE_DST + 20 * HOUR);
      await enter(h, journeyId, "a");
      await enter(h, journeyId, "b");
      expect(await messageReturns(h.db.db, h.workspaceId, journeyId)).toEqual({
        messaged: 2,
        days: [
          { day: 1, returned: 1, rate: 0.5 },
          { day: 3, returned: 1, rate: 0.5 },
          { day: 7, returned: 1, rate: 0.5 },
        ],
      });
      // b has no zone of its own: the workspace's (Shanghai, 14:30).
      expect(await sendHours(h.db.db, h.workspaceId, journeyId)).toEqual([
        { hour: 1, sent: 1, converted: 0 },
        { hour: 14, sent: 1, converted: 0 },
      ]);

      // Written out of order by hand: b's conversion first, then a send of b recorded *earlier*
      // than its first one (it becomes b's first send, and both sends precede the conversion).
      const [inst] = await rows<{ id: string }>(h.db.db, sql`select id::text as id from journey_instances where journey_id = ${journeyId}::uuid and user_id = 'b'`);
      const base = sql`${inst.id}::uuid, ${h.workspaceId}::uuid, ${journeyId}::uuid, ${versionId}::uuid, 'b'`;
      await rows(
        h.db.db,
        sql`insert into journey_node_events (instance_id, workspace_id, journey_id, version_id, user_id, seq, node_id, kind, data, at)
            values (${base}, 100, 'exit', 'conversion', '{"event": "order_completed", "attributedNodeId": "push", "holdout": false, "path": []}'::jsonb, ${new Date(BEFORE_DST + 5 * HOUR).toISOString()}::timestamptz)`,
      );
      await rows(
        h.db.db,
        sql`insert into journey_node_events (instance_id, workspace_id, journey_id, version_id, user_id, seq, node_id, kind, message_status, channel, data, at)
            values (${base}, 101, 'push', 'message', 'sent', 'push', '{}'::jsonb, ${new Date(BEFORE_DST - 10 * HOUR).toISOString()}::timestamptz)`,
      );
      // b's events within 7 days of the earlier send only (it is the one return rates count from now).
      await h.storeEvent("b", "app_opened", {}, BEFORE_DST - 4 * HOUR);
      expect(await sendHours(h.db.db, h.workspaceId, journeyId)).toEqual([
        { hour: 1, sent: 1, converted: 0 },
        { hour: 4, sent: 1, converted: 1 }, // 20:30Z the day before = 04:30 Shanghai
        { hour: 14, sent: 1, converted: 1 },
      ]);
      expect(await messageReturns(h.db.db, h.workspaceId, journeyId)).toEqual({
        messaged: 2,
        days: [
          { day: 1, returned: 2, rate: 1 },
          { day: 3, returned: 2, rate: 1 },
          { day: 7, returned: 2, rate: 1 },
        ],
      });
      expect(await reconcileMessageSends(h.db.db, journeyId)).toEqual([]);
      expect(await messageReturns(h.db.db, h.workspaceId, journeyId)).toEqual(await returnRates(h.db.db, h.workspaceId, journeyId));
    } finally {
      await h.close();
    }
  });

  it("refuses return days it cannot count", async () => {
    await expect(messageReturns(db.db, "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000", {}, { days: [0] })).rejects.toThrow(/whole days from 1 to 366/);
    await expect(messageReturns(db.db, "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000", {}, { days: [1.5] })).rejects.toThrow(/whole days/);
  });
});
