import { sql, type SQL } from "drizzle-orm";
import { query, type Db, type Tx } from "../../db/client";
import type { SegmentDependencies } from "../../db/schema/segments";
import type { SegmentChange } from "../../workflows/engine";
import { listLiveJourneys } from "../lib/journeys.server";
import type { AppServices } from "../services.server";
import { compileRule } from "./compile.server";
import { segmentDefinitionSchema, type RuleGroup } from "./rules";

/**
 * Segment membership: set-based evaluation (one statement per segment, for any number of
 * users), the incremental evaluator that ingestion feeds, notification of the journey engine,
 * and the sweep for rules that change with time alone. See decision 0310.
 */

export interface LiveSegment {
  id: string;
  workspaceId: string;
  key: string;
  definition: RuleGroup;
  dependencies: SegmentDependencies;
  timeDependent: boolean;
}

export interface MembershipChange {
  /** segment_membership_events.id */
  id: number;
  segmentId: string;
  segmentKey: string;
  workspaceId: string;
  userId: string;
  change: "entered" | "exited";
  at: number;
}

type Conn = Db | Tx;

function userScope(userIds: readonly string[] | null): { users: SQL; members: SQL } {
  if (!userIds) return { users: sql``, members: sql`` };
  // `= any(array(...))` is an index lookup on the primary key whatever the planner's estimates.
  const list = sql`any(array(select jsonb_array_elements_text(${JSON.stringify(userIds)}::jsonb)))`;
  return { users: sql` and u.id = ${list}`, members: sql` and sm.user_id = ${list}` };
}

/**
 * Brings the members of one segment up to date, either for the given users or (userIds null)
 * for the whole workspace, in ONE statement: matching users are inserted (anti-join), members
 * who no longer match are deleted, each change is recorded, and the cached count adjusted.
 * `notify` false records the changes as already delivered (first computation of a new segment:
 * no journey can reference it yet).
 */
export async function evaluateSegment(
  db: Conn,
  segment: LiveSegment,
  userIds: readonly string[] | null,
  now: Date,
  options: { notify: boolean },
): Promise<MembershipChange[]> {
  if (userIds && userIds.length === 0) return [];
  const scope = userScope(userIds);
  const condition = compileRule(segment.definition, { now, scoped: userIds !== null });
  const at = sql`${now.toISOString()}::timestamptz`;
  const notifiedAt = options.notify ? sql`null::timestamptz` : at;
  const count = userIds
    ? sql`member_count + (select count(*) from entered)::int - (select count(*) from exited)::int`
    : sql`(select count(*) from matched)::int`;
  const rows = await query<{ id: number | string; user_id: string; change: "entered" | "exited" }>(
    db,
    sql`with matched as materialized (
          select u.id from users u where u.workspace_id = ${segment.workspaceId}::uuid${scope.users} and ${condition}
        ),
        entered as (
          insert into segment_members (segment_id, workspace_id, user_id, entered_at)
          select ${segment.id}::uuid, ${segment.workspaceId}::uuid, m.id, ${at} from matched m
          where not exists (select 1 from segment_members sm where sm.segment_id = ${segment.id}::uuid and sm.user_id = m.id)
          on conflict do nothing
          returning user_id
        ),
        exited as (
          delete from segment_members sm
          where sm.segment_id = ${segment.id}::uuid${scope.members}
            and not exists (select 1 from matched m where m.id = sm.user_id)
          returning user_id
        ),
        counted as (
          update segments set member_count = ${count}${userIds ? sql`` : sql`, computed_at = ${at}`}
          where id = ${segment.id}::uuid
        ),
        changes as (
          insert into segment_membership_events (workspace_id, segment_id, user_id, change, at, notified_at)
          select ${segment.workspaceId}::uuid, ${segment.id}::uuid, user_id, 'entered', ${at}, ${notifiedAt} from entered
          union all
          select ${segment.workspaceId}::uuid, ${segment.id}::uuid, user_id, 'exited', ${at}, ${notifiedAt} from exited
          returning id, user_id, change
        )
        select id, user_id, change from changes order by id`,
  );
  const atMs = now.getTime();
  return rows.map((r) => ({
    id: Number(r.id),
    segmentId: segment.id,
    segmentKey: segment.key,
    workspaceId: segment.workspaceId,
    userId: r.user_id,
    change: r.change,
    at: atMs,
  }));
}

/** The engine references segments by key (journey documents are portable between workspaces). */
export function toEngineChange(change: MembershipChange): SegmentChange {
  return { workspaceId: change.workspaceId, userId: change.userId, segmentId: change.segmentKey, change: change.change, at: change.at };
}

const NOTIFY_CHUNK = 1000;
const INTEREST_TTL_MS = 2_000;

/**
 * Segment keys that live journeys enter or leave by (segment_entry / segment_exit triggers).
 * Only their changes go to the engine: a lifecycle segment that no journey uses would otherwise
 * hand it thousands of changes to discard. Cached for INTEREST_TTL_MS per workspace, so a
 * journey published this instant hears of entries from at most that long after publishing.
 */
async function interestedKeys(services: AppServices, workspaceId: string): Promise<Set<string>> {
  const cache = segmentRuntime(services).interest;
  const hit = cache.get(workspaceId);
  if (hit && Date.now() - hit.loadedAt < INTEREST_TTL_MS) return hit.keys;
  const keys = new Set<string>();
  for (const journey of await listLiveJourneys(services.db, workspaceId)) {
    const config = journey.program.nodes[journey.program.triggerId]?.config as { source?: string; segment?: string } | undefined;
    if ((config?.source === "segment_entry" || config?.source === "segment_exit") && config.segment) keys.add(config.segment);
  }
  cache.set(workspaceId, { loadedAt: Date.now(), keys });
  return keys;
}

/** Forget which segments journeys listen to (call after publishing, pausing or resuming a journey). */
export function invalidateSegmentInterest(services: AppServices, workspaceId?: string): void {
  const cache = segmentRuntime(services).interest;
  if (workspaceId) cache.delete(workspaceId);
  else cache.clear();
}

async function markNotified(services: AppServices, changes: readonly MembershipChange[]): Promise<void> {
  for (let i = 0; i < changes.length; i += 5_000) {
    await services.db.execute(
      sql`update segment_membership_events set notified_at = ${services.now().toISOString()}::timestamptz
          where id in (select jsonb_array_elements_text(${JSON.stringify(changes.slice(i, i + 5_000).map((c) => c.id))}::jsonb)::bigint)`,
    );
  }
}

/**
 * Hands changes to the journey engine and marks them delivered. Changes the engine refused stay
 * pending; the sweep re-sends them (the engine is idempotent per user and change). Changes of
 * segments no live journey is triggered by are marked delivered without bothering the engine.
 */
export async function notifyEngine(services: AppServices, changes: readonly MembershipChange[]): Promise<void> {
  if (changes.length === 0) return;
  const engine = services.engine;
  const interesting: MembershipChange[] = [];
  const skipped: MembershipChange[] = [];
  const byWorkspace = new Map<string, Set<string>>();
  for (const change of changes) {
    let keys = byWorkspace.get(change.workspaceId);
    if (!keys) byWorkspace.set(change.workspaceId, (keys = engine ? await interestedKeys(services, change.workspaceId) : new Set()));
    (keys.has(change.segmentKey) ? interesting : skipped).push(change);
  }
  await markNotified(services, skipped);
  for (let i = 0; i < interesting.length; i += NOTIFY_CHUNK) {
    const chunk = interesting.slice(i, i + NOTIFY_CHUNK);
    try {
      await engine!.handleSegmentChanges(chunk.map(toEngineChange));
    } catch (error) {
      services.log.error("segment changes not accepted by the engine; the sweep will retry", {
        error: error instanceof Error ? error.message : String(error),
        changes: chunk.length,
      });
      return;
    }
    await markNotified(services, chunk);
  }
}

/** Re-sends changes the engine has not accepted (crash between commit and notification, engine down). */
export async function redeliverPending(services: AppServices, olderThanMs = 30_000, limit = 5000): Promise<number> {
  const cutoff = new Date(services.now().getTime() - olderThanMs).toISOString();
  const rows = await query<{ id: number | string; workspace_id: string; segment_id: string; key: string; user_id: string; change: "entered" | "exited"; at: Date | string }>(
    services.db,
    sql`select e.id, e.workspace_id, e.segment_id, s.key, e.user_id, e.change, e.at
        from segment_membership_events e join segments s on s.id = e.segment_id
        where e.notified_at is null and e.at < ${cutoff}::timestamptz
        order by e.id limit ${limit}`,
  );
  await notifyEngine(
    services,
    rows.map((r) => ({
      id: Number(r.id),
      workspaceId: r.workspace_id,
      segmentId: r.segment_id,
      segmentKey: r.key,
      userId: r.user_id,
      change: r.change,
      at: new Date(r.at).getTime(),
    })),
  );
  return rows.length;
}

type SegmentRow = {
  id: string;
  workspace_id: string;
  key: string;
  definition: unknown;
  dependencies: SegmentDependencies;
  time_dependent: boolean;
};

function toLive(row: SegmentRow): LiveSegment | null {
  const parsed = segmentDefinitionSchema.safeParse(row.definition);
  if (!parsed.success) return null;
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    key: row.key,
    definition: parsed.data,
    dependencies: row.dependencies,
    timeDependent: row.time_dependent,
  };
}

export async function loadLiveSegments(db: Conn, where: SQL): Promise<LiveSegment[]> {
  const rows = await query<SegmentRow>(
    db,
    sql`select id, workspace_id, key, definition, dependencies, time_dependent from segments where archived_at is null and ${where} order by created_at`,
  );
  return rows.map(toLive).filter((s): s is LiveSegment => s !== null);
}

/** Recomputes a whole segment and notifies the engine. */
export async function recomputeSegment(services: AppServices, segment: LiveSegment, options: { notify?: boolean } = {}): Promise<MembershipChange[]> {
  const notify = options.notify ?? true;
  const changes = await evaluateSegment(services.db, segment, null, services.now(), { notify });
  if (notify) await notifyEngine(services, changes);
  return changes;
}

// ---------------------------------------------------------------------------------------------
// Incremental evaluation: ingestion reports what it changed; a short debounce batches users so
// each affected segment is evaluated with one statement per flush.

/** What a stored call can have changed for one user. */
export interface ProfileSignals {
  events?: Iterable<string>;
  traits?: Iterable<string>;
  /** A track/page/screen call or a new profile: first_seen / last_seen rules. */
  activity?: boolean;
  /** Message state changed (channels) or the profile was merged: re-evaluate everything. */
  messages?: boolean;
  all?: boolean;
}

interface PendingUser {
  events: Set<string>;
  traits: Set<string>;
  activity: boolean;
  messages: boolean;
  all: boolean;
}

interface WorkspaceIndex {
  loadedAt: number;
  segments: LiveSegment[];
}

const INDEX_TTL_MS = 5_000;
const USERS_PER_STATEMENT = 2_000;

/**
 * One evaluation loop. There are two: the "journeys" lane evaluates only segments that live
 * journeys are triggered by, the "others" lane everything else, so thousands of lifecycle
 * updates never queue a journey entry behind them.
 */
class EvaluationLane {
  private pending = new Map<string, Map<string, PendingUser>>();
  private indexes = new Map<string, WorkspaceIndex>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];
  /** Observed flush durations, for logs and the latency benchmark. */
  lastFlushMs = 0;

  constructor(
    private readonly services: AppServices,
    private readonly lane: "journeys" | "others",
    private readonly delayMs = 5,
  ) {}

  enqueue(workspaceId: string, userId: string, signals: ProfileSignals): void {
    // A workspace known (recently) to have no segments has nothing to evaluate.
    const known = this.indexes.get(workspaceId);
    if (known && known.segments.length === 0 && Date.now() - known.loadedAt < INDEX_TTL_MS) return;
    let users = this.pending.get(workspaceId);
    if (!users) this.pending.set(workspaceId, (users = new Map()));
    let entry = users.get(userId);
    if (!entry) users.set(userId, (entry = { events: new Set(), traits: new Set(), activity: false, messages: false, all: false }));
    for (const e of signals.events ?? []) entry.events.add(e);
    for (const t of signals.traits ?? []) entry.traits.add(t);
    entry.activity ||= Boolean(signals.activity);
    entry.messages ||= Boolean(signals.messages);
    entry.all ||= Boolean(signals.all);
    this.schedule();
  }

  /** Forget cached segment lists (after a segment was created, edited or archived here). */
  invalidate(workspaceId?: string): void {
    if (workspaceId) this.indexes.delete(workspaceId);
    else this.indexes.clear();
  }

  /** Resolves once everything enqueued so far has been evaluated and notified. */
  whenIdle(): Promise<void> {
    if (!this.timer && !this.running && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.timer || this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.flush()
        .catch((error) => this.services.log.error("segment evaluation failed", { error: describeError(error) }))
        .finally(() => {
          this.running = null;
          if (this.pending.size > 0) this.schedule();
          else this.settle();
        });
    }, this.delayMs);
    this.timer.unref?.();
  }

  private settle(): void {
    const waiters = this.idleWaiters.splice(0);
    for (const resolve of waiters) resolve();
  }

  private async segmentsOf(workspaceId: string): Promise<LiveSegment[]> {
    const cached = this.indexes.get(workspaceId);
    if (cached && Date.now() - cached.loadedAt < INDEX_TTL_MS) return cached.segments;
    const segments = await loadLiveSegments(this.services.db, sql`workspace_id = ${workspaceId}::uuid`);
    this.indexes.set(workspaceId, { loadedAt: Date.now(), segments });
    return segments;
  }

  private async flush(): Promise<void> {
    const started = performance.now();
    const batch = this.pending;
    this.pending = new Map();
    for (const [workspaceId, users] of batch) {
      const segments = await this.segmentsOf(workspaceId);
      const interest = this.services.engine ? await interestedKeys(this.services, workspaceId) : new Set<string>();
      for (const segment of segments) {
        const notify = interest.has(segment.key);
        if (notify !== (this.lane === "journeys")) continue;
        const affected = affectedUsers(segment, users);
        for (let i = 0; i < affected.length; i += USERS_PER_STATEMENT) {
          // Changes of segments no journey uses are recorded as delivered in the same statement.
          const changes = await evaluateSegment(this.services.db, segment, affected.slice(i, i + USERS_PER_STATEMENT), this.services.now(), { notify });
          if (notify) await notifyEngine(this.services, changes);
        }
      }
    }
    this.lastFlushMs = performance.now() - started;
  }
}

/** Incremental membership updates after ingestion; see EvaluationLane. */
export class SegmentEvaluator {
  private readonly lanes: EvaluationLane[];

  constructor(services: AppServices, delayMs = 5) {
    this.lanes = [new EvaluationLane(services, "journeys", delayMs), new EvaluationLane(services, "others", delayMs)];
  }

  enqueue(workspaceId: string, userId: string, signals: ProfileSignals): void {
    for (const lane of this.lanes) lane.enqueue(workspaceId, userId, signals);
  }

  /** Forget cached segment lists (after a segment was created, edited or archived here). */
  invalidate(workspaceId?: string): void {
    for (const lane of this.lanes) lane.invalidate(workspaceId);
  }

  /** Resolves once everything enqueued so far has been evaluated and notified. */
  async whenIdle(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane.whenIdle()));
  }

  /** Flush durations of the journeys lane and the other lane. */
  get lastFlushMs(): { journeys: number; others: number } {
    return { journeys: this.lanes[0].lastFlushMs, others: this.lanes[1].lastFlushMs };
  }
}

/** The database's own words (drizzle wraps them in a "Failed query" error carrying the SQL). */
function describeError(error: unknown): string {
  const cause = (error as { cause?: { message?: string; code?: string } } | undefined)?.cause;
  if (cause?.message) return `${cause.code ? `${cause.code} ` : ""}${cause.message}`;
  return error instanceof Error ? error.message : String(error);
}

function affectedUsers(segment: LiveSegment, users: Map<string, PendingUser>): string[] {
  const deps = segment.dependencies;
  const out: string[] = [];
  for (const [userId, p] of users) {
    if (
      p.all ||
      (deps.activity && p.activity) ||
      (deps.messages && p.messages) ||
      deps.events.some((e) => p.events.has(e)) ||
      deps.traits.some((t) => p.traits.has(t))
    ) {
      out.push(userId);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Per-services runtime. The Remix server build bundles its own copy of this module, so state is
// attached to the services object under a global symbol: tests and the server then share it.

const RUNTIME = Symbol.for("waypost.segments.runtime");

interface SegmentRuntime {
  evaluator: SegmentEvaluator;
  interest: Map<string, { loadedAt: number; keys: Set<string> }>;
}

export function segmentRuntime(services: AppServices): SegmentRuntime {
  const holder = services as unknown as Record<symbol, SegmentRuntime | undefined>;
  let runtime = holder[RUNTIME];
  if (!runtime) {
    runtime = { evaluator: new SegmentEvaluator(services), interest: new Map() };
    Object.defineProperty(services, RUNTIME, { value: runtime, enumerable: false });
  }
  return runtime;
}

/**
 * For other areas (profile updates from journeys, message state changes from the channels): tell
 * segments that something about these users changed.
 */
export function notifyProfileChanged(services: AppServices, workspaceId: string, userIds: Iterable<string>, signals: ProfileSignals): void {
  const evaluator = segmentRuntime(services).evaluator;
  for (const userId of userIds) evaluator.enqueue(workspaceId, userId, signals);
}

// ---------------------------------------------------------------------------------------------
// The sweep.

export interface SegmentSweeper {
  /** One sweep now (tests, CLI); resolves with what it did. */
  runOnce(): Promise<{ segments: number; changes: number; redelivered: number }>;
  /** Stops sweeping and waits for segment work in flight (the sweep and incremental evaluation). */
  stop(): Promise<void>;
}

/**
 * Every `intervalMs`: recompute time-dependent segments and segments with message rules, and
 * re-send undelivered changes. Every `fullEvery`-th sweep recomputes all segments, which heals
 * anything an interrupted incremental evaluation missed. An advisory lock per segment keeps
 * several app processes from recomputing the same segment at once.
 */
export function startSegmentSweeper(services: AppServices, intervalMs: number, options: { fullEvery?: number } = {}): SegmentSweeper {
  const fullEvery = options.fullEvery ?? 10;
  let sweeps = 0;
  let stopped = false;
  let current: Promise<unknown> | null = null;

  const runOnce = async () => {
    const full = sweeps++ % fullEvery === fullEvery - 1;
    const segments = await loadLiveSegments(
      services.db,
      full ? sql`true` : sql`(time_dependent or (dependencies ->> 'messages')::boolean)`,
    );
    let changes = 0;
    let done = 0;
    for (const segment of segments) {
      if (stopped) break;
      const notify = Boolean(services.engine) && (await interestedKeys(services, segment.workspaceId)).has(segment.key);
      const result = await services.db.transaction(async (tx) => {
        const [lock] = await query<{ ok: boolean }>(tx, sql`select pg_try_advisory_xact_lock(7316002, hashtext(${segment.id}::text)) as ok`);
        if (!lock?.ok) return null;
        return evaluateSegment(tx, segment, null, services.now(), { notify });
      });
      if (result) {
        done++;
        changes += result.length;
        if (notify) await notifyEngine(services, result);
      }
    }
    const redelivered = stopped ? 0 : await redeliverPending(services);
    return { segments: done, changes, redelivered };
  };

  const tick = () => {
    if (stopped) return;
    current = runOnce()
      .catch((error) => services.log.error("segment sweep failed", { error: describeError(error) }))
      .finally(() => {
        current = null;
        if (!stopped) {
          timer = setTimeout(tick, intervalMs);
          timer.unref?.();
        }
      });
  };
  let timer: ReturnType<typeof setTimeout> = setTimeout(tick, intervalMs);
  timer.unref?.();

  return {
    runOnce,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await current;
      await segmentRuntime(services).evaluator.whenIdle();
    },
  };
}
