import type { MessageChannel } from "../nodes/define";
import type { ActionResult, JourneyEvent, UserSnapshot } from "../nodes/runtime";
import { matchesFilters, type PropertyFilter } from "../nodes/filters";
import type { WaitConfig } from "../nodes/wait/definition";
import { waitUntil, waitUsesUserZone } from "../nodes/wait/compute";
import type { WaitForEventConfig } from "../nodes/wait-for-event/definition";
import type { ConditionConfig } from "../nodes/condition/definition";
import { conditionNeedsFacts, evaluateCondition, traitFacts } from "../nodes/condition/evaluate";
import type { SplitConfig } from "../nodes/split/definition";
import { chooseSplitBranch } from "../nodes/split/choose";
import { durationMs } from "../nodes/duration";
import type { JourneyProgram, ProgramNode } from "./program";
import { unitHash } from "./hash";
import { isValidZone, resolveZone } from "./time";

/**
 * The pure journey interpreter: `step(program, state, input) → { state, commands }`.
 *
 * It never reads the clock, randomness or any store: time arrives as `input.now`, randomness
 * is a hash of (user, node), and data a condition needs arrives as an `evaluation` input. Both
 * engines (embedded Postgres, Temporal) and the simulator drive this same function, which is
 * what makes a journey behave identically everywhere. The contract is documented in
 * docs/nodes.md ("Interpreter contract").
 */

// ---------------------------------------------------------------- inputs

export interface InputBase {
  /** Epoch ms of the moment the input is applied. */
  now: number;
  /** Fresh profile snapshot: waits and conditions read current traits and zone. */
  user: UserSnapshot;
}

export type Input =
  | (InputBase & { type: "start"; instanceId: string; workspaceTimezone: string; event?: JourneyEvent })
  /** A sleep or wait deadline has passed (early or stale timers are ignored). */
  | (InputBase & { type: "timer" })
  /** A user event, or an internal one such as `$message.delivered`. Non-matching events are ignored. */
  | (InputBase & { type: "event"; event: JourneyEvent })
  | (InputBase & { type: "actionResult"; runId: string; result: ActionResult })
  | (InputBase & { type: "evaluation"; nodeId: string; output: string });

// ---------------------------------------------------------------- records and commands

export type CompletionReason = "exit_node" | "goal" | "exit_criteria" | "holdout" | "failed";

/**
 * sent/failed: the send attempt's outcome (one per visit). deferred: quiet hours, tried later.
 * delivered/delivery_failed/not_delivered: what the delivery wait observed (deliveryTimeoutMs).
 */
export type MessageStatus = "sent" | "failed" | "deferred" | "delivered" | "delivery_failed" | "not_delivered";

export interface BranchStep {
  nodeId: string;
  output: string;
}

export type RecordBody =
  | { kind: "entered"; nodeId: string }
  | { kind: "left"; nodeId: string; output: string; reason?: string }
  | {
      kind: "message";
      nodeId: string;
      channel: MessageChannel;
      status: MessageStatus;
      attempt: number;
      messageId?: string;
      reason?: string;
      deferUntil?: number;
    }
  | { kind: "retry"; nodeId: string; attempt: number; reason: string; retryAt: number }
  | {
      kind: "conversion";
      event: string;
      /** Where the user was when they converted. */
      nodeId: string | null;
      /** The last message node that sent successfully, if any. */
      attributedNodeId: string | null;
      /** Split/condition choices so far, for per-branch conversion. */
      path: BranchStep[];
      holdout: boolean;
    }
  | { kind: "exit"; reason: CompletionReason; nodeId: string | null }
  | { kind: "holdout"; nodeId: string }
  | { kind: "tz_fallback"; nodeId: string; reason: "missing" | "invalid"; given: string | null; zone: string }
  /** An operator moved the instance to this version (workflows/move.ts); recorded under the new version, before `entered`. */
  | { kind: "moved"; nodeId: string; fromVersionId: string; toVersionId: string; fromNodeId: string | null };

/** A node event for analytics; drivers store it idempotently under (instanceId, seq). */
export type NodeRecord = RecordBody & { instanceId: string; seq: number; at: number };

export interface EventMatcher {
  event: string;
  filters: PropertyFilter[];
  /** Why the instance listens: its wait-for-event node, a delivery report, the goal, exit criteria. */
  role: "node" | "delivery" | "goal" | "exit";
}

export type Command =
  | { type: "record"; record: NodeRecord }
  | {
      type: "run";
      runId: string;
      nodeId: string;
      nodeType: string;
      config: unknown;
      /** instance + node + visit: identical across attempts, so providers deduplicate. */
      idempotencyKey: string;
      attempt: number;
      event?: JourneyEvent;
    }
  | { type: "evaluate"; nodeId: string; config: ConditionConfig }
  /** Sleep until `until`; events matching `matchers` (goal, exit criteria) may still arrive. */
  | { type: "sleep"; until: number; matchers: EventMatcher[] }
  /** Wait for a matching event, or until `until` (null: no deadline). */
  | { type: "waitForEvent"; until: number | null; matchers: EventMatcher[] }
  | { type: "complete"; reason: CompletionReason };

// ---------------------------------------------------------------- state

export type Block =
  | { kind: "sleep"; nodeId: string; until: number; purpose: "wait" }
  | { kind: "sleep"; nodeId: string; until: number; purpose: "defer" | "backoff"; attempt: number }
  /**
   * goal_watch: the user reached Exit while the goal's attribution window is still open; they
   * get nothing more but a conversion still counts until the window ends.
   */
  | { kind: "event"; nodeId: string; until: number | null; purpose: "wait_for_event" | "delivery" | "holdout" | "goal_watch" }
  | { kind: "run"; nodeId: string; runId: string; attempt: number }
  | { kind: "evaluate"; nodeId: string };

export interface InstanceState {
  v: 1;
  instanceId: string;
  userId: string;
  status: "active" | "completed";
  reason?: CompletionReason;
  /** Node the user is at (the last node entered). */
  nodeId: string | null;
  /** What the instance waits on; null exactly when completed. */
  block: Block | null;
  /** Last record seq used. */
  seq: number;
  /** Run dispatch counter, for unique run ids. */
  dispatches: number;
  visits: Record<string, number>;
  holdout: boolean;
  enteredAt: number;
  workspaceTimezone: string;
  entryEvent?: JourneyEvent;
  lastMessageNodeId: string | null;
  branches: BranchStep[];
  /** A run that was in flight when the instance completed: its outcome is still recorded. */
  orphanRun?: { runId: string; nodeId: string };
}

export interface StepResult {
  state: InstanceState;
  commands: Command[];
}

// ---------------------------------------------------------------- policy constants

/** Exponential backoff for `retry` results: 30 s, 1 min, 2 min, 4 min, then `failed`. */
export const RETRY_POLICY = { maxAttempts: 5, baseDelayMs: 30_000, maxDelayMs: 30 * 60_000 } as const;

export function backoffMs(attempt: number): number {
  return Math.min(RETRY_POLICY.baseDelayMs * 2 ** (attempt - 1), RETRY_POLICY.maxDelayMs);
}

/** A deferral into the past (clock skew, a buggy provider) still waits a minute: no hot loop. */
export const MIN_DEFER_MS = 60_000;

/** Internal events fed by the channels layer; properties carry `instanceId` and `nodeId`. */
export const MESSAGE_DELIVERED_EVENT = "$message.delivered";
export const MESSAGE_FAILED_EVENT = "$message.failed";

const MAX_BRANCH_HISTORY = 50;
/** The compiler rejects loops without a blocking wait; this guards against a compiler bug. */
const MAX_TRANSITIONS_PER_STEP = 10_000;

export class InterpreterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InterpreterError";
  }
}

// ---------------------------------------------------------------- public helpers

/** Whether the user falls in the journey's holdout (对照组); stable per (user, journey). */
export function isHoldout(program: JourneyProgram, userId: string): boolean {
  return program.settings.holdoutPercent > 0 && unitHash(userId, "holdout", program.id) * 100 < program.settings.holdoutPercent;
}

/** The events an instance listens to right now (for a driver's event index). */
export function awaitedMatchers(program: JourneyProgram, state: InstanceState, now: number): EventMatcher[] {
  if (state.status === "completed" || !state.block) return [];
  const journey = journeyMatchers(program, state, now);
  const block = state.block;
  if (block.kind === "event") {
    if (block.purpose === "wait_for_event") {
      const config = program.nodes[block.nodeId].config as WaitForEventConfig;
      return [{ event: config.event, filters: config.filters, role: "node" }, ...journey];
    }
    if (block.purpose === "delivery") return [...deliveryMatchers(state.instanceId, block.nodeId), ...journey];
    if (block.purpose === "goal_watch") return journey.filter((m) => m.role === "goal");
  }
  return journey;
}

/** When the instance next needs a `timer` input, or null. */
export function wakeAt(state: InstanceState): number | null {
  const block = state.block;
  if (!block) return null;
  if (block.kind === "sleep") return block.until;
  if (block.kind === "event") return block.until;
  return null;
}

/** The blocking command for the current state (a driver rebuilding its waits after a restart). */
export function blockingCommand(program: JourneyProgram, state: InstanceState, now: number): Command | null {
  const block = state.block;
  if (!block) return null;
  const matchers = awaitedMatchers(program, state, now);
  if (block.kind === "sleep") return { type: "sleep", until: block.until, matchers };
  if (block.kind === "event") return { type: "waitForEvent", until: block.until, matchers };
  return null; // run/evaluate: the driver's outbox or activity already holds the work
}

// ---------------------------------------------------------------- step

/**
 * The instance enters `nodeId` of `program` now, as if an edge led there, and walks on until it
 * blocks (an operator's move to a new version, workflows/move.ts). `input` supplies the clock
 * and the fresh profile, as a timer input would.
 */
export function enterAt(program: JourneyProgram, state: InstanceState, nodeId: string, input: InputBase & { type: "timer" }): StepResult {
  const stepper = new Stepper(program, cloneState(state), input);
  stepper.enterFrom(nodeId);
  return stepper.result();
}

export function step(program: JourneyProgram, state: InstanceState | null, input: Input): StepResult {
  if (input.type === "start") {
    if (state) throw new InterpreterError("start on an instance that already exists");
    return new Stepper(program, initialState(input), input).start();
  }
  if (!state) throw new InterpreterError(`${input.type} input without instance state`);
  if (state.status === "completed") return afterCompletion(program, state, input);
  return new Stepper(program, cloneState(state), input).handle(state);
}

function initialState(input: Extract<Input, { type: "start" }>): InstanceState {
  return {
    v: 1,
    instanceId: input.instanceId,
    userId: input.user.id,
    status: "active",
    nodeId: null,
    block: null,
    seq: 0,
    dispatches: 0,
    visits: {},
    holdout: false,
    enteredAt: input.now,
    workspaceTimezone: input.workspaceTimezone,
    ...(input.event ? { entryEvent: input.event } : {}),
    lastMessageNodeId: null,
    branches: [],
  };
}

/** Field by field (a spread of a state parsed from storage was a visible cost per step); a new optional field of InstanceState must be added here. */
function cloneState(state: InstanceState): InstanceState {
  const copy: InstanceState = {
    v: state.v,
    instanceId: state.instanceId,
    userId: state.userId,
    status: state.status,
    nodeId: state.nodeId,
    block: state.block,
    seq: state.seq,
    dispatches: state.dispatches,
    visits: { ...state.visits },
    holdout: state.holdout,
    enteredAt: state.enteredAt,
    workspaceTimezone: state.workspaceTimezone,
    lastMessageNodeId: state.lastMessageNodeId,
    branches: [...state.branches],
  };
  if (state.reason !== undefined) copy.reason = state.reason;
  if (state.entryEvent !== undefined) copy.entryEvent = state.entryEvent;
  if (state.orphanRun !== undefined) copy.orphanRun = state.orphanRun;
  return copy;
}

/** A completed instance only accepts the result of a run that was in flight when it ended. */
function afterCompletion(program: JourneyProgram, state: InstanceState, input: Input): StepResult {
  if (input.type !== "actionResult" || state.orphanRun?.runId !== input.runId) return { state, commands: [] };
  const stepper = new Stepper(program, cloneState(state), input);
  delete stepper.state.orphanRun;
  stepper.recordOrphanOutcome(state.orphanRun.nodeId, input.result);
  return stepper.result();
}

function journeyMatchers(program: JourneyProgram, state: InstanceState, now: number): EventMatcher[] {
  const out: EventMatcher[] = [];
  const goal = program.settings.goal;
  if (goal && now <= state.enteredAt + goal.windowMs) out.push({ event: goal.event, filters: goal.filters, role: "goal" });
  for (const exit of program.settings.exitEvents) out.push({ event: exit.event, filters: exit.filters, role: "exit" });
  return out;
}

function deliveryMatchers(instanceId: string, nodeId: string): EventMatcher[] {
  const filters: PropertyFilter[] = [
    { property: "instanceId", op: "eq", value: instanceId },
    { property: "nodeId", op: "eq", value: nodeId },
  ];
  return [
    { event: MESSAGE_DELIVERED_EVENT, filters, role: "delivery" },
    { event: MESSAGE_FAILED_EVENT, filters, role: "delivery" },
  ];
}

function matches(event: JourneyEvent, matcher: { event: string; filters: PropertyFilter[] }): boolean {
  return event.name === matcher.event && matchesFilters(event.properties, matcher.filters);
}

/** One step's mutable working copy; the input state object is never modified. */
class Stepper {
  private readonly commands: Command[] = [];
  private transitions = 0;

  constructor(
    private readonly program: JourneyProgram,
    readonly state: InstanceState,
    private readonly input: Input,
  ) {}

  private get now(): number {
    return this.input.now;
  }

  result(): StepResult {
    return { state: this.state, commands: this.commands };
  }

  start(): StepResult {
    const trigger = this.program.triggerId;
    this.enter(trigger);
    if (isHoldout(this.program, this.state.userId)) {
      this.state.holdout = true;
      this.record({ kind: "holdout", nodeId: trigger });
      const goal = this.program.settings.goal;
      if (!goal) {
        this.complete("holdout");
      } else {
        // Holdout users get nothing but are watched for the goal, so uplift can be measured.
        this.block({ kind: "event", nodeId: trigger, until: this.state.enteredAt + goal.windowMs, purpose: "holdout" });
      }
      return this.result();
    }
    this.run(this.leave(trigger, "next"));
    return this.result();
  }

  /** `original` is returned untouched when the input does not apply (stale or unrelated). */
  handle(original: InstanceState): StepResult {
    const input = this.input;
    const block = this.state.block!;
    switch (input.type) {
      case "timer":
        if (!this.onTimer(block)) return { state: original, commands: [] };
        break;
      case "event":
        if (!this.onEvent(block, input.event)) return { state: original, commands: [] };
        break;
      case "actionResult":
        if (block.kind !== "run" || block.runId !== input.runId) return { state: original, commands: [] };
        this.onActionResult(block, input.result);
        break;
      case "evaluation": {
        if (block.kind !== "evaluate" || block.nodeId !== input.nodeId) return { state: original, commands: [] };
        const node = this.node(block.nodeId);
        if (!node.outputs.includes(input.output)) {
          throw new InterpreterError(`evaluation output "${input.output}" is not an output of ${node.id}`);
        }
        this.branch(node.id, input.output);
        this.run(this.leave(node.id, input.output));
        break;
      }
      case "start":
        throw new InterpreterError("unreachable");
    }
    return this.result();
  }

  // ------------------------------------------------------------ input handlers

  private onTimer(block: Block): boolean {
    if (block.kind !== "sleep" && block.kind !== "event") return false;
    if (block.until === null || block.until > this.now) return false;
    if (block.kind === "sleep") {
      if (block.purpose === "wait") this.run(this.leave(block.nodeId, "next"));
      else this.dispatch(block.nodeId, block.attempt);
      return true;
    }
    switch (block.purpose) {
      case "wait_for_event":
        this.run(this.leave(block.nodeId, "timed_out"));
        break;
      case "delivery": {
        const node = this.node(block.nodeId);
        this.record({ kind: "message", nodeId: node.id, channel: node.channel!, status: "not_delivered", attempt: 1, reason: "not_delivered" });
        this.run(this.leave(node.id, "failed", "not_delivered"));
        break;
      }
      case "holdout":
        this.complete("holdout");
        break;
      case "goal_watch":
        this.complete("exit_node");
        break;
    }
    return true;
  }

  private onEvent(block: Block, event: JourneyEvent): boolean {
    const settings = this.program.settings;
    // Goal before exit criteria: when one event is both, the conversion must be counted.
    if (settings.goal && this.now <= this.state.enteredAt + settings.goal.windowMs && matches(event, settings.goal)) {
      this.record({
        kind: "conversion",
        event: event.name,
        nodeId: this.state.nodeId,
        attributedNodeId: this.state.lastMessageNodeId,
        path: this.state.branches,
        holdout: this.state.holdout,
      });
      this.complete("goal");
      return true;
    }
    const finished = block.kind === "event" && block.purpose === "goal_watch";
    if (!finished && settings.exitEvents.some((m) => matches(event, m))) {
      this.complete("exit_criteria");
      return true;
    }
    if (block.kind !== "event") return false;
    if (block.purpose === "wait_for_event") {
      const config = this.node(block.nodeId).config as WaitForEventConfig;
      if (!matches(event, config)) return false;
      this.run(this.leave(block.nodeId, "happened"));
      return true;
    }
    if (block.purpose === "delivery") {
      const matcher = deliveryMatchers(this.state.instanceId, block.nodeId).find((m) => matches(event, m));
      if (!matcher) return false;
      const node = this.node(block.nodeId);
      if (event.name === MESSAGE_DELIVERED_EVENT) {
        this.record({ kind: "message", nodeId: node.id, channel: node.channel!, status: "delivered", attempt: 1 });
        this.run(this.leave(node.id, "sent"));
      } else {
        const reason = typeof event.properties.reason === "string" ? event.properties.reason : "delivery_failed";
        this.record({ kind: "message", nodeId: node.id, channel: node.channel!, status: "delivery_failed", attempt: 1, reason });
        this.run(this.leave(node.id, "failed", reason));
      }
      return true;
    }
    return false;
  }

  private onActionResult(block: Extract<Block, { kind: "run" }>, result: ActionResult): void {
    const node = this.node(block.nodeId);
    if ("retry" in result) {
      if (block.attempt >= RETRY_POLICY.maxAttempts) {
        this.fail(node, block.attempt, `retries_exhausted: ${result.retry.reason}`);
        return;
      }
      const retryAt = this.now + backoffMs(block.attempt);
      this.record({ kind: "retry", nodeId: node.id, attempt: block.attempt, reason: result.retry.reason, retryAt });
      this.block({ kind: "sleep", nodeId: node.id, until: retryAt, purpose: "backoff", attempt: block.attempt + 1 });
      return;
    }
    if ("deferUntil" in result) {
      const until = Math.max(result.deferUntil, this.now + MIN_DEFER_MS);
      if (node.channel) {
        this.record({ kind: "message", nodeId: node.id, channel: node.channel, status: "deferred", attempt: block.attempt, reason: result.reason, deferUntil: until });
      }
      this.block({ kind: "sleep", nodeId: node.id, until, purpose: "defer", attempt: block.attempt });
      return;
    }
    if (!node.outputs.includes(result.output)) {
      this.fail(node, block.attempt, `invalid_output: ${result.output}`);
      return;
    }
    const reason = typeof result.detail?.reason === "string" ? result.detail.reason : undefined;
    if (node.channel) {
      const messageId = typeof result.detail?.messageId === "string" ? result.detail.messageId : undefined;
      const sent = result.output === "sent";
      this.record({
        kind: "message",
        nodeId: node.id,
        channel: node.channel,
        status: sent ? "sent" : "failed",
        attempt: block.attempt,
        ...(messageId ? { messageId } : {}),
        ...(reason && !sent ? { reason } : {}),
      });
      if (sent) {
        this.state.lastMessageNodeId = node.id;
        if (node.deliveryTimeoutMs !== undefined) {
          this.block({ kind: "event", nodeId: node.id, until: this.now + node.deliveryTimeoutMs, purpose: "delivery" });
          return;
        }
      }
    }
    this.run(this.leave(node.id, result.output, result.output === "failed" ? reason : undefined));
  }

  /** Final failure of an action: leave by `failed` when the node has it, else end the journey. */
  private fail(node: ProgramNode, attempt: number, reason: string): void {
    if (node.channel) this.record({ kind: "message", nodeId: node.id, channel: node.channel, status: "failed", attempt, reason });
    if (node.outputs.includes("failed")) this.run(this.leave(node.id, "failed", reason));
    else this.complete("failed");
  }

  recordOrphanOutcome(nodeId: string, result: ActionResult): void {
    const node = this.node(nodeId);
    if (!node.channel || !("output" in result)) return;
    const messageId = typeof result.detail?.messageId === "string" ? result.detail.messageId : undefined;
    const reason = typeof result.detail?.reason === "string" ? result.detail.reason : undefined;
    this.record({
      kind: "message",
      nodeId,
      channel: node.channel,
      status: result.output === "sent" ? "sent" : "failed",
      attempt: 1,
      ...(messageId ? { messageId } : {}),
      ...(reason ? { reason } : {}),
    });
  }

  // ------------------------------------------------------------ graph walking

  /** See `enterAt`. */
  enterFrom(nodeId: string): void {
    this.state.block = null;
    this.run(nodeId);
  }

  /** Walks from `nodeId` through every node that needs no outside input. */
  private run(nodeId: string | null): void {
    let current = nodeId;
    while (current !== null) {
      if (++this.transitions > MAX_TRANSITIONS_PER_STEP) {
        throw new InterpreterError(`more than ${MAX_TRANSITIONS_PER_STEP} transitions in one step (loop without wait?)`);
      }
      current = this.visit(current);
    }
  }

  /** Enters a node; returns the next node to visit, or null once blocked or completed. */
  private visit(nodeId: string): string | null {
    const node = this.enter(nodeId);
    switch (node.role) {
      case "trigger":
        return this.leave(node.id, "next");
      case "wait": {
        const config = node.config as WaitConfig;
        const zone = waitUsesUserZone(config) ? this.userZone(node.id) : this.journeyZone();
        const until = waitUntil(config, this.now, zone, this.input.user.traits);
        if (until <= this.now) return this.leave(node.id, "next");
        this.block({ kind: "sleep", nodeId: node.id, until, purpose: "wait" });
        return null;
      }
      case "wait_for_event": {
        const config = node.config as WaitForEventConfig;
        this.block({ kind: "event", nodeId: node.id, until: this.now + durationMs(config.timeout), purpose: "wait_for_event" });
        return null;
      }
      case "condition": {
        const config = node.config as ConditionConfig;
        if (conditionNeedsFacts(config)) {
          this.block({ kind: "evaluate", nodeId: node.id });
          return null;
        }
        const output = evaluateCondition(config, traitFacts(this.input.user.traits, this.now));
        this.branch(node.id, output);
        return this.leave(node.id, output);
      }
      case "split": {
        const output = chooseSplitBranch(node.config as SplitConfig, this.state.userId, node.id);
        this.branch(node.id, output);
        return this.leave(node.id, output);
      }
      case "exit": {
        const goal = this.program.settings.goal;
        const windowEnd = goal && !this.state.holdout ? this.state.enteredAt + goal.windowMs : null;
        if (windowEnd !== null && windowEnd > this.now) {
          // Conversions count for the whole attribution window, even after the path has ended.
          this.block({ kind: "event", nodeId: node.id, until: windowEnd, purpose: "goal_watch" });
          return null;
        }
        this.complete("exit_node");
        return null;
      }
      case "action":
        this.dispatch(node.id, 1);
        return null;
    }
  }

  private enter(nodeId: string): ProgramNode {
    const node = this.node(nodeId);
    this.state.nodeId = nodeId;
    this.state.visits[nodeId] = (this.state.visits[nodeId] ?? 0) + 1;
    this.record({ kind: "entered", nodeId });
    return node;
  }

  private leave(nodeId: string, output: string, reason?: string): string {
    this.record({ kind: "left", nodeId, output, ...(reason ? { reason } : {}) });
    const target = this.node(nodeId).next[output];
    if (target === undefined) throw new InterpreterError(`output "${output}" of ${nodeId} is not connected`);
    return target;
  }

  private branch(nodeId: string, output: string): void {
    this.state.branches = [...this.state.branches, { nodeId, output }].slice(-MAX_BRANCH_HISTORY);
  }

  private dispatch(nodeId: string, attempt: number): void {
    const node = this.node(nodeId);
    this.state.dispatches += 1;
    const runId = `${this.state.instanceId}:r${this.state.dispatches}`;
    this.state.block = { kind: "run", nodeId, runId, attempt };
    this.commands.push({
      type: "run",
      runId,
      nodeId,
      nodeType: node.type,
      config: node.config,
      idempotencyKey: `${this.state.instanceId}:${nodeId}:${this.state.visits[nodeId]}`,
      attempt,
      ...(this.state.entryEvent ? { event: this.state.entryEvent } : {}),
    });
  }

  private block(block: Block): void {
    this.state.block = block;
    if (block.kind === "evaluate") {
      this.commands.push({ type: "evaluate", nodeId: block.nodeId, config: this.node(block.nodeId).config as ConditionConfig });
      return;
    }
    const command = blockingCommand(this.program, this.state, this.now);
    if (command) this.commands.push(command);
  }

  private complete(reason: CompletionReason): void {
    const block = this.state.block;
    this.record({ kind: "exit", reason, nodeId: this.state.nodeId });
    if (block?.kind === "run") this.state.orphanRun = { runId: block.runId, nodeId: block.nodeId };
    this.state.status = "completed";
    this.state.reason = reason;
    this.state.block = null;
    this.commands.push({ type: "complete", reason });
  }

  /** `body` is always a fresh literal: completed in place (spreading the dozen record shapes was a visible cost per step). */
  private record(body: RecordBody): void {
    this.state.seq += 1;
    const record = body as NodeRecord;
    record.instanceId = this.state.instanceId;
    record.seq = this.state.seq;
    record.at = this.now;
    this.commands.push({ type: "record", record });
  }

  // ------------------------------------------------------------ zones

  private journeyZone(): string {
    const configured = this.program.settings.timezone;
    if (isValidZone(configured)) return configured;
    return isValidZone(this.state.workspaceTimezone) ? this.state.workspaceTimezone : "UTC";
  }

  /** The user's zone, or the journey/workspace zone with a `tz_fallback` record (counted, never dropped). */
  private userZone(nodeId: string): string {
    const user = this.input.user;
    const given = user.timezone ?? (typeof user.traits.timezone === "string" ? user.traits.timezone : null);
    const resolved = resolveZone(given, this.journeyZone());
    if (resolved.fallback) {
      this.record({ kind: "tz_fallback", nodeId, reason: resolved.fallback.reason, given: resolved.fallback.given, zone: resolved.zone });
    }
    return resolved.zone;
  }

  private node(nodeId: string): ProgramNode {
    const node = this.program.nodes[nodeId];
    if (!node) throw new InterpreterError(`node ${nodeId} is not in program ${this.program.hash}`);
    return node;
  }
}
