import { sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import type { InstanceState, NodeRecord } from "../interpreter";
import { arr, iso, rows, transaction, type Conn } from "../embedded/db.server";
import { nodeEventColumns } from "../node-events";
import type { InstanceRef } from "./contract";

/**
 * The Temporal engine's writes to the tables it shares with the embedded engine
 * (db/schema/engine.ts): instances in `journey_instances`, analytics in `journey_node_events`,
 * entry counts in `journey_entry_stats`. Sharing them is what makes the UI, entry rules and
 * node analytics identical on both engines (docs/decisions/0504-temporal-shared-tables.md).
 *
 * A Temporal-driven row keeps `wake_at` null and `awaiting` empty, the two columns through which
 * the embedded engine finds work, so an embedded worker never touches it; its `state` carries
 * `driver: "temporal"` so the Temporal engine finds its own rows when routing events.
 */

export const TEMPORAL_DRIVER = "temporal";

export type StoredState = InstanceState & { driver: typeof TEMPORAL_DRIVER };

export function storedState(state: InstanceState): StoredState {
  return { ...state, driver: TEMPORAL_DRIVER };
}

/**
 * Stores node events idempotently: (instance_id, seq) is the key, so a retried activity counts
 * nothing twice. `replace` overwrites instead (the workflow's records win over a mismatched
 * pre-commit, see contract.ts).
 */
export async function insertNodeEvents(db: Conn, instance: InstanceRef, records: readonly NodeRecord[], replace = false): Promise<void> {
  if (records.length === 0) return;
  const cols = records.map((r) => {
    const c = nodeEventColumns(r);
    return { r, ...c, data: c.data ? JSON.stringify(c.data) : null };
  });
  await rows(
    db,
    sql`insert into journey_node_events (instance_id, seq, workspace_id, journey_id, version_id, user_id, node_id, kind, output, reason,
                                         message_status, channel, data, at)
        select ${instance.instanceId}::uuid, d.seq, ${instance.workspaceId}::uuid, ${instance.journeyId}::uuid, ${instance.versionId}::uuid,
               ${instance.userId}, d.node_id, d.kind, d.output, d.reason, d.status, d.channel, d.data::jsonb, d.at::timestamptz
        from unnest(${arr(cols.map((c) => c.r.seq))}::int[], ${arr(cols.map((c) => c.nodeId))}::text[], ${arr(cols.map((c) => c.r.kind))}::text[],
                    ${arr(cols.map((c) => c.output))}::text[], ${arr(cols.map((c) => c.reason))}::text[], ${arr(cols.map((c) => c.status))}::text[],
                    ${arr(cols.map((c) => c.channel))}::text[], ${arr(cols.map((c) => c.data))}::text[], ${arr(cols.map((c) => iso(c.r.at)))}::text[])
             as d(seq, node_id, kind, output, reason, status, channel, data, at)
        on conflict (instance_id, seq) do ${
          replace
            ? sql`update set node_id = excluded.node_id, kind = excluded.kind, output = excluded.output, reason = excluded.reason,
                  message_status = excluded.message_status, channel = excluded.channel, data = excluded.data, at = excluded.at`
            : sql`nothing`
        }`,
  );
}

/**
 * The instance row follows the newest state. Activities of one instance never overlap, but a
 * timed-out attempt may finish after its retry: the seq guard keeps an older state from winning.
 * `force` skips the guard: the workflow is correcting what an attempt it did not accept stored.
 */
export async function updateInstance(db: Conn, instanceId: string, state: InstanceState, now: number, force = false): Promise<void> {
  const completed = state.status === "completed";
  await rows(
    db,
    sql`update journey_instances set
          state = ${JSON.stringify(storedState(state))}::jsonb, status = ${state.status}, reason = ${state.reason ?? null},
          node_id = ${state.nodeId}, holdout = ${state.holdout}, updated_at = ${iso(now)}::timestamptz,
          completed_at = ${completed ? sql`coalesce(completed_at, ${iso(now)}::timestamptz)` : sql`null`}
        where id = ${instanceId}::uuid ${force ? sql`` : sql`and coalesce((state ->> 'seq')::int, 0) <= ${state.seq}`}`,
  );
}

export interface Progress {
  instance: InstanceRef;
  /** The workflow's records, up to `state.seq`. */
  pending: readonly NodeRecord[];
  /** The workflow's state when it handed over `pending`. */
  state: InstanceState;
  /**
   * The workflow's view wins: its records overwrite, records beyond `state.seq` (pre-committed
   * by an attempt whose result the workflow never applied) are removed, the row is rewritten.
   */
  replace?: boolean;
  /** Records of the step this activity ran ahead of the workflow, and that step's state. */
  precommitted: readonly NodeRecord[];
  next: InstanceState;
  now: number;
}

/** What one activity stores, in one transaction. */
export async function storeProgress(db: Db, progress: Progress): Promise<void> {
  const { instance, replace = false } = progress;
  await transaction(db, async (tx) => {
    await insertNodeEvents(tx, instance, progress.pending, replace);
    if (replace) {
      await rows(tx, sql`delete from journey_node_events where instance_id = ${instance.instanceId}::uuid and seq > ${progress.state.seq}`);
    }
    await insertNodeEvents(tx, instance, progress.precommitted);
    await updateInstance(tx, instance.instanceId, progress.next, progress.now, replace);
    // A move to a new version (workflows/move.ts): the row follows the version its workflow now runs.
    if (progress.pending.some((r) => r.kind === "moved")) {
      await rows(tx, sql`update journey_instances set version_id = ${instance.versionId}::uuid where id = ${instance.instanceId}::uuid`);
    }
  });
}

export interface NewInstance {
  instance: InstanceRef;
  entryKey: string;
  state: InstanceState;
  records: readonly NodeRecord[];
  enteredAt: number;
}

/** The entry: instance row and the entry step's records, inside the caller's transaction. */
export async function insertInstance(tx: Conn, entry: NewInstance): Promise<void> {
  const { instance, state } = entry;
  const completed = state.status === "completed";
  await rows(
    tx,
    sql`insert into journey_instances (id, workspace_id, journey_id, version_id, user_id, entry_key, status, reason, node_id, holdout,
                                       state, wake_at, awaiting, entered_at, updated_at, completed_at)
        values (${instance.instanceId}::uuid, ${instance.workspaceId}::uuid, ${instance.journeyId}::uuid, ${instance.versionId}::uuid,
                ${instance.userId}, ${entry.entryKey}, ${state.status}, ${state.reason ?? null}, ${state.nodeId}, ${state.holdout},
                ${JSON.stringify(storedState(state))}::jsonb, null, '{}'::text[], ${iso(entry.enteredAt)}::timestamptz,
                ${iso(entry.enteredAt)}::timestamptz, ${completed ? sql`${iso(entry.enteredAt)}::timestamptz` : sql`null`})`,
  );
  await insertNodeEvents(tx, instance, entry.records);
}

/** Entries and refusals per journey, version, UTC day and outcome (the embedded engine's counters). */
export async function countEntries(tx: Conn, counts: ReadonlyArray<{ journeyId: string; versionId: string; at: number; outcome: string }>): Promise<void> {
  if (counts.length === 0) return;
  const grouped = new Map<string, { journeyId: string; versionId: string; day: string; outcome: string; count: number }>();
  for (const c of counts) {
    const day = iso(c.at).slice(0, 10);
    const key = `${c.journeyId}|${c.versionId}|${day}|${c.outcome}`;
    const entry = grouped.get(key) ?? { journeyId: c.journeyId, versionId: c.versionId, day, outcome: c.outcome, count: 0 };
    entry.count += 1;
    grouped.set(key, entry);
  }
  const list = [...grouped.values()];
  await rows(
    tx,
    sql`insert into journey_entry_stats (journey_id, version_id, day, outcome, count)
        select j, v, day::date, outcome, n
        from unnest(${arr(list.map((s) => s.journeyId))}::uuid[], ${arr(list.map((s) => s.versionId))}::uuid[],
                    ${arr(list.map((s) => s.day))}::text[], ${arr(list.map((s) => s.outcome))}::text[], ${arr(list.map((s) => s.count))}::int[])
             as d(j, v, day, outcome, n)
        on conflict (journey_id, version_id, day, outcome, shard) do update set count = journey_entry_stats.count + excluded.count`,
  );
}

/**
 * Advances the entry ledger the entry gate locked (`EntryGate.admitted`): entry rules read the
 * count and the latest entry from it, whichever engine admitted the user.
 */
export async function advanceEntryLedger(tx: Conn, admitted: ReadonlyArray<{ journeyId: string; userId: string; count: number; last: number }>): Promise<void> {
  if (admitted.length === 0) return;
  await rows(
    tx,
    sql`update journey_entry_ledger l set entries = l.entries + d.n, last_entered_at = d.at::timestamptz
        from unnest(${arr(admitted.map((e) => e.journeyId))}::uuid[], ${arr(admitted.map((e) => e.userId))}::text[], ${arr(admitted.map((e) => e.count))}::int[],
                    ${arr(admitted.map((e) => iso(e.last)))}::text[]) as d(j, u, n, at)
        where l.journey_id = d.j and l.user_id = d.u`,
  );
}

export interface TemporalInstanceRow {
  id: string;
  workspaceId: string;
  journeyId: string;
  versionId: string;
  userId: string;
  entryKey: string;
  enteredAt: number;
  state: StoredState;
}

const ROW = sql`id, workspace_id, journey_id, version_id, user_id, entry_key, (extract(epoch from entered_at) * 1000)::float8 as entered_at, state`;

type RawRow = { id: string; workspace_id: string; journey_id: string; version_id: string; user_id: string; entry_key: string; entered_at: number; state: StoredState };

function fromRaw(r: RawRow): TemporalInstanceRow {
  return { id: r.id, workspaceId: r.workspace_id, journeyId: r.journey_id, versionId: r.version_id, userId: r.user_id, entryKey: r.entry_key, enteredAt: Math.round(Number(r.entered_at)), state: r.state };
}

/** Active Temporal-driven instances of these users: the candidates for event routing. */
export async function activeInstances(db: Conn, workspaceId: string, userIds: readonly string[]): Promise<TemporalInstanceRow[]> {
  if (userIds.length === 0) return [];
  const found = await rows<RawRow>(
    db,
    sql`select ${ROW} from journey_instances
        where workspace_id = ${workspaceId}::uuid and user_id = any(${arr(userIds)}::text[]) and status = 'active'
          and state ->> 'driver' = ${TEMPORAL_DRIVER}
        order by entered_at, id`,
  );
  return found.map(fromRaw);
}

/** The instance an entry key already created (a redelivered entry), if any. */
export async function instanceByEntryKey(db: Conn, journeyId: string, userId: string, entryKey: string): Promise<TemporalInstanceRow | null> {
  const [found] = await rows<RawRow>(
    db,
    sql`select ${ROW} from journey_instances where journey_id = ${journeyId}::uuid and user_id = ${userId} and entry_key = ${entryKey}
          and state ->> 'driver' = ${TEMPORAL_DRIVER}`,
  );
  return found ? fromRaw(found) : null;
}

/** One Temporal-driven instance of the workspace (operator actions); `lock` locks the row. */
export async function instanceById(db: Conn, workspaceId: string, instanceId: string, lock = false): Promise<TemporalInstanceRow | null> {
  const [found] = await rows<RawRow>(
    db,
    sql`select ${ROW} from journey_instances where id = ${instanceId}::uuid and workspace_id = ${workspaceId}::uuid
          and state ->> 'driver' = ${TEMPORAL_DRIVER} ${lock ? sql`for update` : sql``}`,
  );
  return found ? fromRaw(found) : null;
}

/** Ids of a journey's active Temporal-driven instances (holding and releasing them). */
export async function activeInstanceIds(db: Conn, journeyId: string): Promise<string[]> {
  const found = await rows<{ id: string }>(
    db,
    sql`select id from journey_instances where journey_id = ${journeyId}::uuid and status = 'active' and state ->> 'driver' = ${TEMPORAL_DRIVER}`,
  );
  return found.map((r) => r.id);
}

/** Which (instance, message) pairs were already signalled: redelivered events cost no action. */
export async function deliveredEvents(db: Conn, instanceIds: readonly string[], messageIds: readonly string[]): Promise<Set<string>> {
  if (instanceIds.length === 0 || messageIds.length === 0) return new Set();
  const found = await rows<{ instance_id: string; message_id: string }>(
    db,
    sql`select instance_id, message_id from journey_instance_events
        where instance_id = any(${arr(instanceIds)}::uuid[]) and message_id = any(${arr([...new Set(messageIds)])}::text[])`,
  );
  return new Set(found.map((r) => `${r.instance_id}\u0000${r.message_id}`));
}

export async function markDelivered(db: Conn, pairs: ReadonlyArray<{ instanceId: string; messageId: string }>): Promise<void> {
  if (pairs.length === 0) return;
  await rows(
    db,
    sql`insert into journey_instance_events (instance_id, message_id)
        select * from unnest(${arr(pairs.map((p) => p.instanceId))}::uuid[], ${arr(pairs.map((p) => p.messageId))}::text[])
        on conflict do nothing`,
  );
}
