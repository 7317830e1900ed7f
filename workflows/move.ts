import { enterAt, type Command, type CompletionReason, type InputBase, type InstanceState, type NodeRecord, type RecordBody } from "./interpreter";
import type { JourneyProgram } from "./program";

/**
 * Moving users to a new version (docs/engines.md "Moving users to a new version", decisions
 * 1130–1134) as pure steps, so both engines change an instance identically.
 *
 * A move plan maps every node where users of an older version wait now to a node of the new
 * version, or exits them there. Nodes that exist in both versions map by id unless the operator
 * says otherwise. The moved instance enters its target node at the move as if an edge led there:
 * a wait's deadline is computed from the new node's settings starting now, a wait for event
 * listens for the new node's event with a new timeout, a message node sends.
 */

/** Completion reason of users exited by a move ("Exited at the move to a new version"). */
export const MOVED_OUT_REASON = "moved_out";

/** The `left` output recorded on the old version's node for users who moved. */
export const MOVED_OUTPUT = "moved";

export type MoveTarget = { to: string } | { exit: true };

/** Old node id → where its users go. Nodes not named map by id when the new version has them. */
export type MovePlan = Record<string, MoveTarget>;

/** A node of an older version where users wait now. */
export interface OccupiedNode {
  versionId: string;
  version: number;
  nodeId: string;
  users: number;
  /** The node's label and type in that version's document (for naming it to the operator). */
  label?: string;
  type?: string;
}

export type MovePlanProblem =
  | { code: "unmapped"; nodeId: string; version: number }
  | { code: "unknown_target"; nodeId: string; target: string }
  | { code: "trigger_target"; nodeId: string; target: string };

/**
 * Where each occupied node's users go, or the problems that refuse the plan (nothing is moved
 * then). Users of the new version itself are never moved.
 */
export function resolveMovePlan(
  newProgram: JourneyProgram,
  occupied: readonly OccupiedNode[],
  plan: MovePlan,
): { ok: true; targets: Map<string, MoveTarget> } | { ok: false; problems: MovePlanProblem[] } {
  const problems: MovePlanProblem[] = [];
  const targets = new Map<string, MoveTarget>();
  for (const o of occupied) {
    if (targets.has(o.nodeId)) continue;
    const chosen = plan[o.nodeId] ?? (newProgram.nodes[o.nodeId] && o.nodeId !== newProgram.triggerId ? { to: o.nodeId } : undefined);
    if (!chosen) {
      if (!problems.some((p) => p.code === "unmapped" && p.nodeId === o.nodeId)) problems.push({ code: "unmapped", nodeId: o.nodeId, version: o.version });
      continue;
    }
    if ("to" in chosen) {
      if (!newProgram.nodes[chosen.to]) {
        problems.push({ code: "unknown_target", nodeId: o.nodeId, target: chosen.to });
        continue;
      }
      if (chosen.to === newProgram.triggerId) {
        problems.push({ code: "trigger_target", nodeId: o.nodeId, target: chosen.to });
        continue;
      }
    }
    targets.set(o.nodeId, chosen);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, targets };
}

/**
 * Whether an instance takes part in a move. Holdout users (they get nothing) and users past
 * their path's end (watched for the goal only) stay on their version; so do instances whose
 * side effect a worker is executing right now (the caller decides that and answers `busy`).
 */
export function movable(state: InstanceState): boolean {
  if (state.status !== "active" || !state.block || state.holdout) return false;
  return !(state.block.kind === "event" && (state.block.purpose === "holdout" || state.block.purpose === "goal_watch"));
}

export interface MoveResult {
  /** Records of the old version: `left` by `moved`, or the `exit` of a user exited by the move. */
  oldRecords: NodeRecord[];
  state: InstanceState;
  /** Commands under the new version (`moved`, `entered` and what follows); empty for an exit. */
  commands: Command[];
}

function record(state: InstanceState, body: RecordBody, now: number): NodeRecord {
  state.seq += 1;
  return { ...body, instanceId: state.instanceId, seq: state.seq, at: now } as NodeRecord;
}

/**
 * Moves one instance: it leaves its node of the old version (`left` by `moved`) and enters
 * `target` of the new program, or ends there (`exit`, reason `moved_out`).
 */
export function moveStep(
  newProgram: JourneyProgram,
  before: InstanceState,
  target: MoveTarget,
  versions: { from: string; to: string },
  input: InputBase,
): MoveResult {
  const state: InstanceState = { ...before, visits: { ...before.visits }, branches: [...before.branches] };
  const now = input.now;
  const fromNodeId = state.nodeId;
  if ("exit" in target) {
    const exit = record(state, { kind: "exit", reason: MOVED_OUT_REASON as CompletionReason, nodeId: fromNodeId }, now);
    state.status = "completed";
    state.reason = MOVED_OUT_REASON as CompletionReason;
    state.block = null;
    return { oldRecords: [exit], state, commands: [] };
  }
  const left = fromNodeId ? [record(state, { kind: "left", nodeId: fromNodeId, output: MOVED_OUTPUT }, now)] : [];
  const moved = record(state, { kind: "moved", nodeId: target.to, fromVersionId: versions.from, toVersionId: versions.to, fromNodeId }, now);
  // Visits carry over: a message node visited before the move gets a new idempotency key.
  state.branches = state.branches.filter((b) => newProgram.nodes[b.nodeId]);
  if (state.lastMessageNodeId && !newProgram.nodes[state.lastMessageNodeId]) state.lastMessageNodeId = null;
  const result = enterAt(newProgram, state, target.to, { ...input, type: "timer" });
  return { oldRecords: left, state: result.state, commands: [{ type: "record", record: moved }, ...result.commands] };
}
