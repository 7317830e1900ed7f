import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { returnRates, sendHourConversions } from "../../app/lib/analytics.server";
import { buildJourney } from "../../workflows/builder";
import { rows } from "../../workflows/embedded/db.server";
import { createTestDb, testDatabaseKind, type TestDb } from "../support/db";
import { createHarness } from "./support";

/**
 * The report's raw-table queries on the embedded engine: conversion by send hour in each user's
 * own zone (across the America/New_York DST change, with an invalid zone falling back to the
 * workspace's), and return rates 1, 3 and 7 days after the message.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// 2024-03-10 07:00Z is 02:00 EST → 03:00 EDT in New York.
const BEFORE_DST = Date.parse("2024-03-10T06:30:00.000Z"); // 01:30 EST, 14:30 Shanghai
const AFTER_DST = Date.parse("2024-03-10T07:30:00.000Z"); // 03:30 EDT

const journey = () =>
  buildJourney({
    name: "report",
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

describe(`report queries on the raw tables (${testDatabaseKind()})`, () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("buckets sends by the user's local hour across DST, and measures returns after the send", async () => {
    const h = await createHarness({ db, start: BEFORE_DST, timezone: "Asia/Shanghai" });
    try {
      await h.insertUsers([
        { id: "ny-early", timezone: "America/New_York" },
        { id: "ny-late", timezone: "America/New_York" },
        { id: "sh", timezone: "Asia/Shanghai" },
        { id: "bad-zone", timezone: "Mars/Olympus_Mons" },
      ]);
      const { journeyId } = await h.publish(journey());
      const enter = async (userId: string) => {
        await h.engine.triggerJourney({ workspaceId: h.workspaceId, journeyId, userId });
        await h.engine.runUntilIdle();
      };
      await enter("ny-early");
      await enter("sh");
      await enter("bad-zone");
      h.clock.set(AFTER_DST);
      await enter("ny-late");
      const [{ n }] = await rows<{ n: number }>(h.db.db, sql`select count(*)::int as n from journey_node_events where journey_id = ${journeyId}::uuid and kind = 'message' and message_status = 'sent'`);
      expect(n).toBe(4);

      // ny-early orders an hour after the send (a conversion, and a return on day 1).
      h.clock.set(AFTER_DST + HOUR);
      await h.engine.handleEvents([await h.storeEvent("ny-early", "order_completed", { amount: 30 })]);
      await h.engine.runUntilIdle();
      // Returns: sh opens the app 12 h after, ny-late on day 2, bad-zone on day 6; a delivery report is no return.
      await h.storeEvent("sh", "app_opened", {}, BEFORE_DST + 12 * HOUR);
      await h.storeEvent("ny-late", "app_opened", {}, AFTER_DST + 2 * DAY);
      await h.storeEvent("bad-zone", "app_opened", {}, BEFORE_DST + 6 * DAY);
      await h.storeEvent("bad-zone", "$message.delivered", {}, BEFORE_DST + 60_000);

      expect(await sendHourConversions(h.db.db, h.workspaceId, journeyId)).toEqual([
        { hour: 1, sent: 1, converted: 1 }, // 06:30Z = 01:30 EST
        { hour: 3, sent: 1, converted: 0 }, // 07:30Z = 03:30 EDT (02:00–03:00 does not exist that day)
        { hour: 14, sent: 2, converted: 0 }, // Shanghai, and the invalid zone on the workspace's Shanghai
      ]);
      expect(await returnRates(h.db.db, h.workspaceId, journeyId)).toEqual({
        messaged: 4,
        days: [
          { day: 1, returned: 2, rate: 0.5 },
          { day: 3, returned: 3, rate: 0.75 },
          { day: 7, returned: 4, rate: 1 },
        ],
      });
      expect((await returnRates(h.db.db, h.workspaceId, journeyId, {}, { event: "order_completed", days: [1] })).days).toEqual([{ day: 1, returned: 1, rate: 0.25 }]);
      // A period selects by entry: the hour after the DST change holds ny-late only.
      expect(await sendHourConversions(h.db.db, h.workspaceId, journeyId, { from: AFTER_DST, to: AFTER_DST + 1 })).toEqual([{ hour: 3, sent: 1, converted: 0 }]);
    } finally {
      await h.close();
    }
  });
});
