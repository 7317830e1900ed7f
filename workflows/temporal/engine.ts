import { v7 as uuidv7 } from "uuid";
import type { Db } from "../../db/client";
import type { RuntimeLogger as Logger } from "../../nodes/runtime";
import { matchesFilters } from "../../nodes/filters";
import type { JourneyEvent, UserSnapshot } from "../../nodes/runtime";
import { triggerMatchesEvent } from "../../nodes/trigger/match";
import type { WaitForEventConfig } from "../../nodes/wait-for-event/definition";
import type { EntryResult, IncomingEvent, JourneyEngine, SegmentChange } from "../engine";
import { awaitedMatchers, MESSAGE_DELIVERED_EVENT, MESSAGE_FAILED_EVENT, wakeAt, type EventMatcher, type InstanceState } from "../interpreter";
import type { JourneyProgram } from "../program";
import type { MoveTarget } from "../move";
import { moveTemporalInstances, type TemporalMoveSummary } from "./move.server";
import type { Inst } from "../embedded/batch.server";
import { transaction } from "../embedded/db.server";
import { heldJourneys } from "../embedded/engine.server";
import { EntryGate, type EntryCandidate } from "../embedded/entries.server";
import { liveJourneys, ProgramCache, segmentChangeEvents, triggerByApi, WorkspaceZones, type ApiTriggerInput, type LiveJourney } from "../embedded/programs.server";
import { ScheduleRunner } from "../embedded/schedules.server";
import { loadUsers, userKey } from "../embedded/users.server";
import type { OperationActor, OperationResult } from "../embedded/operations.server";
import type { WorkflowGateway } from "./client";
import {
  cancelTemporalInstance,
  cancelTemporalInstances,
  holdTemporalInstances,
  retryTemporalStep,
  skipTemporalWait,
  type TemporalOperationDeps,
} from "./operations.server";
import { commitOf, entryStep, recordsOf, type EventSignal, type InstanceRef, type JourneyClock, type JourneyWorkflowInput } from "./contract";
import {
  activeInstances,
  advanceEntryLedger,
  countEntries,
  deliveredEvents,
  insertInstance,
  instanceByEntryKey,
  markDelivered,
  type TemporalInstanceRow,
} from "./store.server";

/**
 * The Temporal journey engine, as ingestion, segments and the API see it (`JourneyEngine`).
 *
 * Entries are decided here, in one PostgreSQL transaction per batch, with the embedded engine's
 * entry gate (the same rules, locks and entry keys, on the same `journey_instances` table): the
 * instance row and its entry step's node events are stored, then the instance's workflow is
 * started with signal-with-start. Events reach running instances as signals, and only the
 * instances whose stored state awaits them: an event no instance waits for costs no action.
 */

export interface TemporalEngineServices {
  db: Db;
  /** Journey time for entries (the workflow itself runs on Temporal's clock). */
  now(): Date;
  gateway: WorkflowGateway;
  log?: Logger;
}

export interface TemporalEngineOptions {
  /** Members of a segment (by key), for schedule triggers. Default: the segments area's `segment_members`. */
  segmentMembers?: (workspaceId: string, segmentKey: string) => Promise<string[]>;
  /** Temporal calls in flight at once. Default 32. */
  concurrency?: number;
  /** How often `start()` looks for due schedule runs (real ms). Default 1000. */
  scheduleEveryMs?: number;
  /** How long a claimed schedule run belongs to this process (real ms). Default 60 s. */
  leaseMs?: number;
  realNow?: () => number;
  /** History length after which workflows continue as new (tests lower it). */
  historyLimit?: number;
  /** Journey clock handed to every workflow (the live test suite); absent: Temporal's time. */
  clock?: JourneyClock;
  /** Every committed entry decision (metrics, tests). Redelivered entries are not decisions. */
  onEntry?: (entry: { journeyId: string; versionId: string; userId: string; at: number; entered: boolean; instanceId?: string; reason?: string }) => void;
}

export interface TemporalEngine extends JourneyEngine {
  readonly kind: "temporal";
  /** One pass over due schedule runs; returns how many ran. */
  runSchedules(): Promise<number>;
  /** Operator actions on Temporal-driven instances (operations.server.ts, decision 0517). */
  cancelInstance(actor: OperationActor, instanceId: string): Promise<OperationResult>;
  /** Cancels each without an audit entry (the caller records one for the bulk action); returns how many. */
  cancelInstances(actor: OperationActor, instanceIds: readonly string[]): Promise<number>;
  skipWait(actor: OperationActor, instanceId: string): Promise<OperationResult>;
  retryFailedStep(actor: OperationActor, instanceId: string): Promise<OperationResult>;
  /** Holds (pause with "hold") or releases a journey's running instances; returns how many were signalled. */
  holdInstances(journeyId: string, held: boolean): Promise<number>;
  /** Moves instances to a new version through their workflows (move.server.ts); the plan is already checked. */
  moveInstances(actor: OperationActor, instanceIds: readonly string[], versionId: string, targets: ReadonlyMap<string, MoveTarget>): Promise<TemporalMoveSummary>;
}

export function createTemporalEngine(services: TemporalEngineServices, options: TemporalEngineOptions = {}): TemporalEngine {
  return new Engine(services, options);
}

interface Delivery {
  row: TemporalInstanceRow;
  program: JourneyProgram;
  signal: EventSignal;
}

class Engine implements TemporalEngine {
  readonly kind = "temporal" as const;
  private readonly programs = new ProgramCache();
  private readonly zones = new WorkspaceZones();
  private readonly concurrency: number;
  private readonly realNow: () => number;
  private readonly schedules: ScheduleRunner;
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly services: TemporalEngineServices,
    private readonly options: TemporalEngineOptions,
  ) {
    this.concurrency = options.concurrency ?? 32;
    this.realNow = options.realNow ?? Date.now;
    this.schedules = new ScheduleRunner({
      db: services.db,
      programs: this.programs,
      zones: this.zones,
      now: () => this.nowMs(),
      realNow: this.realNow,
      leaseMs: options.leaseMs ?? 60_000,
      batchSize: 500,
      segmentMembers: options.segmentMembers,
      enter: (workspaceId, events, journey) => this.enter(workspaceId, events, { journey, withEvent: false }),
    });
  }

  private get db(): Db {
    return this.services.db;
  }

  private nowMs(): number {
    return this.services.now().getTime();
  }

  // ------------------------------------------------------------------ JourneyEngine

  async handleEvents(events: IncomingEvent[]): Promise<void> {
    const byWorkspace = new Map<string, IncomingEvent[]>();
    for (const event of events) byWorkspace.set(event.workspaceId, [...(byWorkspace.get(event.workspaceId) ?? []), event]);
    for (const [workspaceId, list] of byWorkspace) await this.ingest(workspaceId, list);
  }

  async handleSegmentChanges(changes: SegmentChange[]): Promise<void> {
    await this.handleEvents(segmentChangeEvents(changes));
  }

  triggerJourney(input: ApiTriggerInput): Promise<EntryResult> {
    return triggerByApi(this.db, this.programs, input, this.nowMs(), (workspaceId, events, journey) => this.enter(workspaceId, events, { journey, withEvent: true }));
  }

  async start(): Promise<void> {
    if (this.timer) return;
    const every = this.options.scheduleEveryMs ?? 1000;
    const loop = () => {
      this.pass = this.runSchedules()
        .catch((error: unknown) => this.services.log?.error("temporal engine: schedule pass failed", { error: String(error) }))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(loop, every);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pass;
  }

  // ------------------------------------------------------------------ events

  private async ingest(workspaceId: string, events: IncomingEvent[]): Promise<void> {
    // Running instances first, then entries: the event that starts an instance is its entry
    // event, not something it waits for (the simulator's order).
    await this.route(workspaceId, events);
    await this.enter(workspaceId, events);
  }

  /** Signals each event to the running instances that await it. */
  private async route(workspaceId: string, events: IncomingEvent[]): Promise<void> {
    const userIds = [...new Set(events.map((e) => e.userId))];
    const instances = await activeInstances(this.db, workspaceId, userIds);
    if (instances.length === 0) return;
    await this.programs.load(this.db, instances.map((r) => r.versionId));
    const users = await loadUsers(this.db, userIds.map((userId) => ({ workspaceId, userId })));
    const delivered = await deliveredEvents(this.db, instances.map((r) => r.id), events.map((e) => e.messageId));
    const now = this.nowMs();
    const byInstance = new Map<string, Delivery[]>();
    for (const incoming of [...events].sort((a, b) => a.timestamp - b.timestamp)) {
      const event: JourneyEvent = { name: incoming.name, properties: incoming.properties ?? {}, id: incoming.messageId };
      for (const row of instances) {
        if (row.userId !== incoming.userId || delivered.has(`${row.id}\u0000${incoming.messageId}`)) continue;
        const program = this.programs.get(row.versionId);
        if (!program) continue;
        if (!routingMatchers(program, row.state, now).some((m) => m.event === event.name && matchesFilters(event.properties, m.filters))) continue;
        const user = users.get(userKey(workspaceId, row.userId))!;
        const list = byInstance.get(row.id) ?? [];
        // Clock mode: the workflow steps at the event's own journey time (decision 0508).
        const at = this.options.clock ? { at: incoming.timestamp } : {};
        list.push({ row, program, signal: { messageId: incoming.messageId, event, user, ...at } });
        byInstance.set(row.id, list);
      }
    }
    // One instance's events go in order; different instances in parallel. Receipts are stored
    // for what was delivered even when another delivery failed, so a retry resends only the rest.
    const done: Array<{ instanceId: string; messageId: string }> = [];
    try {
      await inParallel([...byInstance.values()], this.concurrency, async (list) => {
        for (const delivery of list) {
          await this.deliver(delivery);
          done.push({ instanceId: delivery.row.id, messageId: delivery.signal.messageId });
        }
      });
    } finally {
      await markDelivered(this.db, done);
    }
  }

  private async deliver({ row, program, signal }: Delivery): Promise<void> {
    if (await this.services.gateway.signal(row.id, signal)) return;
    // No workflow under this id: its start was lost after the entry was stored. Start it from the
    // stored state and hand it the event in the same call (held, if its journey is: decision 0515).
    const held = (await heldJourneys(this.db, [row.journeyId])).size > 0;
    await this.services.gateway.signalWithStart(this.checkpointInput(row, program, signal.user, held), signal);
  }

  /** Test and tuning knobs every workflow input carries. */
  private knobs(): Pick<JourneyWorkflowInput, "historyLimit" | "clock"> {
    return {
      ...(this.options.historyLimit !== undefined ? { historyLimit: this.options.historyLimit } : {}),
      ...(this.options.clock ? { clock: this.options.clock } : {}),
    };
  }

  private checkpointInput(row: TemporalInstanceRow, program: JourneyProgram, user: UserSnapshot, held = false): JourneyWorkflowInput {
    const { driver: _driver, ...state } = row.state;
    return {
      instance: { workspaceId: row.workspaceId, journeyId: row.journeyId, versionId: row.versionId, instanceId: row.id, userId: row.userId },
      program,
      workspaceTimezone: state.workspaceTimezone,
      entry: { now: row.enteredAt, user },
      resume: { state, user, committedSeq: state.seq, seen: [], ...(held ? { held: true } : {}) },
      ...this.knobs(),
    };
  }

  // ------------------------------------------------------------------ entries

  private async enter(
    workspaceId: string,
    events: IncomingEvent[],
    only?: { journey: LiveJourney; withEvent: boolean },
  ): Promise<Map<string, EntryResult>> {
    const results = new Map<string, EntryResult>();
    const live = only ? [only.journey] : (await liveJourneys(this.db, [workspaceId], this.programs)).filter((j) => j.trigger.source !== "schedule");
    const matched = events.flatMap((incoming) => {
      const event: JourneyEvent = { name: incoming.name, properties: incoming.properties ?? {}, id: incoming.messageId };
      return (only ? live : live.filter((j) => triggerMatchesEvent(j.trigger, event))).map((journey) => ({ incoming, event, journey }));
    });
    if (matched.length === 0) return results;
    await this.programs.load(this.db, matched.map((m) => m.journey.versionId));
    await this.zones.load(this.db, [workspaceId]);
    const users = await loadUsers(this.db, [...new Set(matched.map((m) => m.incoming.userId))].map((userId) => ({ workspaceId, userId })));
    const now = this.nowMs();
    const starts: Array<{ input: JourneyWorkflowInput; entryKey: string }> = [];
    const decisions: Array<Parameters<NonNullable<TemporalEngineOptions["onEntry"]>>[0]> = [];
    const repairs: Array<{ candidate: EntryCandidate; user: UserSnapshot }> = [];

    await transaction(this.db, async (tx) => {
      results.clear();
      starts.length = 0;
      repairs.length = 0;
      decisions.length = 0;
      const candidates = matched.map(
        (m): EntryCandidate => ({
          journeyId: m.journey.journeyId,
          versionId: m.journey.versionId,
          userId: m.incoming.userId,
          entryKey: m.incoming.messageId,
          program: this.programs.require(m.journey.versionId),
        }),
      );
      const gate = await EntryGate.prepare(tx, candidates, now);
      const counts: Array<{ journeyId: string; versionId: string; at: number; outcome: string }> = [];
      for (const [i, m] of matched.entries()) {
        const candidate = candidates[i];
        // Clock mode: an entry happens at its event's journey time, as its later steps do (decision 0508).
        const at = this.options.clock ? m.incoming.timestamp : now;
        const user = users.get(userKey(workspaceId, m.incoming.userId))!;
        const decision = gate.decide(candidate, at);
        if (decision.kind === "duplicate") {
          repairs.push({ candidate, user });
          continue;
        }
        if (decision.kind === "rejected") {
          counts.push({ journeyId: candidate.journeyId, versionId: candidate.versionId, at, outcome: decision.reason });
          results.set(m.incoming.messageId, { entered: false, reason: decision.reason });
          decisions.push({ journeyId: candidate.journeyId, versionId: candidate.versionId, userId: candidate.userId, at, entered: false, reason: decision.reason });
          continue;
        }
        const instance: InstanceRef = { workspaceId, journeyId: candidate.journeyId, versionId: candidate.versionId, instanceId: uuidv7(), userId: candidate.userId };
        const withEvent = only ? only.withEvent : true;
        const entry = { now: at, user, ...(withEvent ? { event: m.event } : {}) };
        const workspaceTimezone = this.zones.get(workspaceId);
        // The entry step is stored with the row (pre-commit): the workflow's first task then
        // costs no activity, and an instance that ends at once needs no workflow at all.
        const result = entryStep(candidate.program, instance, workspaceTimezone, entry);
        const records = recordsOf(result.commands);
        await insertInstance(tx, { instance, entryKey: candidate.entryKey, state: result.state, records, enteredAt: at });
        counts.push({ journeyId: candidate.journeyId, versionId: candidate.versionId, at, outcome: "entered" });
        // The gate only reads whether that entry is still active.
        gate.entered(candidate, { state: result.state } as unknown as Inst, at);
        results.set(m.incoming.messageId, { entered: true, instanceId: instance.instanceId });
        decisions.push({ journeyId: candidate.journeyId, versionId: candidate.versionId, userId: candidate.userId, at, entered: true, instanceId: instance.instanceId });
        if (result.state.status === "active") {
          const commit = commitOf(records);
          starts.push({
            entryKey: candidate.entryKey,
            input: {
              instance,
              program: candidate.program,
              workspaceTimezone,
              entry: { ...entry, ...(commit ? { commit } : {}) },
              ...this.knobs(),
            },
          });
        }
      }
      await countEntries(tx, counts);
      await advanceEntryLedger(tx, [...gate.admitted.values()]);
    });
    for (const decision of decisions) this.options.onEntry?.(decision);

    await inParallel(starts, this.concurrency, async ({ input, entryKey }) => {
      await this.services.gateway.enter(input, { entryKey });
    });
    // A redelivered entry whose instance is still active: make sure its workflow exists (the
    // first delivery may have stored the entry and failed before starting it).
    await inParallel(repairs, this.concurrency, async ({ candidate, user }) => {
      const row = await instanceByEntryKey(this.db, candidate.journeyId, candidate.userId, candidate.entryKey);
      if (!row || row.state.status !== "active") return;
      await this.services.gateway.enter(this.checkpointInput(row, candidate.program, user), { entryKey: candidate.entryKey });
    });
    return results;
  }

  // ------------------------------------------------------------------ schedules

  /** Same tables and claim protocol as the embedded engine: either engine may run a schedule once. */
  runSchedules(): Promise<number> {
    return this.schedules.runDue();
  }

  // ------------------------------------------------------------------ operator actions

  private operationDeps(): TemporalOperationDeps {
    return { db: this.db, now: this.services.now, gateway: this.services.gateway, programs: this.programs, knobs: this.knobs() };
  }

  cancelInstance(actor: OperationActor, instanceId: string): Promise<OperationResult> {
    return cancelTemporalInstance(this.operationDeps(), actor, instanceId);
  }

  cancelInstances(actor: OperationActor, instanceIds: readonly string[]): Promise<number> {
    return cancelTemporalInstances(this.operationDeps(), actor, instanceIds, this.concurrency);
  }

  skipWait(actor: OperationActor, instanceId: string): Promise<OperationResult> {
    return skipTemporalWait(this.operationDeps(), actor, instanceId);
  }

  retryFailedStep(actor: OperationActor, instanceId: string): Promise<OperationResult> {
    return retryTemporalStep(this.operationDeps(), actor, instanceId);
  }

  holdInstances(journeyId: string, held: boolean): Promise<number> {
    return holdTemporalInstances(this.operationDeps(), journeyId, held, this.concurrency);
  }

  moveInstances(actor: OperationActor, instanceIds: readonly string[], versionId: string, targets: ReadonlyMap<string, MoveTarget>): Promise<TemporalMoveSummary> {
    return moveTemporalInstances(this.operationDeps(), actor, instanceIds, versionId, targets, this.concurrency);
  }
}

/**
 * Which events an instance should be sent. Normally exactly what its stored state awaits. The
 * stored state can be a step behind the workflow while a side effect is in flight or a deadline
 * has just passed; then anything the journey could await next is sent too, so an event arriving
 * in that window is not lost (the workflow ignores what turns out not to apply).
 */
export function routingMatchers(program: JourneyProgram, state: InstanceState, now: number): EventMatcher[] {
  const current = awaitedMatchers(program, state, now);
  const block = state.block;
  const due = wakeAt(state);
  const inTransition = block !== null && (block.kind === "run" || block.kind === "evaluate" || (due !== null && due <= now));
  if (!inTransition) return current;
  const next: EventMatcher[] = [];
  for (const node of Object.values(program.nodes)) {
    if (node.role === "wait_for_event") {
      const config = node.config as WaitForEventConfig;
      next.push({ event: config.event, filters: config.filters, role: "node" });
    }
    if (node.channel && node.deliveryTimeoutMs !== undefined) {
      const filters = [{ property: "instanceId", op: "eq" as const, value: state.instanceId }];
      next.push({ event: MESSAGE_DELIVERED_EVENT, filters, role: "delivery" }, { event: MESSAGE_FAILED_EVENT, filters, role: "delivery" });
    }
  }
  return [...current, ...next];
}

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await work(item);
      } catch (error) {
        errors.push(error);
      }
    }
  });
  await Promise.all(lanes);
  if (errors.length > 0) throw errors[0];
}
