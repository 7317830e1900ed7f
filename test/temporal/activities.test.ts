import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { MockActivityEnvironment } from "@temporalio/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeNode } from "../../nodes/registry.server";
import type { ActionServices, FetchLike } from "../../nodes/runtime";
import { buildJourney } from "../../workflows/builder";
import { rows } from "../../workflows/embedded/db.server";
import { step, type Command, type InstanceState } from "../../workflows/interpreter";
import type { JourneyProgram } from "../../workflows/program";
import { createActivities } from "../../workflows/temporal/activities";
import {
  commitOf,
  entryStep,
  recordsOf,
  stepDigest,
  timerInput,
  type InstanceRef,
  type JourneyActivities,
  type RunCommand,
} from "../../workflows/temporal/contract";
import { insertInstance } from "../../workflows/temporal/store.server";
import { createTemporalHarness, type TemporalHarness } from "./support";

/**
 * The activities against a real database (PostgreSQL with DATABASE_URL, PGlite otherwise), run
 * in Temporal's MockActivityEnvironment: what a retried attempt does is what a worker does when
 * Temporal retries it.
 */

const DAY = 86_400_000;
const START = Date.parse("2024-05-06T01:00:00.000Z");

const journey = buildJourney({
  name: "activities",
  settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
  nodes: [
    { id: "trigger", type: "core.trigger", config: { source: "api" } },
    { id: "wait_1d", type: "core.wait", config: { mode: "duration", duration: { amount: 1, unit: "days" } } },
    { id: "vip", type: "core.condition", config: { mode: "yes_no", match: "all", rules: [{ kind: "trait", trait: "vip", op: "eq", value: true }] } },
    { id: "push", type: "core.push", config: { title: "Hi", body: "Hello {{ user.name }}", category: "transactional" } },
    { id: "ordered", type: "core.condition", config: { mode: "yes_no", match: "all", rules: [{ kind: "event", event: "order_completed", filters: [], check: "did", within: { amount: 7, unit: "days" } }] } },
    { id: "bump", type: "core.update-user", config: { operations: [{ op: "increment", trait: "visits", by: 1 }] } },
    { id: "exit", type: "core.exit", config: {} },
  ],
  edges: [
    ["trigger", "next", "wait_1d"],
    ["wait_1d", "next", "vip"],
    ["vip", "yes", "push"],
    ["vip", "no", "exit"],
    ["push", "sent", "ordered"],
    ["push", "failed", "exit"],
    ["ordered", "yes", "bump"],
    ["ordered", "no", "exit"],
    ["bump", "next", "exit"],
    ["bump", "failed", "exit"],
  ],
});

let h: TemporalHarness;
let program: JourneyProgram;
let journeyId: string;
let versionId: string;
let activities: JourneyActivities;
let executions = 0;

// Failed attempts are expected in these tests; the SDK would log each at WARN.
const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
/** Runs one activity attempt in the mock environment (typed: the SDK's `run` infers unknown here). */
function attempt<A extends unknown[], R>(n: number, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment({ attempt: n }, { logger: silent }).run(fn, ...args) as Promise<R>;
}
const env = (n = 1) => ({ run: <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A) => attempt(n, fn, ...args) });

beforeAll(async () => {
  h = await createTemporalHarness(START);
  ({ journeyId, versionId, program } = await h.publish(journey));
  const fetchLike: FetchLike = () => Promise.reject(new Error("no network in tests"));
  const services: ActionServices = { sendMessage: h.sandbox.forWorkspace(h.workspaceId), updateUser: h.userUpdater(h.workspaceId), fetch: fetchLike };
  activities = createActivities({
    db: h.db.db,
    actionServices: () => services,
    executeAction: (type, ctx, config) => {
      executions += 1;
      return executeNode(type, ctx, config);
    },
    now: h.clock.now,
  });
});

afterAll(async () => {
  await h?.close();
});

/** An instance entered now, stored as the engine stores entries, with its entry step. */
async function enterUser(userId: string, traits: Record<string, unknown>) {
  await h.insertUsers([{ id: userId, traits, timezone: "Asia/Shanghai" }]);
  const instance: InstanceRef = { workspaceId: h.workspaceId, journeyId, versionId, instanceId: randomUUID(), userId };
  const user = { id: userId, traits, timezone: "Asia/Shanghai" };
  const entry = entryStep(program, instance, "Asia/Shanghai", { now: h.clock.ms, user });
  await h.db.db.transaction((tx) => insertInstance(tx, { instance, entryKey: randomUUID(), state: entry.state, records: recordsOf(entry.commands), enteredAt: h.clock.ms }));
  return { instance, state: entry.state, user };
}

async function storedCounts(instanceId: string) {
  return rows<{ kind: string; n: number }>(h.db.db, sql`select kind, count(*)::int as n from journey_node_events where instance_id = ${instanceId}::uuid group by kind order by kind`);
}

/** The step the workflow makes when the 1-day wait ends, with the profile it holds. */
function wake(state: InstanceState, user: { id: string; traits: Record<string, unknown>; timezone: string }) {
  const now = state.enteredAt + DAY;
  const result = step(program, state, timerInput(now, user));
  return { now, result, verify: { before: state, now, digest: stepDigest(result) } };
}

const runOf = (commands: Command[]) => commands.find((c): c is RunCommand => c.type === "run")!;

describe("Temporal activities on the database", () => {
  it("a retried send reaches the provider once and stores each node event once", async () => {
    const { instance, state, user } = await enterUser(`vip-${randomUUID()}`, { vip: true, name: "小王" });
    h.clock.ms = START + DAY;
    const { result } = wake(state, user);
    const run = runOf(result.commands);
    expect(run.nodeId).toBe("push");
    const request = { instance, programHash: program.hash, records: recordsOf(result.commands), state: result.state, command: run };
    const callsBefore = h.providerCalls.length;

    const first = await env().run(activities.executeNode, request);
    // Temporal retries when an attempt's completion is lost (worker crash, timeout): same input.
    const second = await env(2).run(activities.executeNode, request);

    expect(h.providerCalls.length - callsBefore).toBe(1);
    expect(h.providerCalls.at(-1)!.idempotencyKey).toBe(run.idempotencyKey);
    expect(first.stale).toBeUndefined();
    expect(second).toEqual(first);
    if (first.stale) throw new Error("unexpected stale");
    expect(first.result).toMatchObject({ output: "sent" });
    const [message] = await rows<{ n: number }>(h.db.db, sql`select count(*)::int as n from messages where instance_id = ${instance.instanceId}`);
    expect(message.n).toBe(1);

    // Pre-commit: the records of the step after the result are stored already, and the commit
    // describes exactly what the workflow's own step will produce.
    const after = step(program, result.state, { type: "actionResult", now: first.now, user: first.user, runId: run.runId, result: first.result });
    expect(first.commit).toEqual(commitOf(recordsOf(after.commands)));
    const counts = await storedCounts(instance.instanceId);
    const expected = new Map<string, number>();
    const all = [...recordsOf(entryStep(program, instance, "Asia/Shanghai", { now: START, user }).commands), ...recordsOf(result.commands), ...recordsOf(after.commands)];
    for (const r of all) expected.set(r.kind, (expected.get(r.kind) ?? 0) + 1);
    expect(Object.fromEntries(counts.map((c) => [c.kind, c.n]))).toEqual(Object.fromEntries(expected));
    const [row] = await rows<{ node_id: string; status: string; seq: number; wake_at: string | null; awaiting: string[] }>(
      h.db.db,
      sql`select node_id, status, (state ->> 'seq')::int as seq, wake_at, awaiting from journey_instances where id = ${instance.instanceId}::uuid`,
    );
    expect(row).toMatchObject({ node_id: after.state.nodeId, status: "active", seq: after.state.seq, wake_at: null, awaiting: [] });
  });

  it("a send whose attempt died after the provider call is not sent again on retry", async () => {
    const { instance, state, user } = await enterUser(`crash-${randomUUID()}`, { vip: true, name: "李雷" });
    h.clock.ms = START + DAY;
    const { result } = wake(state, user);
    const run = runOf(result.commands);
    const request = { instance, programHash: program.hash, records: recordsOf(result.commands), state: result.state, command: run };
    const callsBefore = h.providerCalls.length;
    const dying = createActivities({
      db: h.db.db,
      actionServices: () => ({ sendMessage: h.sandbox.forWorkspace(h.workspaceId), updateUser: h.userUpdater(h.workspaceId), fetch: () => Promise.reject(new Error("offline")) }),
      executeAction: async (type, ctx, config) => {
        await executeNode(type, ctx, config);
        throw new Error("worker killed after the provider call");
      },
      now: h.clock.now,
    });
    await expect(env().run(dying.executeNode, request)).rejects.toThrow("worker killed");
    const retried = await env(2).run(activities.executeNode, request);
    expect(retried).toMatchObject({ result: { output: "sent" } });
    expect(h.providerCalls.length - callsBefore).toBe(1);
    expect((await storedCounts(instance.instanceId)).find((c) => c.kind === "message")?.n).toBe(1);
  });

  it("recording the same batch twice counts nothing twice", async () => {
    const { instance, state, user } = await enterUser(`plain-${randomUUID()}`, { vip: false });
    h.clock.ms = START + DAY;
    const { result } = wake(state, user);
    expect(result.state.status).toBe("completed");
    const request = { instance, programHash: program.hash, records: recordsOf(result.commands), state: result.state };
    const before = await storedCounts(instance.instanceId);
    await env().run(activities.recordProgress, request);
    const once = await storedCounts(instance.instanceId);
    await env().run(activities.recordProgress, request);
    expect(await storedCounts(instance.instanceId)).toEqual(once);
    const added = once.reduce((n, c) => n + c.n, 0) - before.reduce((n, c) => n + c.n, 0);
    expect(added).toBe(recordsOf(result.commands).length);
    const [row] = await rows<{ status: string; reason: string; completed: boolean }>(
      h.db.db,
      sql`select status, reason, completed_at is not null as completed from journey_instances where id = ${instance.instanceId}::uuid`,
    );
    expect(row).toEqual({ status: "completed", reason: "exit_node", completed: true });
  });

  it("a step made with a stale profile is refused, unstored, with the fresh profile", async () => {
    // The workflow last saw vip=false; the profile changed during the wait.
    const userId = `stale-${randomUUID()}`;
    const { instance, state, user } = await enterUser(userId, { vip: false });
    await h.setTraits(userId, { vip: true, name: "韩梅梅" });
    h.clock.ms = START + DAY;
    const { result, verify } = wake(state, user);
    expect(result.state.status).toBe("completed");
    const before = await storedCounts(instance.instanceId);
    const outcome = await env().run(activities.recordProgress, { instance, programHash: program.hash, records: recordsOf(result.commands), state: result.state, verify });
    expect(outcome).toMatchObject({ stale: true, user: { id: userId, traits: { vip: true } } });
    expect(await storedCounts(instance.instanceId)).toEqual(before);

    // Redone with the fresh profile, the step sends the push instead of exiting.
    const redo = step(program, state, timerInput(verify.now, outcome.user));
    expect(runOf(redo.commands).nodeId).toBe("push");
    const fresh = { ...verify, digest: stepDigest(redo) };
    const sent = await env().run(activities.executeNode, { instance, programHash: program.hash, records: recordsOf(redo.commands), state: redo.state, command: runOf(redo.commands), verify: fresh });
    expect(sent).toMatchObject({ result: { output: "sent" } });
  });

  it("conditions on event history are answered from the events table, and profile updates are seen by the next step", async () => {
    const userId = `facts-${randomUUID()}`;
    const { instance, state, user } = await enterUser(userId, { vip: true, visits: 1 });
    h.clock.ms = START + DAY;
    await h.storeEvent(userId, "order_completed", { amount: 10 }, START + DAY - 3_600_000);
    const { result } = wake(state, user);
    const pushed = await env().run(activities.executeNode, { instance, programHash: program.hash, records: recordsOf(result.commands), state: result.state, command: runOf(result.commands) });
    if (pushed.stale) throw new Error("unexpected stale");
    const afterPush = step(program, result.state, { type: "actionResult", now: pushed.now, user: pushed.user, runId: runOf(result.commands).runId, result: pushed.result });
    const evaluate = afterPush.commands.find((c) => c.type === "evaluate");
    if (evaluate?.type !== "evaluate") throw new Error("expected the history condition to need the database");
    const evaluated = await env().run(activities.evaluateCondition, { instance, programHash: program.hash, records: [], state: afterPush.state, command: evaluate });
    expect(evaluated).toMatchObject({ output: "yes" });
    if (evaluated.stale) throw new Error("unexpected stale");
    const afterEval = step(program, afterPush.state, { type: "evaluation", now: evaluated.now, user: evaluated.user, nodeId: "ordered", output: "yes" });
    const bump = runOf(afterEval.commands);
    expect(bump.nodeType).toBe("core.update-user");
    const executionsBefore = executions;
    const bumped = await env().run(activities.executeNode, { instance, programHash: program.hash, records: [], state: afterEval.state, command: bump });
    expect(bumped).toMatchObject({ result: { output: "next" }, user: { traits: { visits: 2 } } });
    // A retried profile update is applied once (engine_effects keyed by the visit).
    await env().run(activities.executeNode, { instance, programHash: program.hash, records: [], state: afterEval.state, command: bump });
    expect(executions - executionsBefore).toBe(2);
    const [profile] = await rows<{ visits: number }>(h.db.db, sql`select (traits ->> 'visits')::int as visits from users where workspace_id = ${h.workspaceId}::uuid and id = ${userId}`);
    expect(profile.visits).toBe(2);
  });

  it("records of an attempt whose result the workflow never applied are replaced by the workflow's", async () => {
    const { instance, state, user } = await enterUser(`lost-${randomUUID()}`, { vip: true, name: "王芳" });
    h.clock.ms = START + DAY;
    const { result } = wake(state, user);
    const run = runOf(result.commands);
    // The attempt sends and stores its pre-commit, but its completion never reaches Temporal and
    // the attempts run out: the workflow applies a `retry` result instead (workflows.ts).
    await env().run(activities.executeNode, { instance, programHash: program.hash, records: recordsOf(result.commands), state: result.state, command: run });
    const retry = step(program, result.state, { type: "actionResult", now: h.clock.ms, user, runId: run.runId, result: { retry: { reason: "activity timed out" } } });
    expect(retry.state.block).toMatchObject({ kind: "sleep", purpose: "backoff" });
    await env().run(activities.recordProgress, { instance, programHash: program.hash, records: recordsOf(retry.commands), state: retry.state, replace: true });

    const stored = await rows<{ seq: number; kind: string }>(h.db.db, sql`select seq, kind from journey_node_events where instance_id = ${instance.instanceId}::uuid order by seq`);
    const expected = [...recordsOf(entryStep(program, instance, "Asia/Shanghai", { now: START, user }).commands), ...recordsOf(result.commands), ...recordsOf(retry.commands)];
    expect(stored).toEqual(expected.map((r) => ({ seq: r.seq, kind: r.kind })));
    const [row] = await rows<{ seq: number; node_id: string }>(h.db.db, sql`select (state ->> 'seq')::int as seq, node_id from journey_instances where id = ${instance.instanceId}::uuid`);
    expect(row).toEqual({ seq: retry.state.seq, node_id: "push" });
  });

  it("an instance row never moves back to an older state", async () => {
    const { instance, state, user } = await enterUser(`order-${randomUUID()}`, { vip: false });
    h.clock.ms = START + DAY;
    const { result } = wake(state, user);
    await env().run(activities.recordProgress, { instance, programHash: program.hash, records: recordsOf(result.commands), state: result.state });
    // A slow earlier attempt finishing late with the entry state.
    await env().run(activities.recordProgress, { instance, programHash: program.hash, records: [], state });
    const [row] = await rows<{ status: string }>(h.db.db, sql`select status from journey_instances where id = ${instance.instanceId}::uuid`);
    expect(row.status).toBe("completed");
  });
});
