import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildJourney } from "../../workflows/builder";
import { rows } from "../../workflows/embedded/db.server";
import { step } from "../../workflows/interpreter";
import { commitOf, recordsOf } from "../../workflows/temporal/contract";
import { createTemporalEngine, type TemporalEngine } from "../../workflows/temporal/engine";
import { createTemporalHarness, RecordingGateway, type TemporalHarness } from "./support";

/**
 * The engine's database side without a Temporal server: entries decided and stored exactly as
 * the embedded engine decides them, workflows started with the stored entry step, and events
 * signalled only to the instances that await them. The gateway records what would reach Temporal.
 */

const DAY = 86_400_000;
const START = Date.parse("2024-05-06T01:00:00.000Z");

const waitsForOrder = buildJourney({
  name: "signed up, no order",
  settings: { entry: { rule: "once" }, holdoutPercent: 0, goal: { event: "order_completed", filters: [], windowMs: 7 * DAY }, exitEvents: [] },
  nodes: [
    { id: "trigger", type: "core.trigger", config: { source: "event", event: "signed_up", filters: [] } },
    { id: "wait_order", type: "core.wait-for-event", config: { event: "coupon_redeemed", filters: [], timeout: { amount: 1, unit: "days" } } },
    { id: "wait_open", type: "core.wait-for-event", config: { event: "app_opened", filters: [], timeout: { amount: 1, unit: "days" } } },
    { id: "exit", type: "core.exit", config: {} },
  ],
  edges: [
    ["trigger", "next", "wait_order"],
    ["wait_order", "happened", "exit"],
    ["wait_order", "timed_out", "wait_open"],
    ["wait_open", "happened", "exit"],
    ["wait_open", "timed_out", "exit"],
  ],
});

const instant = buildJourney({
  name: "instant",
  settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
  nodes: [
    { id: "trigger", type: "core.trigger", config: { source: "api" } },
    { id: "exit", type: "core.exit", config: {} },
  ],
  edges: [["trigger", "next", "exit"]],
});

let h: TemporalHarness;
let gateway: RecordingGateway;
let engine: TemporalEngine;
let waitsJourney: { journeyId: string; versionId: string };
let instantJourney: { journeyId: string; versionId: string };

beforeAll(async () => {
  h = await createTemporalHarness(START);
  gateway = new RecordingGateway();
  engine = createTemporalEngine({ db: h.db.db, now: () => new Date(h.clock.ms), gateway });
  waitsJourney = await h.publish(waitsForOrder);
  instantJourney = await h.publish(instant);
  await h.insertUsers([
    { id: "u1", traits: { name: "小王" }, timezone: "Asia/Shanghai" },
    { id: "u2", traits: {}, timezone: "Asia/Shanghai" },
  ]);
});

afterAll(async () => {
  await h?.close();
});

async function instancesOf(journeyId: string) {
  return rows<{ id: string; user_id: string; status: string; node_id: string; wake_at: string | null; awaiting: string[]; driver: string; entry_key: string }>(
    h.db.db,
    sql`select id, user_id, status, node_id, wake_at, awaiting, state ->> 'driver' as driver, entry_key from journey_instances where journey_id = ${journeyId}::uuid order by entered_at, id`,
  );
}

describe("Temporal engine: entries", () => {
  it("stores the instance with its entry step and starts its workflow with signal-with-start", async () => {
    const event = await h.storeEvent("u1", "signed_up");
    await engine.handleEvents([event]);
    const [row] = await instancesOf(waitsJourney.journeyId);
    // Invisible to the embedded engine's timer and event queries.
    expect(row).toMatchObject({ user_id: "u1", status: "active", node_id: "wait_order", wake_at: null, awaiting: [], driver: "temporal", entry_key: event.messageId });
    expect(gateway.entered).toHaveLength(1);
    const { input, signal } = gateway.entered[0];
    expect(signal).toEqual({ entryKey: event.messageId });
    expect(input.instance).toEqual({ workspaceId: h.workspaceId, journeyId: waitsJourney.journeyId, versionId: waitsJourney.versionId, instanceId: row.id, userId: "u1" });
    expect(input.program.id).toBe(waitsJourney.journeyId);
    // The commit handed to the workflow is exactly its own entry step's records, already stored.
    const entry = step(input.program, null, { type: "start", now: input.entry.now, user: input.entry.user, instanceId: row.id, workspaceTimezone: input.workspaceTimezone, event: input.entry.event });
    expect(input.entry.commit).toEqual(commitOf(recordsOf(entry.commands)));
    const stored = await h.records(waitsJourney.journeyId);
    expect(stored.map((r) => r.kind)).toEqual(["entered", "left", "entered"]);
    const [stats] = await rows<{ outcome: string; count: number }>(h.db.db, sql`select outcome, count from journey_entry_stats where journey_id = ${waitsJourney.journeyId}::uuid`);
    expect(stats).toEqual({ outcome: "entered", count: 1 });
  });

  it("a redelivered entry creates nothing new and only re-issues the idempotent start", async () => {
    const [row] = await instancesOf(waitsJourney.journeyId);
    const event = { workspaceId: h.workspaceId, userId: "u1", messageId: row.entry_key, name: "signed_up", properties: {}, timestamp: h.clock.ms };
    const before = gateway.entered.length;
    await engine.handleEvents([event]);
    expect(await instancesOf(waitsJourney.journeyId)).toHaveLength(1);
    expect(gateway.entered.length - before).toBe(1);
    const repeated = gateway.entered.at(-1)!;
    expect(repeated.input.instance.instanceId).toBe(row.id);
    expect(repeated.input.resume?.state.nodeId).toBe("wait_order");
  });

  it("entry rules hold: a once-only journey refuses a second entry", async () => {
    const again = await h.storeEvent("u1", "signed_up");
    await engine.handleEvents([again]);
    expect(await instancesOf(waitsJourney.journeyId)).toHaveLength(1);
    const refused = await rows<{ count: number }>(
      h.db.db,
      sql`select count from journey_entry_stats where journey_id = ${waitsJourney.journeyId}::uuid and outcome = 'already_entered'`,
    );
    expect(refused).toEqual([{ count: 1 }]);
  });

  it("an instance that ends at its entry needs no workflow", async () => {
    const before = gateway.entered.length;
    const result = await engine.triggerJourney({ workspaceId: h.workspaceId, journeyId: instantJourney.journeyId, userId: "u2" });
    expect(result.entered).toBe(true);
    const [row] = await instancesOf(instantJourney.journeyId);
    expect(row.status).toBe("completed");
    expect(gateway.entered.length).toBe(before);
    expect(await engine.triggerJourney({ workspaceId: h.workspaceId, journeyId: waitsJourney.journeyId, userId: "u2" })).toEqual({ entered: false, reason: "not_api_trigger" });
  });
});

describe("Temporal engine: events", () => {
  it("signals only instances whose stored state awaits the event, once per message", async () => {
    const [row] = await instancesOf(waitsJourney.journeyId);
    const unrelated = await h.storeEvent("u1", "app_opened");
    const awaited = await h.storeEvent("u1", "coupon_redeemed");
    const goal = await h.storeEvent("u1", "order_completed");
    const otherUser = await h.storeEvent("u2", "coupon_redeemed");
    await engine.handleEvents([unrelated, awaited, goal, otherUser]);
    expect(gateway.signals.map((s) => [s.workflowId, s.signal.messageId])).toEqual([
      [row.id, awaited.messageId],
      [row.id, goal.messageId],
    ]);
    expect(gateway.signals[0].signal).toMatchObject({ event: { name: "coupon_redeemed", id: awaited.messageId }, user: { id: "u1", traits: { name: "小王" } } });
    await engine.handleEvents([awaited]);
    expect(gateway.signals).toHaveLength(2);
  });

  it("starts a workflow whose start was lost from the stored state, delivering the event with it", async () => {
    const [row] = await instancesOf(waitsJourney.journeyId);
    gateway.running.delete(row.id);
    const event = await h.storeEvent("u1", "coupon_redeemed");
    await engine.handleEvents([event]);
    expect(gateway.repairs).toHaveLength(1);
    const { input, signal } = gateway.repairs[0];
    expect(signal.messageId).toBe(event.messageId);
    expect(input.instance.instanceId).toBe(row.id);
    expect(input.resume).toMatchObject({ state: { nodeId: "wait_order", status: "active" }, committedSeq: 3 });
    expect(input.resume!.state).not.toHaveProperty("driver");
  });

  it("while a deadline has passed, events the journey could await next are sent too", async () => {
    // The stored state still waits for coupon_redeemed, but its timeout has passed: the workflow
    // may already wait for app_opened and not have stored that yet.
    h.clock.ms = START + DAY + 60_000;
    const before = gateway.signals.length;
    const event = await h.storeEvent("u1", "app_opened");
    await engine.handleEvents([event]);
    expect(gateway.signals.slice(before).map((s) => s.signal.messageId)).toEqual([event.messageId]);
  });
});

describe("Temporal engine: schedule triggers", () => {
  it("admits the segment's members once per run with the embedded engine's run protocol, and runs each occurrence once", async () => {
    const members = ["u1", "u2"];
    const scheduled = createTemporalEngine(
      { db: h.db.db, now: () => new Date(h.clock.ms), gateway },
      { segmentMembers: async (_workspaceId, key) => (key === "vip" ? members : []) },
    );
    const daily = await h.publish(
      buildJourney({
        name: "daily 10:00",
        settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [], timezone: "Asia/Shanghai" },
        nodes: [
          { id: "trigger", type: "core.trigger", config: { source: "schedule", segment: "vip", schedule: { type: "recurring", time: "10:00", weekdays: [] } } },
          { id: "wait", type: "core.wait-for-event", config: { event: "app_opened", filters: [], timeout: { amount: 1, unit: "days" } } },
          { id: "exit", type: "core.exit", config: {} },
        ],
        edges: [
          ["trigger", "next", "wait"],
          ["wait", "happened", "exit"],
          ["wait", "timed_out", "exit"],
        ],
      }),
    );
    // The schedule counts from when the engine first sees the version live (09:00 Shanghai).
    h.clock.ms = START;
    expect(await scheduled.runSchedules()).toBe(0);
    const before = gateway.entered.length;
    h.clock.ms = Date.parse("2024-05-06T02:30:00.000Z"); // 10:30 in Shanghai: one run due
    expect(await scheduled.runSchedules()).toBe(1);
    expect(await scheduled.runSchedules()).toBe(0);
    const rowsNow = await instancesOf(daily.journeyId);
    expect(rowsNow.map((r) => [r.user_id, r.entry_key]).sort()).toEqual([
      ["u1", "schedule:2024-05-06T02:00:00.000Z"],
      ["u2", "schedule:2024-05-06T02:00:00.000Z"],
    ]);
    expect(gateway.entered.length - before).toBe(2);
    const [run] = await rows<{ entered: number; finished: boolean }>(
      h.db.db,
      sql`select entered, finished_at is not null as finished from journey_schedule_runs where journey_id = ${daily.journeyId}::uuid`,
    );
    expect(run).toEqual({ entered: 2, finished: true });
    h.clock.ms = START;
  });
});
