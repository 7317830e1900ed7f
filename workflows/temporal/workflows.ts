import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from "@temporalio/workflow";
import { step, wakeAt, type Command, type Input, type InstanceState, type NodeRecord } from "../interpreter";
import type { ActionResult, UserSnapshot } from "../../nodes/runtime";
import { cancelStep, retryStep, skippableUntil, skipState } from "../operator";
import { movable, moveStep } from "../move";
import type { JourneyProgram } from "../program";
import {
  ENTER_SIGNAL,
  EVENT_SIGNAL,
  HOLD_SIGNAL,
  OPERATE_UPDATE,
  STATE_QUERY,
  commitOf,
  entryStep,
  journeyTime,
  recordsOf,
  stepDigest,
  timerInput,
  type Commit,
  type EnterSignal,
  type EvaluateCommand,
  type EventSignal,
  type HoldSignal,
  type JourneyActivities,
  type JourneyWorkflowInput,
  type JourneyWorkflowResult,
  type OperatorAction,
  type OperatorOutcome,
  type OperatorRefusal,
  type Outcome,
  type RunCommand,
  type Stale,
  type VerifyStep,
} from "./contract";

/**
 * One user's run through one journey version: the pure interpreter's loop on Temporal.
 *
 * Commands map to: `run` → the `executeNode` activity (one per side effect), `evaluate` → the
 * `evaluateCondition` activity, `sleep`/`waitForEvent` → one timer per deadline plus the event
 * signal, `record` → batched into the next activity (see contract.ts for pre-commit and verify).
 *
 * Versioning: the program travels in the input and across continue-as-new, so an instance stays
 * on the version it entered. Any change to this file or to `step` that alters the commands an
 * existing history produces must be guarded with `patched()` (docs/engines.md, "Changing the
 * workflow"); the replay suite in test/temporal fails when that is forgotten.
 */

// Sends: a few quick retries for worker or database trouble, then the interpreter's own backoff
// takes over (a failed activity becomes a `retry` result), so a provider outage never loses a user.
// Activities heartbeat while they run (activities.ts, worker.ts): an attempt on a worker that died
// is retried after its heartbeat timeout instead of the whole start-to-close timeout (decision
// 1201). A send's is longer than the send path's claim on a message (60 s, nodes/channels): its
// retry takes the message over instead of finding it still claimed by the dead worker.
// Timeouts are not part of replay: changing them needs no `patched()`.
const sends = proxyActivities<JourneyActivities>({
  startToCloseTimeout: "2 minutes",
  heartbeatTimeout: "75 seconds",
  retry: { initialInterval: "5 seconds", backoffCoefficient: 2, maximumInterval: "1 minute", maximumAttempts: 3 },
});

// Bookkeeping is idempotent and must eventually succeed: retried without limit.
const bookkeeping = proxyActivities<JourneyActivities>({
  startToCloseTimeout: "1 minute",
  heartbeatTimeout: "20 seconds",
  retry: { initialInterval: "1 second", backoffCoefficient: 2, maximumInterval: "5 minutes" },
});

export const eventSignal = defineSignal<[EventSignal]>(EVENT_SIGNAL);
export const enterSignal = defineSignal<[EnterSignal]>(ENTER_SIGNAL);
export const stateQuery = defineQuery<InstanceState | null>(STATE_QUERY);
export const operateUpdate = defineUpdate<OperatorOutcome, [OperatorAction]>(OPERATE_UPDATE);
export const holdSignal = defineSignal<[HoldSignal]>(HOLD_SIGNAL);

/** Far below Temporal's 50k-event limit; keeps replays of busy instances cheap. */
export const DEFAULT_HISTORY_LIMIT = 2_000;
const SEEN_LIMIT = 256;

export async function journeyWorkflow(input: JourneyWorkflowInput): Promise<JourneyWorkflowResult> {
  return new JourneyRun(input).run();
}

/** An operator action: queued by the Update handler, applied by the loop, answered once stored. */
interface Ticket {
  action: OperatorAction;
  outcome?: OperatorOutcome;
  refusal?: OperatorRefusal;
  done: boolean;
}

interface Deadline {
  until: number;
  fired: boolean;
  scope: CancellationScope;
  done: Promise<void>;
}

class JourneyRun {
  private state: InstanceState | null;
  private user: UserSnapshot;
  private committedSeq: number;
  /** Records not stored yet; they ride on the next activity. */
  private pending: NodeRecord[] = [];
  private replace = false;
  /** The last step, when it was made with a profile that may be stale. */
  private unverified: VerifyStep | null = null;
  private readonly inbox: EventSignal[] = [];
  private readonly seen: string[];
  private timer: Deadline | null = null;
  /** Operator actions not applied yet, and applied ones whose records are not stored yet. */
  private readonly operations: Ticket[] = [];
  private readonly unstored: Ticket[] = [];
  /** Paused with "hold": no step is taken (no send, no condition, no timer or event applied) until released. */
  private held: boolean;
  /** Journey time of the latest input (clock mode only; see `inputTime`). */
  private pinned: number;

  /** The version's program and the instance's identity; a move to a new version changes both. */
  private program: JourneyProgram;
  private instance: JourneyWorkflowInput["instance"];

  constructor(private readonly input: JourneyWorkflowInput) {
    this.program = input.program;
    this.instance = input.instance;
    this.state = input.resume?.state ?? null;
    this.pinned = input.resume?.pinnedNow ?? input.entry.now;
    this.user = input.resume?.user ?? input.entry.user;
    this.committedSeq = input.resume?.committedSeq ?? 0;
    this.seen = input.resume?.seen ?? (input.entry.event?.id ? [input.entry.event.id] : []);
    this.held = input.resume?.held ?? false;

    setHandler(eventSignal, (signal) => {
      if (this.seen.includes(signal.messageId)) return;
      this.seen.push(signal.messageId);
      if (this.seen.length > SEEN_LIMIT) this.seen.shift();
      this.inbox.push(signal);
    });
    // Signal-with-start always carries this; every attempt of one entry sends the same key to the
    // same workflow id, so a second delivery is by definition a retry and there is nothing to do.
    setHandler(enterSignal, () => undefined);
    setHandler(stateQuery, () => this.state);
    setHandler(holdSignal, ({ held }) => {
      this.held = held;
    });
    setHandler(
      operateUpdate,
      async (action) => {
        const ticket: Ticket = { action, done: false };
        this.operations.push(ticket);
        await condition(() => ticket.done);
        if (ticket.refusal) throw ApplicationFailure.nonRetryable(`operator action refused: ${ticket.refusal}`, ticket.refusal);
        return ticket.outcome!;
      },
      // Refused before it enters the history when the state already rules it out; checked again
      // when applied, since an activity in flight may change the state meanwhile.
      {
        validator: (action) => {
          const refusal = this.refusal(action);
          if (refusal) throw ApplicationFailure.nonRetryable(`operator action refused: ${refusal}`, refusal);
        },
      },
    );
  }

  async run(): Promise<JourneyWorkflowResult> {
    let commands = this.state ? (this.input.resume?.run ? [this.input.resume.run] : []) : this.enter();
    for (;;) {
      const next = this.take(commands);
      if (this.operations.length > 0) {
        commands = await this.operate(next);
        continue;
      }
      // What an operator did is stored before anything it leads to runs, so the Update's answer
      // comes after its records are in the database, not after the next send.
      if (this.unstored.length > 0 && this.pending.length > 0) {
        const restepped = await this.flush();
        if (restepped) {
          commands = restepped;
          continue;
        }
      }
      if (this.held && (next?.type === "run" || next?.type === "evaluate")) {
        await condition(() => !this.held || this.operations.length > 0);
        commands = [next];
        continue;
      }
      if (next?.type === "run") {
        commands = await this.executeNode(next);
        continue;
      }
      if (next?.type === "evaluate") {
        commands = await this.evaluate(next);
        continue;
      }
      if (this.pending.length > 0) {
        const restepped = await this.flush();
        if (restepped) {
          commands = restepped;
          continue;
        }
      }
      const state = this.state!;
      if (state.status === "completed") {
        // A cancel's Update answers in this task; the run must not end before it has.
        if (!allHandlersFinished()) await condition(allHandlersFinished);
        return { reason: state.reason, seq: state.seq };
      }
      if (this.inbox.length === 0 && !this.held && this.operations.length === 0 && this.historyIsLong()) {
        await continueAsNew<typeof journeyWorkflow>({
          ...this.input,
          program: this.program,
          instance: this.instance,
          resume: { state, user: this.user, committedSeq: this.committedSeq, seen: [...this.seen], ...(this.input.clock ? { pinnedNow: this.pinned } : {}) },
        });
      }
      commands = await this.wake();
    }
  }

  // ------------------------------------------------------------------ inputs

  private enter(): Command[] {
    const { program, instance, workspaceTimezone, entry } = this.input;
    const result = entryStep(program, instance, workspaceTimezone, entry);
    this.state = result.state;
    this.accept(result.commands, entry.commit);
    return result.commands;
  }

  /** Waits for an event or the deadline, and applies whichever comes first. */
  private async wake(): Promise<Command[]> {
    await this.armTimer();
    // While held, events stay in the inbox and a fired timer stays fired: both apply on release.
    await condition(() => this.operations.length > 0 || (!this.held && (this.inbox.length > 0 || this.timer?.fired === true)));
    if (this.operations.length > 0) return await this.operate(undefined);
    if (this.inbox.length > 0) {
      const signal = this.inbox.shift()!;
      this.user = signal.user;
      return this.apply({ type: "event", now: this.inputTime(signal.at), user: signal.user, event: signal.event });
    }
    return this.apply(timerInput(this.inputTime(this.timer?.until), this.user), true);
  }

  private apply(input: Input, staleProfile = false): Command[] {
    const before = this.state!;
    const result = step(this.program, before, input);
    // The interpreter hands back the same state object when an input does not apply.
    if (result.state === before && result.commands.length === 0) return [];
    this.state = result.state;
    this.unverified = staleProfile ? { before, now: input.now, digest: stepDigest(result) } : null;
    return result.commands;
  }

  // ------------------------------------------------------------------ operator actions

  private refusal(action: OperatorAction): OperatorRefusal | null {
    const state = this.state;
    if (!state || state.status === "completed") return "already_finished";
    if (action.kind === "skipWait" && skippableUntil(state) === null) return "not_waiting";
    if (action.kind === "retry" && (state.block?.kind === "run" || state.block?.kind === "evaluate" || !this.program.nodes[action.nodeId])) return "not_failed";
    if (action.kind === "move" && !movable(state)) return "not_waiting";
    return null;
  }

  /**
   * Applies the first queued operator action between steps (never while an activity is in
   * flight). `next` is the command the last step left to act on: dropped when the action takes
   * the instance elsewhere, handed back when the action is refused.
   */
  private async operate(next: Command | undefined): Promise<Command[]> {
    const ticket = this.operations.shift()!;
    const refusal = this.refusal(ticket.action);
    const keep = next ? [next] : [];
    if (refusal) {
      ticket.refusal = refusal;
      ticket.done = true;
      return keep;
    }
    const state = this.state!;
    const now = this.inputTime();
    let commands: Command[];
    if (ticket.action.kind === "cancel") {
      // Nothing is in flight between steps: a dispatched run that has not started is dropped.
      const result = cancelStep(state, now, false);
      this.state = result.state;
      commands = result.commands;
    } else if (ticket.action.kind === "skipWait") {
      this.state = skipState(state, now);
      commands = this.apply(timerInput(now, this.user), true);
    } else if (ticket.action.kind === "move") {
      const action = ticket.action;
      if (this.pending.length > 0) {
        // What came before the move is stored under the old version first.
        const restepped = await this.flush();
        if (restepped) {
          this.operations.unshift(ticket);
          return restepped;
        }
      }
      const moved = moveStep(action.program, this.state!, action.target, { from: this.instance.versionId, to: action.versionId }, { now, user: this.user });
      this.pending.push(...moved.oldRecords);
      if (moved.commands.length === 0) {
        // Exited at the move: the exit is the old version's record.
        this.state = moved.state;
        commands = [];
      } else {
        // The old version's `left` is stored under it; then the instance runs the new version.
        this.state = { ...this.state!, seq: moved.oldRecords.at(-1)?.seq ?? this.state!.seq };
        await this.flush();
        this.program = action.program;
        this.instance = { ...this.instance, versionId: action.versionId };
        this.state = moved.state;
        commands = moved.commands;
      }
    } else {
      const result = retryStep(this.program, state, ticket.action.nodeId, now);
      this.state = result.state;
      commands = result.commands;
    }
    ticket.outcome = { status: this.state!.status, nodeId: this.state!.nodeId };
    this.unstored.push(ticket);
    return commands;
  }

  /** Everything pending is stored: answers the operator actions applied so far. */
  private answerStored(): void {
    for (const ticket of this.unstored.splice(0)) ticket.done = true;
  }

  /** Applies an input whose records the activity may already have stored. */
  private applyCommitted(input: Input, commit: Commit | undefined): Command[] {
    const commands = this.apply(input);
    this.accept(commands, commit);
    return commands;
  }

  private accept(commands: Command[], commit: Commit | undefined): void {
    if (!commit) return;
    const ours = commitOf(recordsOf(commands));
    if (ours && ours.seq === commit.seq && ours.digest === commit.digest) this.committedSeq = commit.seq;
    // Stored records differ from ours (a worker running other interpreter code): ours win.
    else this.replace = true;
  }

  /** Queues the step's records and returns its one non-record command, if any. */
  private take(commands: Command[]): Command | undefined {
    let next: Command | undefined;
    for (const command of commands) {
      if (command.type === "record") {
        if (command.record.seq > this.committedSeq) this.pending.push(command.record);
      } else if (next) {
        throw new Error(`interpreter returned two commands to act on: ${next.type}, ${command.type}`);
      } else {
        next = command;
      }
    }
    return next;
  }

  // ------------------------------------------------------------------ activities

  private base() {
    return {
      instance: this.instance,
      programHash: this.program.hash,
      records: this.pending,
      ...(this.unverified ? { verify: this.unverified } : {}),
      ...(this.replace ? { replace: true } : {}),
      // Clock mode: the activity acts at the workflow's journey time, not its own magnified one.
      ...(this.input.clock ? { now: this.pinned } : {}),
    };
  }

  private async executeNode(command: RunCommand): Promise<Command[]> {
    await this.disarmTimer();
    let outcome: Outcome<{ result: ActionResult }>;
    try {
      outcome = await sends.executeNode({ ...this.base(), state: this.state!, command });
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      // Unsent records stay pending (storing them is idempotent) and the interpreter retries the
      // node later with backoff, finally leaving by `failed`. An attempt may have stored records
      // of a result this workflow never sees: the next store replaces them.
      this.replace = true;
      const reason = error.cause?.message ?? error.message;
      return this.apply({ type: "actionResult", now: this.inputTime(), user: this.user, runId: command.runId, result: { retry: { reason } } });
    }
    if (outcome.stale) return this.restep(outcome);
    this.settled(outcome.user, outcome.now);
    return this.applyCommitted(
      { type: "actionResult", now: outcome.now, user: outcome.user, runId: command.runId, result: outcome.result },
      outcome.commit,
    );
  }

  private async evaluate(command: EvaluateCommand): Promise<Command[]> {
    await this.disarmTimer();
    const outcome = await bookkeeping.evaluateCondition({ ...this.base(), state: this.state!, command });
    if (outcome.stale) return this.restep(outcome);
    this.settled(outcome.user, outcome.now);
    return this.applyCommitted(
      { type: "evaluation", now: outcome.now, user: outcome.user, nodeId: command.nodeId, output: outcome.output },
      outcome.commit,
    );
  }

  /** Stores pending records; returns new commands when the step had to be redone. */
  private async flush(): Promise<Command[] | null> {
    await this.disarmTimer();
    const outcome = await bookkeeping.recordProgress({ ...this.base(), state: this.state! });
    if (outcome.stale) return this.restep(outcome);
    this.settled(outcome.user, outcome.now);
    return null;
  }

  private settled(user: UserSnapshot, now: number): void {
    if (this.input.clock) this.pinned = Math.max(this.pinned, now);
    this.committedSeq = Math.max(this.committedSeq, ...this.pending.map((r) => r.seq));
    this.pending = [];
    this.replace = false;
    this.unverified = null;
    this.answerStored();
    this.user = user;
  }

  /** The profile changed the last step's outcome: redo it with the fresh one, unverified this time. */
  private restep(stale: Stale): Command[] {
    const verify = this.unverified!;
    this.unverified = null;
    this.user = stale.user;
    this.pending = this.pending.filter((r) => r.seq <= verify.before.seq);
    const result = step(this.program, verify.before, timerInput(verify.now, stale.user));
    this.state = result.state;
    return result.commands;
  }

  // ------------------------------------------------------------------ timers

  /** One timer per deadline: it survives events that leave the deadline unchanged. */
  private async armTimer(): Promise<void> {
    const until = wakeAt(this.state!);
    if (this.timer && this.timer.until === until && !this.timer.fired) return;
    await this.disarmTimer(true);
    if (until === null) return;
    const scope = new CancellationScope();
    const deadline: Deadline = { until, fired: false, scope, done: Promise.resolve() };
    const clock = this.input.clock;
    const ms = (until - this.now()) / (clock ? clock.rate : 1);
    deadline.done = scope.run(() => sleep(Math.max(1, ms))).then(
      () => {
        deadline.fired = true;
      },
      (error: unknown) => {
        if (!isCancellation(error)) throw error;
      },
    );
    this.timer = deadline;
  }

  /** Cancels the timer unless it still serves the current deadline (or `always`). */
  private async disarmTimer(always = false): Promise<void> {
    const timer = this.timer;
    if (!timer) return;
    if (!always && !timer.fired && timer.until === wakeAt(this.state!)) return;
    this.timer = null;
    if (timer.fired) return;
    timer.scope.cancel();
    // Awaiting the cancellation puts the cancel command before whatever this task does next.
    await timer.done;
  }

  /** Journey time: Temporal's deterministic workflow clock, through the input's clock if any. */
  private now(): number {
    return journeyTime(this.input.clock, Date.now());
  }

  /**
   * The `now` of an interpreter input. Production: Temporal's clock. Clock mode (live suites,
   * benchmarks): the time the input belongs to — a timer's deadline, an event's routing time —
   * never earlier than the last input's, so task latency magnified by the clock's rate neither
   * shifts decisions nor accumulates from wait to wait (decision 0508).
   */
  private inputTime(at?: number): number {
    if (!this.input.clock) return Date.now();
    this.pinned = Math.max(this.pinned, at ?? this.now());
    return this.pinned;
  }

  private historyIsLong(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= (this.input.historyLimit ?? DEFAULT_HISTORY_LIMIT);
  }
}
