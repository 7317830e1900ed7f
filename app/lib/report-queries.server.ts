import { sql } from "drizzle-orm";
import { query, type Db, type Tx } from "../../db/client";
import { cohortBounds, type ReturnRates, type SendHourRow, type StatsRange } from "./analytics.server";
import { returnRate } from "./report-stats";

/**
 * The journey report's conversion by send hour and return rates, read from rollups instead of the
 * raw tables (decision 0860). Triggers (migration 0022) copy every successful send into
 * `journey_message_sends` with the hour on the user's clock at the send, whether the instance
 * converted after it, and the user's first tracked event in the 7 days after it; a trigger on
 * that table keeps `journey_message_rollup` (entry hour × version × node × measure × bucket)
 * current. So both answers cost the number of rollup rows of the period, not its users or events.
 *
 * Same counting rules as the raw-table queries of analytics.server.ts (`sendHourConversions`,
 * `returnRates`, kept as the reference the tests compare with): periods select users by entry
 * hour; a return is an event within N × 24 hours after the instance's first send. One difference
 * by design: the local hour is the one recorded at the send, so a user who later moves to
 * another zone does not move history.
 */

/** Days a return can be counted for from the rollup (its buckets): 1–7. Longer windows read the raw tables. */
export const RETURN_DAYS_MAX = 7;

const iso = (ms: number) => new Date(ms).toISOString();

/** Folds the journey's pending message-rollup rows (one folder per journey at a time; another one skips). */
export async function foldMessageRollups(db: Db, journeyId: string): Promise<void> {
  await db.transaction(async (tx: Tx) => {
    const [lock] = await query<{ ok: boolean }>(tx, sql`select pg_try_advisory_xact_lock(7316860, hashtext(${journeyId})) as ok`);
    if (!lock?.ok) return;
    await query(
      tx,
      sql`with moved as (delete from journey_message_rollup_pending where journey_id = ${journeyId}::uuid
                         returning journey_id, version_id, cohort, node_id, measure, bucket, n)
          insert into journey_message_rollup (journey_id, version_id, cohort, node_id, measure, bucket, n)
          select journey_id, version_id, cohort, node_id, measure, bucket, sum(n) from moved
          group by journey_id, version_id, cohort, node_id, measure, bucket
          having sum(n) <> 0
          on conflict (journey_id, version_id, cohort, node_id, measure, bucket)
          do update set n = journey_message_rollup.n + excluded.n`,
    );
  });
}

function rangeWhere(journeyId: string, range: StatsRange, nodeId?: string) {
  const { from, to } = cohortBounds(range);
  return sql`journey_id = ${journeyId}::uuid${range.versionId ? sql` and version_id = ${range.versionId}::uuid` : sql``}${
    from !== null ? sql` and cohort >= ${iso(from)}::timestamptz` : sql``
  }${to !== null ? sql` and cohort < ${iso(to)}::timestamptz` : sql``}${nodeId ? sql` and node_id = ${nodeId}` : sql``}`;
}

/** Summed message-rollup rows of a journey and period: measure, bucket, n (folded + pending). */
async function messageRollup(db: Db, workspaceId: string, journeyId: string, range: StatsRange, measures: readonly string[], nodeId?: string) {
  const where = sql`${rangeWhere(journeyId, range, nodeId)} and measure = any(${sql.param([...measures])}::text[])`;
  const found = await query<{ measure: string; bucket: number | string; n: number | string }>(
    db,
    sql`select measure, bucket, sum(n) as n
        from (select measure, bucket, n from journey_message_rollup where ${where}
              union all
              select measure, bucket, n from journey_message_rollup_pending where ${where}) r
        where exists (select 1 from journeys j where j.id = ${journeyId}::uuid and j.workspace_id = ${workspaceId}::uuid)
        group by measure, bucket
        having sum(n) <> 0`,
  );
  return found.map((r) => ({ measure: r.measure, bucket: Number(r.bucket), n: Number(r.n) }));
}

/**
 * Conversion by send hour in the users' local time: per hour 0–23 (only hours with sends), the
 * successful sends and how many of them were followed by the instance's conversion.
 */
export async function sendHours(db: Db, workspaceId: string, journeyId: string, range: StatsRange = {}, options: { nodeId?: string } = {}): Promise<SendHourRow[]> {
  await foldMessageRollups(db, journeyId);
  const rows = await messageRollup(db, workspaceId, journeyId, range, ["sent", "converted"], options.nodeId);
  const byHour = new Map<number, SendHourRow>();
  for (const r of rows) {
    const row = byHour.get(r.bucket) ?? { hour: r.bucket, sent: 0, converted: 0 };
    if (r.measure === "sent") row.sent += r.n;
    else row.converted += r.n;
    byHour.set(r.bucket, row);
  }
  return [...byHour.values()].filter((r) => r.sent > 0).sort((a, b) => a.hour - b.hour);
}

/**
 * Return rates N days after each user's first message (per instance). Any tracked event: from the
 * rollup. A chosen event: the period's first sends (one index range) joined to that event's
 * `events` rows in the period's window — its cost grows with the period's messaged users.
 */
export async function messageReturns(
  db: Db,
  workspaceId: string,
  journeyId: string,
  range: StatsRange = {},
  options: { days?: readonly number[]; event?: string } = {},
): Promise<ReturnRates> {
  const days = [...(options.days ?? [1, 3, 7])];
  for (const day of days) {
    if (!Number.isInteger(day) || day < 1 || day > 366) throw new RangeError(`return days must be whole days from 1 to 366, got ${day}`);
  }
  if (options.event === undefined && days.every((d) => d <= RETURN_DAYS_MAX)) {
    await foldMessageRollups(db, journeyId);
    const rows = await messageRollup(db, workspaceId, journeyId, range, ["messaged"]);
    const messaged = rows.reduce((sum, r) => sum + r.n, 0);
    return {
      messaged,
      days: days.map((day) => {
        const returned = rows.filter((r) => r.bucket >= 1 && r.bucket <= day).reduce((sum, r) => sum + r.n, 0);
        return { day, returned, rate: returnRate(returned, messaged) };
      }),
    };
  }
  const horizon = Math.max(...days) * 24;
  const match = options.event !== undefined ? sql`e.name = ${options.event}` : sql`e.name not like '$%'`;
  const { from, to } = cohortBounds(range);
  // Written as a join (not a probe per send) so the planner can choose: a rare event is read once
  // from `events (workspace_id, name, timestamp)` within the period's window and hashed by user; a
  // common one is probed per messaged user on `events (workspace_id, user_id, name, timestamp)`.
  // Only the sends with a hit are grouped (first sends are one per instance).
  const found = await query<{ day: number | string; messaged: number | string; returned: number | string }>(
    db,
    sql`with f as materialized (
          select s.instance_id, s.user_id, s.at from journey_message_sends s
          where s.journey_id = ${journeyId}::uuid and s.first and s.workspace_id = ${workspaceId}::uuid
            ${range.versionId ? sql`and s.version_id = ${range.versionId}::uuid` : sql``}
            ${from !== null ? sql`and s.cohort >= ${iso(from)}::timestamptz` : sql``}
            ${to !== null ? sql`and s.cohort < ${iso(to)}::timestamptz` : sql``}),
        bounds as (select min(at) as lo, max(at) + ${horizon} * interval '1 hour' as hi from f),
        hits as materialized (
          select f.instance_id, min(e.timestamp - f.at) as after
          from f join events e
            on e.workspace_id = ${workspaceId}::uuid and e.user_id = f.user_id and ${match}
           and e.timestamp > f.at and e.timestamp <= f.at + ${horizon} * interval '1 hour'
           and e.timestamp > (select lo from bounds) and e.timestamp <= (select hi from bounds)
          group by f.instance_id)
        select d.day, (select count(*) from f) as messaged,
               (select count(*) from hits h where h.after <= d.day * interval '24 hours') as returned
        from unnest(${sql.param(days)}::int[]) as d(day)`,
  );
  const messaged = Number(found[0]?.messaged ?? 0);
  return {
    messaged,
    days: days.map((day) => {
      const returned = Number(found.find((r) => Number(r.day) === day)?.returned ?? 0);
      return { day, returned, rate: returnRate(returned, messaged) };
    }),
  };
}

/**
 * The check behind the tests (like `reconcileJourney` for the node rollups): the sends table
 * against the raw node events and events (every send there, `first`, `converted`, `returned_at`),
 * and the rollup against the sends table, per version, entry hour, node, measure and bucket.
 * Returns the differences in words (empty when everything agrees).
 */
export async function reconcileMessageSends(db: Db, journeyId: string): Promise<string[]> {
  await foldMessageRollups(db, journeyId);
  const problems: string[] = [];
  const sends = await query<{ instance_id: string; seq: number; problem: string }>(
    db,
    sql`with raw as (
          select n.instance_id, n.seq, n.workspace_id, n.user_id, n.at,
                 row_number() over (partition by n.instance_id order by n.at, n.seq) = 1 as first,
                 exists (select 1 from journey_node_events c where c.instance_id = n.instance_id and c.kind = 'conversion'
                         and not coalesce((c.data ->> 'holdout')::boolean, false) and c.at >= n.at) as converted
          from journey_node_events n
          where n.journey_id = ${journeyId}::uuid and n.kind = 'message' and n.message_status = 'sent'),
        truth as (
          select raw.*, (select min(e.timestamp) from events e where e.workspace_id = raw.workspace_id and e.user_id = raw.user_id
                          and e.name not like '$%' and e.timestamp > raw.at and e.timestamp <= raw.at + interval '168 hours') as returned_at
          from raw)
        select coalesce(t.instance_id, s.instance_id)::text as instance_id, coalesce(t.seq, s.seq) as seq,
               case when s.instance_id is null then 'missing from journey_message_sends'
                    when t.instance_id is null then 'in journey_message_sends without a sent node event'
                    else concat_ws('; ',
                      case when s.first <> t.first then format('first %s, should be %s', s.first, t.first) end,
                      case when s.converted <> t.converted then format('converted %s, should be %s', s.converted, t.converted) end,
                      case when s.returned_at is distinct from t.returned_at then format('returned_at %s, should be %s', s.returned_at, t.returned_at) end,
                      case when s.at <> t.at then 'at differs' end) end as problem
        from truth t full join (select * from journey_message_sends where journey_id = ${journeyId}::uuid) s
          on s.instance_id = t.instance_id and s.seq = t.seq
        where s.instance_id is null or t.instance_id is null
           or (s.first, s.converted, s.at) is distinct from (t.first, t.converted, t.at) or s.returned_at is distinct from t.returned_at`,
  );
  for (const s of sends) problems.push(`send ${s.instance_id}/${s.seq}: ${s.problem}`);
  const rollup = await query<{ key: string; rolled: number | string | null; counted: number | string | null }>(
    db,
    sql`with counted as (
          select s.version_id, s.cohort, s.node_id, m.measure, m.bucket, sum(m.n) as n
          from journey_message_sends s
          cross join lateral (values ('sent', s.local_hour, 1), ('converted', s.local_hour, s.converted::int),
                                     ('messaged', case when s.returned_at is null then 0 else least(7, greatest(1, ceil(extract(epoch from s.returned_at - s.at) / 86400)))::smallint end, s.first::int)) as m(measure, bucket, n)
          where s.journey_id = ${journeyId}::uuid and m.n <> 0
          group by 1, 2, 3, 4, 5),
        rolled as (
          select version_id, cohort, node_id, measure, bucket, sum(n) as n from (
            select version_id, cohort, node_id, measure, bucket, n from journey_message_rollup where journey_id = ${journeyId}::uuid
            union all
            select version_id, cohort, node_id, measure, bucket, n from journey_message_rollup_pending where journey_id = ${journeyId}::uuid) x
          group by 1, 2, 3, 4, 5 having sum(n) <> 0)
        select concat_ws(' ', coalesce(c.version_id, r.version_id), to_char(coalesce(c.cohort, r.cohort) at time zone 'UTC', 'YYYY-MM-DD"T"HH24'),
                         coalesce(c.node_id, r.node_id), coalesce(c.measure, r.measure), coalesce(c.bucket, r.bucket)) as key,
               r.n as rolled, c.n as counted
        from counted c full join rolled r using (version_id, cohort, node_id, measure, bucket)
        where c.n is distinct from r.n`,
  );
  for (const r of rollup) problems.push(`rollup ${r.key}: ${Number(r.rolled ?? 0)} ≠ ${Number(r.counted ?? 0)} in journey_message_sends`);
  return problems;
}
