import { historyFromJSON } from "@temporalio/common/lib/proto-utils";
import type { temporal } from "@temporalio/proto";
import { matchesFilters } from "../../nodes/filters";
import type { JourneyEvent, UserSnapshot } from "../../nodes/runtime";
import { awaitedMatchers, step, wakeAt, type Command, type Input, type InstanceState, type NodeRecord } from "../../workflows/interpreter";
import type { JourneyProgram } from "../../workflows/program";
import { simulate, type SimulateInput, type Trace } from "../../workflows/simulate";
import {
  ENTER_SIGNAL,
  EVENT_SIGNAL,
  WORKFLOW_TYPE,
  commitOf,
  digestOf,
  entryStep,
  recordsOf,
  stepDigest,
  timerInput,
  type Commit,
  type EventSignal,
  type InstanceRef,
  type JourneyWorkflowInput,
  type VerifyStep,
} from "../../workflows/temporal/contract";
import { instanceIdOf, recording, type StepCall } from "./step-recorder";

/**
 * Turns a scenario run into the exact Temporal event histories `journeyWorkflow` produces.
 *
 * The simulator is the reference: its interpreter calls (captured by the step recorder) say which
 * inputs reached each instance, when, with which profile and which action results. `InstanceModel`
 * then plays the workflow's part a second time, written independently of workflows.ts: it decides
 * which activities, timers and signals the workflow issues and writes the history events a Temporal
 * server would record. Replaying those histories against the real workflow bundle proves the two
 * agree command for command; the model also checks that every step it takes yields exactly what
 * the simulator's step yielded, so the workflow walks the same path as the reference.
 *
 * Timing: activities complete at the instant they are scheduled (as in the simulator), so every
 * workflow task runs at the virtual time of the stimulus that caused it.
 */

export const REPLAY_TASK_QUEUE = "waypost-replay";
const WORKSPACE_ID = "00000000-0000-4000-8000-000000000001";

type HistoryEventJson = Record<string, unknown> & { eventId: string; eventType: string };

export interface BuiltHistory {
  workflowId: string;
  /** proto3 JSON, as `temporal workflow show --output json` prints it. */
  json: { events: HistoryEventJson[] };
  history: temporal.api.history.v1.IHistory;
}

export interface ActionCount {
  workflowStarts: number;
  signals: number;
  activities: number;
  timers: number;
  /** Workflow tasks are not billed by Temporal Cloud; reported for completeness. */
  workflowTasks: number;
  /** starts + signals + activities + timers: Temporal Cloud's billable actions for this history. */
  billable: number;
  byActivity: Record<string, number>;
}

export interface InstanceHistories {
  instanceId: string;
  userId: string;
  /** One per run: the first, then one per continue-as-new. */
  runs: BuiltHistory[];
  completed: boolean;
  /** Node records in the order the engine and the activities would store them (first write wins). */
  records: NodeRecord[];
}

// ---------------------------------------------------------------- proto3 JSON helpers

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

export function jsonPayload(value: unknown) {
  return { metadata: { encoding: b64("json/plain") }, data: b64(JSON.stringify(value)) };
}

const timestamp = (ms: number) => new Date(ms).toISOString();
const duration = (ms: number) => `${(ms / 1000).toFixed(3)}s`;

const SEND_RETRY = { initialInterval: "5s", backoffCoefficient: 2, maximumInterval: "60s", maximumAttempts: 3 };
const BOOKKEEPING_RETRY = { initialInterval: "1s", backoffCoefficient: 2, maximumInterval: "300s", maximumAttempts: 0 };

/** Appends events with consecutive ids; tracks the workflow task the next commands belong to. */
class HistoryWriter {
  readonly events: HistoryEventJson[] = [];
  private taskScheduled = 0;
  private taskCompleted = 0;
  /** Started event id of the current workflow task: what `workflowInfo().historyLength` reports. */
  taskStarted = 0;
  private flagsWritten = false;

  constructor(private readonly runId: string) {}

  private add(type: string, attributesKey: string, attributes: Record<string, unknown>, at: number): number {
    const eventId = this.events.length + 1;
    this.events.push({ eventId: String(eventId), eventTime: timestamp(at), eventType: `EVENT_TYPE_${type}`, taskId: String(1_048_576 + eventId), [attributesKey]: attributes });
    return eventId;
  }

  started(input: JourneyWorkflowInput, at: number, continuedFrom?: string): void {
    this.add("WORKFLOW_EXECUTION_STARTED", "workflowExecutionStartedEventAttributes", {
      workflowType: { name: WORKFLOW_TYPE },
      taskQueue: { name: REPLAY_TASK_QUEUE, kind: "TASK_QUEUE_KIND_NORMAL" },
      input: { payloads: [jsonPayload(input)] },
      workflowExecutionTimeout: "0s",
      workflowRunTimeout: "0s",
      workflowTaskTimeout: "10s",
      originalExecutionRunId: this.runId,
      firstExecutionRunId: this.runId,
      attempt: 1,
      identity: "waypost-history-builder",
      header: {},
      ...(continuedFrom ? { continuedExecutionRunId: continuedFrom, initiator: "CONTINUE_AS_NEW_INITIATOR_WORKFLOW" } : {}),
    }, at);
  }

  signaled(name: string, payload: unknown, at: number): void {
    this.add("WORKFLOW_EXECUTION_SIGNALED", "workflowExecutionSignaledEventAttributes", {
      signalName: name,
      input: { payloads: [jsonPayload(payload)] },
      identity: "waypost-engine",
      header: {},
    }, at);
  }

  /** Scheduled, started and completed: the commands the task issued follow it. */
  workflowTask(at: number): void {
    this.taskScheduled = this.add("WORKFLOW_TASK_SCHEDULED", "workflowTaskScheduledEventAttributes", {
      taskQueue: { name: REPLAY_TASK_QUEUE, kind: "TASK_QUEUE_KIND_NORMAL" },
      startToCloseTimeout: "10s",
      attempt: 1,
    }, at);
    this.taskStarted = this.add("WORKFLOW_TASK_STARTED", "workflowTaskStartedEventAttributes", {
      scheduledEventId: String(this.taskScheduled),
      identity: "replay-worker",
      requestId: `req-${this.taskScheduled}`,
      historySizeBytes: String(this.events.length * 512),
    }, at);
    const sdkMetadata = this.flagsWritten ? {} : { coreUsedFlags: [1, 2, 3], langUsedFlags: [1, 2], sdkName: "temporal-typescript", sdkVersion: "1.24.0" };
    this.flagsWritten = true;
    this.taskCompleted = this.add("WORKFLOW_TASK_COMPLETED", "workflowTaskCompletedEventAttributes", {
      scheduledEventId: String(this.taskScheduled),
      startedEventId: String(this.taskStarted),
      identity: "replay-worker",
      sdkMetadata,
      meteringMetadata: {},
    }, at);
  }

  activityScheduled(seq: number, type: string, request: unknown, at: number, sends: boolean): number {
    return this.add("ACTIVITY_TASK_SCHEDULED", "activityTaskScheduledEventAttributes", {
      activityId: String(seq),
      activityType: { name: type },
      taskQueue: { name: REPLAY_TASK_QUEUE, kind: "TASK_QUEUE_KIND_NORMAL" },
      header: {},
      input: { payloads: [jsonPayload(request)] },
      scheduleToCloseTimeout: "0s",
      scheduleToStartTimeout: "0s",
      startToCloseTimeout: sends ? "120s" : "60s",
      heartbeatTimeout: "0s",
      workflowTaskCompletedEventId: String(this.taskCompleted),
      retryPolicy: sends ? SEND_RETRY : BOOKKEEPING_RETRY,
    }, at);
  }

  activityCompleted(scheduledEventId: number, result: unknown, at: number): void {
    const startedEventId = this.add("ACTIVITY_TASK_STARTED", "activityTaskStartedEventAttributes", {
      scheduledEventId: String(scheduledEventId),
      identity: "activity-worker",
      requestId: `act-${scheduledEventId}`,
      attempt: 1,
    }, at);
    this.add("ACTIVITY_TASK_COMPLETED", "activityTaskCompletedEventAttributes", {
      result: { payloads: [jsonPayload(result)] },
      scheduledEventId: String(scheduledEventId),
      startedEventId: String(startedEventId),
      identity: "activity-worker",
    }, at);
  }

  timerStarted(seq: number, ms: number, at: number): number {
    return this.add("TIMER_STARTED", "timerStartedEventAttributes", {
      timerId: String(seq),
      startToFireTimeout: duration(ms),
      workflowTaskCompletedEventId: String(this.taskCompleted),
    }, at);
  }

  timerFired(seq: number, startedEventId: number, at: number): void {
    this.add("TIMER_FIRED", "timerFiredEventAttributes", { timerId: String(seq), startedEventId: String(startedEventId) }, at);
  }

  timerCanceled(seq: number, startedEventId: number, at: number): void {
    this.add("TIMER_CANCELED", "timerCanceledEventAttributes", {
      timerId: String(seq),
      startedEventId: String(startedEventId),
      workflowTaskCompletedEventId: String(this.taskCompleted),
      identity: "replay-worker",
    }, at);
  }

  completed(result: unknown, at: number): void {
    this.add("WORKFLOW_EXECUTION_COMPLETED", "workflowExecutionCompletedEventAttributes", {
      result: { payloads: [jsonPayload(result)] },
      workflowTaskCompletedEventId: String(this.taskCompleted),
    }, at);
  }

  continuedAsNew(input: JourneyWorkflowInput, newRunId: string, at: number): void {
    this.add("WORKFLOW_EXECUTION_CONTINUED_AS_NEW", "workflowExecutionContinuedAsNewEventAttributes", {
      newExecutionRunId: newRunId,
      workflowType: { name: WORKFLOW_TYPE },
      taskQueue: { name: REPLAY_TASK_QUEUE, kind: "TASK_QUEUE_KIND_NORMAL" },
      input: { payloads: [jsonPayload(input)] },
      workflowRunTimeout: "0s",
      workflowTaskTimeout: "10s",
      workflowTaskCompletedEventId: String(this.taskCompleted),
      initiator: "CONTINUE_AS_NEW_INITIATOR_WORKFLOW",
      header: {},
    }, at);
  }
}

// ---------------------------------------------------------------- the workflow model

export class ModelMismatch extends Error {
  constructor(instanceId: string, message: string) {
    super(`${instanceId}: ${message}`);
    this.name = "ModelMismatch";
  }
}

export interface InstanceScript {
  instance: InstanceRef;
  entryKey: string;
  program: JourneyProgram;
  workspaceTimezone: string;
  entry: { now: number; user: UserSnapshot; event?: JourneyEvent };
  /** The simulator's calls for this instance after the start, in the order it made them. */
  calls: StepCall[];
  historyLimit?: number;
}

interface ModelTimer {
  seq: number;
  until: number;
  startedEventId: number;
  fired: boolean;
}

const runIdFor = (instanceId: string, run: number) => {
  const hex = digestOf([instanceId, run]);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(1, 4)}-${hex.slice(4, 16)}`;
};

/**
 * Plays journeyWorkflow against the recorded world. Field names follow workflows.ts so the two
 * read side by side; the logic is written here a second time on purpose.
 */
class InstanceModel {
  private readonly runs: BuiltHistory[] = [];
  private readonly stored = new Map<number, NodeRecord>();
  private writer!: HistoryWriter;
  private runNumber = 0;
  private now: number;
  private activitySeq = 0;
  private timerSeq = 0;
  private state: InstanceState | null = null;
  private user: UserSnapshot;
  /** The profile the simulator used last: what a verifying or recording activity would load. */
  private freshUser: UserSnapshot;
  private committedSeq = 0;
  private pending: NodeRecord[] = [];
  private replace = false;
  private unverified: VerifyStep | null = null;
  private timer: ModelTimer | null = null;
  private seen: string[] = [];
  private cursor = 0;
  private input!: JourneyWorkflowInput;
  /** The simulator's timer call behind the current unverified step. */
  private wakeCall: StepCall | null = null;

  constructor(private readonly script: InstanceScript) {
    this.now = script.entry.now;
    this.user = script.entry.user;
    this.freshUser = script.entry.user;
  }

  private fail(message: string): never {
    throw new ModelMismatch(this.script.instance.instanceId, message);
  }

  build(): InstanceHistories {
    const { instance, program, workspaceTimezone, entry } = this.script;
    // The engine stores the entry step's records with the instance row (pre-commit).
    const entryResult = entryStep(program, instance, workspaceTimezone, entry);
    const commit = commitOf(recordsOf(entryResult.commands));
    this.input = {
      instance,
      program,
      workspaceTimezone,
      entry: { ...entry, ...(commit ? { commit } : {}) },
      ...(this.script.historyLimit !== undefined ? { historyLimit: this.script.historyLimit } : {}),
    };
    this.seen = entry.event?.id ? [entry.event.id] : [];
    this.beginRun(this.input);
    this.writer.signaled(ENTER_SIGNAL, { entryKey: this.script.entryKey }, this.now);
    this.writer.workflowTask(this.now);

    this.store(recordsOf(entryResult.commands));
    this.state = entryResult.state;
    this.accept(entryResult.commands, commit);
    let commands = entryResult.commands;
    for (;;) {
      const next = this.take(commands);
      if (next?.type === "run") {
        commands = this.executeNode(next);
        continue;
      }
      if (next?.type === "evaluate") {
        commands = this.evaluate(next);
        continue;
      }
      if (this.pending.length > 0) {
        const restepped = this.flush();
        if (restepped) {
          commands = restepped;
          continue;
        }
      }
      const state = this.state!;
      if (state.status === "completed") {
        this.writer.completed({ reason: state.reason, seq: state.seq }, this.now);
        this.closeRun();
        this.expectNoMoreCalls();
        return { instanceId: instance.instanceId, userId: instance.userId, runs: this.runs, completed: true, records: [...this.stored.values()] };
      }
      if (this.writer.taskStarted >= (this.script.historyLimit ?? 2_000)) this.continueAsNew(state);
      const woken = this.wake();
      if (woken === null) {
        this.closeRun();
        return { instanceId: instance.instanceId, userId: instance.userId, runs: this.runs, completed: false, records: [...this.stored.values()] };
      }
      commands = woken;
    }
  }

  private beginRun(input: JourneyWorkflowInput, continuedFrom?: string): void {
    this.runNumber += 1;
    this.writer = new HistoryWriter(runIdFor(this.script.instance.instanceId, this.runNumber));
    this.writer.started(input, this.now, continuedFrom);
    this.activitySeq = 0;
    this.timerSeq = 0;
    this.timer = null;
  }

  private closeRun(): void {
    const json = { events: this.writer.events };
    this.runs.push({ workflowId: this.script.instance.instanceId, json, history: historyFromJSON(json) });
  }

  private continueAsNew(state: InstanceState): void {
    const next: JourneyWorkflowInput = {
      ...this.input,
      resume: { state, user: this.user, committedSeq: this.committedSeq, seen: [...this.seen] },
    };
    const newRunId = runIdFor(this.script.instance.instanceId, this.runNumber + 1);
    this.writer.continuedAsNew(next, newRunId, this.now);
    this.closeRun();
    this.input = next;
    this.beginRun(next, runIdFor(this.script.instance.instanceId, this.runNumber));
    this.writer.workflowTask(this.now);
    // The new run starts with its state and nothing pending: straight to waiting.
  }

  /** ON CONFLICT (instance_id, seq) DO NOTHING. */
  private store(records: readonly NodeRecord[]): void {
    for (const record of records) if (!this.stored.has(record.seq)) this.stored.set(record.seq, record);
  }

  // ------------------------------------------------------------ stimuli from the recording

  private nextCall(): StepCall | undefined {
    return this.script.calls[this.cursor];
  }

  private expectNoMoreCalls(): void {
    const rest = this.script.calls.slice(this.cursor).filter((c) => c.result.commands.length > 0);
    if (rest.length > 0) this.fail(`instance completed but the simulator applied ${rest.length} more input(s)`);
  }

  private isIgnored(call: StepCall): boolean {
    return call.result.state === call.before && call.result.commands.length === 0;
  }

  /** The simulator's step for the input the workflow is about to apply must yield the same. */
  private expectSame(call: StepCall, result: { state: InstanceState; commands: Command[] }): void {
    if (stepDigest(call.result) !== stepDigest(result)) {
      this.fail(`step on ${call.input.type} at ${new Date(call.input.now).toISOString()} differs from the simulator's`);
    }
  }

  /** Next event or timer the simulator applied; ignored timers and unrouted events are skipped. */
  private wake(): Command[] | null {
    this.armTimer();
    for (;;) {
      const call = this.nextCall();
      if (!call) return null;
      this.cursor += 1;
      if (call.input.type === "timer") {
        if (this.isIgnored(call)) continue;
        const timer = this.timer;
        if (!timer || timer.until > call.input.now) this.fail(`simulator fired a timer at ${new Date(call.input.now).toISOString()} the workflow does not have`);
        this.now = call.input.now;
        this.freshUser = call.input.user;
        this.writer.timerFired(timer.seq, timer.startedEventId, this.now);
        timer.fired = true;
        this.writer.workflowTask(this.now);
        this.wakeCall = call;
        return this.apply(timerInput(this.now, this.user), true, call);
      }
      if (call.input.type === "event") {
        const event = call.input.event;
        const routed = awaitedMatchers(this.script.program, this.state!, call.input.now).some(
          (m) => m.event === event.name && matchesFilters(event.properties, m.filters),
        );
        if (!routed) {
          if (!this.isIgnored(call)) this.fail(`event ${event.name} changed the instance although no awaited matcher routes it`);
          continue;
        }
        this.now = call.input.now;
        this.freshUser = call.input.user;
        const messageId = event.id ?? `${event.name}@${this.now}#${this.cursor}`;
        const signal: EventSignal = { messageId, event, user: call.input.user };
        this.writer.signaled(EVENT_SIGNAL, signal, this.now);
        this.writer.workflowTask(this.now);
        this.seen.push(messageId);
        if (this.seen.length > 256) this.seen.shift();
        this.user = call.input.user;
        // An event the workflow ignores still cost a task; it goes back to waiting from the top.
        return this.apply({ type: "event", now: this.now, user: call.input.user, event }, false, call);
      }
      this.fail(`unexpected ${call.input.type} input while the workflow waits`);
    }
  }

  private apply(input: Input, staleProfile: boolean, call?: StepCall): Command[] {
    const before = this.state!;
    const result = step(this.script.program, before, input);
    if (result.state === before && result.commands.length === 0) {
      if (call && !this.isIgnored(call)) this.fail(`the workflow ignores a ${input.type} the simulator applied`);
      return [];
    }
    // A wake with a stale profile may legitimately differ: the verifying activity sorts it out.
    if (call && !staleProfile) this.expectSame(call, result);
    this.state = result.state;
    this.unverified = staleProfile ? { before, now: input.now, digest: stepDigest(result) } : null;
    return result.commands;
  }

  private accept(commands: Command[], commit: Commit | undefined): void {
    if (!commit) return;
    const ours = commitOf(recordsOf(commands));
    if (ours && ours.seq === commit.seq && ours.digest === commit.digest) this.committedSeq = commit.seq;
    else this.replace = true;
  }

  private take(commands: Command[]): Command | undefined {
    let next: Command | undefined;
    for (const command of commands) {
      if (command.type === "record") {
        if (command.record.seq > this.committedSeq) this.pending.push(command.record);
      } else if (next) {
        this.fail(`two commands to act on: ${next.type}, ${command.type}`);
      } else {
        next = command;
      }
    }
    return next;
  }

  // ------------------------------------------------------------ activities

  private base() {
    return {
      instance: this.script.instance,
      programHash: this.script.program.hash,
      records: this.pending,
      ...(this.unverified ? { verify: this.unverified } : {}),
      ...(this.replace ? { replace: true } : {}),
    };
  }

  /** What a verifying activity answers: stale when the current profile changes the step. */
  private verifyOutcome(): { stale: true; now: number; user: UserSnapshot } | null {
    const verify = this.unverified;
    if (!verify) return null;
    const fresh = step(this.script.program, verify.before, timerInput(verify.now, this.freshUser));
    return stepDigest(fresh) === verify.digest ? null : { stale: true, now: this.now, user: this.freshUser };
  }

  private schedule(type: string, request: unknown, sends: boolean): number {
    this.disarmTimer();
    this.activitySeq += 1;
    return this.writer.activityScheduled(this.activitySeq, type, request, this.now, sends);
  }

  private executeNode(command: Extract<Command, { type: "run" }>): Command[] {
    const request = { ...this.base(), state: this.state!, command };
    const scheduled = this.schedule("executeNode", request, true);
    const stale = this.verifyOutcome();
    if (stale) return this.completeStale(scheduled, stale);
    const call = this.nextCall();
    if (call?.input.type !== "actionResult" || call.input.runId !== command.runId) {
      this.fail(`expected the simulator's result for run ${command.runId}, found ${call?.input.type ?? "nothing"}`);
    }
    this.cursor += 1;
    const input = call.input;
    this.store(this.pending);
    // The activity's pre-commit: the same step, run where the result is known.
    const precommit = step(this.script.program, this.state!, input);
    this.store(recordsOf(precommit.commands));
    const commit = commitOf(recordsOf(precommit.commands));
    const outcome = { now: input.now, user: input.user, result: input.result, ...(commit ? { commit } : {}) };
    this.writer.activityCompleted(scheduled, outcome, this.now);
    this.now = input.now;
    this.writer.workflowTask(this.now);
    this.settled(input.user);
    const commands = this.apply(input, false, call);
    this.accept(commands, commit);
    return commands;
  }

  private evaluate(command: Extract<Command, { type: "evaluate" }>): Command[] {
    const request = { ...this.base(), state: this.state!, command };
    const scheduled = this.schedule("evaluateCondition", request, false);
    const stale = this.verifyOutcome();
    if (stale) return this.completeStale(scheduled, stale);
    const call = this.nextCall();
    if (call?.input.type !== "evaluation" || call.input.nodeId !== command.nodeId) {
      this.fail(`expected the simulator's evaluation of ${command.nodeId}, found ${call?.input.type ?? "nothing"}`);
    }
    this.cursor += 1;
    const input = call.input;
    this.store(this.pending);
    const precommit = step(this.script.program, this.state!, input);
    this.store(recordsOf(precommit.commands));
    const commit = commitOf(recordsOf(precommit.commands));
    const outcome = { now: input.now, user: input.user, output: input.output, ...(commit ? { commit } : {}) };
    this.writer.activityCompleted(scheduled, outcome, this.now);
    this.now = input.now;
    this.writer.workflowTask(this.now);
    this.settled(input.user);
    const commands = this.apply(input, false, call);
    this.accept(commands, commit);
    return commands;
  }

  private flush(): Command[] | null {
    const request = { ...this.base(), state: this.state! };
    const scheduled = this.schedule("recordProgress", request, false);
    const stale = this.verifyOutcome();
    if (stale) return this.completeStale(scheduled, stale);
    this.store(this.pending);
    this.writer.activityCompleted(scheduled, { now: this.now, user: this.freshUser }, this.now);
    this.writer.workflowTask(this.now);
    this.settled(this.freshUser);
    return null;
  }

  private completeStale(scheduled: number, stale: { stale: true; now: number; user: UserSnapshot }): Command[] {
    this.writer.activityCompleted(scheduled, stale, this.now);
    this.writer.workflowTask(this.now);
    const verify = this.unverified!;
    this.unverified = null;
    this.user = stale.user;
    this.pending = this.pending.filter((r) => r.seq <= verify.before.seq);
    const result = step(this.script.program, verify.before, timerInput(verify.now, stale.user));
    if (this.wakeCall) this.expectSame(this.wakeCall, result);
    this.state = result.state;
    return result.commands;
  }

  private settled(user: UserSnapshot): void {
    this.committedSeq = Math.max(this.committedSeq, ...this.pending.map((r) => r.seq));
    this.pending = [];
    this.replace = false;
    this.unverified = null;
    this.user = user;
  }

  // ------------------------------------------------------------ timers

  private armTimer(): void {
    const until = wakeAt(this.state!);
    if (this.timer && this.timer.until === until && !this.timer.fired) return;
    this.disarmTimer(true);
    if (until === null) return;
    this.timerSeq += 1;
    const startedEventId = this.writer.timerStarted(this.timerSeq, Math.max(1, until - this.now), this.now);
    this.timer = { seq: this.timerSeq, until, startedEventId, fired: false };
  }

  private disarmTimer(always = false): void {
    const timer = this.timer;
    if (!timer) return;
    if (!always && !timer.fired && timer.until === wakeAt(this.state!)) return;
    this.timer = null;
    if (!timer.fired) this.writer.timerCanceled(timer.seq, timer.startedEventId, this.now);
  }
}

// ---------------------------------------------------------------- scenarios → histories

export interface ScenarioHistories {
  trace: Trace;
  instances: InstanceHistories[];
}

/**
 * Runs the simulator on a scenario and builds every instance's histories (workflow id = the
 * simulator's instance id).
 */
export function buildScenarioHistories(input: SimulateInput, options: { historyLimit?: number; workspaceId?: string } = {}): ScenarioHistories {
  const { value: trace, calls } = recording(() => simulate(input));
  const byInstance = new Map<string, StepCall[]>();
  for (const call of calls) {
    const id = instanceIdOf(call);
    const list = byInstance.get(id) ?? [];
    list.push(call);
    byInstance.set(id, list);
  }
  const instances: InstanceHistories[] = [];
  for (const [simId, list] of byInstance) {
    const start = list[0];
    if (start.input.type !== "start") throw new Error(`${simId}: first recorded call is ${start.input.type}, not start`);
    const program = start.program;
    const userId = start.input.user.id;
    // The simulator names instances sim:<user>:<n>, n being the user's n-th entry: the same
    // ordinal the engine keys entries by, so the simulator's id serves as the workflow id here.
    const ordinal = simId.slice(simId.lastIndexOf(":") + 1);
    const instance: InstanceRef = { workspaceId: options.workspaceId ?? WORKSPACE_ID, journeyId: program.id, versionId: program.hash, instanceId: simId, userId };
    const entryInput = start.input;
    const model = new InstanceModel({
      instance,
      entryKey: ordinal,
      program,
      workspaceTimezone: entryInput.workspaceTimezone,
      entry: { now: entryInput.now, user: entryInput.user, ...(entryInput.event ? { event: entryInput.event } : {}) },
      calls: list.slice(1),
      ...(options.historyLimit !== undefined ? { historyLimit: options.historyLimit } : {}),
    });
    instances.push(model.build());
  }
  return { trace, instances };
}

export function countActions(runs: readonly BuiltHistory[]): ActionCount {
  const count: ActionCount = { workflowStarts: 0, signals: 0, activities: 0, timers: 0, workflowTasks: 0, billable: 0, byActivity: {} };
  for (const run of runs) {
    for (const event of run.json.events) {
      switch (event.eventType) {
        case "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED":
          count.workflowStarts += 1;
          break;
        case "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED":
          count.signals += 1;
          break;
        case "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED": {
          count.activities += 1;
          const name = (event.activityTaskScheduledEventAttributes as { activityType: { name: string } }).activityType.name;
          count.byActivity[name] = (count.byActivity[name] ?? 0) + 1;
          break;
        }
        case "EVENT_TYPE_TIMER_STARTED":
          count.timers += 1;
          break;
        case "EVENT_TYPE_WORKFLOW_TASK_COMPLETED":
          count.workflowTasks += 1;
          break;
      }
    }
  }
  count.billable = count.workflowStarts + count.signals + count.activities + count.timers;
  return count;
}
