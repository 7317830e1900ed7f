import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeNode } from "../../nodes/registry.server";
import type { ActionContext, ActionResult } from "../../nodes/runtime";
import { buildJourney } from "../../workflows/builder";
import { fareNoticeJourney } from "../../workflows/demo-journeys";
import type { IncomingEvent } from "../../workflows/engine";
import { rows } from "../../workflows/embedded/db.server";
import type { EntryDecisionEvent } from "../../workflows/embedded/engine.server";
import type { AppServices } from "../../app/services.server";
import { eraseUser } from "../../app/users/profiles.server";
import { createTestDb, testDatabaseKind, type TestDb } from "../support/db";
import { createHarness, type EngineHarness } from "./support";

const T0 = Date.parse("2024-05-06T00:00:00.000Z");
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const onPostgres = Boolean(process.env.DATABASE_URL);
if (!onPostgres) console.log("engine tests: concurrency cases (SKIP LOCKED, parallel workers, racing entries) need DATABASE_URL; skipped on PGlite");

function apiJourney(name: string, nodes: Parameters<typeof buildJourney>[0]["nodes"], edges: Parameters<typeof buildJourney>[0]["edges"], settings: Partial<Parameters<typeof buildJourney>[0]["settings"]> = {}) {
  return buildJourney({
    name,
    settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [], ...settings },
    nodes: [{ id: "trigger", type: "core.trigger", config: { source: "api" } }, ...nodes],
    edges: [["trigger", "next", nodes[0].id], ...edges],
  });
}

const waitThenPush = () =>
  apiJourney(
    "wait then push",
    [
      { id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: 1, unit: "hours" } } },
      { id: "push", type: "core.push", config: { title: "Hi", body: "Hello {{ user.id }}" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    [
      ["wait", "next", "push"],
      ["push", "sent", "exit"],
      ["push", "failed", "exit"],
    ],
  );

async function count(h: EngineHarness, statement: ReturnType<typeof sql>): Promise<number> {
  const [row] = await rows<{ n: number | string }>(h.db.db, statement);
  return Number(row.n);
}

async function enterAll(h: EngineHarness, userIds: string[]): Promise<IncomingEvent[]> {
  const events = [];
  for (const id of userIds) events.push(await h.storeEvent(id, "$api.trigger"));
  await h.engine.handleEvents(events);
  return events;
}

/** Ten users entered into a one-hour wait, with the clock moved to when their timers are due. */
async function tenDueAfterAnHour(h: EngineHarness, name: string): Promise<string> {
  const { journeyId } = await h.publish(
    apiJourney(name, [{ id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: 1, unit: "hours" } } }, { id: "exit", type: "core.exit", config: {} }], [["wait", "next", "exit"]]),
  );
  await enterAll(h, Array.from({ length: 10 }, (_, i) => `${name}-${i}`));
  await h.engine.runUntilIdle();
  h.clock.advance(HOUR);
  return journeyId;
}

describe(`embedded engine (${testDatabaseKind()})`, () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db.drop();
  });

  it.skipIf(!onPostgres)("claims due timers with SKIP LOCKED: rows another transaction holds are skipped, not waited for", async () => {
    const h = await createHarness({ db, start: T0 });
    const locker = postgres(db.url!, { max: 1, onnotice: () => {} });
    try {
      const journeyId = await tenDueAfterAnHour(h, "lock");
      const held = locker.reserve();
      const conn = await held;
      await conn`begin`;
      const locked = await conn`select id from journey_instances where journey_id = ${journeyId} order by id limit 4 for update`;
      expect(locked).toHaveLength(4);
      // Would hang here if the claim waited for the locked rows.
      await h.engine.tick();
      expect(await count(h, sql`select count(*) as n from journey_instances where journey_id = ${journeyId}::uuid and status = 'completed'`)).toBe(6);
      await conn`rollback`;
      conn.release();
      await h.engine.runUntilIdle();
      expect(await count(h, sql`select count(*) as n from journey_instances where journey_id = ${journeyId}::uuid and status = 'completed'`)).toBe(10);
      expect(await count(h, sql`select count(*) as n from journey_node_events where journey_id = ${journeyId}::uuid and kind = 'left' and node_id = 'wait'`)).toBe(10);
    } finally {
      await locker.end();
      await h.close();
    }
  });

  it.skipIf(!onPostgres)("timer claims continue after the last claimed row, and still find the rows they passed while another transaction held them", async () => {
    const h = await createHarness({ db, start: T0, engine: { batchSize: 3 } });
    const locker = postgres(db.url!, { max: 1, onnotice: () => {} });
    try {
      const journeyId = await tenDueAfterAnHour(h, "cursor");
      const done = () => count(h, sql`select count(*) as n from journey_instances where journey_id = ${journeyId}::uuid and status = 'completed'`);
      const conn = await locker.reserve();
      await conn`begin`;
      // The first two in claim order (same wake time, then instance id).
      await conn`select id from journey_instances where journey_id = ${journeyId} order by id limit 2 for update`;
      await h.engine.tick();
      await h.engine.tick();
      expect(await done()).toBe(6);
      await conn`rollback`;
      conn.release();
      // The next claim starts after the sixth row; it comes back short, so the one after that
      // starts from the beginning and finds the two rows the locker held.
      await h.engine.runUntilIdle();
      expect(await done()).toBe(10);
      expect(await count(h, sql`select count(*) as n from journey_timers t join journey_instances i on i.id = t.instance_id where i.journey_id = ${journeyId}::uuid`)).toBe(0);
    } finally {
      await locker.end();
      await h.close();
    }
  });

  it.skipIf(!onPostgres)("two workers at once: every due user is stepped once and every message reaches the provider once", async () => {
    const calls: string[] = [];
    const h = await createHarness({ db, start: T0, engine: { onSandboxSend: (d) => calls.push(d.request.idempotencyKey), batchSize: 50 } });
    const second = (await import("../../workflows/embedded/engine.server")).createEmbeddedEngine(
      { db: h.db.db, now: h.clock.now, database: { kind: "postgres" } },
      { onSandboxSend: (d) => calls.push(d.request.idempotencyKey), batchSize: 50 },
    );
    try {
      const { journeyId } = await h.publish(waitThenPush());
      const users = Array.from({ length: 400 }, (_, i) => `pair-${i}`);
      await enterAll(h, users);
      await h.engine.runUntilIdle();
      h.clock.advance(HOUR);
      const before = h.engine.stats().steps;
      await Promise.all([h.engine.runUntilIdle(), second.runUntilIdle()]);
      // Each user: one timer step, one action-result step. Nothing stepped twice.
      expect(h.engine.stats().steps - before + second.stats().steps).toBe(2 * users.length);
      expect(calls).toHaveLength(users.length);
      expect(new Set(calls).size).toBe(users.length);
      expect(await count(h, sql`select count(*) as n from messages where journey_id = ${journeyId}`)).toBe(users.length);
      expect(await count(h, sql`select count(*) as n from journey_instances where journey_id = ${journeyId}::uuid and reason = 'exit_node'`)).toBe(users.length);
      expect(await count(h, sql`select count(*) as n from journey_node_events where journey_id = ${journeyId}::uuid and kind = 'message' and message_status = 'sent'`)).toBe(users.length);
      expect(await count(h, sql`select count(*) as n from journey_outbox`)).toBe(0);
    } finally {
      await second.stop();
      await h.close();
    }
  });

  it("due timers come from journey_timers, kept with the instance; a timer row that does not match its instance is rewritten, not claimed forever", async () => {
    const h = await createHarness({ db, start: T0 });
    const { journeyId } = await h.publish(waitThenPush());
    await enterAll(h, ["timer-1", "timer-2"]);
    await h.engine.runUntilIdle();
    const timers = () =>
      rows<{ user_id: string; at: string }>(
        h.db.db,
        sql`select i.user_id, to_char(t.wake_at at time zone 'UTC', 'HH24:MI') as at from journey_timers t join journey_instances i on i.id = t.instance_id
            where i.journey_id = ${journeyId}::uuid order by 1, 2`,
      );
    expect(await timers()).toEqual([
      { user_id: "timer-1", at: "01:00" },
      { user_id: "timer-2", at: "01:00" },
    ]);
    // Damage: a stray earlier timer for timer-1 (it must not fire the wait early) and one for a finished instance.
    await rows(h.db.db, sql`insert into journey_timers select ${new Date(T0 + 10 * MINUTE).toISOString()}::timestamptz, id from journey_instances where user_id = 'timer-1' and journey_id = ${journeyId}::uuid`);
    h.clock.advance(20 * MINUTE);
    await h.engine.runUntilIdle();
    expect(await timers()).toEqual([
      { user_id: "timer-1", at: "01:00" },
      { user_id: "timer-2", at: "01:00" },
    ]);
    expect(await count(h, sql`select count(*) as n from journey_node_events where journey_id = ${journeyId}::uuid and node_id = 'push'`)).toBe(0);
    h.clock.advance(HOUR);
    await h.engine.runUntilIdle();
    expect(await timers()).toEqual([]);
    expect(await count(h, sql`select count(*) as n from journey_instances where journey_id = ${journeyId}::uuid and status = 'completed'`)).toBe(2);
    await rows(h.db.db, sql`insert into journey_timers select ${new Date(T0).toISOString()}::timestamptz, id from journey_instances where user_id = 'timer-2' and journey_id = ${journeyId}::uuid`);
    expect(await h.engine.runUntilIdle()).toBeGreaterThan(0);
    expect(await count(h, sql`select count(*) as n from journey_timers t join journey_instances i on i.id = t.instance_id where i.journey_id = ${journeyId}::uuid`)).toBe(0);
  });

  it("erasing a user removes their waiting instances with their timers and node events", async () => {
    const h = await createHarness({ db, start: T0 });
    const { journeyId } = await h.publish(waitThenPush());
    await enterAll(h, ["erase-1", "keep-1"]);
    await h.engine.runUntilIdle();
    const timersOf = (userId: string) =>
      count(h, sql`select count(*) as n from journey_timers t join journey_instances i on i.id = t.instance_id where i.user_id = ${userId} and i.journey_id = ${journeyId}::uuid`);
    expect(await timersOf("erase-1")).toBe(1);
    const services = { db: h.db.db } as unknown as AppServices;
    const { deleted } = await eraseUser(services, h.workspaceId, "erase-1", { via: "test" });
    expect(deleted).toMatchObject({ journey_timers: 1, journey_instances: 1 });
    expect(await count(h, sql`select count(*) as n from journey_timers t where not exists (select 1 from journey_instances i where i.id = t.instance_id)`)).toBe(0);
    expect(await count(h, sql`select count(*) as n from journey_node_events where user_id = 'erase-1'`)).toBe(0);
    expect(await timersOf("keep-1")).toBe(1);
    h.clock.advance(HOUR);
    await h.engine.runUntilIdle();
    expect(await timersOf("keep-1")).toBe(0);
  });

  it("retries transient failures with exponential backoff on the same idempotency key, then takes the failure path", async () => {
    const attempts: Array<{ at: number; attempt: number; key: string }> = [];
    const h = await createHarness({
      db,
      start: T0,
      engine: {
        executeAction: async (type, ctx, config) => {
          if (type !== "example.webhook") return executeNode(type, ctx, config);
          attempts.push({ at: ctx.now, attempt: ctx.attempt, key: ctx.idempotencyKey });
          return { retry: { reason: "http_503" } };
        },
      },
    });
    try {
      const { journeyId } = await h.publish(
        apiJourney(
          "webhook",
          [
            { id: "hook", type: "example.webhook", config: { url: "https://crm.example.com/hook" } },
            { id: "done", type: "core.exit", config: {} },
            { id: "gave_up", type: "core.exit", config: {} },
          ],
          [
            ["hook", "success", "done"],
            ["hook", "failed", "gave_up"],
          ],
        ),
      );
      await enterAll(h, ["retry-1"]);
      await h.engine.runUntilIdle();
      for (let due = await h.engine.nextDueAt(); due !== null; due = await h.engine.nextDueAt()) {
        h.clock.set(due);
        await h.engine.runUntilIdle();
      }
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5]);
      expect(attempts.map((a) => a.at - T0)).toEqual([0, 30_000, 90_000, 210_000, 450_000]);
      expect(new Set(attempts.map((a) => a.key)).size).toBe(1);
      const records = await h.records(journeyId);
      expect(records.filter((r) => r.kind === "retry").map((r) => (r as { attempt: number }).attempt)).toEqual([1, 2, 3, 4]);
      const left = records.find((r) => r.kind === "left" && r.nodeId === "hook") as { output: string; reason?: string };
      expect(left.output).toBe("failed");
      expect(left.reason).toBe("retries_exhausted: http_503");
      expect(records.at(-1)).toMatchObject({ kind: "exit", reason: "exit_node", nodeId: "gave_up" });
    } finally {
      await h.close();
    }
  });

  it("a side effect re-run after its worker died reaches the provider once and is counted once", async () => {
    const real = { ms: 1_000_000 };
    const calls: string[] = [];
    let sent!: () => void;
    const sentOnce = new Promise<void>((resolve) => (sent = resolve));
    let release!: (result: ActionResult) => void;
    const held = new Promise<ActionResult>((resolve) => (release = resolve));
    // Worker A performs the send, then "dies" before its result is committed (never returns).
    const h = await createHarness({
      db,
      start: T0,
      engine: {
        realNow: () => real.ms,
        leaseMs: 1000,
        onSandboxSend: (d) => calls.push(d.request.idempotencyKey),
        executeAction: async (type: string, ctx: ActionContext, config: unknown) => {
          await executeNode(type, ctx, config);
          sent();
          return held;
        },
      },
    });
    const workerB = (await import("../../workflows/embedded/engine.server")).createEmbeddedEngine(
      { db: h.db.db, now: h.clock.now, database: { kind: h.db.kind } },
      { realNow: () => real.ms, leaseMs: 1000, onSandboxSend: (d) => calls.push(d.request.idempotencyKey) },
    );
    try {
      const { journeyId } = await h.publish(fareNoticeJourney());
      await h.insertUsers([{ id: "rider", traits: {}, timezone: "Asia/Shanghai" }]);
      await h.engine.handleEvents([await h.storeEvent("rider", "ride_completed", { fare: 3, from_station: "A", to_station: "B" })]);
      const workerA = h.engine.runUntilIdle();
      await sentOnce;
      expect(calls).toHaveLength(1);
      // Before the lease ends nobody else may take the side effect.
      expect(await workerB.runUntilIdle()).toBe(0);
      real.ms += 1001;
      await workerB.runUntilIdle();
      expect(calls).toHaveLength(1);
      expect(workerB.stats().actions).toBe(1);
      expect(await count(h, sql`select count(*) as n from messages where journey_id = ${journeyId}`)).toBe(1);
      const afterB = await h.records(journeyId);
      expect(afterB.filter((r) => r.kind === "message")).toHaveLength(1);
      expect(afterB.at(-1)).toMatchObject({ kind: "exit", reason: "exit_node" });
      // Worker A wakes up with its stale result: dropped, nothing counted twice.
      release({ output: "sent", detail: {} });
      await workerA;
      expect(await h.records(journeyId)).toEqual(afterB);
    } finally {
      await workerB.stop();
      await h.close();
    }
  });

  it("events reach waiting instances through the event index, once per messageId; exit criteria end a journey", async () => {
    const h = await createHarness({ db, start: T0 });
    try {
      const { journeyId } = await h.publish(
        apiJourney(
          "orders",
          [
            { id: "first", type: "core.wait-for-event", config: { event: "order_completed", filters: [{ property: "amount", op: "gte", value: 100 }], timeout: { amount: 3, unit: "days" } } },
            { id: "second", type: "core.wait-for-event", config: { event: "order_completed", filters: [], timeout: { amount: 3, unit: "days" } } },
            { id: "exit", type: "core.exit", config: {} },
          ],
          [
            ["first", "happened", "second"],
            ["first", "timed_out", "exit"],
            ["second", "happened", "exit"],
            ["second", "timed_out", "exit"],
          ],
          { entry: { rule: "once" }, exitEvents: [{ event: "unsubscribed", filters: [] }] },
        ),
      );
      await enterAll(h, ["buyer", "leaver"]);
      await h.engine.runUntilIdle();
      const awaiting = await rows<{ user_id: string; awaiting: string[] }>(h.db.db, sql`select user_id, awaiting from journey_instances where journey_id = ${journeyId}::uuid order by user_id`);
      expect(awaiting.map((a) => [...a.awaiting].sort())).toEqual([
        ["order_completed", "unsubscribed"],
        ["order_completed", "unsubscribed"],
      ]);

      await h.engine.handleEvents([await h.storeEvent("buyer", "app_opened")]);
      await h.engine.handleEvents([await h.storeEvent("buyer", "order_completed", { amount: 50 })]);
      expect(h.engine.stats().eventsDelivered).toBe(0);
      const big = await h.storeEvent("buyer", "order_completed", { amount: 150 });
      await h.engine.handleEvents([big]);
      // The same call delivered again (a client retry) must not also satisfy the second wait.
      await h.engine.handleEvents([big]);
      expect(h.engine.stats().eventsDelivered).toBe(1);
      let records = await h.records(journeyId);
      expect(records.filter((r) => r.userId === "buyer" && r.kind === "left").map((r) => `${r.nodeId}:${(r as { output: string }).output}`)).toEqual(["trigger:next", "first:happened"]);
      await h.engine.handleEvents([await h.storeEvent("buyer", "order_completed", { amount: 20 })]);
      await h.engine.handleEvents([await h.storeEvent("leaver", "unsubscribed")]);
      records = await h.records(journeyId);
      expect(records.filter((r) => r.kind === "exit").map((r) => `${r.userId}:${(r as { reason: string }).reason}`).sort()).toEqual(["buyer:exit_node", "leaver:exit_criteria"]);
      expect(await count(h, sql`select count(*) as n from journey_instances where journey_id = ${journeyId}::uuid and status = 'active'`)).toBe(0);
    } finally {
      await h.close();
    }
  });

  it("a redelivered entry event starts nothing and is not counted as a refused entry", async () => {
    const decisions: EntryDecisionEvent[] = [];
    const h = await createHarness({ db, start: T0, engine: { onEntry: (e) => decisions.push(e) } });
    try {
      const { journeyId } = await h.publish(fareNoticeJourney());
      const ride = await h.storeEvent("rider", "ride_completed", { fare: 2 });
      await h.engine.handleEvents([ride]);
      await h.engine.handleEvents([ride]);
      await h.engine.runUntilIdle();
      expect(decisions.map((d) => d.entered)).toEqual([true]);
      expect(await count(h, sql`select count(*) as n from journey_instances where journey_id = ${journeyId}::uuid`)).toBe(1);
      expect(await count(h, sql`select coalesce(sum(count), 0) as n from journey_entry_stats where journey_id = ${journeyId}::uuid`)).toBe(1);
    } finally {
      await h.close();
    }
  });

  it.skipIf(!onPostgres)("entry rules and caps hold when many deliveries race for the same user and journey", async () => {
    const h = await createHarness({ db, start: T0 });
    try {
      const once = await h.publish(
        buildJourney({
          name: "once",
          settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
          nodes: [
            { id: "trigger", type: "core.trigger", config: { source: "event", event: "app_opened", filters: [] } },
            { id: "exit", type: "core.exit", config: {} },
          ],
          edges: [["trigger", "next", "exit"]],
        }),
      );
      const capped = await h.publish(
        buildJourney({
          name: "capped",
          settings: { entry: { rule: "concurrent", caps: { total: 5 } }, holdoutPercent: 0, exitEvents: [] },
          nodes: [
            { id: "trigger", type: "core.trigger", config: { source: "event", event: "coupon_redeemed", filters: [] } },
            { id: "exit", type: "core.exit", config: {} },
          ],
          edges: [["trigger", "next", "exit"]],
        }),
      );
      const opens = await Promise.all(Array.from({ length: 20 }, () => h.storeEvent("racer", "app_opened")));
      const redeems = await Promise.all(Array.from({ length: 20 }, (_, i) => h.storeEvent(`user-${i}`, "coupon_redeemed")));
      await Promise.all([...opens, ...redeems].map((e) => h.engine.handleEvents([e])));
      expect(await count(h, sql`select count(*) as n from journey_instances where journey_id = ${once.journeyId}::uuid`)).toBe(1);
      expect(await count(h, sql`select count(*) as n from journey_instances where journey_id = ${capped.journeyId}::uuid`)).toBe(5);
      const stats = await rows<{ outcome: string; n: number | string }>(
        h.db.db,
        sql`select outcome, sum(count) as n from journey_entry_stats where journey_id in (${once.journeyId}::uuid, ${capped.journeyId}::uuid) group by outcome order by outcome`,
      );
      expect(stats.map((s) => [s.outcome, Number(s.n)])).toEqual([
        ["already_entered", 19],
        ["cap_total", 15],
        ["entered", 6],
      ]);
    } finally {
      await h.close();
    }
  });

  it("an edited journey keeps users on the version they entered", async () => {
    const h = await createHarness({ db, start: T0 });
    try {
      const v1 = waitThenPush();
      const { journeyId, versionId } = await h.publish(v1);
      await enterAll(h, ["old-user"]);
      await h.engine.runUntilIdle();
      const v2 = apiJourney(
        "v2",
        [
          { id: "sms", type: "core.sms", config: { body: "【Waypost】v2 回TD退订" } },
          { id: "exit", type: "core.exit", config: {} },
        ],
        [
          ["sms", "sent", "exit"],
          ["sms", "failed", "exit"],
        ],
      );
      const { versionId: second } = await h.republish(journeyId, v2);
      await enterAll(h, ["new-user"]);
      h.clock.advance(HOUR);
      await h.engine.runUntilIdle();
      const instances = await rows<{ user_id: string; version_id: string }>(h.db.db, sql`select user_id, version_id from journey_instances where journey_id = ${journeyId}::uuid order by user_id`);
      expect(instances).toEqual([
        { user_id: "new-user", version_id: second },
        { user_id: "old-user", version_id: versionId },
      ]);
      const records = await h.records(journeyId);
      expect(records.filter((r) => r.userId === "old-user" && r.kind === "entered").map((r) => r.nodeId)).toEqual(["trigger", "wait", "push", "exit"]);
      expect(records.filter((r) => r.userId === "new-user" && r.kind === "entered").map((r) => r.nodeId)).toEqual(["trigger", "sms", "exit"]);
    } finally {
      await h.close();
    }
  });

  it("a delivery report stored before the send's result arrives is not lost (sandbox reports delivery at once)", async () => {
    const h = await createHarness({ db, start: T0 });
    try {
      const { journeyId } = await h.publish(
        apiJourney(
          "delivery",
          [
            { id: "push", type: "core.push", config: { title: "Hi", body: "Hello", deliveryTimeoutMs: 2 * HOUR } },
            { id: "sms", type: "core.sms", config: { body: "【Waypost】fallback 回TD退订" } },
            { id: "exit", type: "core.exit", config: {} },
          ],
          [
            ["push", "sent", "exit"],
            ["push", "failed", "sms"],
            ["sms", "sent", "exit"],
            ["sms", "failed", "exit"],
          ],
        ),
      );
      await enterAll(h, ["reader"]);
      await h.engine.runUntilIdle();
      const records = await h.records(journeyId);
      expect(records.filter((r) => r.kind === "left").map((r) => `${r.nodeId}:${(r as { output: string }).output}`)).toEqual(["trigger:next", "push:sent"]);
      expect(records.filter((r) => r.kind === "message").map((r) => (r as { status: string }).status)).toEqual(["sent", "delivered"]);
    } finally {
      await h.close();
    }
  });

  it("a running worker executes side effects of incoming events and wakes for due timers without ticks", async () => {
    const h = await createHarness({ db, start: T0, engine: { idlePollMs: 50 } });
    try {
      const fare = await h.publish(fareNoticeJourney());
      const waits = await h.publish(waitThenPush());
      await h.engine.start();
      await h.engine.handleEvents([await h.storeEvent("rider", "ride_completed", { fare: 4 }), await h.storeEvent("sleeper", "$api.trigger")]);
      const done = (journeyId: string) => count(h, sql`select count(*) as n from journey_instances where journey_id = ${journeyId}::uuid and status = 'completed'`);
      await waitFor(async () => (await done(fare.journeyId)) === 1);
      expect(await done(waits.journeyId)).toBe(0);
      h.clock.advance(HOUR);
      await waitFor(async () => (await done(waits.journeyId)) === 1);
      await h.engine.stop();
      expect(await count(h, sql`select count(*) as n from messages where workspace_id = ${h.workspaceId}::uuid`)).toBe(2);
    } finally {
      await h.close();
    }
  });

  it("API triggers enter only live API-triggered journeys and say why not otherwise", async () => {
    const h = await createHarness({ db, start: T0 });
    try {
      const api = await h.publish(waitThenPush());
      const fare = await h.publish(fareNoticeJourney());
      const entered = await h.engine.triggerJourney({ workspaceId: h.workspaceId, journeyId: api.journeyId, userId: "u1", properties: { coupon: "A" } });
      expect(entered.entered).toBe(true);
      expect(entered.instanceId).toBeTruthy();
      expect(await h.engine.triggerJourney({ workspaceId: h.workspaceId, journeyId: fare.journeyId, userId: "u1" })).toEqual({ entered: false, reason: "not_api_trigger" });
      await rows(h.db.db, sql`update journeys set status = 'paused' where id = ${api.journeyId}::uuid`);
      expect(await h.engine.triggerJourney({ workspaceId: h.workspaceId, journeyId: api.journeyId, userId: "u2" })).toEqual({ entered: false, reason: "paused" });
      expect(await h.engine.triggerJourney({ workspaceId: h.workspaceId, journeyId: "00000000-0000-0000-0000-000000000000", userId: "u2" })).toEqual({ entered: false, reason: "not_found" });
      const [instance] = await rows<{ state: { entryEvent: { properties: Record<string, unknown> } } }>(h.db.db, sql`select state from journey_instances where id = ${entered.instanceId!}::uuid`);
      expect(instance.state.entryEvent.properties).toMatchObject({ coupon: "A" });
    } finally {
      await h.close();
    }
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error("condition not reached");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
