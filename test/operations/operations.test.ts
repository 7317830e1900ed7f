import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOperator } from "../../app/lib/accounts.server";
import { getInstance, listInstances, engineHealth } from "../../app/lib/instances.server";
import type { AppServices } from "../../app/services.server";
import { createLogger } from "../../app/lib/log.server";
import { loadConfig } from "../../app/config.server";
import { createCallerFactory } from "../../app/trpc/init.server";
import { appRouter } from "../../app/trpc/router.server";
import { executeNode } from "../../nodes/registry.server";
import { buildJourney } from "../../workflows/builder";
import { rows } from "../../workflows/embedded/db.server";
import { cancelInstance, InstanceOperationError, retryFailedStep, skipWait, type OperationServices } from "../../workflows/embedded/operations.server";
import { createTemporalEngine } from "../../workflows/temporal/engine";
import { createTestDb, testDatabaseKind, type TestDb } from "../support/db";
import { RecordingGateway } from "../temporal/support";
import { createHarness, type EngineHarness } from "../engine/support";

const T0 = Date.parse("2024-05-06T00:00:00.000Z");
const HOUR = 3_600_000;

function apiJourney(name: string, nodes: Parameters<typeof buildJourney>[0]["nodes"], edges: Parameters<typeof buildJourney>[0]["edges"]) {
  return buildJourney({
    name,
    settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
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

async function enter(h: EngineHarness, userId: string, journeyId?: string): Promise<string> {
  if (journeyId) await h.engine.triggerJourney({ workspaceId: h.workspaceId, journeyId, userId });
  else await h.engine.handleEvents([await h.storeEvent(userId, "$api.trigger")]);
  await h.engine.runUntilIdle();
  const [row] = await rows<{ id: string }>(h.db.db, sql`select id from journey_instances where workspace_id = ${h.workspaceId}::uuid and user_id = ${userId}`);
  return row.id;
}

function ops(h: EngineHarness): OperationServices {
  return { db: h.db.db, now: h.clock.now, database: { kind: h.db.kind } };
}

function appServices(h: EngineHarness): AppServices {
  return {
    config: loadConfig({ WAYPOST_LOG_LEVEL: "silent", NODE_ENV: "test" }),
    database: h.db,
    db: h.db.db,
    log: createLogger("silent"),
    now: h.clock.now,
  };
}

/** tRPC callers as an admin and a marketer of the harness's workspace. */
async function callers(h: EngineHarness, tag: string) {
  const make = async (role: "admin" | "marketer") => {
    const operator = await createOperator(h.db.db, { workspaceId: h.workspaceId, email: `${role}-${tag}-${h.workspaceId}@example.com`, role, password: `${role}-password-1` });
    return createCallerFactory(appRouter)({ services: appServices(h), session: { operatorId: operator.id, workspaceId: h.workspaceId, email: "x@example.com", name: "x", role, locale: null } });
  };
  return { admin: await make("admin"), marketer: await make("marketer") };
}

async function drain(h: EngineHarness): Promise<void> {
  await h.engine.runUntilIdle();
  for (let due = await h.engine.nextDueAt(); due !== null; due = await h.engine.nextDueAt()) {
    h.clock.set(Math.max(due, h.clock.ms));
    await h.engine.runUntilIdle();
  }
}

describe(`instance operations on the embedded engine (${testDatabaseKind()})`, () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("cancel a waiting instance: it never sends, ends as cancelled with one exit record and an audit entry", async () => {
    const sends: string[] = [];
    const h = await createHarness({ db, start: T0, engine: { onSandboxSend: (d) => sends.push(d.request.idempotencyKey) } });
    try {
      const { journeyId } = await h.publish(waitThenPush());
      const id = await enter(h, "cancel-me");
      const result = await cancelInstance(ops(h), { workspaceId: h.workspaceId }, id);
      expect(result).toMatchObject({ status: "completed", nodeId: "wait" });
      h.clock.advance(2 * HOUR);
      await drain(h);
      expect(sends).toHaveLength(0);
      const [inst] = await rows<{ status: string; reason: string; wake_at: string | null; awaiting: string[] }>(h.db.db, sql`select status, reason, wake_at, awaiting from journey_instances where id = ${id}::uuid`);
      expect(inst).toMatchObject({ status: "completed", reason: "cancelled", wake_at: null });
      const records = await h.records(journeyId);
      expect(records.filter((r) => r.kind === "exit")).toEqual([expect.objectContaining({ reason: "cancelled", nodeId: "wait" })]);
      expect(await count(h, sql`select count(*) as n from audit_log where workspace_id = ${h.workspaceId}::uuid and action = 'instance.cancelled' and target = ${id}`)).toBe(1);
      // Cancelling twice is refused, and changes nothing.
      await expect(cancelInstance(ops(h), { workspaceId: h.workspaceId }, id)).rejects.toMatchObject({ code: "already_finished" });
      expect(await count(h, sql`select count(*) as n from journey_node_events where instance_id = ${id}::uuid`)).toBe(records.length);
    } finally {
      await h.close();
    }
  });

  it("skip a wait: the next node runs at once and exactly once, and the old deadline does nothing", async () => {
    const sends: string[] = [];
    const h = await createHarness({ db, start: T0, engine: { onSandboxSend: (d) => sends.push(d.request.idempotencyKey) } });
    try {
      const { journeyId } = await h.publish(waitThenPush());
      const id = await enter(h, "skip-me");
      const before = await getInstance(h.db.db, h.workspaceId, id);
      expect(before?.wait).toMatchObject({ nodeId: "wait", kind: "sleep", purpose: "wait", until: new Date(T0 + HOUR).toISOString() });
      expect(before?.actions.skipWait).toBe(true);
      await skipWait(ops(h), { workspaceId: h.workspaceId }, id);
      await h.engine.runUntilIdle();
      expect(sends).toHaveLength(1);
      h.clock.advance(2 * HOUR);
      await drain(h);
      expect(sends).toHaveLength(1);
      const records = await h.records(journeyId);
      expect(records.filter((r) => r.kind === "left" && r.nodeId === "wait")).toHaveLength(1);
      expect(records.filter((r) => r.kind === "message")).toEqual([expect.objectContaining({ status: "sent", at: new Date(T0).toISOString() })]);
      expect(records.at(-1)).toMatchObject({ kind: "exit", reason: "exit_node" });
      await expect(skipWait(ops(h), { workspaceId: h.workspaceId }, id)).rejects.toBeInstanceOf(InstanceOperationError);
    } finally {
      await h.close();
    }
  });

  it("retry a failed step: the step runs again exactly once, on a new idempotency key, and the instance still has one exit", async () => {
    let healthy = false;
    const calls: Array<{ key: string; attempt: number }> = [];
    const h = await createHarness({
      db,
      start: T0,
      engine: {
        executeAction: async (type, ctx, config) => {
          if (type !== "example.webhook") return executeNode(type, ctx, config);
          calls.push({ key: ctx.idempotencyKey, attempt: ctx.attempt });
          return healthy ? { output: "success" } : { retry: { reason: "http_503" } };
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
      const id = await enter(h, "retry-me");
      await drain(h);
      expect(calls).toHaveLength(5);
      const failed = await getInstance(h.db.db, h.workspaceId, id);
      expect(failed).toMatchObject({ view: "completed", nodeId: "gave_up", failedStep: { nodeId: "hook", reason: "retries_exhausted: http_503" } });
      expect(failed?.actions.retry).toBe(true);

      healthy = true;
      await retryFailedStep(ops(h), { workspaceId: h.workspaceId }, id);
      await drain(h);
      expect(calls).toHaveLength(6);
      expect(calls[5].attempt).toBe(1);
      expect(calls[5].key).not.toBe(calls[0].key);
      const records = await h.records(journeyId);
      expect(records.filter((r) => r.kind === "exit")).toEqual([expect.objectContaining({ reason: "exit_node", nodeId: "done" })]);
      expect(records.filter((r) => r.kind === "retry").at(-1)).toMatchObject({ reason: "operator_retry", nodeId: "hook" });
      expect(await count(h, sql`select count(*) as n from journey_node_events where instance_id = ${id}::uuid and kind = 'exit_retried'`)).toBe(1);
      const [inst] = await rows<{ status: string; reason: string; node_id: string }>(h.db.db, sql`select status, reason, node_id from journey_instances where id = ${id}::uuid`);
      expect(inst).toMatchObject({ status: "completed", reason: "exit_node", node_id: "done" });
      // Nothing failed any more: a second retry is refused and runs nothing.
      await expect(retryFailedStep(ops(h), { workspaceId: h.workspaceId }, id)).rejects.toMatchObject({ code: "not_failed" });
      await drain(h);
      expect(calls).toHaveLength(6);
    } finally {
      await h.close();
    }
  });

  it("retry of a failure that fails again (no consent) is not offered and the operations router refuses it with 409", async () => {
    const calls: string[] = [];
    const h = await createHarness({
      db,
      start: T0,
      engine: {
        executeAction: async (type, ctx, config) => {
          if (type !== "example.webhook") return executeNode(type, ctx, config);
          calls.push(ctx.idempotencyKey);
          return { output: "failed", detail: { reason: "no_consent" } };
        },
      },
    });
    try {
      await h.publish(
        apiJourney(
          "never consented",
          [
            { id: "hook", type: "example.webhook", config: { url: "https://crm.example.com/hook" } },
            { id: "gave_up", type: "core.exit", config: {} },
          ],
          [
            ["hook", "success", "gave_up"],
            ["hook", "failed", "gave_up"],
          ],
        ),
      );
      const id = await enter(h, "no-consent");
      await drain(h);
      expect(calls).toHaveLength(1);
      const failed = await getInstance(h.db.db, h.workspaceId, id);
      expect(failed?.failedStep).toMatchObject({ nodeId: "hook", reason: expect.stringMatching(/^no_consent/), retryable: false });
      expect(failed?.actions.retry).toBe(false);
      const { admin } = await callers(h, "no-consent");
      await expect(admin.operations.retry({ id })).rejects.toMatchObject({ code: "CONFLICT", message: "not_retryable" });
      await drain(h);
      expect(calls).toHaveLength(1);
    } finally {
      await h.close();
    }
  });

  it("a Temporal-driven instance goes to the Temporal engine: cancelled there (in the database when its workflow never started), other actions refused as busy", async () => {
    const h = await createHarness({ db, start: T0 });
    try {
      const { journeyId } = await h.publish(waitThenPush());
      const id = await enter(h, "on-temporal");
      await rows(h.db.db, sql`update journey_instances set state = state || '{"driver":"temporal"}'::jsonb where id = ${id}::uuid`);
      // The embedded engine never touches it.
      await expect(cancelInstance(ops(h), { workspaceId: h.workspaceId }, id)).rejects.toThrow(/Temporal engine/);
      const gateway = new RecordingGateway();
      const engine = createTemporalEngine({ db: h.db.db, now: h.clock.now, gateway });
      const admin = await createOperator(h.db.db, { workspaceId: h.workspaceId, email: `t-${id}@example.com`, role: "admin", password: "admin-password-1" });
      const asAdmin = createCallerFactory(appRouter)({ services: { ...appServices(h), engine }, session: { operatorId: admin.id, workspaceId: h.workspaceId, email: "x@example.com", name: "x", role: "admin", locale: null } });
      await expect(asAdmin.operations.skipWait({ id })).rejects.toMatchObject({ code: "CONFLICT", message: "busy" });
      expect(await asAdmin.operations.cancel({ id })).toMatchObject({ status: "completed", nodeId: "wait" });
      expect(gateway.operations).toEqual([
        { workflowId: id, action: { kind: "skipWait" } },
        { workflowId: id, action: { kind: "cancel" } },
      ]);
      const [inst] = await rows<{ status: string; reason: string; driver: string }>(h.db.db, sql`select status, reason, state ->> 'driver' as driver from journey_instances where id = ${id}::uuid`);
      expect(inst).toEqual({ status: "completed", reason: "cancelled", driver: "temporal" });
      expect((await h.records(journeyId)).filter((r) => r.kind === "exit")).toEqual([expect.objectContaining({ reason: "cancelled", nodeId: "wait" })]);
      expect(await count(h, sql`select count(*) as n from audit_log where target = ${id} and action = 'instance.cancelled' and details ->> 'engine' = 'temporal'`)).toBe(1);
      const page = await listInstances(h.db.db, h.workspaceId, {});
      expect(page.items[0]).toMatchObject({ engine: "temporal", view: "exited" });
    } finally {
      await h.close();
    }
  });

  it("bulk cancel by filter: the count first, then exactly those instances, one audit entry naming filter and count; the others still send", async () => {
    const sends: string[] = [];
    const h = await createHarness({ db, start: T0, engine: { onSandboxSend: (d) => sends.push(d.request.userId) } });
    try {
      const a = await h.publish(waitThenPush());
      const b = await h.publish(waitThenPush());
      for (const user of ["bulk-a1", "bulk-a2", "bulk-a3"]) await enter(h, user, a.journeyId);
      for (const user of ["bulk-b1", "bulk-b2"]) await enter(h, user, b.journeyId);
      const { admin, marketer } = await callers(h, "bulk");
      await expect(marketer.operations.cancelMany({ journeyId: a.journeyId })).rejects.toMatchObject({ code: "FORBIDDEN" });
      // Without a filter it would mean everything: refused.
      await expect(admin.operations.cancelMany({})).rejects.toMatchObject({ code: "BAD_REQUEST" });
      expect(await admin.operations.cancelCount({ journeyId: a.journeyId, status: "waiting" })).toEqual({ count: 3 });
      expect(await admin.operations.cancelMany({ journeyId: a.journeyId, status: "waiting" })).toEqual({ cancelled: 3 });
      expect(await admin.operations.cancelCount({ journeyId: a.journeyId })).toEqual({ count: 0 });
      h.clock.advance(2 * HOUR);
      await drain(h);
      expect(sends.sort()).toEqual(["bulk-b1", "bulk-b2"]);
      const exits = (await h.records(a.journeyId)).filter((r) => r.kind === "exit");
      expect(exits).toHaveLength(3);
      expect(exits.every((r) => (r as { reason?: string }).reason === "cancelled")).toBe(true);
      const audits = await rows<{ action: string; details: { filter: Record<string, string>; count: number } }>(
        h.db.db,
        sql`select action, details from audit_log where workspace_id = ${h.workspaceId}::uuid and action like 'instance%'`,
      );
      expect(audits).toEqual([{ action: "instances.cancelled", details: { filter: { journeyId: a.journeyId, status: "waiting" }, count: 3 } }]);
    } finally {
      await h.close();
    }
  });

  it("pause with hold: due waits and pending sends stay put (a skipped wait too) until resume, then each runs exactly once; audited with the choice", async () => {
    const sends: string[] = [];
    const h = await createHarness({ db, start: T0, engine: { onSandboxSend: (d) => sends.push(d.request.userId) } });
    try {
      const { journeyId } = await h.publish(waitThenPush());
      const h1 = await enter(h, "held-1");
      const h2 = await enter(h, "held-2");
      const { admin } = await callers(h, "hold");
      expect(await admin.journeys.pause({ id: journeyId, inside: "hold" })).toEqual({ held: true, holdChanged: true });
      expect((await admin.operations.list({ journeyId })).items[0]).toMatchObject({ journeyStatus: "paused", journeyHeld: true });
      h.clock.advance(2 * HOUR);
      await drain(h);
      await admin.operations.skipWait({ id: h2 });
      await drain(h);
      expect(sends).toEqual([]);
      const states = async () => rows<{ user_id: string; node_id: string; status: string }>(h.db.db, sql`select user_id, node_id, status from journey_instances where id in (${h1}::uuid, ${h2}::uuid) order by user_id`);
      // held-1 still waits at the wait; held-2's wait was skipped, its push is parked.
      expect(await states()).toEqual([
        { user_id: "held-1", node_id: "wait", status: "active" },
        { user_id: "held-2", node_id: "push", status: "active" },
      ]);
      expect(await count(h, sql`select count(*) as n from journey_outbox where next_attempt_at = 'infinity'`)).toBe(1);

      expect(await admin.journeys.resume({ id: journeyId })).toEqual({ held: false, holdChanged: true });
      await drain(h);
      expect(sends.sort()).toEqual(["held-1", "held-2"]);
      h.clock.advance(2 * HOUR);
      await drain(h);
      expect(sends).toHaveLength(2);
      expect((await states()).map((s) => s.status)).toEqual(["completed", "completed"]);
      const messages = (await h.records(journeyId)).filter((r) => r.kind === "message");
      // What came due while held ran at resume, not at its old deadline.
      expect(messages.map((m) => m.at)).toEqual([new Date(T0 + 2 * HOUR).toISOString(), new Date(T0 + 2 * HOUR).toISOString()]);
      const audits = await rows<{ action: string; details: Record<string, unknown> }>(
        h.db.db,
        sql`select action, details from audit_log where target = ${journeyId} and action in ('journey.paused', 'journey.resumed') order by at, action`,
      );
      expect(audits.map((a) => [a.action, a.details])).toEqual([
        ["journey.paused", { inside: "hold" }],
        ["journey.resumed", {}],
      ]);
    } finally {
      await h.close();
    }
  });

  it("pause with hold: an event that arrives is applied (a wait for event moves on) but the send it leads to waits for resume", async () => {
    const sends: string[] = [];
    const h = await createHarness({ db, start: T0, engine: { onSandboxSend: (d) => sends.push(d.request.userId) } });
    try {
      const { journeyId } = await h.publish(
        apiJourney(
          "opened then push",
          [
            { id: "opened", type: "core.wait-for-event", config: { event: "app_opened", filters: [], timeout: { amount: 1, unit: "days" } } },
            { id: "push", type: "core.push", config: { title: "Hi", body: "Welcome back" } },
            { id: "exit", type: "core.exit", config: {} },
          ],
          [
            ["opened", "happened", "push"],
            ["opened", "timed_out", "exit"],
            ["push", "sent", "exit"],
            ["push", "failed", "exit"],
          ],
        ),
      );
      const id = await enter(h, "held-event");
      const { admin } = await callers(h, "hold-event");
      await admin.journeys.pause({ id: journeyId, inside: "hold" });
      await h.engine.handleEvents([await h.storeEvent("held-event", "app_opened")]);
      await drain(h);
      expect(sends).toEqual([]);
      const [row] = await rows<{ node_id: string }>(h.db.db, sql`select node_id from journey_instances where id = ${id}::uuid`);
      expect(row.node_id).toBe("push");
      await admin.journeys.resume({ id: journeyId });
      await drain(h);
      expect(sends).toEqual(["held-event"]);
    } finally {
      await h.close();
    }
  });

  it("a held journey's Temporal instance whose workflow start was lost is started held by the event that repairs it", async () => {
    const h = await createHarness({ db, start: T0 });
    try {
      const { journeyId } = await h.publish(
        apiJourney(
          "opened (temporal)",
          [
            { id: "opened", type: "core.wait-for-event", config: { event: "app_opened", filters: [], timeout: { amount: 1, unit: "days" } } },
            { id: "exit", type: "core.exit", config: {} },
          ],
          [
            ["opened", "happened", "exit"],
            ["opened", "timed_out", "exit"],
          ],
        ),
      );
      const id = await enter(h, "lost-start");
      await rows(h.db.db, sql`update journey_instances set state = state || '{"driver":"temporal"}'::jsonb where id = ${id}::uuid`);
      const gateway = new RecordingGateway();
      const engine = createTemporalEngine({ db: h.db.db, now: h.clock.now, gateway });
      const { admin } = await callers(h, "lost-start");
      await admin.journeys.pause({ id: journeyId, inside: "hold" });
      await engine.handleEvents([await h.storeEvent("lost-start", "app_opened")]);
      expect(gateway.repairs.map((r) => [r.input.instance.instanceId, r.input.resume?.held])).toEqual([[id, true]]);
    } finally {
      await h.close();
    }
  });

  it("pause with keep running: users inside go on (the wait ends and sends); only new users are kept out", async () => {
    const sends: string[] = [];
    const h = await createHarness({ db, start: T0, engine: { onSandboxSend: (d) => sends.push(d.request.userId) } });
    try {
      const { journeyId } = await h.publish(waitThenPush());
      await enter(h, "kept-1");
      const { admin } = await callers(h, "keep");
      expect(await admin.journeys.pause({ id: journeyId, inside: "keep_running" })).toEqual({ held: false, holdChanged: false });
      const entry = await h.engine.triggerJourney({ workspaceId: h.workspaceId, journeyId, userId: "kept-new" });
      expect(entry.entered).toBe(false);
      h.clock.advance(2 * HOUR);
      await drain(h);
      expect(sends).toEqual(["kept-1"]);
      expect(await count(h, sql`select count(*) as n from audit_log where target = ${journeyId} and action = 'journey.paused' and details ->> 'inside' = 'keep_running'`)).toBe(1);
    } finally {
      await h.close();
    }
  });

  it("lists with filters and keyset pages, and reports engine health", async () => {
    const h = await createHarness({ db, start: T0 });
    try {
      const a = await h.publish(waitThenPush());
      const b = await h.publish(apiJourney("straight", [{ id: "exit", type: "core.exit", config: {} }], []));
      for (let i = 0; i < 5; i++) {
        await enter(h, `list-a-${i}`, a.journeyId);
        h.clock.advance(1000);
      }
      await enter(h, "list-b-0", b.journeyId);
      const all = await listInstances(h.db.db, h.workspaceId, { limit: 2 });
      expect(all.items).toHaveLength(2);
      const seen = new Set(all.items.map((i) => i.id));
      let next = all.next;
      while (next) {
        const page = await listInstances(h.db.db, h.workspaceId, { limit: 2, after: next });
        for (const item of page.items) seen.add(item.id);
        next = page.next;
      }
      expect(seen.size).toBe(6);
      expect((await listInstances(h.db.db, h.workspaceId, { journeyId: a.journeyId })).items).toHaveLength(5);
      expect((await listInstances(h.db.db, h.workspaceId, { journeyId: b.journeyId, status: "completed" })).items).toHaveLength(1);
      expect((await listInstances(h.db.db, h.workspaceId, { status: "waiting", nodeId: "wait" })).items).toHaveLength(5);
      expect((await listInstances(h.db.db, h.workspaceId, { userId: "list-a-3" })).items).toHaveLength(1);
      h.clock.advance(2 * HOUR);
      const health = await engineHealth(h.db.db, h.clock.ms);
      expect(health.dueBacklog).toBeGreaterThanOrEqual(5);
      expect(health.oldestDueLagMs).toBeGreaterThan(0);
    } finally {
      await h.close();
    }
  });

  it("role checks: a marketer gets FORBIDDEN for every action and nothing changes; an admin's action is audited under their id", async () => {
    const h = await createHarness({ db, start: T0 });
    try {
      const { journeyId } = await h.publish(waitThenPush());
      const id = await enter(h, "roles");
      const services: AppServices = {
        config: loadConfig({ WAYPOST_LOG_LEVEL: "silent", NODE_ENV: "test" }),
        database: h.db,
        db: h.db.db,
        log: createLogger("silent"),
        now: h.clock.now,
      };
      const marketer = await createOperator(h.db.db, { workspaceId: h.workspaceId, email: `m-${id}@example.com`, role: "marketer", password: "marketer-password-1" });
      const admin = await createOperator(h.db.db, { workspaceId: h.workspaceId, email: `a-${id}@example.com`, role: "admin", password: "admin-password-1" });
      const caller = (operatorId: string, role: "marketer" | "admin") =>
        createCallerFactory(appRouter)({ services, session: { operatorId, workspaceId: h.workspaceId, email: "x@example.com", name: "x", role, locale: null } });
      const asMarketer = caller(marketer.id, "marketer");
      const snapshot = async () => rows(h.db.db, sql`select status, state, wake_at from journey_instances where id = ${id}::uuid`);
      const before = await snapshot();
      for (const attempt of [
        () => asMarketer.operations.cancel({ id }),
        () => asMarketer.operations.skipWait({ id }),
        () => asMarketer.operations.retry({ id }),
        () => asMarketer.journeys.pause({ id: journeyId }),
      ]) {
        await expect(attempt()).rejects.toMatchObject({ code: "FORBIDDEN" });
      }
      expect(await snapshot()).toEqual(before);
      expect(await count(h, sql`select count(*) as n from audit_log where workspace_id = ${h.workspaceId}::uuid and action like 'instance.%'`)).toBe(0);
      // Reading is for every role.
      expect((await asMarketer.operations.list({})).items).toHaveLength(1);

      const asAdmin = caller(admin.id, "admin");
      await expect(asAdmin.operations.retry({ id })).rejects.toMatchObject({ code: "PRECONDITION_FAILED", message: "not_failed" });
      await asAdmin.operations.skipWait({ id });
      await asAdmin.journeys.pause({ id: journeyId });
      expect(await count(h, sql`select count(*) as n from audit_log where operator_id = ${admin.id}::uuid and action in ('instance.wait_skipped', 'journey.paused')`)).toBe(2);
    } finally {
      await h.close();
    }
  });
});
