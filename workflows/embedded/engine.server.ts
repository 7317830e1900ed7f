import { v7 as uuidv7 } from "uuid";
import { sql } from "drizzle-orm";
import { runInBackground, type Db } from "../../db/client";
import type { RuntimeLogger as Logger } from "../../nodes/runtime";
import { executeNode } from "../../nodes/registry.server";
import { createGuardedFetch } from "../../nodes/net/outbound.server";
import type { ActionContext, ActionResult, ActionServices, FetchLike, JourneyEvent } from "../../nodes/runtime";
import { triggerMatchesEvent } from "../../nodes/trigger/match";
import type { EntryResult, IncomingEvent, JourneyEngine, SegmentChange } from "../engine";
import { hash32 } from "../hash";
import { Batch, INSTANCE_COLUMNS, instFromRow, newInst, type Inst, type InstanceRow, type OutboxRow } from "./batch.server";
import { arr, epochMs, iso, keyLookup, rows, toMs, transaction, type Conn } from "./db.server";
import { EntryGate, type EntryCandidate } from "./entries.server";
import { liveJourneys, ProgramCache, segmentChangeEvents, triggerByApi, WorkspaceZones, type ApiTriggerInput, type LiveJourney } from "./programs.server";
import { ScheduleRunner } from "./schedules.server";
import { createSandboxSender, type SandboxDelivery } from "./sandbox-sender.server";
import { createUserUpdater } from "./user-updates.server";
import { loadUsers, snapshotOf, userKey, type UserRow } from "./users.server";

/**
 * The embedded journey engine: durable per-user instances in the app's PostgreSQL (or PGlite),
 * driven by the pure interpreter. See docs/engines.md for the design and docs/reliability.md
 * for why a crash at any point neither loses a user nor repeats a send.
 */

export interface EmbeddedEngineServices {
  db: Db;
  /** Journey time. Tests and benchmarks inject a virtual clock. */
  now(): Date;
  log?: Logger;
  /** `postgres` enables LISTEN/NOTIFY wake-ups between processes. */
  database?: { kind: "pglite" | "postgres" };
}

/** `typeVersion`: the version the config was stored with (older ones are migrated before running). */
export type ActionExecutor = (type: string, ctx: ActionContext, config: unknown, typeVersion?: number) => Promise<ActionResult>;

export interface EmbeddedEngineOptions {
  /** Services for action runtimes, per workspace. Defaults: sandbox sender, DB profile updates, fetch. */
  actionServices?: (workspaceId: string) => Partial<ActionServices>;
  /** Runs one action node; default `executeNode` from the node registry. */
  executeAction?: ActionExecutor;
  /** The default sandbox sender's provider hook (counts provider calls in tests). */
  onSandboxSend?: (delivery: SandboxDelivery) => void;
  /** Members of a segment (by key), for schedule triggers. Default: the segments area's `segment_members`. */
  segmentMembers?: (workspaceId: string, segmentId: string) => Promise<string[]>;
  /** Instances/outbox rows per batch (one transaction each). Default 500. */
  batchSize?: number;
  /** Side effects run at once per worker. Default 200. */
  actionConcurrency?: number;
  /** How long a claimed side effect belongs to its worker before another may take it (real ms). Default 60 s. */
  leaseMs?: number;
  /** Longest idle sleep between polls (real ms). Default 1000. */
  idlePollMs?: number;
  /** Concurrent claim loops per worker process, and queues for incoming events. Default 2. */
  lanes?: number;
  /** Executions of one outbox row before its node fails with `execution_lost`. Default 10. */
  maxExecutions?: number;
  /** Real clock for leases and polling (never the journey clock). */
  realNow?: () => number;
  /** Every committed entry decision (metrics, tests). Redelivered events are not decisions. */
  onEntry?: (entry: EntryDecisionEvent) => void;
}

export interface EntryDecisionEvent {
  journeyId: string;
  versionId: string;
  userId: string;
  at: number;
  entered: boolean;
  instanceId?: string;
  reason?: string;
}

export interface EngineStats {
  /** Interpreter steps applied (user-steps). */
  steps: number;
  batches: number;
  actions: number;
  entries: number;
  rejectedEntries: number;
  eventsDelivered: number;
  errors: number;
}

export interface EmbeddedEngine extends JourneyEngine {
  readonly kind: "embedded";
  /** One pass: a batch of due timers, a batch of pending side effects, due schedule runs. Returns work done. */
  tick(): Promise<number>;
  /**
   * Passes until nothing is due at the current journey time. `timers: false` only drains side
   * effects (a test applying several inputs at one instant, in a chosen order).
   */
  runUntilIdle(options?: PassOptions & { maxPasses?: number; lanes?: number }): Promise<number>;
  /** Earliest journey time at which something becomes due (timers, schedule runs), or null. */
  nextDueAt(): Promise<number | null>;
  stats(): EngineStats;
}

export interface PassOptions {
  timers?: boolean;
  schedules?: boolean;
}

export const ENGINE_CHANNEL = "waypost_engine";
const MIN_IDLE_MS = 5;
const SCHEDULE_EVERY_MS = 1000;
const CATCH_UP_REPORT_MS = 10_000;

type Mode = "inline" | "background" | "pending";

export function createEmbeddedEngine(services: EmbeddedEngineServices, options: EmbeddedEngineOptions = {}): EmbeddedEngine {
  return new Engine(services, options);
}

interface Waiter {
  resolve(): void;
}

class Engine implements EmbeddedEngine {
  readonly kind = "embedded" as const;
  private readonly db: Db;
  private readonly programs = new ProgramCache();
  private readonly zones = new WorkspaceZones();
  private readonly counters: EngineStats = { steps: 0, batches: 0, actions: 0, entries: 0, rejectedEntries: 0, eventsDelivered: 0, errors: 0 };
  private readonly batchSize: number;
  private readonly pglite: boolean;
  /** Catch-up reporting (the log says when the engine is behind, how far, how fast it drains). */
  private catchUp: { since: number; steps: number; lastReport: number; lastSteps: number } | null = null;
  private readonly leaseMs: number;
  private readonly realNow: () => number;
  private readonly executor: ActionExecutor;
  private readonly servicesFor: (workspaceId: string) => ActionServices;
  private readonly schedules: ScheduleRunner;
  private running = false;
  private lanes: Promise<void>[] = [];
  private readonly background = new Set<Promise<void>>();
  private waiters: Waiter[] = [];
  private unlisten: (() => Promise<void>) | null = null;
  private lastScheduleCheck = 0;
  /** Where this process's next timer claim starts (see claimTimers). */
  private timerCursor: { wake: string; id: string } | null = null;
  private readonly eventQueues: Coalescer<IncomingEvent>[];

  constructor(
    private readonly services: EmbeddedEngineServices,
    private readonly options: EmbeddedEngineOptions,
  ) {
    this.db = services.db;
    // PGlite runs statements in this thread: smaller batches keep each transaction (during which a
    // request's query waits) short (decision 1002).
    this.pglite = services.database?.kind === "pglite";
    this.batchSize = options.batchSize ?? (this.pglite ? 100 : 500);
    this.leaseMs = options.leaseMs ?? 60_000;
    this.realNow = options.realNow ?? Date.now;
    this.executor = options.executeAction ?? executeNode;
    this.schedules = new ScheduleRunner({
      db: this.db,
      programs: this.programs,
      zones: this.zones,
      now: () => this.nowMs(),
      realNow: this.realNow,
      leaseMs: this.leaseMs,
      batchSize: this.batchSize,
      segmentMembers: options.segmentMembers,
      enter: (workspaceId, events, journey) => this.ingest(workspaceId, events, { journey, withEvent: false }),
    });
    this.eventQueues = Array.from({ length: Math.max(1, options.lanes ?? 2) }, () => new Coalescer<IncomingEvent>((events) => this.ingestAll(events), this.batchSize));
    const sandbox = createSandboxSender({ db: this.db, now: () => this.nowMs(), onProviderCall: options.onSandboxSend });
    const updater = createUserUpdater(this.db, () => this.nowMs());
    // Guarded even here (no allowlist): the app passes its own, allowlisted fetch in actionServices.
    const fetchLike: FetchLike = createGuardedFetch();
    const cache = new Map<string, ActionServices>();
    this.servicesFor = (workspaceId) => {
      let found = cache.get(workspaceId);
      if (!found) {
        found = { sendMessage: sandbox.forWorkspace(workspaceId), updateUser: updater(workspaceId), fetch: fetchLike, ...options.actionServices?.(workspaceId) };
        cache.set(workspaceId, found);
      }
      return found;
    };
  }

  stats(): EngineStats {
    return { ...this.counters };
  }

  private nowMs(): number {
    return this.services.now().getTime();
  }

  private readonly hooks = {
    onStep: () => {
      this.counters.steps += 1;
    },
    onError: (error: unknown, inst: Inst) => {
      this.counters.errors += 1;
      this.services.log?.error("journey step failed; instance ended as failed", {
        instanceId: inst.id,
        journeyId: inst.journeyId,
        error: error instanceof Error ? error.message : String(error),
      });
    },
  };

  // ------------------------------------------------------------------ public API

  /**
   * Concurrent calls are coalesced (group commit): while one transaction runs, the events of
   * calls arriving meanwhile are gathered and go in the next one. Events are split by user into
   * a few queues, so one user's events keep their order and different users' proceed in parallel.
   */
  async handleEvents(events: IncomingEvent[]): Promise<void> {
    const parts = new Map<number, IncomingEvent[]>();
    for (const event of events) {
      const queue = hash32(event.workspaceId, event.userId) % this.eventQueues.length;
      const list = parts.get(queue) ?? [];
      list.push(event);
      parts.set(queue, list);
    }
    await Promise.all([...parts].map(([queue, list]) => this.eventQueues[queue].push(list)));
  }

  private async ingestAll(events: IncomingEvent[]): Promise<void> {
    const byWorkspace = new Map<string, IncomingEvent[]>();
    for (const event of events) {
      const list = byWorkspace.get(event.workspaceId) ?? [];
      list.push(event);
      byWorkspace.set(event.workspaceId, list);
    }
    for (const [workspaceId, list] of byWorkspace) {
      for (let i = 0; i < list.length; i += this.batchSize) await this.ingest(workspaceId, list.slice(i, i + this.batchSize));
    }
  }

  async handleSegmentChanges(changes: SegmentChange[]): Promise<void> {
    await this.handleEvents(segmentChangeEvents(changes));
  }

  triggerJourney(input: ApiTriggerInput): Promise<EntryResult> {
    return triggerByApi(this.db, this.programs, input, this.nowMs(), (workspaceId, events, journey) => this.ingest(workspaceId, events, { journey, withEvent: true }));
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.listen();
    const lanes = Math.max(1, this.options.lanes ?? 2);
    // Background work: on PGlite, requests' queries go first (db/client.ts runInBackground).
    this.lanes = Array.from({ length: lanes }, (_, i) => runInBackground(() => this.lane(i)));
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.kick();
    await Promise.all(this.lanes);
    this.lanes = [];
    await Promise.all([...this.background]);
    if (this.unlisten) await this.unlisten().catch(() => {});
    this.unlisten = null;
  }

  async tick(): Promise<number> {
    return this.pass({});
  }

  async runUntilIdle(options: PassOptions & { maxPasses?: number; lanes?: number } = {}): Promise<number> {
    const maxPasses = options.maxPasses ?? 10_000;
    let total = 0;
    let passes = 0;
    // Each lane claims its own batches (SKIP LOCKED), so several lanes keep the database busy
    // while another lane runs interpreter steps; a round with no work anywhere means idle.
    const lane = async () => {
      for (;;) {
        if (++passes > maxPasses) throw new Error(`engine still busy after ${maxPasses} passes`);
        const work = await this.pass(options);
        total += work;
        if (work === 0) return;
      }
    };
    for (;;) {
      await Promise.all([...this.background]);
      const before = total;
      await Promise.all(Array.from({ length: Math.max(1, options.lanes ?? 1) }, lane));
      if (total === before && this.background.size === 0) return total;
    }
  }

  async nextDueAt(): Promise<number | null> {
    const [row] = await rows<{ at: number | null }>(
      this.db,
      sql`select ${epochMs(sql`min(wake_at)`)} as at from journey_timers`,
    );
    const candidates = [toMs(row?.at ?? null), await this.schedules.nextRun()].filter((t): t is number => t !== null);
    return candidates.length ? Math.min(...candidates) : null;
  }

  // ------------------------------------------------------------------ worker loop

  private async lane(index: number): Promise<void> {
    const maxIdle = this.options.idlePollMs ?? 1000;
    let idle = MIN_IDLE_MS;
    while (this.running) {
      let work = 0;
      try {
        work = await this.pass({ schedules: index === 0 });
      } catch (error) {
        this.counters.errors += 1;
        this.services.log?.error("engine pass failed", { error: error instanceof Error ? error.message : String(error) });
        await this.idleWait(maxIdle);
        continue;
      }
      if (!this.running) break;
      if (index === 0) await this.reportCatchUp(work > 0).catch(() => undefined);
      if (work > 0) {
        // Work comes in batches: wake the idle lanes to share it.
        if (idle > MIN_IDLE_MS) this.kick();
        idle = MIN_IDLE_MS;
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      // Back off while idle. Only the first lane polls; the others sleep until it (or a NOTIFY,
      // or a local event) finds work, so an idle worker costs a few indexed queries per `idlePollMs`.
      await this.idleWait(index === 0 ? idle : maxIdle * 30);
      idle = Math.min(idle * 2, maxIdle);
    }
  }

  /**
   * While a lane keeps finding work for more than a few seconds the engine is catching up: every
   * 10 s the log says how many timers are due, how late the oldest is and how fast it drains;
   * and once when it has caught up.
   */
  private async reportCatchUp(busy: boolean): Promise<void> {
    const real = this.realNow();
    const steps = this.counters.steps;
    if (!busy) {
      if (this.catchUp && this.catchUp.lastReport > this.catchUp.since) {
        const seconds = (real - this.catchUp.since) / 1000;
        this.services.log?.info("journey engine caught up", { drainedSteps: steps - this.catchUp.steps, seconds: Math.round(seconds), stepsPerSecond: Math.round((steps - this.catchUp.steps) / Math.max(seconds, 0.001)) });
      }
      this.catchUp = null;
      return;
    }
    if (!this.catchUp) {
      this.catchUp = { since: real, steps, lastReport: real, lastSteps: steps };
      return;
    }
    if (real - this.catchUp.lastReport < CATCH_UP_REPORT_MS) return;
    const [row] = await rows<{ due: number | string; oldest: number | string | null }>(
      this.db,
      sql`select (select count(*) from (select 1 from journey_timers where wake_at <= ${iso(this.nowMs())}::timestamptz limit 1000000) d) as due,
                 ${epochMs(sql`(select min(wake_at) from journey_timers)`)} as oldest`,
    );
    const oldest = toMs(row?.oldest ?? null);
    const seconds = (real - this.catchUp.lastReport) / 1000;
    this.services.log?.info("journey engine catching up", {
      dueTimers: Number(row?.due ?? 0),
      oldestDueSecondsLate: oldest === null ? 0 : Math.max(0, Math.round((this.nowMs() - oldest) / 1000)),
      stepsPerSecond: Math.round((steps - this.catchUp.lastSteps) / Math.max(seconds, 0.001)),
      busyForSeconds: Math.round((real - this.catchUp.since) / 1000),
    });
    this.catchUp.lastReport = real;
    this.catchUp.lastSteps = steps;
  }

  private idleWait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      }, ms);
      this.waiters.push(waiter);
    });
  }

  private kick(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve();
  }

  private async listen(): Promise<void> {
    if (this.services.database?.kind !== "postgres") return;
    const client = (this.db as unknown as { $client?: { listen?: (channel: string, fn: () => void) => Promise<{ unlisten(): Promise<void> }> } }).$client;
    if (!client?.listen) return;
    try {
      const handle = await client.listen(ENGINE_CHANNEL, () => this.kick());
      this.unlisten = () => handle.unlisten();
    } catch (error) {
      // Polling still works; LISTEN only shortens the wait for work made by other processes.
      this.services.log?.warn("engine LISTEN failed; falling back to polling", { error: error instanceof Error ? error.message : String(error) });
    }
  }

  private async pass(options: PassOptions): Promise<number> {
    let work = options.timers === false ? 0 : await this.runTimers("inline");
    work += await this.runOutbox();
    const real = this.realNow();
    if (options.schedules !== false && (!this.running || real - this.lastScheduleCheck >= SCHEDULE_EVERY_MS)) {
      this.lastScheduleCheck = real;
      work += await this.schedules.runDue();
    }
    return work;
  }

  private async afterCommit(outbox: OutboxRow[], mode: Mode): Promise<void> {
    if (outbox.length === 0) return;
    if (mode === "inline") {
      await this.execute(outbox);
      return;
    }
    if (mode === "background") {
      const job = runInBackground(() => this.execute(outbox)).catch((error) => {
        // The rows stay leased; another pass takes them when the lease runs out.
        this.counters.errors += 1;
        this.services.log?.error("side effects failed", { error: error instanceof Error ? error.message : String(error) });
      });
      const tracked = job.finally(() => this.background.delete(tracked));
      this.background.add(tracked);
      return;
    }
    if (this.services.database?.kind === "postgres") await rows(this.db, sql`select pg_notify(${ENGINE_CHANNEL}, '')`);
  }

  /** Events and entries from outside the worker: run their side effects here if a worker is running here. */
  private get externalMode(): Mode {
    return this.running ? "background" : "pending";
  }

  // ------------------------------------------------------------------ timers

  /**
   * Locks and loads a batch of instances whose timers are due, and deletes those timer rows (the
   * batch writes a new one for every instance that still waits on time). The instance rows are
   * locked because every writer of an instance holds that lock. Only instances whose timer row
   * this statement deleted come back: a claim whose snapshot still held a timer that another
   * worker had just deleted (it stepped the instance and committed) would otherwise step the
   * instance a second time through the new row version it locked.
   *
   * The scan starts after the last timer this process claimed (`timerCursor`, shared by its lanes):
   * from the start of the index, each claim walked over the rows the other lanes hold and the dead
   * entries of timers already deleted, which cost more than the claim itself. A claim that comes
   * back short, or empty, starts again from the beginning, so rows left behind (held by another
   * process, a rolled-back batch, a timer set behind the cursor) are still found before a pass
   * reports that nothing is due.
   */
  private async claimTimers(tx: Conn, now: number): Promise<Array<InstanceRow & UserRow>> {
    for (;;) {
      const after = this.timerCursor;
      const found = await rows<InstanceRow & UserRow & { timer_key: string }>(
        tx,
        sql`with due as (
              select ${INSTANCE_COLUMNS}, t.wake_at as timer_wake, t.ctid as timer_row
              from journey_timers t join journey_instances i on i.id = t.instance_id
              where t.wake_at <= ${iso(now)}::timestamptz
                ${after ? sql`and (t.wake_at, t.instance_id) > (${after.wake}::timestamptz, ${after.id}::uuid)` : sql``}
              order by t.wake_at, t.instance_id limit ${this.batchSize}
              for update of i skip locked),
            gone as (delete from journey_timers t where t.ctid = any(array(select timer_row from due)) returning t.instance_id, t.wake_at)
            select ${INSTANCE_COLUMNS}, i.timer_wake::text as timer_key, u.traits, u.timezone, u.tags
            from due i
            join gone g on g.instance_id = i.id and g.wake_at = i.timer_wake
            ${keyLookup("users", "u", sql`u.workspace_id = i.workspace_id and u.id = i.user_id`, { optional: true })}
            order by i.timer_wake, i.id`,
      );
      const last = found.at(-1);
      this.timerCursor = found.length === this.batchSize && last ? { wake: last.timer_key, id: last.id } : null;
      if (found.length > 0 || !after) return found;
    }
  }

  private async runTimers(mode: Mode): Promise<number> {
    const now = this.nowMs();
    let outbox: OutboxRow[] = [];
    // A plain look first: when nothing is due (the idle case) no transaction is opened. Skipped
    // while claims run from the cursor (the last one came back full): the look scans from the
    // start of the index, over every timer deleted since the last vacuum.
    if (!this.timerCursor) {
      const [due] = await rows<{ due: number }>(
        this.db,
        sql`select 1 as due from journey_timers where wake_at <= ${iso(now)}::timestamptz limit 1`,
      );
      if (!due) return 0;
    }
    const count = await transaction(this.db, async (tx) => {
      const found = await this.claimTimers(tx, now);
      if (found.length === 0) return 0;
      await this.programs.load(tx, found.map((r) => r.version_id));
      const held = await heldJourneys(tx, found.map((r) => r.journey_id));
      const batch = new Batch(now, this.hooks);
      for (const row of found) {
        if (batch.instances.has(row.id)) continue;
        // Paused with "hold": the claim took the timer row and the instance stays as it is; resume
        // writes the timer again from its wake_at, so what came due now runs then (decision 0515).
        if (held.has(row.journey_id)) continue;
        const inst = batch.add(instFromRow(row, this.programs.require(row.version_id), snapshotOf(row.user_id, row)));
        // The claim deleted the timer row: the batch writes the state's timer (if any) anew,
        // even when the step changes nothing (a timer row that does not match the instance,
        // never written so but possible after a hand edit or a restore, is replaced, not
        // claimed forever).
        inst.loadedWake = null;
        inst.changed = true;
        batch.apply(inst, { type: "timer", now, user: inst.user });
      }
      await batch.settle(tx);
      outbox = await batch.write(tx, { realNow: this.realNow(), leaseMs: this.leaseMs, leased: mode !== "pending" });
      return found.length;
    });
    if (count > 0) this.counters.batches += 1;
    await this.afterCommit(outbox, mode);
    return count;
  }

  // ------------------------------------------------------------------ side effects

  private async runOutbox(): Promise<number> {
    const real = this.realNow();
    const claimed = await rows<{ id: number | string; instance_id: string; workspace_id: string; run_id: string; idempotency_key: string; command: OutboxRow["command"]; attempts: number }>(
      this.db,
      sql`update journey_outbox o set status = 'running', attempts = o.attempts + 1, next_attempt_at = ${iso(real + this.leaseMs)}::timestamptz
          from (select id from journey_outbox where next_attempt_at <= ${iso(real)}::timestamptz
                order by next_attempt_at limit ${this.batchSize} for update skip locked) c
          where o.id = c.id
          returning o.id, o.instance_id, o.workspace_id, o.run_id, o.idempotency_key, o.command, o.attempts`,
    );
    if (claimed.length === 0) return 0;
    const outbox: OutboxRow[] = claimed.map((r) => ({
      id: Number(r.id),
      instanceId: r.instance_id,
      workspaceId: r.workspace_id,
      runId: r.run_id,
      idempotencyKey: r.idempotency_key,
      command: r.command,
      attempts: r.attempts,
    }));
    await this.execute(outbox);
    return claimed.length;
  }

  /** Runs side effects, feeds their results back, and keeps going while results dispatch more. */
  private async execute(first: OutboxRow[]): Promise<void> {
    let outbox = first;
    while (outbox.length > 0) {
      outbox = await this.parkHeld(outbox);
      if (outbox.length === 0) return;
      await this.programs.load(this.db, outbox.map((r) => r.command.versionId));
      const users = await loadUsers(
        this.db,
        outbox.filter((r) => !r.user).map((r) => ({ workspaceId: r.workspaceId, userId: r.command.userId })),
      );
      const results = await mapLimit(outbox, this.options.actionConcurrency ?? (this.pglite ? 20 : 200), async (row) => ({
        row,
        result: await this.runAction(row, users),
      }));
      outbox = await this.feed(results);
    }
  }

  /**
   * Side effects of journeys paused with "hold" are put back unrun, unclaimable until resume
   * (`next_attempt_at` infinity; decision 0515). The plain look costs one indexed query; the
   * locked re-check serialises with resume, which clears `held` before releasing parked rows.
   */
  private async parkHeld(outbox: OutboxRow[]): Promise<OutboxRow[]> {
    const journeyIds = outbox.map((r) => r.command.journeyId);
    if ((await heldJourneys(this.db, journeyIds)).size === 0) return outbox;
    const parked = await transaction(this.db, async (tx) => {
      const held = await heldJourneys(tx, journeyIds, true);
      const ids = outbox.filter((r) => held.has(r.command.journeyId)).map((r) => r.id);
      if (ids.length > 0) {
        await rows(
          tx,
          sql`update journey_outbox set status = 'pending', attempts = greatest(attempts - 1, 0), next_attempt_at = 'infinity'
              where id = any(${arr(ids)}::bigint[])`,
        );
      }
      return new Set(ids);
    });
    return outbox.filter((r) => !parked.has(r.id));
  }

  private async runAction(row: OutboxRow, users: Map<string, ReturnType<typeof snapshotOf>>): Promise<ActionResult> {
    const cmd = row.command;
    if (row.attempts > (this.options.maxExecutions ?? 10)) {
      // The worker died this many times while running it: stop retrying something that may be
      // what kills it, and let the journey take its failure path.
      return { output: "failed", detail: { reason: "execution_lost" } };
    }
    const program = this.programs.get(cmd.versionId);
    const node = program?.nodes[cmd.nodeId];
    if (!program || !node) return { output: "failed", detail: { reason: "node_missing" } };
    const ctx: ActionContext = {
      workspaceId: row.workspaceId,
      journeyId: cmd.journeyId,
      versionId: cmd.versionId,
      instanceId: row.instanceId,
      nodeId: cmd.nodeId,
      user: row.user ?? users.get(userKey(row.workspaceId, cmd.userId)) ?? snapshotOf(cmd.userId, undefined),
      ...(cmd.event ? { event: cmd.event } : {}),
      journey: { id: cmd.journeyId, name: program.name },
      idempotencyKey: row.idempotencyKey,
      attempt: cmd.attempt,
      now: this.nowMs(),
      services: this.servicesFor(row.workspaceId),
    };
    this.counters.actions += 1;
    try {
      return await this.executor(cmd.nodeType, ctx, node.config, node.typeVersion);
    } catch (error) {
      return { retry: { reason: error instanceof Error ? error.message : String(error) } };
    }
  }

  private async feed(results: Array<{ row: OutboxRow; result: ActionResult }>): Promise<OutboxRow[]> {
    const now = this.nowMs();
    let next: OutboxRow[] = [];
    await transaction(this.db, async (tx) => {
      // Deleting the rows is the claim: if another worker already fed this result (our lease ran
      // out while we were slow), the row is gone and the result is dropped. The same statement
      // locks the instances (in id order, so concurrent lockers cannot deadlock).
      const found = await rows<InstanceRow & UserRow & { outbox_id: number | string }>(
        tx,
        sql`with d as (delete from journey_outbox where id = any(${arr(results.map((r) => r.row.id))}::bigint[]) returning id, instance_id)
            select d.id as outbox_id, ${INSTANCE_COLUMNS}, u.traits, u.timezone, u.tags
            from d join journey_instances i on i.id = d.instance_id
            ${keyLookup("users", "u", sql`u.workspace_id = i.workspace_id and u.id = i.user_id`, { optional: true })}
            order by i.id for update of i`,
      );
      const alive = new Set(found.map((r) => Number(r.outbox_id)));
      const live = results.filter((r) => alive.has(r.row.id));
      next = [];
      if (live.length === 0) return;
      await this.programs.load(tx, found.map((r) => r.version_id));
      const batch = new Batch(now, this.hooks);
      for (const row of found) {
        if (batch.instances.has(row.id)) continue;
        batch.add(instFromRow(row, this.programs.require(row.version_id), snapshotOf(row.user_id, row)));
      }
      for (const { row, result } of live) {
        const inst = batch.instances.get(row.instanceId);
        if (!inst) continue;
        const changed = batch.apply(inst, { type: "actionResult", now, user: inst.user, runId: row.runId, result });
        const block = inst.state?.block;
        if (changed && block?.kind === "event" && block.purpose === "delivery") inst.deliveryKey = row.idempotencyKey;
      }
      await batch.settle(tx);
      next = await batch.write(tx, { realNow: this.realNow(), leaseMs: this.leaseMs, leased: true });
    });
    this.counters.batches += 1;
    return next;
  }

  // ------------------------------------------------------------------ events and entries

  /**
   * Delivers events to the user's waiting instances, then starts journeys they trigger, in the
   * same order as the simulator (events first, so an entry event never reaches its own new
   * instance). With `only`, the events are entries into that one journey (API, schedule).
   */
  private async ingest(
    workspaceId: string,
    events: IncomingEvent[],
    only?: { journey: LiveJourney; withEvent: boolean },
  ): Promise<Map<string, EntryResult>> {
    const now = this.nowMs();
    const results = new Map<string, EntryResult>();
    const decisions: EntryDecisionEvent[] = [];
    let outbox: OutboxRow[] = [];
    const mode = this.externalMode;
    await transaction(this.db, async (tx) => {
      results.clear();
      decisions.length = 0;
      const userIds = [...new Set(events.map((e) => e.userId))];
      const names = [...new Set(events.map((e) => e.name))];
      // Independent reads go out together (pipelined on the transaction's connection).
      const [waiting, allLive, users] = await Promise.all([
        only
          ? Promise.resolve([])
          : rows<InstanceRow>(
              tx,
              sql`select ${INSTANCE_COLUMNS} from journey_instances i
                  where i.workspace_id = ${workspaceId}::uuid and i.user_id = any(${arr(userIds)}::text[])
                    and i.status = 'active' and i.awaiting && ${arr(names)}::text[]
                  order by i.id for update`,
            ),
        only ? Promise.resolve([only.journey]) : liveJourneys(tx, [workspaceId], this.programs),
        loadUsers(tx, userIds.map((userId) => ({ workspaceId, userId }))),
        this.zones.load(tx, [workspaceId]),
      ]);
      const live = allLive.filter((j) => only || j.trigger.source !== "schedule");
      const journeyEvents = events.map((e) => ({ incoming: e, event: { name: e.name, properties: e.properties ?? {}, id: e.messageId } satisfies JourneyEvent }));
      const matched = journeyEvents.map(({ incoming, event }) => ({
        incoming,
        event,
        journeys: only ? live : live.filter((j) => triggerMatchesEvent(j.trigger, event)),
      }));
      await this.programs.load(tx, [...waiting.map((r) => r.version_id), ...matched.flatMap((m) => m.journeys.map((j) => j.versionId))]);
      const candidates = matched.flatMap((m) =>
        m.journeys.map(
          (j): EntryCandidate => ({ journeyId: j.journeyId, versionId: j.versionId, userId: m.incoming.userId, entryKey: m.incoming.messageId, program: this.programs.require(j.versionId) }),
        ),
      );
      const [gate, seen] = await Promise.all([
        EntryGate.prepare(tx, candidates, now),
        this.loadReceipts(tx, waiting.map((r) => r.id), events.map((e) => e.messageId)),
      ]);

      const batch = new Batch(now, this.hooks);
      const byUser = new Map<string, Inst[]>();
      for (const row of waiting) {
        const inst = batch.add(instFromRow(row, this.programs.require(row.version_id), users.get(userKey(workspaceId, row.user_id))!));
        byUser.set(row.user_id, [...(byUser.get(row.user_id) ?? []), inst]);
      }
      let c = 0;
      for (const { incoming, event, journeys } of matched) {
        const user = users.get(userKey(workspaceId, incoming.userId))!;
        for (const inst of byUser.get(incoming.userId) ?? []) {
          if (inst.state?.status !== "active" || seen.has(`${inst.id}\u0000${incoming.messageId}`)) continue;
          if (batch.apply(inst, { type: "event", now, user, event })) {
            inst.consumed.push(incoming.messageId);
            seen.add(`${inst.id}\u0000${incoming.messageId}`);
            this.counters.eventsDelivered += 1;
          }
        }
        for (const journey of journeys) {
          const candidate = candidates[c++];
          const decision = gate.decide(candidate, now);
          if (decision.kind === "duplicate") continue;
          if (decision.kind === "rejected") {
            batch.countEntry(journey.journeyId, journey.versionId, decision.reason);
            results.set(incoming.messageId, { entered: false, reason: decision.reason });
            decisions.push({ journeyId: journey.journeyId, versionId: journey.versionId, userId: incoming.userId, at: now, entered: false, reason: decision.reason });
            continue;
          }
          batch.countEntry(journey.journeyId, journey.versionId, "entered");
          const inst = batch.add(
            newInst({
              // Time-ordered ids (UUIDv7): a batch's instances, their node events and timers land
              // on neighbouring index pages instead of random ones (decision 0160).
              id: uuidv7(),
              workspaceId,
              journeyId: journey.journeyId,
              versionId: journey.versionId,
              userId: incoming.userId,
              program: candidate.program,
              user,
              state: null,
              created: { entryKey: incoming.messageId, enteredAt: now },
            }),
          );
          const withEvent = only ? only.withEvent : true;
          batch.apply(inst, {
            type: "start",
            now,
            user,
            instanceId: inst.id,
            workspaceTimezone: this.zones.get(workspaceId),
            ...(withEvent ? { event } : {}),
          });
          gate.entered(candidate, inst, now);
          byUser.set(incoming.userId, [...(byUser.get(incoming.userId) ?? []), inst]);
          results.set(incoming.messageId, { entered: true, instanceId: inst.id });
          decisions.push({ journeyId: journey.journeyId, versionId: journey.versionId, userId: incoming.userId, at: now, entered: true, instanceId: inst.id });
        }
      }
      await batch.settle(tx);
      batch.ledger = [...gate.admitted.values()];
      outbox = await batch.write(tx, { realNow: this.realNow(), leaseMs: this.leaseMs, leased: mode !== "pending" });
    });
    for (const decision of decisions) {
      if (decision.entered) this.counters.entries += 1;
      else this.counters.rejectedEntries += 1;
      this.options.onEntry?.(decision);
    }
    this.counters.batches += 1;
    await this.afterCommit(outbox, mode);
    return results;
  }

  private async loadReceipts(tx: Conn, instanceIds: string[], messageIds: string[]): Promise<Set<string>> {
    if (instanceIds.length === 0) return new Set();
    const found = await rows<{ instance_id: string; message_id: string }>(
      tx,
      sql`select instance_id, message_id from journey_instance_events
          where instance_id = any(${arr(instanceIds)}::uuid[]) and message_id = any(${arr([...new Set(messageIds)])}::text[])`,
    );
    return new Set(found.map((r) => `${r.instance_id}\u0000${r.message_id}`));
  }

}

/**
 * Which of these journeys are paused with "hold". `lock` takes a share lock on those rows, so a
 * resume (which updates them) waits for the caller's transaction, and the caller for the resume.
 */
export async function heldJourneys(db: Conn, journeyIds: readonly string[], lock = false): Promise<Set<string>> {
  const ids = [...new Set(journeyIds)];
  if (ids.length === 0) return new Set();
  const found = await rows<{ id: string }>(
    db,
    sql`select id from journeys where id = any(${arr(ids)}::uuid[]) and held ${lock ? sql`for share` : sql``}`,
  );
  return new Set(found.map((r) => r.id));
}

/** Group commit: items pushed while a flush runs go together into the next flush. */
class Coalescer<T> {
  private queue: Array<{ items: T[]; resolve(): void; reject(error: unknown): void }> = [];
  private flushing = false;

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    private readonly max: number,
  ) {}

  push(items: T[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const group = [this.queue.shift()!];
        let size = group[0].items.length;
        while (this.queue.length > 0 && size + this.queue[0].items.length <= this.max) {
          size += this.queue[0].items.length;
          group.push(this.queue.shift()!);
        }
        try {
          await this.flush(group.flatMap((g) => g.items));
          for (const g of group) g.resolve();
        } catch (error) {
          // Every caller of the group hears of the failure and may resend (the engine is
          // idempotent per messageId), as ingestion does with a 503.
          for (const g of group) g.reject(error);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let index = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (index < items.length) {
      const i = index++;
      out[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return out;
}
