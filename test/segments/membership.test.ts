import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import { segmentRuntime, startSegmentSweeper } from "../../app/segments/membership.server";
import { lifecycleDefinition, rfmDefinition } from "../../app/segments/presets";
import type { RuleGroup } from "../../app/segments/rules";
import { countMembers, createSegment, ensurePresetSegments, getSegment, listMembers, updateSegment } from "../../app/segments/store.server";
import { eraseUser } from "../../app/users/profiles.server";
import { startTestApp, type TestApp } from "../support/app";
import { send, writeKey } from "../ingest/helpers";
import { RecordingEngine } from "../ingest/recording-engine";
import { addEvent, addUser, day, listenTo } from "./helpers";

// Membership kept current: creation, incremental evaluation after ingestion, the sweep for
// time-based rules, notification of the engine (recording engine here; the real engine's own
// tests live with the engine), presets and their thresholds.

let app: TestApp;
let key: string;
let engine: RecordingEngine;
let clock = new Date("2026-06-01T00:00:00.000Z");
let seq = 0;
const mid = () => `mm-${++seq}`;

const group = (...rules: RuleGroup["rules"]): RuleGroup => ({ kind: "group", match: "all", rules });

beforeAll(async () => {
  app = await startTestApp({ now: () => clock });
  key = await writeKey(app);
  engine = new RecordingEngine();
  app.services.engine = engine;
});
afterAll(() => app?.close());
beforeEach(() => {
  engine.changes = [];
  engine.failChanges = false;
});

const settle = () => segmentRuntime(app.services).evaluator.whenIdle();

async function members(segmentId: string): Promise<string[]> {
  return (await listMembers(app.services.db, app.workspaceId, segmentId, { limit: 500 })).map((m) => m.userId).sort();
}

async function history(segmentId: string) {
  return query<{ user_id: string; change: string; notified: boolean }>(
    app.services.db,
    sql`select user_id, change, notified_at is not null as notified from segment_membership_events where segment_id = ${segmentId}::uuid order by id`,
  );
}

describe("a new segment", () => {
  it("computes its members at once, records the entries, and does not start journeys for them", async () => {
    await addUser(app, "pre-1", { traits: { plan: "pro" } });
    await addUser(app, "pre-2", { traits: { plan: "free" } });
    const segment = await createSegment(app.services, app.workspaceId, { name: "Pro plan", definition: group({ kind: "trait", trait: "plan", op: "eq", value: "pro" }) });
    expect(segment.key).toBe("pro_plan");
    expect(segment.memberCount).toBe(1);
    expect(await members(segment.id)).toEqual(["pre-1"]);
    expect(await history(segment.id)).toEqual([{ user_id: "pre-1", change: "entered", notified: true }]);
    expect(engine.changes).toEqual([]);
  });

  it("keys are unique per workspace and chosen keys are validated", async () => {
    const a = await createSegment(app.services, app.workspaceId, { name: "VIP 用户", definition: group() });
    const b = await createSegment(app.services, app.workspaceId, { name: "VIP 用户", definition: group() });
    expect(a.key).toBe("vip");
    expect(b.key).toBe("vip_2");
    await expect(createSegment(app.services, app.workspaceId, { name: "x", key: "vip", definition: group() })).rejects.toMatchObject({ code: "key_taken" });
    await expect(createSegment(app.services, app.workspaceId, { name: "x", key: "Bad Key!", definition: group() })).rejects.toMatchObject({ code: "invalid" });
    const chinese = await createSegment(app.services, app.workspaceId, { name: "美食爱好者", definition: group() });
    expect(chinese.key).toMatch(/^segment_[0-9a-f]{8}$/);
  });
});

describe("incremental evaluation after ingestion", () => {
  it("an event moves the user into an event segment and the engine hears it, keyed by the segment key", async () => {
    await listenTo(app, "big_spenders");
    const segment = await createSegment(app.services, app.workspaceId, {
      name: "Big spenders",
      key: "big_spenders",
      definition: group({ kind: "event", event: "order_completed", filters: [{ property: "amount", op: "gte", value: 500 }], check: "did", within: { amount: 30, unit: "days" } }),
    });
    await send(app, "track", { userId: "inc-1", messageId: mid(), event: "order_completed", properties: { amount: 100 } }, { key });
    await settle();
    expect(await members(segment.id)).toEqual([]);
    await send(app, "track", { userId: "inc-1", messageId: mid(), event: "order_completed", properties: { amount: 800 } }, { key });
    await settle();
    expect(await members(segment.id)).toEqual(["inc-1"]);
    expect(engine.changes).toEqual([expect.objectContaining({ workspaceId: app.workspaceId, userId: "inc-1", segmentId: "big_spenders", change: "entered", at: clock.getTime() })]);
    expect((await history(segment.id)).at(-1)).toEqual({ user_id: "inc-1", change: "entered", notified: true });
    expect((await getSegment(app.services.db, app.workspaceId, segment.id)).memberCount).toBe(1);
  });

  it("an identify that changes a trait moves the user in and out", async () => {
    await listenTo(app, "shanghai");
    const segment = await createSegment(app.services, app.workspaceId, { name: "Shanghai", key: "shanghai", definition: group({ kind: "trait", trait: "city", op: "eq", value: "上海" }) });
    await send(app, "identify", { userId: "inc-2", messageId: mid(), traits: { city: "上海" } }, { key });
    await settle();
    expect(await members(segment.id)).toEqual(["inc-2"]);
    await send(app, "identify", { userId: "inc-2", messageId: mid(), traits: { city: "北京" } }, { key });
    await settle();
    expect(await members(segment.id)).toEqual([]);
    expect(engine.changes.map((c) => [c.segmentId, c.change])).toEqual([
      ["shanghai", "entered"],
      ["shanghai", "exited"],
    ]);
    expect((await getSegment(app.services.db, app.workspaceId, segment.id)).memberCount).toBe(0);
  });

  it("only segments that read what changed are evaluated", async () => {
    const tagSegment = await createSegment(app.services, app.workspaceId, { name: "Foodies", key: "foodies", definition: group({ kind: "tag", op: "has", tag: "美食爱好者" }) });
    // The tag is written behind ingestion's back: an unrelated event must not re-evaluate the tag segment.
    await addUser(app, "inc-3", { tags: ["美食爱好者"] });
    await send(app, "track", { userId: "inc-3", messageId: mid(), event: "app_opened" }, { key });
    await settle();
    expect(await members(tagSegment.id)).toEqual([]);
    await send(app, "identify", { userId: "inc-3", messageId: mid(), traits: { tags: ["美食爱好者"] } }, { key });
    await settle();
    expect(await members(tagSegment.id)).toEqual(["inc-3"]);
  });

  it("changes of a segment no journey is triggered by are recorded, not handed to the engine", async () => {
    const segment = await createSegment(app.services, app.workspaceId, { name: "Unused", key: "unused", definition: group({ kind: "event", event: "unused_event", filters: [], check: "did" }) });
    await send(app, "track", { userId: "inc-5", messageId: mid(), event: "unused_event" }, { key });
    await settle();
    expect(await members(segment.id)).toEqual(["inc-5"]);
    expect(await history(segment.id)).toEqual([{ user_id: "inc-5", change: "entered", notified: true }]);
    expect(engine.changes).toEqual([]);
  });

  it("a duplicate call changes nothing", async () => {
    const segment = await createSegment(app.services, app.workspaceId, { name: "Coupon users", key: "coupon_users", definition: group({ kind: "event", event: "coupon_redeemed", filters: [], check: "did" }) });
    const id = mid();
    await send(app, "track", { userId: "inc-4", messageId: id, event: "coupon_redeemed" }, { key });
    await settle();
    engine.changes = [];
    await send(app, "track", { userId: "inc-4", messageId: id, event: "coupon_redeemed" }, { key });
    await settle();
    expect(engine.changes).toEqual([]);
    expect(await members(segment.id)).toEqual(["inc-4"]);
  });
});

describe("the sweep", () => {
  it("moves users out of time-based segments as time passes, with one set-based recompute", async () => {
    await listenTo(app, "ordered_this_week");
    const segment = await createSegment(app.services, app.workspaceId, {
      name: "Ordered this week",
      key: "ordered_this_week",
      definition: group({ kind: "event", event: "weekly_order", filters: [], check: "did", within: { amount: 7, unit: "days" } }),
    });
    await send(app, "track", { userId: "sw-1", messageId: mid(), event: "weekly_order", timestamp: clock.toISOString() }, { key });
    await settle();
    expect(await members(segment.id)).toEqual(["sw-1"]);
    engine.changes = [];
    const sweeper = startSegmentSweeper(app.services, 3_600_000);
    try {
      clock = new Date(clock.getTime() + 8 * day);
      const result = await sweeper.runOnce();
      expect(result.segments).toBeGreaterThan(0);
      expect(await members(segment.id)).toEqual([]);
      expect(engine.changes).toEqual([expect.objectContaining({ userId: "sw-1", segmentId: "ordered_this_week", change: "exited" })]);
    } finally {
      await sweeper.stop();
    }
  });

  it("re-sends changes the engine did not accept", async () => {
    await listenTo(app, "ride_takers");
    const segment = await createSegment(app.services, app.workspaceId, { name: "Ride takers", key: "ride_takers", definition: group({ kind: "event", event: "ride_completed", filters: [], check: "did" }) });
    engine.failChanges = true;
    await send(app, "track", { userId: "rd-1", messageId: mid(), event: "ride_completed" }, { key });
    await settle();
    expect(await members(segment.id)).toEqual(["rd-1"]);
    expect((await history(segment.id)).at(-1)).toEqual({ user_id: "rd-1", change: "entered", notified: false });
    engine.failChanges = false;
    const sweeper = startSegmentSweeper(app.services, 3_600_000);
    try {
      clock = new Date(clock.getTime() + 60_000);
      expect((await sweeper.runOnce()).redelivered).toBe(1);
    } finally {
      await sweeper.stop();
    }
    expect(engine.changes).toEqual([expect.objectContaining({ userId: "rd-1", segmentId: "ride_takers", change: "entered" })]);
    expect((await history(segment.id)).at(-1)?.notified).toBe(true);
  });
});

describe("editing rules", () => {
  it("new rules recompute membership and the changes reach the engine", async () => {
    await listenTo(app, "level");
    await addUser(app, "ed-1", { traits: { level: 1 } });
    await addUser(app, "ed-2", { traits: { level: 5 } });
    const segment = await createSegment(app.services, app.workspaceId, { name: "Level", key: "level", definition: group({ kind: "trait", trait: "level", op: "gte", value: 3 }) });
    expect(await members(segment.id)).toEqual(["ed-2"]);
    await updateSegment(app.services, app.workspaceId, "level", { definition: group({ kind: "trait", trait: "level", op: "lt", value: 3 }) });
    expect(await members(segment.id)).toEqual(["ed-1"]);
    expect(engine.changes.map((c) => [c.userId, c.change]).sort()).toEqual([
      ["ed-1", "entered"],
      ["ed-2", "exited"],
    ]);
    await expect(updateSegment(app.services, app.workspaceId, "level", { definition: { kind: "group", match: "sometimes", rules: [] } })).rejects.toMatchObject({
      code: "invalid",
    });
  });
});

describe("presets", () => {
  it("lifecycle stages partition users by first/last activity, with editable thresholds", async () => {
    const ws = await startTestApp({ now: () => clock });
    try {
      const now = clock.getTime();
      const at = (daysAgo: number) => new Date(now - daysAgo * day);
      await addUser(ws, "new", { firstSeen: at(2), lastSeen: at(1) });
      await addUser(ws, "active", { firstSeen: at(60), lastSeen: at(3) });
      await addUser(ws, "silent", { firstSeen: at(60), lastSeen: at(15) });
      await addUser(ws, "churned", { firstSeen: at(200), lastSeen: at(45) });
      const created = await ensurePresetSegments(ws.services, ws.workspaceId, "lifecycle", { locale: "zh" });
      expect(created.map((s) => s.name)).toEqual(["新增用户", "活跃用户", "沉默用户", "流失用户"]);
      const byKey = async (k: string) => (await listMembers(ws.services.db, ws.workspaceId, (await getSegment(ws.services.db, ws.workspaceId, k)).id)).map((m) => m.userId);
      expect(await byKey("lifecycle_new")).toEqual(["new"]);
      expect(await byKey("lifecycle_active")).toEqual(["active"]);
      expect(await byKey("lifecycle_silent")).toEqual(["silent"]);
      expect(await byKey("lifecycle_churned")).toEqual(["churned"]);
      // Idempotent.
      expect(await ensurePresetSegments(ws.services, ws.workspaceId, "lifecycle")).toEqual([]);
      // Churn after 14 days instead of 30: the silent user becomes churned.
      await updateSegment(ws.services, ws.workspaceId, "lifecycle_churned", { presetParams: { newDays: 7, activeDays: 7, churnDays: 14 } });
      expect((await byKey("lifecycle_churned")).sort()).toEqual(["churned", "silent"]);
      const churned = await getSegment(ws.services.db, ws.workspaceId, "lifecycle_churned");
      expect(churned.preset).toEqual({ family: "lifecycle", stage: "churned", params: { newDays: 7, activeDays: 7, churnDays: 14 } });
      await expect(updateSegment(ws.services, ws.workspaceId, "lifecycle_churned", { presetParams: { activeDays: 30, churnDays: 20 } })).rejects.toMatchObject({
        code: "invalid",
        issues: [{ path: "params.churnDays", message: "must be longer than the active window" }],
      });
    } finally {
      await ws.close();
    }
  });

  it("RFM tiers: high, medium, low value by recency, frequency and money spent", async () => {
    const ws = await startTestApp({ now: () => clock });
    try {
      const at = (daysAgo: number) => new Date(clock.getTime() - daysAgo * day);
      const orders = async (user: string, list: [number, number][]) => {
        await addUser(ws, user);
        for (const [ago, amount] of list) await addEvent(ws, user, "order_completed", at(ago), { amount });
      };
      await orders("champion", [[3, 500], [40, 400], [100, 300]]);
      await orders("lapsed-big", [[90, 900], [200, 900]]);
      await orders("small", [[5, 50], [60, 40]]);
      await addUser(ws, "never");
      await ensurePresetSegments(ws.services, ws.workspaceId, "rfm", { locale: "en" });
      const byKey = async (k: string) => (await listMembers(ws.services.db, ws.workspaceId, (await getSegment(ws.services.db, ws.workspaceId, k)).id)).map((m) => m.userId).sort();
      expect(await byKey("rfm_high")).toEqual(["champion"]);
      expect(await byKey("rfm_medium")).toEqual(["lapsed-big"]);
      expect(await byKey("rfm_low")).toEqual(["small"]);
      expect(rfmDefinition("medium").rules.at(-1)).toMatchObject({ kind: "group", negate: true });
      expect(lifecycleDefinition("new").rules).toEqual([{ kind: "first_seen", op: "within", within: { amount: 7, unit: "days" } }]);
    } finally {
      await ws.close();
    }
  });
});

describe("erasure", () => {
  it("removes the user's memberships and keeps counts right", async () => {
    const segment = await createSegment(app.services, app.workspaceId, { name: "Everyone named Erin", key: "erin", definition: group({ kind: "trait", trait: "name", op: "eq", value: "Erin" }) });
    await send(app, "identify", { userId: "erase-me", messageId: mid(), traits: { name: "Erin" } }, { key });
    await settle();
    expect(await countMembers(app.services.db, segment.id)).toBe(1);
    const result = await eraseUser(app.services, app.workspaceId, "erase-me", { via: "test" });
    expect(result.found).toBe(true);
    expect(result.deleted).toMatchObject({ users: 1, events: 1, segment_members: 1 });
    expect(await countMembers(app.services.db, segment.id)).toBe(0);
    expect((await getSegment(app.services.db, app.workspaceId, segment.id)).memberCount).toBe(0);
  });
});
