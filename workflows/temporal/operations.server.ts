import { sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { insertAuditEntry as recordAudit } from "../../db/audit";
import type { InstanceState } from "../interpreter";
import { cancelStep, retryStep } from "../operator";
import { rows, transaction } from "../embedded/db.server";
import {
  findFailedStep,
  InstanceOperationError,
  RETRIED_EXIT_KIND,
  type OperationActor,
  type OperationResult,
} from "../embedded/operations.server";
import type { ProgramCache } from "../embedded/programs.server";
import { loadUsers, userKey } from "../embedded/users.server";
import type { WorkflowGateway } from "./client";
import { recordsOf, type InstanceRef, type JourneyWorkflowInput, type OperatorAction, type OperatorOutcome, type OperatorRefusal, type RunCommand } from "./contract";
import { activeInstanceIds, insertNodeEvents, instanceById, updateInstance, type TemporalInstanceRow } from "./store.server";

/**
 * Operator actions on Temporal-driven instances, with the embedded engine's codes, records and
 * audit entries (decision 0517). A running instance is changed by its own workflow, through the
 * `journeyOperate` Update: the workflow validates the action against its state, applies the same
 * pure step the embedded engine applies (workflows/operator.ts) and answers once the records are
 * stored; the audit entry follows the answer. Only an instance whose workflow is no longer open
 * is changed here, in the database: a finished one being retried (its workflow id is then
 * started again) and an active row whose workflow never started (cancel).
 */

export interface TemporalOperationDeps {
  db: Db;
  now(): Date;
  gateway: WorkflowGateway;
  programs: ProgramCache;
  /** Test and tuning knobs a restarted workflow's input carries, as every other input does. */
  knobs: Pick<JourneyWorkflowInput, "historyLimit" | "clock">;
}

async function requireRow(deps: TemporalOperationDeps, actor: OperationActor, instanceId: string): Promise<TemporalInstanceRow> {
  const row = await instanceById(deps.db, actor.workspaceId, instanceId);
  if (!row) throw new InstanceOperationError("not_found", "No such instance in this workspace.");
  return row;
}

const MESSAGES: Record<OperatorRefusal, string> = {
  already_finished: "The instance has already finished.",
  not_waiting: "The instance is not in a wait that can be ended now.",
  not_failed: "The instance has no failed step to retry.",
};

/** The workflow's answer, or the embedded engine's error for its refusal. */
async function operate(deps: TemporalOperationDeps, instanceId: string, action: OperatorAction): Promise<OperatorOutcome | "not_running"> {
  const answer = await deps.gateway.operate(instanceId, action);
  if (!("refused" in answer)) return answer;
  if (answer.refused === "not_running") return "not_running";
  throw new InstanceOperationError(answer.refused, MESSAGES[answer.refused]);
}

function refOf(row: TemporalInstanceRow): InstanceRef {
  return { workspaceId: row.workspaceId, journeyId: row.journeyId, versionId: row.versionId, instanceId: row.id, userId: row.userId };
}

function result(instanceId: string, outcome: { status: InstanceState["status"]; nodeId: string | null }): OperationResult {
  return { instanceId, status: outcome.status, nodeId: outcome.nodeId };
}

/** Cancels without an audit entry (single cancels add theirs, bulk cancels one for all). */
async function cancelOne(deps: TemporalOperationDeps, actor: OperationActor, instanceId: string): Promise<OperationResult & { row: TemporalInstanceRow }> {
  const row = await requireRow(deps, actor, instanceId);
  if (row.state.status === "completed") throw new InstanceOperationError("already_finished", MESSAGES.already_finished);
  const outcome = await operate(deps, instanceId, { kind: "cancel" });
  if (outcome !== "not_running") return { ...result(instanceId, outcome), row };
  // An active row without an open workflow (its start was lost): nothing else writes it.
  return transaction(deps.db, async (tx) => {
    const locked = await instanceById(tx, actor.workspaceId, instanceId, true);
    if (!locked || locked.state.status === "completed") throw new InstanceOperationError("already_finished", MESSAGES.already_finished);
    const { driver: _driver, ...state } = locked.state;
    const now = deps.now().getTime();
    const step = cancelStep(state, now, false);
    await insertNodeEvents(tx, refOf(locked), recordsOf(step.commands));
    await updateInstance(tx, instanceId, step.state, now, true);
    return { ...result(instanceId, step.state), row };
  });
}

export async function cancelTemporalInstance(deps: TemporalOperationDeps, actor: OperationActor, instanceId: string): Promise<OperationResult> {
  const { row, ...done } = await cancelOne(deps, actor, instanceId);
  await recordAudit(deps.db, {
    ...actor,
    action: "instance.cancelled",
    target: instanceId,
    details: { journeyId: row.journeyId, userId: row.userId, nodeId: done.nodeId, inFlight: false, engine: "temporal" },
  });
  return done;
}

/** Cancels each instance as `cancelTemporalInstance` does, a few at once, without audit entries; returns how many. */
export async function cancelTemporalInstances(deps: TemporalOperationDeps, actor: OperationActor, instanceIds: readonly string[], concurrency = 16): Promise<number> {
  let cancelled = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, instanceIds.length) }, async () => {
      while (next < instanceIds.length) {
        const id = instanceIds[next++];
        try {
          await cancelOne(deps, actor, id);
          cancelled += 1;
        } catch (error) {
          // Finished meanwhile: nothing to cancel.
          if (!(error instanceof InstanceOperationError && (error.code === "already_finished" || error.code === "not_found"))) throw error;
        }
      }
    }),
  );
  return cancelled;
}

export async function skipTemporalWait(deps: TemporalOperationDeps, actor: OperationActor, instanceId: string): Promise<OperationResult> {
  const row = await requireRow(deps, actor, instanceId);
  if (row.state.status === "completed") throw new InstanceOperationError("already_finished", MESSAGES.already_finished);
  const block = row.state.block;
  const outcome = await operate(deps, instanceId, { kind: "skipWait" });
  if (outcome === "not_running") throw new InstanceOperationError("busy", "The instance's workflow is not running; try again shortly.");
  await recordAudit(deps.db, {
    ...actor,
    action: "instance.wait_skipped",
    target: instanceId,
    details: {
      journeyId: row.journeyId,
      userId: row.userId,
      nodeId: block?.nodeId ?? null,
      ...(block && "purpose" in block ? { purpose: block.purpose } : {}),
      ...(block && "until" in block && block.until !== null ? { until: new Date(block.until).toISOString() } : {}),
      engine: "temporal",
    },
  });
  return result(instanceId, outcome);
}

/**
 * Retries the failed step (found in the node events, as on the embedded engine). A running
 * workflow retries it itself; a finished instance is revived in the database (its `exit` becomes
 * `exit_retried`, the `retry` record and state are stored with the audit entry) and its workflow
 * id started again from that state with the step's run as its first command.
 */
export async function retryTemporalStep(deps: TemporalOperationDeps, actor: OperationActor, instanceId: string): Promise<OperationResult> {
  const row = await requireRow(deps, actor, instanceId);
  await deps.programs.load(deps.db, [row.versionId]);
  const program = deps.programs.get(row.versionId);
  if (!program) throw new InstanceOperationError("not_found", "The instance's journey version is missing.");
  const actionNodes = new Set(Object.values(program.nodes).filter((n) => n.role === "action").map((n) => n.id));
  const failed = await findFailedStep(deps.db, instanceId, row.state, actionNodes);
  if (!failed) throw new InstanceOperationError("not_failed", MESSAGES.not_failed);
  const details = { journeyId: row.journeyId, userId: row.userId, nodeId: failed.nodeId, previousReason: failed.reason, engine: "temporal" };

  if (row.state.status === "active") {
    const outcome = await operate(deps, instanceId, { kind: "retry", nodeId: failed.nodeId });
    if (outcome === "not_running") throw new InstanceOperationError("busy", "The instance's workflow is not running; try again shortly.");
    await recordAudit(deps.db, { ...actor, action: "instance.step_retried", target: instanceId, details });
    return result(instanceId, outcome);
  }

  const revived = await transaction(deps.db, async (tx) => {
    const locked = await instanceById(tx, actor.workspaceId, instanceId, true);
    if (!locked || locked.state.status !== "completed") throw new InstanceOperationError("not_failed", MESSAGES.not_failed);
    const { driver: _driver, ...state } = locked.state;
    const now = deps.now().getTime();
    const step = retryStep(program, state, failed.nodeId, now);
    await rows(tx, sql`update journey_node_events set kind = ${RETRIED_EXIT_KIND} where instance_id = ${instanceId}::uuid and kind = 'exit'`);
    await insertNodeEvents(tx, refOf(locked), recordsOf(step.commands));
    await updateInstance(tx, instanceId, step.state, now, true);
    await recordAudit(tx as unknown as Db, { ...actor, action: "instance.step_retried", target: instanceId, details });
    const [journey] = await rows<{ held: boolean }>(tx, sql`select held from journeys where id = ${locked.journeyId}::uuid`);
    const run = step.commands.find((c): c is RunCommand => c.type === "run")!;
    return { row: locked, state: step.state, run, held: journey?.held ?? false };
  });
  const users = await loadUsers(deps.db, [{ workspaceId: row.workspaceId, userId: row.userId }]);
  const user = users.get(userKey(row.workspaceId, row.userId))!;
  await deps.gateway.restart({
    instance: refOf(row),
    program,
    workspaceTimezone: revived.state.workspaceTimezone,
    entry: { now: row.enteredAt, user },
    resume: { state: revived.state, user, committedSeq: revived.state.seq, seen: [], run: revived.run, ...(revived.held ? { held: true } : {}) },
    ...deps.knobs,
  });
  return result(instanceId, revived.state);
}

/**
 * Holds (or releases) a journey's running Temporal instances: one signal each, a few at once.
 * Returns how many workflows got it (instances without an open workflow have nothing to hold).
 */
export async function holdTemporalInstances(deps: TemporalOperationDeps, journeyId: string, held: boolean, concurrency = 32): Promise<number> {
  const ids = await activeInstanceIds(deps.db, journeyId);
  let signalled = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, ids.length) }, async () => {
      while (next < ids.length) {
        if (await deps.gateway.hold(ids[next++], { held })) signalled += 1;
      }
    }),
  );
  return signalled;
}
