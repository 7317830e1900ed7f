import type { MessageChannel, PreviewResult } from "../nodes/define";
import type { ActionResult, JourneyEvent, UserOperation, UserSnapshot } from "../nodes/runtime";
import { matchesFilters, type PropertyFilter } from "../nodes/filters";
import { getNodeDefinition } from "../nodes/registry";
import { evaluateCondition, noMessage, type Facts, type MessageStateFlags } from "../nodes/condition/evaluate";
import { applyUserOperations } from "../nodes/update-user/definition";
import { scheduleRuns, triggerMatchesEvent } from "../nodes/trigger/match";
import type { TriggerConfig } from "../nodes/trigger/definition";
import { compileJourney, type CompileError, type JourneyProgram } from "./program";
import { entryDecision, type EntryRejection } from "./entry";
import {
  MESSAGE_DELIVERED_EVENT,
  MESSAGE_FAILED_EVENT,
  step,
  type BranchStep,
  type Command,
  type CompletionReason,
  type Input,
  type InstanceState,
  type NodeRecord,
} from "./interpreter";
import { isValidZone } from "./time";
import { decideMessage, normaliseContent } from "../nodes/channels/policies/decide";
import type { ConsentMap, Suppression } from "../nodes/channels/policies/consent";
import { policySettingsSchema, type PolicySettings } from "../nodes/channels/policies/settings";

/**
 * Virtual-clock simulator: runs a journey for given users over a timeline of events with no
 * real sends. It drives the same pure `step` as the engines, answers `run` commands with
 * simulated outcomes and `evaluate` commands from the in-memory timeline. Backs the canvas
 * "test run", `waypost simulate` and the scenario suite.
 *
 * Ordering at one instant (engines running the scenario suite should avoid relying on it):
 * version switches, then timeline entries and schedule runs in input order, then internal
 * events (delivery reports) and timers in the order they were scheduled.
 */

/** Engagement events a timeline may contain (properties: nodeId, optional instanceId). */
export const MESSAGE_OPENED_EVENT = "$message.opened";
export const MESSAGE_CLICKED_EVENT = "$message.clicked";

export type TimeInput = string | number;

export interface SimUser {
  id: string;
  traits?: Record<string, unknown>;
  timezone?: string | null;
  /** Segments the user belongs to (for schedule triggers). */
  segments?: string[];
  /** Consent per channel and category, as stored on the profile (users.consent). */
  consent?: ConsentMap;
  /** Suppression-list entries per channel (unsubscribed, bounced...). */
  suppressions?: Partial<Record<MessageChannel, Suppression[]>>;
  /** Whether the user can be reached on a channel (a device token, a phone, an email); default yes. */
  reachable?: Partial<Record<MessageChannel, boolean>>;
}

export interface TimelineEntry {
  at: TimeInput;
  userId: string;
  event: { name: string; properties?: Record<string, unknown> };
}

/**
 * Forces the outcome of an action node. The first entry matching (node, user?, attempt?) wins.
 * `result` is an output id of the node (`sent`, `failed`, `success`, `next`…) or `retry`/`defer`.
 */
export interface ActionOutcome {
  nodeId: string;
  userId?: string;
  attempt?: number;
  result: string;
  reason?: string;
  /** For `defer`: how long until the message may go (default 1 h). */
  deferMs?: number;
  /** After a `sent` message: the delivery report (default `delivered`, immediately). */
  delivery?: "delivered" | "failed" | "none";
  deliveryDelayMs?: number;
}

export interface SimulateInput {
  document: unknown;
  users: SimUser[];
  timeline: TimelineEntry[];
  start?: TimeInput;
  /** Default: 366 days after the last timeline entry. */
  until?: TimeInput;
  workspaceTimezone?: string;
  journeyId?: string;
  actionOutcomes?: ActionOutcome[];
  /** Publishing a new version at `at`: new entries use it, users inside stay on theirs. */
  versions?: Array<{ at: TimeInput; document: unknown }>;
  /** Simulated quiet hours in the user's zone for marketing messages (e.g. 21:00–08:00). */
  quietHours?: { start: string; end: string };
  /**
   * The workspace's sending policies (consent rules, quiet hours, frequency caps). Messages then
   * take the engine's own decision (nodes/channels/policies/decide.ts). Without it: no quiet
   * hours (unless `quietHours`), consent needed nowhere, no caps.
   */
  policies?: PolicySettings;
}

export interface MessageTrace {
  userId: string;
  instanceId: string;
  nodeId: string;
  channel: MessageChannel;
  category: string;
  at: string;
  /** `deferred`: held by quiet hours until `until`, when it is tried again. */
  status: "sent" | "failed" | "deferred";
  reason?: string;
  until?: string;
  attempt: number;
  content: Record<string, string>;
  errors: Record<string, string>;
}

export interface StepTrace {
  nodeId: string;
  nodeType: string;
  enteredAt: string;
  leftAt?: string;
  output?: string;
  reason?: string;
}

export interface InstanceTrace {
  instanceId: string;
  /** Index into `Trace.versions`. */
  version: number;
  enteredAt: string;
  holdout: boolean;
  status: "completed" | "waiting";
  reason?: CompletionReason;
  completedAt?: string;
  waiting?: { nodeId: string; kind: string; until?: string };
  steps: StepTrace[];
  branches: BranchStep[];
  messages: MessageTrace[];
  actions: Array<{ nodeId: string; nodeType: string; at: string; attempt: number; result: ActionResult; preview?: PreviewResult }>;
  tzFallbacks: number;
}

export interface UserTrace {
  userId: string;
  instances: InstanceTrace[];
  rejectedEntries: Array<{ at: string; reason: EntryRejection }>;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A node record with an ISO time, the user and the version index. */
export type TraceRecord = DistributiveOmit<NodeRecord, "at"> & { at: string; userId: string; version: number };

export interface Trace {
  journey: { id: string; name: string };
  versions: Array<{ hash: string; from: string | null }>;
  start: string;
  until: string;
  users: UserTrace[];
  nodeCounts: Record<string, { entered: number; left: Record<string, number> }>;
  records: TraceRecord[];
}

export class SimulationError extends Error {
  constructor(
    message: string,
    readonly errors: CompileError[] = [],
  ) {
    super(message);
    this.name = "SimulationError";
  }
}

export function toEpoch(value: TimeInput): number {
  const ms = typeof value === "number" ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new SimulationError(`invalid time: ${String(value)}`);
  return ms;
}

const iso = (ms: number) => new Date(ms).toISOString();
const DAY = 86_400_000;

interface SimInstance {
  /** Null until the start input has been applied. */
  state: InstanceState | null;
  program: JourneyProgram;
  version: number;
  userId: string;
  trace: InstanceTrace;
  messages: Record<string, MessageStateFlags>;
}

interface SimEvent extends JourneyEvent {
  at: number;
}

type QueueEntry = { at: number; phase: number } & (
  | { kind: "timeline"; userId: string; event: JourneyEvent }
  | { kind: "schedule"; version: number }
  | { kind: "version"; version: number }
  | { kind: "internal"; userId: string; event: JourneyEvent }
  | { kind: "timer"; instance: SimInstance }
);
type QueueItem = QueueEntry & { order: number };

/** A binary heap ordered by (at, phase, order). */
class Queue {
  private items: QueueItem[] = [];
  private counter = 0;

  push(item: QueueEntry): void {
    this.items.push({ ...item, order: this.counter++ });
    let i = this.items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.less(this.items[parent], this.items[i])) break;
      [this.items[parent], this.items[i]] = [this.items[i], this.items[parent]];
      i = parent;
    }
  }

  pop(): QueueItem | undefined {
    const top = this.items[0];
    const last = this.items.pop();
    if (this.items.length > 0 && last) {
      this.items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.items.length && this.less(this.items[l], this.items[m])) m = l;
        if (r < this.items.length && this.less(this.items[r], this.items[m])) m = r;
        if (m === i) break;
        [this.items[m], this.items[i]] = [this.items[i], this.items[m]];
        i = m;
      }
    }
    return top;
  }

  peek(): QueueItem | undefined {
    return this.items[0];
  }

  private less(a: QueueItem, b: QueueItem): boolean {
    return a.at !== b.at ? a.at < b.at : a.phase !== b.phase ? a.phase < b.phase : a.order < b.order;
  }
}

function compileOrThrow(document: unknown, journeyId: string | undefined, label: string): JourneyProgram {
  const compiled = compileJourney(document, journeyId ? { journeyId } : {});
  if (!compiled.ok) {
    throw new SimulationError(`${label} does not compile: ${compiled.errors.map((e) => e.message.en).join("; ")}`, compiled.errors);
  }
  return compiled.program;
}

export function simulate(input: SimulateInput): Trace {
  const first = compileOrThrow(input.document, input.journeyId, "journey");
  const journeyId = input.journeyId ?? first.id;
  const workspaceTimezone = isValidZone(input.workspaceTimezone) ? input.workspaceTimezone : "UTC";
  const versionInputs = [...(input.versions ?? [])].map((v) => ({ at: toEpoch(v.at), document: v.document })).sort((a, b) => a.at - b.at);
  // Later versions compile with the first version's journey id so holdout membership is stable.
  const programs = [first, ...versionInputs.map((v, i) => compileOrThrow(v.document, journeyId, `version ${i + 2}`))];
  const versionFrom = [null, ...versionInputs.map((v) => v.at)];

  const timeline = input.timeline.map((e) => ({ ...e, at: toEpoch(e.at) }));
  const start = input.start !== undefined ? toEpoch(input.start) : Math.min(...timeline.map((e) => e.at), ...versionInputs.map((v) => v.at), Infinity);
  const lastAt = Math.max(start, ...timeline.map((e) => e.at));
  const until = input.until !== undefined ? toEpoch(input.until) : lastAt + 366 * DAY;
  if (!Number.isFinite(start)) throw new SimulationError("give a start time or at least one timeline entry");

  const users = new Map<string, SimUser & { traits: Record<string, unknown>; timezone: string | null; segments: string[] }>(
    input.users.map((u) => [u.id, { ...u, traits: { ...(u.traits ?? {}) }, timezone: u.timezone ?? null, segments: u.segments ?? [] }]),
  );
  for (const e of timeline) {
    if (!users.has(e.userId)) users.set(e.userId, { id: e.userId, traits: {}, timezone: null, segments: [] });
  }
  const history = new Map<string, SimEvent[]>();
  const instances: SimInstance[] = [];
  const byUser = new Map<string, UserTrace>([...users.keys()].map((id) => [id, { userId: id, instances: [], rejectedEntries: [] }]));
  const entryTimes: number[] = [];
  const records: TraceRecord[] = [];
  const nodeCounts: Trace["nodeCounts"] = {};
  const queue = new Queue();
  let current = start;

  timeline.forEach((e) => queue.push({ at: e.at, phase: 1, kind: "timeline", userId: e.userId, event: { name: e.event.name, properties: e.event.properties ?? {} } }));
  versionInputs.forEach((v, i) => queue.push({ at: v.at, phase: 0, kind: "version", version: i + 1 }));
  programs.forEach((program, version) => {
    const trigger = program.nodes[program.triggerId].config as TriggerConfig;
    const from = Math.max(start, versionFrom[version] ?? start);
    const to = Math.min(until + 1, versionFrom[version + 1] ?? Infinity);
    const zone = isValidZone(program.settings.timezone) ? program.settings.timezone : workspaceTimezone;
    for (const at of scheduleRuns(trigger, from, to, zone)) queue.push({ at, phase: 1, kind: "schedule", version });
  });

  const snapshot = (userId: string): UserSnapshot => {
    const u = users.get(userId)!;
    return { id: u.id, traits: { ...u.traits }, timezone: u.timezone };
  };

  const outcomeFor = (nodeId: string, userId: string, attempt: number) =>
    input.actionOutcomes?.find((o) => o.nodeId === nodeId && (o.userId === undefined || o.userId === userId) && (o.attempt === undefined || o.attempt === attempt));

  // Without the workspace's policies: nothing is refused for consent and nothing is capped, so
  // scenarios that do not state policies behave as before; quiet hours only when given.
  const policies: PolicySettings =
    input.policies ??
    policySettingsSchema.parse({
      marketingConsent: { push: "opt-out", sms: "opt-out", email: "opt-out" },
      quietHours: input.quietHours ? { enabled: true, start: input.quietHours.start, end: input.quietHours.end } : { enabled: false },
      frequencyCaps: [],
    });
  /** Frequency-cap counters, as the engine keeps them per user, cap and local period. */
  const capCounts = new Map<string, number>();

  /** The engine's policy decision for one message (consent, quiet hours, length, caps). */
  const decidePolicies = (inst: SimInstance, channel: MessageChannel, config: { category?: string; quietHours?: "defer" | "skip"; truncate?: boolean }, fields: Record<string, string>, now: number): ActionResult => {
    const u = users.get(inst.userId)!;
    const category = config.category === "transactional" ? "transactional" : "marketing";
    const decision = decideMessage(
      { channel, category, quietHours: config.quietHours, content: normaliseContent(fields), truncate: config.truncate },
      {
        addresses: u.reachable?.[channel] === false ? 0 : 1,
        consent: u.consent ?? {},
        suppressions: u.suppressions?.[channel] ?? [],
        timezone: u.timezone ?? (typeof u.traits.timezone === "string" ? u.traits.timezone : null),
      },
      { settings: policies, workspaceZone: workspaceTimezone },
      new Date(now),
    );
    if (decision.kind === "fail") return { output: "failed", detail: { reason: decision.reason } };
    if (decision.kind === "defer") return { deferUntil: decision.until.getTime(), reason: decision.reason };
    const keys = decision.caps.map((c) => ({ key: `${inst.userId}|${c.capKey}|${c.windowStart}`, limit: c.cap.limit }));
    if (keys.some((k) => (capCounts.get(k.key) ?? 0) >= k.limit)) return { output: "failed", detail: { reason: "frequency_capped" } };
    for (const k of keys) capCounts.set(k.key, (capCounts.get(k.key) ?? 0) + 1);
    return { output: "sent" };
  };

  /** The simulated side effect of a `run` command. */
  const runAction = (inst: SimInstance, cmd: Extract<Command, { type: "run" }>, now: number): ActionResult => {
    const node = inst.program.nodes[cmd.nodeId];
    const def = getNodeDefinition(cmd.nodeType);
    const user = snapshot(inst.userId);
    const preview = def?.preview?.(cmd.config, { user, event: cmd.event, journey: { id: journeyId, name: inst.program.name } });
    const forced = outcomeFor(cmd.nodeId, inst.userId, cmd.attempt);
    let result: ActionResult;
    if (forced?.result === "retry") result = { retry: { reason: forced.reason ?? "simulated" } };
    else if (forced?.result === "defer") result = { deferUntil: now + (forced.deferMs ?? 3_600_000), reason: forced.reason ?? "quiet_hours" };
    else if (forced) result = { output: forced.result, detail: forced.reason ? { reason: forced.reason } : {} };
    else result = defaultResult(inst, cmd, now, preview);

    const traceMessage = (channel: MessageChannel, status: MessageTrace["status"], extra: { reason?: string; until?: string }) =>
      inst.trace.messages.push({
        userId: inst.userId,
        instanceId: inst.state!.instanceId,
        nodeId: cmd.nodeId,
        channel,
        category: (cmd.config as { category?: string }).category ?? "marketing",
        at: iso(now),
        status,
        ...extra,
        attempt: cmd.attempt,
        content: preview?.fields ?? {},
        errors: preview?.errors ?? {},
      });
    if (node.channel && "deferUntil" in result) traceMessage(node.channel, "deferred", { reason: result.reason, until: iso(result.deferUntil) });
    if (node.channel && "output" in result) {
      const sent = result.output === "sent";
      const messageId = `sim-${cmd.idempotencyKey}`;
      if (sent) result = { output: "sent", detail: { messageId } };
      traceMessage(node.channel, sent ? "sent" : "failed", !sent && typeof result.detail?.reason === "string" ? { reason: result.detail.reason } : {});
      inst.messages[cmd.nodeId] = { ...noMessage, sent, failed: !sent };
      const delivery = forced?.delivery ?? "delivered";
      if (sent && delivery !== "none") {
        queue.push({
          at: now + (forced?.deliveryDelayMs ?? 0),
          phase: 2,
          kind: "internal",
          userId: inst.userId,
          event: {
            name: delivery === "delivered" ? MESSAGE_DELIVERED_EVENT : MESSAGE_FAILED_EVENT,
            properties: { instanceId: inst.state!.instanceId, nodeId: cmd.nodeId, messageId, channel: node.channel, ...(delivery === "failed" ? { reason: forced?.reason ?? "provider_rejected" } : {}) },
          },
        });
      }
    }
    inst.trace.actions.push({ nodeId: cmd.nodeId, nodeType: cmd.nodeType, at: iso(now), attempt: cmd.attempt, result, ...(preview ? { preview } : {}) });
    return result;
  };

  const defaultResult = (inst: SimInstance, cmd: Extract<Command, { type: "run" }>, now: number, preview?: PreviewResult): ActionResult => {
    const node = inst.program.nodes[cmd.nodeId];
    if (preview && Object.keys(preview.errors).length > 0) return { output: "failed", detail: { reason: "template_error" } };
    if (node.channel) return decidePolicies(inst, node.channel, cmd.config as { category?: string; quietHours?: "defer" | "skip" }, preview?.fields ?? {}, now);
    if (cmd.nodeType === "core.update-user") {
      const u = users.get(inst.userId)!;
      u.traits = applyUserOperations(u.traits, (cmd.config as { operations: UserOperation[] }).operations);
      return { output: "next" };
    }
    return { output: node.outputs.find((o) => o !== "failed") ?? node.outputs[0] };
  };

  const factsFor = (inst: SimInstance, now: number): Facts => {
    const events = history.get(inst.userId) ?? [];
    const matching = (q: { event: string; filters: PropertyFilter[]; since?: number; until: number }) =>
      events.filter((e) => e.name === q.event && e.at <= q.until && (q.since === undefined || e.at >= q.since) && matchesFilters(e.properties, q.filters));
    return {
      now,
      trait: (name) => users.get(inst.userId)!.traits[name],
      eventCount: (q) => matching(q).length,
      lastSeen: (q) => {
        const found = matching(q);
        return found.length ? found[found.length - 1].at : null;
      },
      messageState: (nodeId) => inst.messages[nodeId] ?? noMessage,
    };
  };

  const onRecord = (inst: SimInstance, record: NodeRecord) => {
    records.push({ ...record, at: iso(record.at), userId: inst.userId, version: inst.version });
    const t = inst.trace;
    switch (record.kind) {
      case "entered": {
        nodeCounts[record.nodeId] ??= { entered: 0, left: {} };
        nodeCounts[record.nodeId].entered += 1;
        t.steps.push({ nodeId: record.nodeId, nodeType: inst.program.nodes[record.nodeId].type, enteredAt: iso(record.at) });
        break;
      }
      case "left": {
        const counts = (nodeCounts[record.nodeId] ??= { entered: 0, left: {} });
        counts.left[record.output] = (counts.left[record.output] ?? 0) + 1;
        const last = t.steps[t.steps.length - 1];
        last.leftAt = iso(record.at);
        last.output = record.output;
        if (record.reason) last.reason = record.reason;
        break;
      }
      case "holdout":
        t.holdout = true;
        break;
      case "tz_fallback":
        t.tzFallbacks += 1;
        break;
      case "exit":
        t.status = "completed";
        t.reason = record.reason;
        t.completedAt = iso(record.at);
        break;
      default:
        break;
    }
  };

  const drive = (inst: SimInstance, first: Input) => {
    const pending: Input[] = [first];
    while (pending.length > 0) {
      const next = pending.shift()!;
      const { state, commands } = step(inst.program, inst.state, next);
      inst.state = state;
      for (const cmd of commands) {
        switch (cmd.type) {
          case "record":
            onRecord(inst, cmd.record);
            break;
          case "run":
            pending.push({ type: "actionResult", now: next.now, user: snapshot(inst.userId), runId: cmd.runId, result: runAction(inst, cmd, next.now) });
            break;
          case "evaluate":
            pending.push({
              type: "evaluation",
              now: next.now,
              user: snapshot(inst.userId),
              nodeId: cmd.nodeId,
              output: evaluateCondition(cmd.config, factsFor(inst, next.now)),
            });
            break;
          case "sleep":
          case "waitForEvent":
            if (cmd.until !== null) queue.push({ at: Math.max(cmd.until, next.now), phase: 2, kind: "timer", instance: inst });
            break;
          case "complete":
            break;
        }
      }
    }
    inst.trace.branches = inst.state!.branches;
  };

  const tryEntry = (userId: string, version: number, now: number, event?: JourneyEvent) => {
    const program = programs[version];
    const userTrace = byUser.get(userId)!;
    const prior = instances.filter((i) => i.userId === userId).map((i) => ({ enteredAt: i.state!.enteredAt, active: i.state!.status === "active" }));
    const counters = {
      lastHour: entryTimes.filter((t) => t > now - 3_600_000).length,
      lastDay: entryTimes.filter((t) => t > now - DAY).length,
      total: entryTimes.length,
    };
    const decision = entryDecision(program.settings, prior, now, counters);
    if (!decision.enter) {
      userTrace.rejectedEntries.push({ at: iso(now), reason: decision.reason });
      return;
    }
    entryTimes.push(now);
    const instanceId = `sim:${userId}:${userTrace.instances.length + 1}`;
    const trace: InstanceTrace = {
      instanceId,
      version,
      enteredAt: iso(now),
      holdout: false,
      status: "waiting",
      steps: [],
      branches: [],
      messages: [],
      actions: [],
      tzFallbacks: 0,
    };
    userTrace.instances.push(trace);
    const inst: SimInstance = { state: null, program, version, userId, trace, messages: {} };
    instances.push(inst);
    drive(inst, { type: "start", now, user: snapshot(userId), instanceId, workspaceTimezone, ...(event ? { event } : {}) });
  };

  const deliverEvent = (userId: string, event: JourneyEvent, now: number) => {
    for (const inst of instances) {
      if (inst.userId !== userId || inst.state!.status !== "active") continue;
      drive(inst, { type: "event", now, user: snapshot(userId), event });
    }
  };

  /** Delivery reports and engagement events update the message states conditions read. */
  const messageStateEvents: Record<string, keyof MessageStateFlags> = {
    [MESSAGE_DELIVERED_EVENT]: "delivered",
    [MESSAGE_FAILED_EVENT]: "failed",
    [MESSAGE_OPENED_EVENT]: "opened",
    [MESSAGE_CLICKED_EVENT]: "clicked",
  };
  const updateMessageState = (userId: string, event: JourneyEvent) => {
    const flag = messageStateEvents[event.name];
    const nodeId = event.properties.nodeId;
    if (!flag || typeof nodeId !== "string") return;
    for (const inst of instances) {
      if (inst.userId !== userId) continue;
      if (typeof event.properties.instanceId === "string" && event.properties.instanceId !== inst.state!.instanceId) continue;
      if (inst.messages[nodeId]?.sent) inst.messages[nodeId] = { ...inst.messages[nodeId], [flag]: true };
    }
  };

  let live = 0;
  for (let item = queue.pop(); item && item.at <= until; item = queue.pop()) {
    current = item.at;
    switch (item.kind) {
      case "version":
        live = item.version;
        break;
      case "timeline":
      case "internal": {
        const list = history.get(item.userId) ?? [];
        list.push({ ...item.event, at: current });
        history.set(item.userId, list);
        updateMessageState(item.userId, item.event);
        deliverEvent(item.userId, item.event, current);
        if (item.kind === "timeline") {
          const trigger = programs[live].nodes[programs[live].triggerId].config as TriggerConfig;
          if (triggerMatchesEvent(trigger, item.event)) tryEntry(item.userId, live, current, item.event);
        }
        break;
      }
      case "schedule": {
        if (item.version !== live) break;
        const trigger = programs[live].nodes[programs[live].triggerId].config as TriggerConfig;
        const segment = trigger.source === "schedule" ? trigger.segment : "";
        for (const u of users.values()) if (u.segments.includes(segment)) tryEntry(u.id, live, current);
        break;
      }
      case "timer":
        if (item.instance.state!.status === "active") drive(item.instance, { type: "timer", now: current, user: snapshot(item.instance.userId) });
        break;
    }
  }

  for (const inst of instances) {
    const block = inst.state!.block;
    if (inst.state!.status === "active" && block) {
      const until = block.kind === "sleep" || block.kind === "event" ? block.until : null;
      inst.trace.waiting = { nodeId: block.nodeId, kind: block.kind, ...(until !== null ? { until: iso(until) } : {}) };
    }
  }

  return {
    journey: { id: journeyId, name: first.name },
    versions: programs.map((p, i) => ({ hash: p.hash, from: versionFrom[i] === null ? null : iso(versionFrom[i]!) })),
    start: iso(start),
    until: iso(until),
    users: [...byUser.values()],
    nodeCounts,
    records,
  };
}
