import { canonicalJson, contentHash } from "../hash";
import { step, type Command, type Input, type InstanceState, type NodeRecord } from "../interpreter";
import type { JourneyProgram } from "../program";
import type { MoveTarget } from "../move";
import type { ActionResult, JourneyEvent, UserSnapshot } from "../../nodes/runtime";

/**
 * What the journey workflow, its activities, the client and the test history builder agree on.
 * Deterministic and free of Node APIs: the workflow bundle imports it.
 *
 * The two ideas that keep the action count low (docs/decisions/0501-temporal-action-budget.md):
 *
 * - **Pre-commit.** An activity that produces an interpreter input (a send result, a condition
 *   outcome) also runs the pure `step` on that input itself and stores the node events it yields,
 *   returning a `Commit` (last seq + digest). The workflow then runs the same step — same state,
 *   same input, so the same records — sees the digest match and stores nothing more. Node events
 *   after a send therefore cost no extra activity. The engine does the same for the entry step.
 * - **Verify.** At a timer wake the workflow steps with the last profile it saw, which may be days
 *   old. The first activity after the wake re-runs that step against the current profile; if the
 *   outcome differs it does nothing and returns the fresh profile (`stale`), and the workflow
 *   re-steps. Decisions that read traits or the user's zone are thus never made on stale data,
 *   without paying for a profile load at every wake.
 */

export const WORKFLOW_TYPE = "journeyWorkflow";
export const EVENT_SIGNAL = "journeyEvent";
export const ENTER_SIGNAL = "journeyEnter";
export const STATE_QUERY = "journeyState";
export const OPERATE_UPDATE = "journeyOperate";
export const HOLD_SIGNAL = "journeyHold";

/** Identity of one instance. `instanceId` (the `journey_instances` row id) is also the Temporal workflow id. */
export interface InstanceRef {
  workspaceId: string;
  journeyId: string;
  versionId: string;
  instanceId: string;
  userId: string;
}

/** Records of one step that are already stored: up to `seq`, with this digest. */
export interface Commit {
  seq: number;
  digest: string;
}

export interface Entry {
  /** Entry time (epoch ms): the start input's `now`. */
  now: number;
  user: UserSnapshot;
  event?: JourneyEvent;
  /** The engine stored the entry step's records with the instance row. */
  commit?: Commit;
}

/** Carried over `continueAsNew`. */
export interface Resume {
  state: InstanceState;
  user: UserSnapshot;
  committedSeq: number;
  /** Recent event message ids, so a redelivered signal is still ignored after the hand-over. */
  seen: string[];
  /** A run to dispatch first: an operator retried the step of a finished instance (its state is already stored). */
  run?: RunCommand;
  /** Started while its journey is paused with "hold". */
  held?: boolean;
  /** Clock mode: journey time of the last input (see the workflow's `inputTime`). */
  pinnedNow?: number;
}

/**
 * Journey time as a linear function of Temporal's clock: `origin + (temporalNow - realOrigin) *
 * rate`. Absent in production (journey time is Temporal's time); the live test suite sets it to
 * run a two-week scenario in a couple of minutes against a real server.
 */
export interface JourneyClock {
  origin: number;
  realOrigin: number;
  rate: number;
}

export function journeyTime(clock: JourneyClock | undefined, realNow: number): number {
  return clock ? clock.origin + (realNow - clock.realOrigin) * clock.rate : realNow;
}

export interface JourneyWorkflowInput {
  instance: InstanceRef;
  /** The version the user entered; carried unchanged for the life of the instance. */
  program: JourneyProgram;
  workspaceTimezone: string;
  entry: Entry;
  resume?: Resume;
  /** History length after which the workflow continues as new (tests lower it). */
  historyLimit?: number;
  clock?: JourneyClock;
}

export interface JourneyWorkflowResult {
  reason: InstanceState["reason"];
  seq: number;
}

/** A user event for a running instance. `messageId` makes redelivery harmless. */
export interface EventSignal {
  messageId: string;
  event: JourneyEvent;
  /** The profile when the event was routed. */
  user: UserSnapshot;
  /** Clock mode only: the journey time the event happened at, which the workflow steps at. */
  at?: number;
}

/**
 * An operator action on a running instance, sent as a Temporal Update: validated against the
 * workflow's own state, answered once its records are stored (docs/decisions/0517).
 * `retry.nodeId` is the failed step the app found in the node events.
 */
export type OperatorAction =
  | { kind: "cancel" }
  | { kind: "skipWait" }
  | { kind: "retry"; nodeId: string }
  /** Move to a new version of the journey (workflows/move.ts): the workflow runs `program` from then on. */
  | { kind: "move"; versionId: string; program: JourneyProgram; target: MoveTarget };

/** Codes an Update refuses with (the ApplicationFailure type), as the embedded engine's errors. */
export type OperatorRefusal = "already_finished" | "not_waiting" | "not_failed";

/** The instance after the action. Actions apply between steps, so a cancel never races a send in flight. */
export interface OperatorOutcome {
  status: InstanceState["status"];
  nodeId: string | null;
}

/** Pause with "hold" (`held: true`) or resume: held instances take no step until released. */
export interface HoldSignal {
  held: boolean;
}

/** Sent with signal-with-start; identical for every attempt of one entry. */
export interface EnterSignal {
  entryKey: string;
}

/** A step made with a profile that may be stale, for the next activity to re-check. */
export interface VerifyStep {
  before: InstanceState;
  now: number;
  digest: string;
}

interface ActivityRequestBase {
  instance: InstanceRef;
  programHash: string;
  /** Node events the workflow has not stored yet: stored first (idempotent by seq). */
  records: NodeRecord[];
  verify?: VerifyStep;
  /** Replace stored records of the same seq (a pre-commit digest did not match). */
  replace?: boolean;
  /** Clock mode only: the workflow's journey time, which the activity acts at. */
  now?: number;
}

export type RunCommand = Extract<Command, { type: "run" }>;
export type EvaluateCommand = Extract<Command, { type: "evaluate" }>;

export interface ExecuteNodeRequest extends ActivityRequestBase {
  /** State after the step that dispatched the command (blocked on this run). */
  state: InstanceState;
  command: RunCommand;
}

export interface EvaluateConditionRequest extends ActivityRequestBase {
  state: InstanceState;
  command: EvaluateCommand;
}

export interface RecordProgressRequest extends ActivityRequestBase {
  /** State after the records: the instance row (node, status, awaited events) follows it. */
  state: InstanceState;
}

export type Stale = { stale: true; now: number; user: UserSnapshot };
export type Outcome<T> = Stale | ({ stale?: undefined; now: number; user: UserSnapshot; commit?: Commit } & T);

/** The activity interface; the workflow imports this type only. */
export interface JourneyActivities {
  executeNode(request: ExecuteNodeRequest): Promise<Outcome<{ result: ActionResult }>>;
  evaluateCondition(request: EvaluateConditionRequest): Promise<Outcome<{ output: string }>>;
  recordProgress(request: RecordProgressRequest): Promise<Outcome<Record<never, never>>>;
}

export function digestOf(value: unknown): string {
  return contentHash(canonicalJson(value));
}

export function recordsOf(commands: readonly Command[]): NodeRecord[] {
  return commands.flatMap((c) => (c.type === "record" ? [c.record] : []));
}

/** The commit describing exactly these records (undefined when there are none). */
export function commitOf(records: readonly NodeRecord[]): Commit | undefined {
  if (records.length === 0) return undefined;
  return { seq: records[records.length - 1].seq, digest: digestOf(records) };
}

/** What a verifying activity compares: every command and the resulting state. */
export function stepDigest(result: { state: InstanceState; commands: readonly Command[] }): string {
  return digestOf({ state: result.state, commands: result.commands });
}

/** The timer input a verifying activity re-runs with the current profile. */
export function timerInput(now: number, user: UserSnapshot): Input {
  return { type: "timer", now, user };
}

/** The entry step, as the engine pre-commits it and the workflow re-runs it. */
export function entryStep(program: JourneyProgram, instance: InstanceRef, workspaceTimezone: string, entry: Omit<Entry, "commit">) {
  return step(program, null, {
    type: "start",
    now: entry.now,
    user: entry.user,
    instanceId: instance.instanceId,
    workspaceTimezone,
    ...(entry.event ? { event: entry.event } : {}),
  });
}
