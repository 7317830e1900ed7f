import { sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { insertAuditEntry as recordAudit } from "../../db/audit";
import type { Block, InstanceState, StepResult } from "../interpreter";
import { CANCELLED_REASON, cancelStep, retryStep, skippableUntil, skipState } from "../operator";
import { Batch, INSTANCE_COLUMNS, instFromRow, type Inst, type InstanceRow } from "./batch.server";
import { arr, iso, rows, transaction, type Conn } from "./db.server";
import { ENGINE_CHANNEL } from "./engine.server";
import { ProgramCache } from "./programs.server";
import { snapshotOf, type UserRow } from "./users.server";

/**
 * Operator actions on embedded-engine instances: cancel (one or many), retry a failed step, skip
 * a wait, and holding the users of a paused journey where they are.
 *
 * Each is an engine operation, not a row edit: it locks the instance (`FOR UPDATE`, so the
 * worker's `SKIP LOCKED` claims pass it by and a concurrent result feed waits), changes the
 * interpreter state, and writes state, node events and outbox rows through `Batch.write` in
 * the same transaction as the audit entry. Node events continue the instance's own `seq`, so a
 * retried transaction writes the same keys and nothing counts twice (docs/operations.md,
 * decision 0601).
 */

export type OperationCode =
  | "not_found"
  | "already_finished"
  | "not_waiting"
  | "not_failed"
  | "busy";

export class InstanceOperationError extends Error {
  constructor(
    readonly code: OperationCode,
    message: string,
  ) {
    super(message);
    this.name = "InstanceOperationError";
  }
}

export { CANCELLED_REASON };

/** Exit records of an instance an operator revived are re-kinded so each instance keeps one `exit`. */
export const RETRIED_EXIT_KIND = "exit_retried";

export interface OperationServices {
  db: Db;
  /** Journey time (the engine's clock). */
  now(): Date;
  /** Real time, for outbox availability. Default Date.now. */
  realNow?: () => number;
  database?: { kind: "pglite" | "postgres" };
}

export interface OperationActor {
  workspaceId: string;
  operatorId?: string | null;
}

export interface OperationResult {
  instanceId: string;
  status: "active" | "completed";
  nodeId: string | null;
}

type Loaded = { inst: Inst; row: InstanceRow & { status: string } };

const programs = new ProgramCache();

async function lockInstance(tx: Conn, actor: OperationActor, instanceId: string): Promise<Loaded> {
  const [row] = await rows<InstanceRow & UserRow & { status: string }>(
    tx,
    sql`select ${INSTANCE_COLUMNS}, i.status, u.traits, u.timezone, u.tags
        from journey_instances i
        left join users u on u.workspace_id = i.workspace_id and u.id = i.user_id
        where i.id = ${instanceId}::uuid and i.workspace_id = ${actor.workspaceId}::uuid
        for update of i`,
  );
  if (!row) throw new InstanceOperationError("not_found", "No such instance in this workspace.");
  // The router sends Temporal-driven instances to the Temporal engine; this is a programming error.
  if ((row.state as { driver?: string }).driver === "temporal") throw new Error(`instance ${instanceId} runs on the Temporal engine`);
  await programs.load(tx, [row.version_id]);
  const program = programs.get(row.version_id);
  if (!program) throw new InstanceOperationError("not_found", "The instance's journey version is missing.");
  const inst = instFromRow(row, program, snapshotOf(row.user_id, row));
  return { inst, row };
}

/** Queues a pure operator step's records and run on the instance, as the engine's own steps do. */
function adopt(inst: Inst, result: StepResult): void {
  for (const command of result.commands) {
    if (command.type === "record") inst.records.push(command.record);
    else if (command.type === "run") inst.runs.push(command);
  }
  inst.state = result.state;
  inst.changed = true;
}

const noHooks = { onStep: () => {}, onError: () => {} };

async function finish(
  services: OperationServices,
  tx: Conn,
  batch: Batch,
  audit: { actor: OperationActor; action: string; instanceId: string; details: Record<string, unknown> },
): Promise<OperationResult> {
  // Not leased: any worker (this process's or another's) claims the new outbox rows.
  await batch.write(tx, { realNow: (services.realNow ?? Date.now)(), leaseMs: 0, leased: false });
  await recordAudit(tx as unknown as Db, { ...audit.actor, action: audit.action, target: audit.instanceId, details: audit.details });
  const state = batch.instances.get(audit.instanceId)!.state!;
  return { instanceId: audit.instanceId, status: state.status, nodeId: state.nodeId };
}

export async function notify(services: OperationServices): Promise<void> {
  // Wakes idle workers of other processes at once (same as the engine's own pending mode).
  if (services.database?.kind === "postgres") await rows(services.db, sql`select pg_notify(${ENGINE_CHANNEL}, '')`);
}

/**
 * Ends the instance now (reason `cancelled`). Pending side effects are deleted in the same
 * transaction, so nothing more is sent; a side effect a worker is executing at this moment
 * cannot be recalled: its outcome is still recorded (the interpreter's `orphanRun`).
 */
export async function cancelInstance(services: OperationServices, actor: OperationActor, instanceId: string): Promise<OperationResult> {
  return transaction(services.db, async (tx) => {
    const { inst, inFlight } = await cancelLocked(services, tx, actor, instanceId);
    const state = inst.state!;
    const batch = new Batch(services.now().getTime(), noHooks);
    batch.add(inst);
    return finish(services, tx, batch, {
      actor,
      action: "instance.cancelled",
      instanceId,
      details: { journeyId: inst.journeyId, userId: inst.userId, nodeId: state.nodeId, inFlight },
    });
  });
}

async function cancelLocked(services: OperationServices, tx: Conn, actor: OperationActor, instanceId: string): Promise<{ inst: Inst; inFlight: boolean }> {
  const now = services.now().getTime();
  const realNow = (services.realNow ?? Date.now)();
  const { inst } = await lockInstance(tx, actor, instanceId);
  const current = inst.state!;
  if (current.status === "completed") throw new InstanceOperationError("already_finished", "The instance has already finished.");
  let inFlight = false;
  if (current.block?.kind === "run") {
    // Rows leased by a live worker are being executed; everything else (parked ones too) is deleted unrun.
    const kept = await rows<{ id: string }>(
      tx,
      sql`with gone as (delete from journey_outbox
                        where instance_id = ${instanceId}::uuid
                          and not (status = 'running' and next_attempt_at > ${iso(realNow)}::timestamptz)
                        returning id)
          select id::text from journey_outbox where instance_id = ${instanceId}::uuid and id not in (select id from gone)`,
    );
    inFlight = kept.length > 0;
  }
  adopt(inst, cancelStep(current, now, inFlight));
  return { inst, inFlight };
}

/** Instances cancelled per transaction by `cancelInstances`. */
const CANCEL_BATCH = 100;

/**
 * Cancels many instances (a bulk action from the Instances page), each exactly as
 * `cancelInstance` does, a hundred per transaction, without an audit entry per instance: the
 * caller records one for the whole action (decision 0516). Instances that finished meanwhile are
 * passed over. Returns how many were cancelled.
 */
export async function cancelInstances(services: OperationServices, actor: OperationActor, instanceIds: readonly string[]): Promise<number> {
  let cancelled = 0;
  for (let i = 0; i < instanceIds.length; i += CANCEL_BATCH) {
    const ids = [...instanceIds.slice(i, i + CANCEL_BATCH)].sort();
    cancelled += await transaction(services.db, async (tx) => {
      const batch = new Batch(services.now().getTime(), noHooks);
      for (const id of ids) {
        try {
          batch.add((await cancelLocked(services, tx, actor, id)).inst);
        } catch (error) {
          if (error instanceof InstanceOperationError && (error.code === "already_finished" || error.code === "not_found")) continue;
          throw error;
        }
      }
      await batch.write(tx, { realNow: (services.realNow ?? Date.now)(), leaseMs: 0, leased: false });
      return batch.instances.size;
    });
  }
  return cancelled;
}

/**
 * The embedded part of pausing a journey with "hold" (or of resuming it), inside the caller's
 * transaction that also sets `journeys.held`. Holding changes no instance: it parks their pending
 * side effects (unclaimable until resume), and the engine drops their timers as they come due
 * (engine.server.ts). Releasing writes each active instance's timer again from its `wake_at` and
 * unparks its side effects, so what came due while held runs now. The journey's active
 * instances are locked first (the order every engine writer uses, instance then journey), so
 * no batch is mid-step across the change. Returns the instances affected.
 */
export async function setEmbeddedHold(tx: Conn, journeyId: string, held: boolean, realNow: number): Promise<number> {
  const locked = await rows<{ id: string }>(
    tx,
    sql`select id from journey_instances where journey_id = ${journeyId}::uuid and status = 'active'
          and coalesce(state ->> 'driver', '') <> 'temporal' order by id for update`,
  );
  await rows(tx, sql`update journeys set held = ${held} where id = ${journeyId}::uuid`);
  if (locked.length === 0) return 0;
  const ids = arr(locked.map((r) => r.id));
  if (held) {
    // Rows a live worker holds are executing and cannot be recalled; their results are fed
    // back and whatever they lead to waits here too.
    await rows(
      tx,
      sql`update journey_outbox set status = 'pending', next_attempt_at = 'infinity'
          where instance_id = any(${ids}::uuid[]) and not (status = 'running' and next_attempt_at > ${iso(realNow)}::timestamptz)`,
    );
  } else {
    await rows(
      tx,
      sql`insert into journey_timers (wake_at, instance_id)
          select wake_at, id from journey_instances where id = any(${ids}::uuid[]) and wake_at is not null
          on conflict do nothing`,
    );
    await rows(tx, sql`update journey_outbox set next_attempt_at = ${iso(realNow)}::timestamptz where instance_id = any(${ids}::uuid[]) and next_attempt_at = 'infinity'`);
  }
  return locked.length;
}

/**
 * Wakes a waiting instance now: its wait's deadline becomes now and the interpreter gets the
 * same `timer` input the worker would give it then (a wait leaves by `next`, a wait for event by
 * `timed_out`, a delivery wait as not delivered, a retry backoff or quiet-hours deferral runs
 * the step now). What follows runs through the outbox like any other step.
 */
export async function skipWait(services: OperationServices, actor: OperationActor, instanceId: string): Promise<OperationResult> {
  const now = services.now().getTime();
  const result = await transaction(services.db, async (tx) => {
    const { inst } = await lockInstance(tx, actor, instanceId);
    const current = inst.state!;
    if (current.status === "completed") throw new InstanceOperationError("already_finished", "The instance has already finished.");
    const skipped = skippableUntil(current);
    if (skipped === null) throw new InstanceOperationError("not_waiting", "The instance is not in a wait that can be ended now.");
    const block = current.block as Extract<Block, { kind: "sleep" | "event" }>;
    inst.state = skipState(current, now);
    const batch = new Batch(now, noHooks);
    batch.add(inst);
    batch.apply(inst, { type: "timer", now, user: inst.user });
    await batch.settle(tx);
    return finish(services, tx, batch, {
      actor,
      action: "instance.wait_skipped",
      instanceId,
      details: { journeyId: inst.journeyId, userId: inst.userId, nodeId: block.nodeId, purpose: block.purpose, until: iso(skipped) },
    });
  });
  await notify(services);
  return result;
}

/** The failed step of an instance: its last action visit that ended in a final failure. */
export interface FailedStep {
  nodeId: string;
  reason: string | null;
  seq: number;
}

/**
 * Finds the step an operator may retry: the instance ended as `failed` at an action node, or its
 * last action node left by `failed` (retries exhausted, provider refusal, lost worker) and the
 * instance has not run another action since.
 */
export async function findFailedStep(db: Conn, instanceId: string, state: InstanceState, actionNodes: ReadonlySet<string>): Promise<FailedStep | null> {
  if (state.status === "active" && (state.block?.kind === "run" || state.block?.kind === "evaluate")) return null;
  const events = await rows<{ seq: number; kind: string; node_id: string | null; output: string | null; reason: string | null }>(
    db,
    sql`select seq, kind, node_id, output, reason from journey_node_events
        where instance_id = ${instanceId}::uuid and kind in ('left', 'exit') order by seq desc limit 50`,
  );
  for (const e of events) {
    if (!e.node_id || !actionNodes.has(e.node_id)) continue;
    if (e.kind === "exit") return e.reason === "failed" ? { nodeId: e.node_id, reason: e.reason, seq: e.seq } : null;
    // The last action visit decides: a later successful action means there is nothing to retry.
    return e.output === "failed" ? { nodeId: e.node_id, reason: e.reason, seq: e.seq } : null;
  }
  return null;
}

/**
 * Runs the instance's failed step again, once: a new visit of that node (a new provider
 * idempotency key, because the old key's outcome is a recorded failure the provider layer would
 * answer again), attempt 1, through a new outbox row. The instance is back inside the journey at
 * that node; a `retry` record (reason `operator_retry`) marks the moment on the timeline, and a
 * previous `exit` record becomes `exit_retried` so the instance still has exactly one exit.
 */
export async function retryFailedStep(services: OperationServices, actor: OperationActor, instanceId: string): Promise<OperationResult> {
  const now = services.now().getTime();
  const result = await transaction(services.db, async (tx) => {
    const { inst } = await lockInstance(tx, actor, instanceId);
    const current = inst.state!;
    const actionNodes = new Set(Object.values(inst.program.nodes).filter((n) => n.role === "action").map((n) => n.id));
    const failed = await findFailedStep(tx, instanceId, current, actionNodes);
    if (!failed) throw new InstanceOperationError("not_failed", "The instance has no failed step to retry.");
    if (current.status === "completed") {
      await rows(tx, sql`update journey_node_events set kind = ${RETRIED_EXIT_KIND} where instance_id = ${instanceId}::uuid and kind = 'exit'`);
    }
    adopt(inst, retryStep(inst.program, current, failed.nodeId, now));
    const batch = new Batch(now, noHooks);
    batch.add(inst);
    return finish(services, tx, batch, {
      actor,
      action: "instance.step_retried",
      instanceId,
      details: { journeyId: inst.journeyId, userId: inst.userId, nodeId: failed.nodeId, previousReason: failed.reason },
    });
  });
  await notify(services);
  return result;
}
