import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../app/config.server";
import { createOperator } from "../../app/lib/accounts.server";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { createLogger } from "../../app/lib/log.server";
import { createCallerFactory } from "../../app/trpc/init.server";
import { appRouter } from "../../app/trpc/router.server";
import { executeNode } from "../../nodes/registry.server";
import type { ActionContext, ActionResult, SendMessageRequest } from "../../nodes/runtime";
import { buildJourney } from "../../workflows/builder";
import { rows } from "../../workflows/embedded/db.server";
import { createActivities } from "../../workflows/temporal/activities";
import { journeyTime, type JourneyClock } from "../../workflows/temporal/contract";
import { temporalGateway } from "../../workflows/temporal/client";
import { createTemporalEngine, type TemporalEngine } from "../../workflows/temporal/engine";
import { closeLiveTemporal, liveTemporalSettings, openLiveTemporal, temporalAddress, type LiveTemporal } from "./support";

/**
 * Operator actions on Temporal-driven instances, on a real server with a real worker running the
 * bundled workflow: cancel one and by filter, skip a wait, retry a failed step (of a running and of
 * a finished instance), pause with "hold" then resume, pause with "keep running". Everything goes
 * through the operations router as the Instances page calls it, and is checked in the shared
 * tables: instance rows, node events, audit entries, and the sends the worker made.
 */

const address = temporalAddress;
if (!address) {
  console.log(
    "[live] TEMPORAL_ADDRESS is not set: the live Temporal operator-action suite is skipped. Start a server (`scripts/temporal-server.sh start DIR`) and run with the address it prints.",
  );
}

const settings = liveTemporalSettings;

type Nodes = Parameters<typeof buildJourney>[0]["nodes"];
type Edges = Parameters<typeof buildJourney>[0]["edges"];

function apiJourney(name: string, nodes: Nodes, edges: Edges) {
  return buildJourney({
    name,
    settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [{ id: "trigger", type: "core.trigger", config: { source: "api" } }, ...nodes],
    edges: [["trigger", "next", nodes[0].id], ...edges],
  });
}

const waitThenPush = (name: string, wait: { amount: number; unit: "minutes" | "days" }) =>
  apiJourney(
    name,
    [
      { id: "wait", type: "core.wait", config: { mode: "duration", duration: wait } },
      { id: "push", type: "core.push", config: { title: "Hi", body: "Hello {{ user.id }}" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    [
      ["wait", "next", "push"],
      ["push", "sent", "exit"],
      ["push", "failed", "exit"],
    ],
  );

type Shared = LiveTemporal;

const caller = createCallerFactory(appRouter);

interface World {
  workspaceId: string;
  engine: TemporalEngine;
  admin: ReturnType<typeof caller>;
  /** user id per push sent, in order. */
  sends: string[];
  webhookCalls: Array<{ key: string; attempt: number }>;
  webhookHealthy: { value: boolean };
  publish(document: unknown): Promise<string>;
  enter(journeyId: string, userId: string): Promise<string>;
  row(id: string): Promise<{ status: string; reason: string | null; node_id: string | null }>;
  events(id: string): Promise<Array<{ kind: string; node_id: string | null; output: string | null; reason: string | null }>>;
  audits(action: string): Promise<Array<{ target: string | null; details: Record<string, unknown> }>>;
  close(): Promise<void>;
}

/**
 * `clock`: journey time runs `rate` times faster than real time (contract.ts `JourneyClock`), so a
 * one-minute wait comes due in seconds; without it journey time is real time.
 */
async function world(shared: Shared, rate?: number): Promise<World> {
  const { db } = shared;
  const clock: JourneyClock | undefined = rate ? { origin: Date.now(), realOrigin: Date.now(), rate } : undefined;
  const now = () => journeyTime(clock, Date.now());
  const [workspace] = await rows<{ id: string }>(db.db, sql`insert into workspaces (name) values (${`ops-${randomUUID()}`}) returning id`);
  const workspaceId = workspace.id;
  const sends: string[] = [];
  const webhookCalls: World["webhookCalls"] = [];
  const webhookHealthy = { value: false };
  const executeAction = async (type: string, ctx: ActionContext, config: unknown): Promise<ActionResult> => {
    if (type === "example.webhook") {
      webhookCalls.push({ key: ctx.idempotencyKey, attempt: ctx.attempt });
      return webhookHealthy.value ? { output: "success" } : { output: "failed", detail: { reason: "http_410" } };
    }
    return executeNode(type, ctx, config);
  };
  const sendMessage = async (request: SendMessageRequest) => {
    sends.push(request.userId);
    return { status: "sent" as const, messageId: `ops-${request.idempotencyKey}` };
  };
  const taskQueue = `waypost-ops-${randomUUID()}`;
  const activities = createActivities({
    db: db.db,
    now,
    executeAction,
    actionServices: () => ({ sendMessage, updateUser: async () => {}, fetch: async () => ({ status: 200, ok: true, text: async () => "ok" }) }),
  });
  const worker = await Worker.create({ connection: shared.connection, namespace: settings().namespace, taskQueue, workflowBundle: { code: shared.bundle.code }, activities });
  const running = worker.run();
  const engine = createTemporalEngine({ db: db.db, now: () => new Date(now()), gateway: temporalGateway(shared.client, taskQueue) }, clock ? { clock } : {});
  const operator = await createOperator(db.db, { workspaceId, email: `admin-${workspaceId}@example.com`, role: "admin", password: "admin-password-1" });
  const admin = caller({
    services: { config: loadConfig({ WAYPOST_LOG_LEVEL: "silent", NODE_ENV: "test" }), database: db, db: db.db, log: createLogger("silent"), now: () => new Date(now()), engine },
    session: { operatorId: operator.id, workspaceId, email: "admin@example.com", name: "admin", role: "admin", locale: null },
  });
  return {
    workspaceId,
    engine,
    admin,
    sends,
    webhookCalls,
    webhookHealthy,
    async publish(document) {
      const { id } = await createJourney(db.db, { workspaceId }, { name: (document as { name: string }).name, document });
      const published = await publishJourney(db.db, { workspaceId }, { journeyId: id });
      if (!published.ok) throw new Error("journey does not compile");
      return id;
    },
    async enter(journeyId, userId) {
      await rows(db.db, sql`insert into users (workspace_id, id, traits) values (${workspaceId}::uuid, ${userId}, '{}'::jsonb) on conflict do nothing`);
      const result = await engine.triggerJourney({ workspaceId, journeyId, userId });
      if (!result.entered) throw new Error(`${userId} did not enter: ${result.reason}`);
      return result.instanceId!;
    },
    async row(id) {
      const [found] = await rows<{ status: string; reason: string | null; node_id: string | null }>(db.db, sql`select status, reason, node_id from journey_instances where id = ${id}::uuid`);
      return found;
    },
    events: (id) => rows(db.db, sql`select kind, node_id, output, reason from journey_node_events where instance_id = ${id}::uuid order by seq`),
    audits: (action) => rows(db.db, sql`select target, details from audit_log where workspace_id = ${workspaceId}::uuid and action = ${action} order by at`),
    async close() {
      worker.shutdown();
      await running;
    },
  };
}

/** Polls until `check` holds (bounded: the live suite never asserts on timing). */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function workflowStatus(shared: Shared, id: string): Promise<string> {
  return (await shared.client.workflow.getHandle(id).describe()).status.name;
}

describe.skipIf(!address)(`operator actions on a real Temporal server (${address ?? "not configured"})`, () => {
  let shared: Shared;

  beforeAll(async () => {
    shared = await openLiveTemporal();
  }, 180_000);

  afterAll(() => closeLiveTemporal(shared));

  it("cancel one, then the rest by filter: cancelled in the workflow, one exit each, audited, nothing sent", async () => {
    const w = await world(shared);
    try {
      const journeyId = await w.publish(waitThenPush("cancel", { amount: 1, unit: "days" }));
      const ids = [await w.enter(journeyId, "c-1"), await w.enter(journeyId, "c-2"), await w.enter(journeyId, "c-3")];
      expect(await w.admin.operations.cancel({ id: ids[0] })).toEqual({ instanceId: ids[0], status: "completed", nodeId: "wait" });
      // The Update answers once the records are stored: no polling needed.
      expect(await w.row(ids[0])).toEqual({ status: "completed", reason: "cancelled", node_id: "wait" });
      await expect(w.admin.operations.cancel({ id: ids[0] })).rejects.toMatchObject({ code: "PRECONDITION_FAILED", message: "already_finished" });

      expect(await w.admin.operations.cancelCount({ journeyId })).toEqual({ count: 2 });
      expect(await w.admin.operations.cancelMany({ journeyId })).toEqual({ cancelled: 2 });
      for (const id of ids) {
        expect(await w.row(id)).toMatchObject({ status: "completed", reason: "cancelled" });
        expect((await w.events(id)).filter((e) => e.kind === "exit")).toEqual([{ kind: "exit", node_id: "wait", output: null, reason: "cancelled" }]);
        await until("the workflow to close", async () => (await workflowStatus(shared, id)) === "COMPLETED");
      }
      expect((await w.audits("instance.cancelled")).map((a) => a.target)).toEqual([ids[0]]);
      expect((await w.audits("instances.cancelled")).map((a) => a.details)).toEqual([{ filter: { journeyId }, count: 2 }]);
      expect(w.sends).toEqual([]);
    } finally {
      await w.close();
    }
  }, 120_000);

  it("skip a wait: the push goes out once, right away, and the instance finishes", async () => {
    const w = await world(shared);
    try {
      const journeyId = await w.publish(waitThenPush("skip", { amount: 1, unit: "days" }));
      const id = await w.enter(journeyId, "s-1");
      await expect(w.admin.operations.retry({ id })).rejects.toMatchObject({ code: "PRECONDITION_FAILED", message: "not_failed" });
      await w.admin.operations.skipWait({ id });
      await until("the instance to finish", async () => (await w.row(id)).status === "completed");
      expect(await w.row(id)).toEqual({ status: "completed", reason: "exit_node", node_id: "exit" });
      expect(w.sends).toEqual(["s-1"]);
      const events = await w.events(id);
      expect(events.filter((e) => e.kind === "left" && e.node_id === "wait")).toEqual([{ kind: "left", node_id: "wait", output: "next", reason: null }]);
      expect(events.filter((e) => e.kind === "exit")).toHaveLength(1);
      expect(await w.audits("instance.wait_skipped")).toEqual([
        { target: id, details: expect.objectContaining({ nodeId: "wait", purpose: "wait", engine: "temporal" }) },
      ]);
      await expect(w.admin.operations.skipWait({ id })).rejects.toMatchObject({ code: "PRECONDITION_FAILED", message: "already_finished" });
    } finally {
      await w.close();
    }
  }, 120_000);

  it("retry a failed step: in a running workflow (after its failure branch) and in a finished one (started again); one run each on a new key, one exit", async () => {
    const w = await world(shared);
    try {
      const hook = (name: string, afterFailure: Nodes, failureEdges: Edges) =>
        apiJourney(
          name,
          [{ id: "hook", type: "example.webhook", config: { url: "https://crm.example.com/hook" } }, { id: "done", type: "core.exit", config: {} }, ...afterFailure],
          [["hook", "success", "done"], ...failureEdges],
        );
      const running = await w.publish(
        hook("retry running", [{ id: "later", type: "core.wait", config: { mode: "duration", duration: { amount: 1, unit: "days" } } }, { id: "gave_up", type: "core.exit", config: {} }], [
          ["hook", "failed", "later"],
          ["later", "next", "gave_up"],
        ]),
      );
      const finished = await w.publish(hook("retry finished", [{ id: "gave_up", type: "core.exit", config: {} }], [["hook", "failed", "gave_up"]]));
      const a = await w.enter(running, "r-running");
      const b = await w.enter(finished, "r-finished");
      await until("the first to wait after its failure", async () => (await w.row(a)).node_id === "later");
      await until("the second to finish", async () => (await w.row(b)).status === "completed");
      await until("its workflow to close", async () => (await workflowStatus(shared, b)) === "COMPLETED");
      expect(w.webhookCalls).toHaveLength(2);

      w.webhookHealthy.value = true;
      for (const id of [a, b]) {
        expect(await w.admin.operations.retry({ id })).toMatchObject({ status: "active", nodeId: "hook" });
        await until("the retried instance to finish", async () => (await w.row(id)).reason === "exit_node" && (await w.row(id)).node_id === "done");
        const events = await w.events(id);
        expect(events.filter((e) => e.kind === "retry")).toEqual([{ kind: "retry", node_id: "hook", output: null, reason: "operator_retry" }]);
        expect(events.filter((e) => e.kind === "exit")).toEqual([{ kind: "exit", node_id: "done", output: null, reason: "exit_node" }]);
        await expect(w.admin.operations.retry({ id })).rejects.toMatchObject({ code: "PRECONDITION_FAILED", message: "not_failed" });
      }
      // The finished one kept its first exit as exit_retried; the running one never had one.
      expect((await w.events(b)).filter((e) => e.kind === "exit_retried")).toHaveLength(1);
      expect((await w.events(a)).filter((e) => e.kind === "exit_retried")).toHaveLength(0);
      expect(w.webhookCalls).toHaveLength(4);
      expect(w.webhookCalls.slice(2).map((c) => c.attempt)).toEqual([1, 1]);
      expect(new Set(w.webhookCalls.map((c) => c.key)).size).toBe(4);
      expect((await w.audits("instance.step_retried")).map((r) => r.target)).toEqual([a, b]);
    } finally {
      await w.close();
    }
  }, 180_000);

  it("pause with hold: a due wait and a skipped wait send nothing until resume, then each sends once", async () => {
    // One journey minute is three real seconds.
    const w = await world(shared, 20);
    try {
      const journeyId = await w.publish(waitThenPush("hold", { amount: 1, unit: "minutes" }));
      const due = await w.enter(journeyId, "h-due");
      const skipped = await w.enter(journeyId, "h-skipped");
      const enteredAt = Date.now();
      expect(await w.admin.journeys.pause({ id: journeyId, inside: "hold" })).toEqual({ held: true, holdChanged: true });
      // Skipping a held instance's wait moves it on to its push, which waits for resume.
      await w.admin.operations.skipWait({ id: skipped });
      expect(await w.row(skipped)).toMatchObject({ status: "active", node_id: "push" });
      // The other wait comes due while held (bounded: well past its 3 real seconds).
      await until("the wait's deadline to pass", async () => Date.now() > enteredAt + 6_000, 10_000);
      expect(w.sends).toEqual([]);
      expect(await w.row(due)).toMatchObject({ status: "active", node_id: "wait" });

      expect(await w.admin.journeys.resume({ id: journeyId })).toEqual({ held: false, holdChanged: true });
      for (const id of [due, skipped]) await until("the held instance to finish", async () => (await w.row(id)).status === "completed");
      expect([...w.sends].sort()).toEqual(["h-due", "h-skipped"]);
      expect((await w.audits("journey.paused")).map((a) => a.details)).toEqual([{ inside: "hold" }]);
      expect(await w.audits("journey.resumed")).toHaveLength(1);
    } finally {
      await w.close();
    }
  }, 120_000);

  it("pause with hold: an awaited event waits in the workflow until resume, then moves the user on and the push goes out once", async () => {
    const w = await world(shared);
    try {
      const journeyId = await w.publish(
        apiJourney(
          "hold event",
          [
            { id: "opened", type: "core.wait-for-event", config: { event: "app_opened", filters: [], timeout: { amount: 1, unit: "days" } } },
            { id: "push", type: "core.push", config: { title: "Hi", body: "Welcome back {{ user.id }}" } },
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
      const id = await w.enter(journeyId, "e-1");
      await w.admin.journeys.pause({ id: journeyId, inside: "hold" });
      const messageId = randomUUID();
      await rows(
        shared.db.db,
        sql`insert into events (workspace_id, message_id, user_id, name, properties, timestamp)
            values (${w.workspaceId}::uuid, ${messageId}, 'e-1', 'app_opened', '{}'::jsonb, now())`,
      );
      await w.engine.handleEvents([{ workspaceId: w.workspaceId, userId: "e-1", messageId, name: "app_opened", properties: {}, timestamp: Date.now() }]);
      // Delivered (its receipt is stored), yet not applied while held (bounded look).
      const [receipt] = await rows<{ n: number | string }>(shared.db.db, sql`select count(*) as n from journey_instance_events where instance_id = ${id}::uuid`);
      expect(Number(receipt.n)).toBe(1);
      await sleep(2_000);
      expect(await w.row(id)).toMatchObject({ status: "active", node_id: "opened" });
      expect(w.sends).toEqual([]);

      await w.admin.journeys.resume({ id: journeyId });
      await until("the instance to finish", async () => (await w.row(id)).status === "completed");
      expect(w.sends).toEqual(["e-1"]);
      expect((await w.events(id)).filter((e) => e.kind === "left" && e.node_id === "opened")).toEqual([{ kind: "left", node_id: "opened", output: "happened", reason: null }]);
    } finally {
      await w.close();
    }
  }, 120_000);

  it("pause with keep running: the user inside goes on and is sent to; nobody new enters", async () => {
    const w = await world(shared, 20);
    try {
      const journeyId = await w.publish(waitThenPush("keep", { amount: 1, unit: "minutes" }));
      const id = await w.enter(journeyId, "k-1");
      expect(await w.admin.journeys.pause({ id: journeyId, inside: "keep_running" })).toEqual({ held: false, holdChanged: false });
      expect((await w.engine.triggerJourney({ workspaceId: w.workspaceId, journeyId, userId: "k-new" })).entered).toBe(false);
      await until("the instance to finish", async () => (await w.row(id)).status === "completed");
      expect(w.sends).toEqual(["k-1"]);
      expect((await w.audits("journey.paused")).map((a) => a.details)).toEqual([{ inside: "keep_running" }]);
    } finally {
      await w.close();
    }
  }, 120_000);
});
