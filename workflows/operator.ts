import type { Command, CompletionReason, InstanceState, NodeRecord, RecordBody, StepResult } from "./interpreter";
import type { JourneyProgram } from "./program";

/**
 * Operator actions as pure steps on an instance's state, so both engines change an instance
 * identically: the embedded engine inside its row lock (embedded/operations.server.ts), the
 * Temporal workflow in its Update handler's turn (temporal/workflows.ts). Like the interpreter,
 * they never read the clock: `now` comes in.
 */

/**
 * Completion reason of a cancelled instance. Not one of the interpreter's own reasons (an
 * operator decision, not a journey outcome); stored and counted like them (`exitReasons.cancelled`).
 */
export const CANCELLED_REASON = "cancelled";

function copy(state: InstanceState): InstanceState {
  return { ...state, visits: { ...state.visits }, branches: [...state.branches] };
}

function record(state: InstanceState, body: RecordBody, now: number): Command {
  state.seq += 1;
  return { type: "record", record: { ...body, instanceId: state.instanceId, seq: state.seq, at: now } satisfies NodeRecord };
}

/**
 * Ends an active instance now (reason `cancelled`) with one `exit` record. `inFlight`: a side
 * effect already executing cannot be recalled, so its outcome will still be recorded (`orphanRun`).
 */
export function cancelStep(before: InstanceState, now: number, inFlight: boolean): StepResult {
  const state = copy(before);
  if (inFlight && state.block?.kind === "run") state.orphanRun = { runId: state.block.runId, nodeId: state.block.nodeId };
  const commands = [record(state, { kind: "exit", reason: CANCELLED_REASON as CompletionReason, nodeId: state.nodeId }, now)];
  state.status = "completed";
  state.reason = CANCELLED_REASON as CompletionReason;
  state.block = null;
  return { state, commands };
}

/** The deadline of a wait that can be ended now, or null (not waiting, or waiting without one). */
export function skippableUntil(state: InstanceState): number | null {
  const block = state.status === "active" ? state.block : null;
  if (!block || (block.kind !== "sleep" && block.kind !== "event") || block.until === null) return null;
  return block.until;
}

/** The state whose wait ends now; the caller then feeds it the `timer` input the deadline would. */
export function skipState(state: InstanceState, now: number): InstanceState {
  const block = state.block!;
  if (block.kind !== "sleep" && block.kind !== "event") throw new Error("not a wait");
  return { ...state, block: { ...block, until: Math.min(block.until ?? now, now) } } as InstanceState;
}

/**
 * Runs a failed action node again, once: a new visit (a new provider idempotency key, because
 * the old key's outcome is a recorded failure the provider layer would answer again), attempt 1.
 * The instance is back inside the journey at that node; a `retry` record (reason
 * `operator_retry`) marks the moment. The caller re-kinds an earlier `exit` (`exit_retried`).
 */
export function retryStep(program: JourneyProgram, before: InstanceState, nodeId: string, now: number): StepResult {
  const node = program.nodes[nodeId];
  if (!node || node.role !== "action") throw new Error(`node ${nodeId} is not an action node`);
  const state = copy(before);
  delete state.orphanRun;
  delete state.reason;
  state.status = "active";
  state.nodeId = node.id;
  state.visits[node.id] = (state.visits[node.id] ?? 0) + 1;
  state.dispatches += 1;
  const runId = `${state.instanceId}:r${state.dispatches}`;
  state.block = { kind: "run", nodeId: node.id, runId, attempt: 1 };
  const commands: Command[] = [
    record(state, { kind: "retry", nodeId: node.id, attempt: 1, reason: "operator_retry", retryAt: now }, now),
    {
      type: "run",
      runId,
      nodeId: node.id,
      nodeType: node.type,
      config: node.config,
      idempotencyKey: `${state.instanceId}:${node.id}:${state.visits[node.id]}`,
      attempt: 1,
      ...(state.entryEvent ? { event: state.entryEvent } : {}),
    },
  ];
  return { state, commands };
}
