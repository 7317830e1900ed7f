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
import { createTestDb, testDatabaseKind, type TestDb } from "../support/db";
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

  it("Temporal-driven instances are refused with temporal_unsupported and left as they were", async () => {
    const h = await createHarness({ db, start: T0 });
    try {
      await h.publish(waitThenPush());
      const id = await enter(h, "on-temporal");
      await rows(h.db.db, sql`update journey_instances set state = state || '{"driver":"temporal"}'::jsonb where id = ${id}::uuid`);
      for (const op of [cancelInstance, skipWait, retryFailedStep]) {
        await expect(op(ops(h), { workspaceId: h.workspaceId }, id)).rejects.toMatchObject({ code: "temporal_unsupported" });
      }
      const [inst] = await rows<{ status: string }>(h.db.db, sql`select status from journey_instances where id = ${id}::uuid`);
      expect(inst.status).toBe("active");
      const page = await listInstances(h.db.db, h.workspaceId, {});
      expect(page.items[0]).toMatchObject({ engine: "temporal", view: "waiting" });
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
        () => asMarketer.operations.setJourneyStatus({ journeyId, status: "paused" }),
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
      await asAdmin.operations.setJourneyStatus({ journeyId, status: "paused" });
      expect(await count(h, sql`select count(*) as n from audit_log where operator_id = ${admin.id}::uuid and action in ('instance.wait_skipped', 'journey.paused')`)).toBe(2);
    } finally {
      await h.close();
    }
  });
});
