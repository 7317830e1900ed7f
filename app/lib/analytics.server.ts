import { sql, type SQL } from "drizzle-orm";
import { query, type Db } from "../../db/client";

/**
 * Journey analytics from the embedded engine's node events (docs/engines.md, "Node events").
 * Every count is exact: node events are keyed by (instance, seq) and written with the step that
 * produced them, so a retried batch or a re-executed side effect never counts twice. Message
 * delivery, opens and clicks come from the channels' `messages` rows, the only place that
 * knows about them after the send.
 */

export interface StatsRange {
  /** Only this published version (default: all versions). */
  versionId?: string;
  /** Inclusive start / exclusive end of the period (node events by time, instances by entry). */
  from?: Date | number;
  to?: Date | number;
}

export interface MessageOutcomes {
  /** Send attempts that went out (one per node visit, retries included in the one). */
  sent: number;
  delivered: number;
  opened: number;
  clicked: number;
  /** Send failures, delivery failures and "not delivered in time". */
  failed: number;
  /** Held for quiet hours or a rate limit (each deferral counted). */
  deferred: number;
}

export interface NodeStats {
  nodeId: string;
  entered: number;
  /** Users at this node right now (not limited to the period). */
  waiting: number;
  /** Users who left by each output. */
  left: Record<string, number>;
  messages: MessageOutcomes;
  /** Why users left by a failure path or a message failed (折损原因), by reason. */
  failureReasons: Record<string, number>;
  /** Conversions whose last successful message came from this node. */
  conversions: number;
  /** Split and condition nodes: conversions of users who took each output. */
  branchConversions: Record<string, number>;
  /** Transient failures that were retried. */
  retries: number;
}

export interface JourneyTotals {
  /** Users inside the journey now (active instances). */
  inside: number;
  /** Entries in the period (holdout included). */
  entered: number;
  completed: number;
  /** Converted users outside the holdout, and their share of entries outside the holdout. */
  converted: number;
  conversionRate: number;
  holdout: { entered: number; converted: number; conversionRate: number };
  /** Completions by reason (exit_node, goal, exit_criteria, holdout, failed). */
  exitReasons: Record<string, number>;
  /** Refused entries by rule (already_entered, cooldown, cap_hour...). */
  rejected: Record<string, number>;
}

export interface JourneyStats {
  journeyId: string;
  versionId: string | null;
  totals: JourneyTotals;
  nodes: Record<string, NodeStats>;
}

const ms = (value: Date | number) => new Date(value).toISOString();

function emptyNode(nodeId: string): NodeStats {
  return {
    nodeId,
    entered: 0,
    waiting: 0,
    left: {},
    messages: { sent: 0, delivered: 0, opened: 0, clicked: 0, failed: 0, deferred: 0 },
    failureReasons: {},
    conversions: 0,
    branchConversions: {},
    retries: 0,
  };
}

const rate = (part: number, whole: number) => (whole > 0 ? part / whole : 0);

export async function journeyStats(db: Db, workspaceId: string, journeyId: string, range: StatsRange = {}): Promise<JourneyStats> {
  const ws = sql`${workspaceId}::uuid`;
  const journey = sql`${journeyId}::uuid`;
  const version = range.versionId ? sql` and version_id = ${range.versionId}::uuid` : sql``;
  const eventTime = (column: SQL) =>
    sql`${range.from !== undefined ? sql` and ${column} >= ${ms(range.from)}::timestamptz` : sql``}${range.to !== undefined ? sql` and ${column} < ${ms(range.to)}::timestamptz` : sql``}`;
  const scope = sql`workspace_id = ${ws} and journey_id = ${journey}${version}`;

  const [records, conversions, paths, waiting, entries, exits, messages, rejected] = await Promise.all([
    query<{ node_id: string | null; kind: string; output: string | null; status: string | null; reason: string | null; n: number | string }>(
      db,
      sql`select node_id, kind, output, message_status as status, reason, count(*) as n from journey_node_events
          where ${scope} and kind in ('entered', 'left', 'message', 'retry', 'delivery')${eventTime(sql`at`)}
          group by node_id, kind, output, message_status, reason`,
    ),
    query<{ attributed: string | null; holdout: boolean; n: number | string }>(
      db,
      sql`select data ->> 'attributedNodeId' as attributed, coalesce((data ->> 'holdout')::boolean, false) as holdout,
                 count(distinct instance_id) as n
          from journey_node_events where ${scope} and kind = 'conversion'${eventTime(sql`at`)}
          group by 1, 2`,
    ),
    query<{ node_id: string; output: string; n: number | string }>(
      db,
      sql`select p ->> 'nodeId' as node_id, p ->> 'output' as output, count(distinct e.instance_id) as n
          from journey_node_events e cross join lateral jsonb_array_elements(coalesce(e.data -> 'path', '[]'::jsonb)) as p
          where ${scope} and e.kind = 'conversion' and not coalesce((e.data ->> 'holdout')::boolean, false)${eventTime(sql`e.at`)}
          group by 1, 2`,
    ),
    query<{ node_id: string | null; n: number | string }>(
      db,
      sql`select node_id, count(*) as n from journey_instances where ${scope} and status = 'active' group by node_id`,
    ),
    query<{ entered: number | string; holdout: number | string; completed: number | string }>(
      db,
      sql`select count(*) as entered, count(*) filter (where holdout) as holdout, count(*) filter (where status = 'completed') as completed
          from journey_instances where ${scope}${eventTime(sql`entered_at`)}`,
    ),
    query<{ reason: string; n: number | string }>(
      db,
      sql`select reason, count(*) as n from journey_node_events where ${scope} and kind = 'exit'${eventTime(sql`at`)} group by reason`,
    ),
    query<{ node_id: string | null; delivered: number | string; opened: number | string; clicked: number | string }>(
      db,
      sql`select m.node_id,
                 count(*) filter (where m.delivered_at is not null or m.state in ('delivered', 'opened', 'clicked')) as delivered,
                 count(*) filter (where m.opened_at is not null or m.state in ('opened', 'clicked')) as opened,
                 count(*) filter (where m.clicked_at is not null or m.state = 'clicked') as clicked
          from messages m
          where m.workspace_id = ${ws} and m.journey_id = ${journeyId}
            ${range.versionId ? sql`and m.instance_id in (select id::text from journey_instances where journey_id = ${journey} and version_id = ${range.versionId}::uuid)` : sql``}
            ${eventTime(sql`m.created_at`)}
          group by m.node_id`,
    ),
    query<{ outcome: string; n: number | string }>(
      db,
      sql`select outcome, sum(count) as n from journey_entry_stats
          where journey_id = ${journey} and outcome <> 'entered'${version}
            ${range.from !== undefined ? sql`and day >= (${ms(range.from)}::timestamptz)::date` : sql``}
            ${range.to !== undefined ? sql`and day <= (${ms(range.to)}::timestamptz)::date` : sql``}
          group by outcome`,
    ),
  ]);

  const nodes: Record<string, NodeStats> = {};
  const node = (id: string) => (nodes[id] ??= emptyNode(id));
  const delivered = new Map<string, number>();
  // The channels' own node events (kind "delivery", one per message state, docs/decisions/0250).
  const reported = new Map<string, { delivered: number; opened: number; clicked: number; lateFailed: number; engineLateFailed: number }>();
  const report = (id: string) => reported.get(id) ?? (reported.set(id, { delivered: 0, opened: 0, clicked: 0, lateFailed: 0, engineLateFailed: 0 }), reported.get(id)!);
  for (const r of records) {
    if (!r.node_id) continue;
    const n = Number(r.n);
    const s = node(r.node_id);
    if (r.kind === "delivery") {
      // sent and send failures are already the interpreter's records; only what follows counts here.
      const d = report(r.node_id);
      if (r.status === "delivered" || r.status === "opened" || r.status === "clicked") d[r.status] += n;
      else if (r.status === "delivery_failed") d.lateFailed += n;
      continue;
    }
    if (r.kind === "message" && r.status === "delivery_failed") report(r.node_id).engineLateFailed += n;
    if (r.kind === "entered") s.entered += n;
    else if (r.kind === "left") {
      s.left[r.output ?? "next"] = (s.left[r.output ?? "next"] ?? 0) + n;
      if (r.reason) s.failureReasons[r.reason] = (s.failureReasons[r.reason] ?? 0) + n;
    } else if (r.kind === "retry") s.retries += n;
    else if (r.kind === "message") {
      switch (r.status) {
        case "sent":
          s.messages.sent += n;
          break;
        case "deferred":
          s.messages.deferred += n;
          break;
        case "delivered":
          delivered.set(r.node_id, (delivered.get(r.node_id) ?? 0) + n);
          break;
        case "failed":
        case "delivery_failed":
        case "not_delivered":
          s.messages.failed += n;
          break;
      }
    }
  }
  for (const r of messages) {
    if (!r.node_id) continue;
    const s = node(r.node_id);
    // Delivery is known to the channels' row, and to the node's own delivery wait when it has
    // one; both count the same messages, so the larger is the better (never a sum).
    s.messages.delivered = Math.max(Number(r.delivered), delivered.get(r.node_id) ?? 0);
    s.messages.opened = Number(r.opened);
    s.messages.clicked = Number(r.clicked);
    delivered.delete(r.node_id);
  }
  for (const [nodeId, n] of delivered) node(nodeId).messages.delivered = n;
  for (const [nodeId, d] of reported) {
    const m = node(nodeId).messages;
    m.delivered = Math.max(m.delivered, d.delivered);
    m.opened = Math.max(m.opened, d.opened);
    m.clicked = Math.max(m.clicked, d.clicked);
    // A node's delivery wait records the late failures it saw (delivery_failed); the channels
    // record every late failure. Both describe the same messages: count the larger, never both.
    m.failed += Math.max(0, d.lateFailed - d.engineLateFailed);
  }
  for (const r of waiting) if (r.node_id) node(r.node_id).waiting += Number(r.n);
  for (const r of paths) node(r.node_id).branchConversions[r.output] = Number(r.n);

  let converted = 0;
  let holdoutConverted = 0;
  for (const r of conversions) {
    const n = Number(r.n);
    if (r.holdout) holdoutConverted += n;
    else {
      converted += n;
      if (r.attributed) node(r.attributed).conversions += n;
    }
  }
  const entered = Number(entries[0]?.entered ?? 0);
  const holdoutEntered = Number(entries[0]?.holdout ?? 0);
  return {
    journeyId,
    versionId: range.versionId ?? null,
    totals: {
      inside: waiting.reduce((sum, r) => sum + Number(r.n), 0),
      entered,
      completed: Number(entries[0]?.completed ?? 0),
      converted,
      conversionRate: rate(converted, entered - holdoutEntered),
      holdout: { entered: holdoutEntered, converted: holdoutConverted, conversionRate: rate(holdoutConverted, holdoutEntered) },
      exitReasons: Object.fromEntries(exits.map((r) => [r.reason, Number(r.n)])),
      rejected: Object.fromEntries(rejected.map((r) => [r.outcome, Number(r.n)])),
    },
    nodes,
  };
}

export interface JourneyListStats {
  inside: number;
  entered: number;
  converted: number;
  conversionRate: number;
}

/** Totals for many journeys at once (the journey list), all time. */
export async function journeyListStats(db: Db, workspaceId: string, journeyIds: readonly string[]): Promise<Record<string, JourneyListStats>> {
  const out: Record<string, JourneyListStats> = {};
  if (journeyIds.length === 0) return out;
  for (const id of journeyIds) out[id] = { inside: 0, entered: 0, converted: 0, conversionRate: 0 };
  const ids = sql`${sql.param([...journeyIds])}::uuid[]`;
  const [instances, conversions] = await Promise.all([
    query<{ journey_id: string; inside: number | string; entered: number | string; holdout: number | string }>(
      db,
      sql`select journey_id, count(*) filter (where status = 'active') as inside, count(*) as entered, count(*) filter (where holdout) as holdout
          from journey_instances where workspace_id = ${workspaceId}::uuid and journey_id = any(${ids}) group by journey_id`,
    ),
    query<{ journey_id: string; n: number | string }>(
      db,
      sql`select journey_id, count(distinct instance_id) as n from journey_node_events
          where workspace_id = ${workspaceId}::uuid and journey_id = any(${ids}) and kind = 'conversion'
            and not coalesce((data ->> 'holdout')::boolean, false)
          group by journey_id`,
    ),
  ]);
  const holdouts = new Map<string, number>();
  for (const r of instances) {
    out[r.journey_id] = { inside: Number(r.inside), entered: Number(r.entered), converted: 0, conversionRate: 0 };
    holdouts.set(r.journey_id, Number(r.holdout));
  }
  for (const r of conversions) {
    const s = out[r.journey_id];
    s.converted = Number(r.n);
    s.conversionRate = rate(s.converted, s.entered - (holdouts.get(r.journey_id) ?? 0));
  }
  return out;
}
