import { sql } from "drizzle-orm";
import { query, type Db, type Tx } from "../../db/client";

/**
 * Journey analytics from the rollups of the node events (db/schema/analytics.ts, decision 0800;
 * counting rules: docs/analytics.md). Every count is exact: node events are keyed by
 * (instance, seq) and written with the step that produced them, and the database triggers that
 * keep the rollups add what was inserted and subtract what was deleted, in the same transaction.
 *
 * Counts are by **entry cohort**: a period selects the users who entered the journey in it
 * (whole hours), and every number is about those users, wherever they are now. That is what
 * makes entered = Σ outputs + waiting + exits hold on every node for any version and period.
 */

export interface StatsRange {
  /** Only this published version (default: all versions). */
  versionId?: string;
  /**
   * Users who entered the journey from / before these instants. Rounded outward to whole hours
   * (the rollups' cohort grain): `from` down, `to` up.
   */
  from?: Date | number;
  to?: Date | number;
}

/** Why users left the journey at a node (the completion reasons; `exit_node` is the normal end at an Exit). */
export const EXIT_REASONS = ["goal", "exit_criteria", "cancelled", "failed", "holdout", "exit_node"] as const;
export type ExitReason = (typeof EXIT_REASONS)[number];

export interface MessageOutcomes {
  /** Send attempts that went out (one per node visit, retries included in the one). */
  sent: number;
  delivered: number;
  opened: number;
  clicked: number;
  /** Send failures, delivery failures reported later and "not delivered in time". */
  failed: number;
  /** Held for quiet hours or a rate limit (each deferral counted). */
  deferred: number;
}

export interface NodeStats {
  nodeId: string;
  /** Visits of the node by the period's users (a user looping through it counts each visit). */
  entered: number;
  /** Of those, at this node now (waiting, sending, or — on an Exit — watching for the goal). */
  waiting: number;
  /** Users who left by each output. */
  left: Record<string, number>;
  /** Users whose journey ended at this node, by reason (goal, exit_criteria, cancelled, failed, holdout, exit_node). */
  exits: Record<string, number>;
  messages: MessageOutcomes;
  /** Why a message or an action failed here (折损原因), by reason: send failures, late delivery failures, not delivered in time. */
  failureReasons: Record<string, number>;
  /** Why sends were put off (quiet hours, frequency cap...), by reason. */
  deferReasons: Record<string, number>;
  /** Conversions attributed to this node: its message was the last one sent before the goal. */
  conversions: number;
  /** Split and condition nodes: conversions of users who took each output. */
  branchConversions: Record<string, number>;
  /** Transient failures that were retried. */
  retries: number;
  /** Users whose time zone was missing or invalid here, by reason (the journey's zone was used). */
  tzFallbacks: Record<string, number>;
}

export interface JourneyTotals {
  /** Users inside the journey now (of the period's entries). */
  inside: number;
  /** Entries in the period (holdout included). */
  entered: number;
  completed: number;
  /** Converted users outside the holdout, and their share of entries outside the holdout. */
  converted: number;
  conversionRate: number;
  holdout: { entered: number; converted: number; conversionRate: number };
  /** Completions by reason (exit_node, goal, exit_criteria, holdout, failed, cancelled). */
  exitReasons: Record<string, number>;
  /** Refused entries by rule (already_entered, cooldown, cap_hour...), by the day they were refused. */
  rejected: Record<string, number>;
}

export interface JourneyStats {
  journeyId: string;
  versionId: string | null;
  /** The period actually counted (whole hours), ISO-8601, or null when open. */
  from: string | null;
  to: string | null;
  totals: JourneyTotals;
  nodes: Record<string, NodeStats>;
}

/** One summed rollup row: the data layer the canvas, the stats API and the journey report read. */
export interface RollupRow {
  versionId: string | null;
  cohort: string | null;
  nodeId: string;
  kind: string;
  output: string;
  reason: string;
  status: string;
  channel: string;
  extra: string;
  n: number;
}

const HOUR = 3_600_000;
const floorHour = (value: Date | number) => Math.floor(new Date(value).getTime() / HOUR) * HOUR;
const ceilHour = (value: Date | number) => Math.ceil(new Date(value).getTime() / HOUR) * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();

/** The period a range stands for, in whole hours. */
export function cohortBounds(range: StatsRange): { from: number | null; to: number | null } {
  return { from: range.from !== undefined ? floorHour(range.from) : null, to: range.to !== undefined ? ceilHour(range.to) : null };
}

/**
 * Folds the journey's pending rollup rows (appended by the triggers) into `journey_node_rollup`.
 * Readers sum both tables, so folding only keeps reads small; one folder per journey at a time
 * (a second one skips instead of waiting or deadlocking on the same keys).
 */
export async function foldRollups(db: Db, journeyId: string): Promise<void> {
  await db.transaction(async (tx: Tx) => {
    const [lock] = await query<{ ok: boolean }>(tx, sql`select pg_try_advisory_xact_lock(7316800, hashtext(${journeyId})) as ok`);
    if (!lock?.ok) return;
    await query(
      tx,
      sql`with moved as (delete from journey_node_rollup_pending where journey_id = ${journeyId}::uuid
                         returning journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
          insert into journey_node_rollup (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
          select journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, sum(n) from moved
          group by journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra
          on conflict (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra)
          do update set n = journey_node_rollup.n + excluded.n`,
    );
  });
}

/**
 * Summed rollup rows of one journey for a range, optionally kept apart by version and/or
 * cohort hour (for comparisons by version and charts over time). Reads folded and pending rows.
 */
export async function rollupRows(
  db: Db,
  journeyId: string,
  range: StatsRange = {},
  options: { byVersion?: boolean; byCohort?: boolean; kinds?: readonly string[] } = {},
): Promise<RollupRow[]> {
  const { from, to } = cohortBounds(range);
  const where = sql`journey_id = ${journeyId}::uuid${range.versionId ? sql` and version_id = ${range.versionId}::uuid` : sql``}${
    from !== null ? sql` and cohort >= ${iso(from)}::timestamptz` : sql``
  }${to !== null ? sql` and cohort < ${iso(to)}::timestamptz` : sql``}${options.kinds ? sql` and kind = any(${sql.param([...options.kinds])}::text[])` : sql``}`;
  const version = options.byVersion ? sql`version_id::text` : sql`null::text`;
  const cohort = options.byCohort ? sql`cohort` : sql`null::timestamptz`;
  const found = await query<{ version_id: string | null; cohort: string | Date | null; node_id: string; kind: string; output: string; reason: string; status: string; channel: string; extra: string; n: number | string }>(
    db,
    sql`select ${version} as version_id, ${cohort} as cohort, node_id, kind, output, reason, status, channel, extra, sum(n) as n
        from (select version_id, cohort, node_id, kind, output, reason, status, channel, extra, n from journey_node_rollup where ${where}
              union all
              select version_id, cohort, node_id, kind, output, reason, status, channel, extra, n from journey_node_rollup_pending where ${where}) r
        group by 1, 2, node_id, kind, output, reason, status, channel, extra
        having sum(n) <> 0`,
  );
  return found.map((r) => ({
    versionId: r.version_id,
    cohort: r.cohort === null ? null : new Date(r.cohort).toISOString(),
    nodeId: r.node_id,
    kind: r.kind,
    output: r.output,
    reason: r.reason,
    status: r.status,
    channel: r.channel,
    extra: r.extra,
    n: Number(r.n),
  }));
}

function emptyNode(nodeId: string): NodeStats {
  return {
    nodeId,
    entered: 0,
    waiting: 0,
    left: {},
    exits: {},
    messages: { sent: 0, delivered: 0, opened: 0, clicked: 0, failed: 0, deferred: 0 },
    failureReasons: {},
    deferReasons: {},
    conversions: 0,
    branchConversions: {},
    retries: 0,
    tzFallbacks: {},
  };
}

const add = (record: Record<string, number>, key: string, n: number) => {
  record[key] = (record[key] ?? 0) + n;
};
const rate = (part: number, whole: number) => (whole > 0 ? part / whole : 0);
const FAILED_STATUSES = new Set(["failed", "delivery_failed", "not_delivered"]);

interface Delivery {
  /** The interpreter's own records (a node with a delivery wait). */
  engineDelivered: number;
  engineLate: Record<string, number>;
  /** The channels' delivery node events (kind `delivery`, decision 0250). */
  reported: { delivered: number; opened: number; clicked: number };
  reportedLate: Record<string, number>;
  /** The channels' `messages` rows (the sandbox and direct updates write only there). */
  rows: { delivered: number; opened: number; clicked: number };
  /** Failure reasons of the message records and of the `left` records, kept apart (both describe one failure). */
  messageReasons: Record<string, number>;
  leftReasons: Record<string, number>;
}

/** Node numbers and journey totals from summed rollup rows (the one reading of them everything shares). */
export function statsFromRows(journeyId: string, rows: readonly RollupRow[], range: StatsRange = {}, rejected: Record<string, number> = {}): JourneyStats {
  const nodes: Record<string, NodeStats> = {};
  const node = (id: string) => (nodes[id] ??= emptyNode(id));
  const deliveries = new Map<string, Delivery>();
  const delivery = (id: string): Delivery => {
    let d = deliveries.get(id);
    if (!d) {
      d = { engineDelivered: 0, engineLate: {}, reported: { delivered: 0, opened: 0, clicked: 0 }, reportedLate: {}, rows: { delivered: 0, opened: 0, clicked: 0 }, messageReasons: {}, leftReasons: {} };
      deliveries.set(id, d);
    }
    return d;
  };
  let entered = 0;
  let holdoutEntered = 0;
  let converted = 0;
  let holdoutConverted = 0;
  const exitReasons: Record<string, number> = {};

  for (const r of rows) {
    const n = r.n;
    switch (r.kind) {
      case "journey_entered":
        entered += n;
        break;
      case "holdout":
        holdoutEntered += n;
        break;
      case "entered":
        node(r.nodeId).entered += n;
        break;
      case "left":
        add(node(r.nodeId).left, r.output || "next", n);
        if (r.reason) add(delivery(r.nodeId).leftReasons, r.reason, n);
        break;
      case "exit":
        add(exitReasons, r.reason, n);
        if (r.nodeId) add(node(r.nodeId).exits, r.reason, n);
        break;
      case "retry":
        node(r.nodeId).retries += n;
        break;
      case "tz_fallback":
        add(node(r.nodeId).tzFallbacks, r.reason || "missing", n);
        break;
      case "conversion":
        converted += n;
        if (r.extra) node(r.extra).conversions += n;
        break;
      case "conversion_holdout":
        holdoutConverted += n;
        break;
      case "conversion_path":
        add(node(r.nodeId).branchConversions, r.output, n);
        break;
      case "message": {
        const s = node(r.nodeId);
        const d = delivery(r.nodeId);
        if (r.status === "sent") s.messages.sent += n;
        else if (r.status === "deferred") {
          s.messages.deferred += n;
          add(s.deferReasons, r.reason || "deferred", n);
        } else if (r.status === "delivered") d.engineDelivered += n;
        else if (FAILED_STATUSES.has(r.status)) {
          s.messages.failed += n;
          add(d.messageReasons, r.reason || r.status, n);
          if (r.status === "delivery_failed") add(d.engineLate, r.reason || r.status, n);
        }
        break;
      }
      case "delivery": {
        // sent and send failures are already the interpreter's records; only what follows counts here.
        const d = delivery(r.nodeId);
        node(r.nodeId);
        if (r.status === "delivered" || r.status === "opened" || r.status === "clicked") d.reported[r.status] += n;
        else if (r.status === "delivery_failed") add(d.reportedLate, r.reason || "delivery_failed", n);
        break;
      }
      case "message_row": {
        const d = delivery(r.nodeId);
        node(r.nodeId);
        if (r.status === "delivered" || r.status === "opened" || r.status === "clicked") d.rows[r.status] += n;
        break;
      }
    }
  }

  for (const [nodeId, d] of deliveries) {
    const s = node(nodeId);
    const m = s.messages;
    // The same messages are known to the channels' rows, their delivery events and the node's own
    // delivery wait: the largest of them is the count, never their sum (decision 0158).
    m.delivered = Math.max(d.rows.delivered, d.reported.delivered, d.engineDelivered);
    m.opened = Math.max(d.rows.opened, d.reported.opened);
    m.clicked = Math.max(d.rows.clicked, d.reported.clicked);
    // A failure is recorded as a message record and as the `left` by `failed` it causes: one count.
    for (const reason of new Set([...Object.keys(d.messageReasons), ...Object.keys(d.leftReasons)])) {
      add(s.failureReasons, reason, Math.max(d.messageReasons[reason] ?? 0, d.leftReasons[reason] ?? 0));
    }
    // Late failures the channels reported and no delivery wait recorded (decision 0250).
    for (const [reason, n] of Object.entries(d.reportedLate)) {
      const late = Math.max(0, n - (d.engineLate[reason] ?? 0));
      if (late > 0) {
        m.failed += late;
        add(s.failureReasons, reason, late);
      }
    }
  }

  let completed = 0;
  for (const s of Object.values(nodes)) {
    const out = Object.values(s.left).reduce((a, b) => a + b, 0);
    const ended = Object.values(s.exits).reduce((a, b) => a + b, 0);
    // Every visit is accounted for: left by an output, ended here, or still here.
    s.waiting = s.entered - out - ended;
  }
  for (const n of Object.values(exitReasons)) completed += n;
  const { from, to } = cohortBounds(range);
  return {
    journeyId,
    versionId: range.versionId ?? null,
    from: from === null ? null : iso(from),
    to: to === null ? null : iso(to),
    totals: {
      inside: entered - completed,
      entered,
      completed,
      converted,
      conversionRate: rate(converted, entered - holdoutEntered),
      holdout: { entered: holdoutEntered, converted: holdoutConverted, conversionRate: rate(holdoutConverted, holdoutEntered) },
      exitReasons,
      rejected,
    },
    nodes,
  };
}

/** Is the journey this workspace's? Rollups carry no workspace: the journey row is the gate. */
async function ownsJourney(db: Db, workspaceId: string, journeyId: string): Promise<boolean> {
  const found = await query<{ ok: number }>(db, sql`select 1 as ok from journeys where id = ${journeyId}::uuid and workspace_id = ${workspaceId}::uuid`);
  return found.length > 0;
}

async function rejectedEntries(db: Db, journeyId: string, range: StatsRange): Promise<Record<string, number>> {
  const { from, to } = cohortBounds(range);
  const found = await query<{ outcome: string; n: number | string }>(
    db,
    sql`select outcome, sum(count) as n from journey_entry_stats
        where journey_id = ${journeyId}::uuid and outcome <> 'entered'${range.versionId ? sql` and version_id = ${range.versionId}::uuid` : sql``}
          ${from !== null ? sql`and day >= (${iso(from)}::timestamptz)::date` : sql``}
          ${to !== null ? sql`and day <= (${iso(to)}::timestamptz)::date` : sql``}
        group by outcome`,
  );
  return Object.fromEntries(found.map((r) => [r.outcome, Number(r.n)]));
}

/** Canvas numbers of a journey: per node and in total, for a version and entry period. */
export async function journeyStats(db: Db, workspaceId: string, journeyId: string, range: StatsRange = {}): Promise<JourneyStats> {
  if (!(await ownsJourney(db, workspaceId, journeyId))) return statsFromRows(journeyId, [], range);
  await foldRollups(db, journeyId);
  const [found, rejected] = await Promise.all([rollupRows(db, journeyId, range), rejectedEntries(db, journeyId, range)]);
  return statsFromRows(journeyId, found, range, rejected);
}

/** The same numbers per version, for comparing versions side by side. */
export async function journeyStatsByVersion(db: Db, workspaceId: string, journeyId: string, range: Omit<StatsRange, "versionId"> = {}): Promise<Record<string, JourneyStats>> {
  if (!(await ownsJourney(db, workspaceId, journeyId))) return {};
  await foldRollups(db, journeyId);
  const found = await rollupRows(db, journeyId, range, { byVersion: true });
  const byVersion = new Map<string, RollupRow[]>();
  for (const r of found) {
    const list = byVersion.get(r.versionId!) ?? [];
    list.push(r);
    byVersion.set(r.versionId!, list);
  }
  const out: Record<string, JourneyStats> = {};
  for (const [versionId, list] of byVersion) out[versionId] = statsFromRows(journeyId, list, { ...range, versionId });
  return out;
}

export interface JourneyListStats {
  inside: number;
  entered: number;
  converted: number;
  conversionRate: number;
}

/** Totals for many journeys at once (the journey list), all time, from the rollups. */
export async function journeyListStats(db: Db, workspaceId: string, journeyIds: readonly string[]): Promise<Record<string, JourneyListStats>> {
  const out: Record<string, JourneyListStats> = {};
  if (journeyIds.length === 0) return out;
  for (const id of journeyIds) out[id] = { inside: 0, entered: 0, converted: 0, conversionRate: 0 };
  const ids = sql`(select id from journeys where workspace_id = ${workspaceId}::uuid and id = any(${sql.param([...journeyIds])}::uuid[]))`;
  const kinds = sql`kind in ('journey_entered', 'holdout', 'exit', 'conversion')`;
  const found = await query<{ journey_id: string; kind: string; n: number | string }>(
    db,
    sql`select journey_id::text as journey_id, kind, sum(n) as n from (
          select journey_id, kind, n from journey_node_rollup where journey_id in ${ids} and ${kinds}
          union all
          select journey_id, kind, n from journey_node_rollup_pending where journey_id in ${ids} and ${kinds}) r
        group by 1, 2`,
  );
  const parts = new Map<string, Record<string, number>>();
  for (const r of found) {
    const p = parts.get(r.journey_id) ?? {};
    p[r.kind] = Number(r.n);
    parts.set(r.journey_id, p);
  }
  for (const [id, p] of parts) {
    const entered = p.journey_entered ?? 0;
    const converted = p.conversion ?? 0;
    out[id] = { inside: entered - (p.exit ?? 0), entered, converted, conversionRate: rate(converted, entered - (p.holdout ?? 0)) };
  }
  return out;
}

// ---------------------------------------------------------------- report queries (on the same rollups)

export interface FunnelStep {
  nodeId: string;
  channel: string;
  /** Users who reached the message step, and what became of the message. */
  entered: number;
  sent: number;
  delivered: number;
  opened: number;
  clicked: number;
  failed: number;
  /** Conversions attributed to this step (the last message before the goal). */
  converted: number;
}

/**
 * Entry → each message step → goal, in the order given (the report passes the journey's message
 * nodes in path order; unknown nodes count zero).
 */
export function funnel(stats: JourneyStats, messageNodes: ReadonlyArray<{ nodeId: string; channel: string }>): { entered: number; steps: FunnelStep[]; converted: number } {
  return {
    entered: stats.totals.entered - stats.totals.holdout.entered,
    steps: messageNodes.map(({ nodeId, channel }) => {
      const s = stats.nodes[nodeId] ?? emptyNode(nodeId);
      return { nodeId, channel, entered: s.entered, ...s.messages, converted: s.conversions };
    }),
    converted: stats.totals.converted,
  };
}

export interface BranchCounts {
  nodeId: string;
  /** Per output: users who took it, and how many of them converted within the goal window. */
  branches: Record<string, { users: number; converted: number }>;
}

/** Per-branch counts of a split or condition node: the inputs of a two-proportion test. */
export function branchCounts(stats: JourneyStats, nodeId: string): BranchCounts {
  const s = stats.nodes[nodeId] ?? emptyNode(nodeId);
  const branches: BranchCounts["branches"] = {};
  for (const output of new Set([...Object.keys(s.left), ...Object.keys(s.branchConversions)])) {
    branches[output] = { users: s.left[output] ?? 0, converted: s.branchConversions[output] ?? 0 };
  }
  return { nodeId, branches };
}

/** Stages of the loss analysis (折损原因分析), in order. */
export const LOSS_STAGES = ["requested", "sendable", "sent", "delivered", "opened", "clicked"] as const;

export interface LossRow {
  nodeId: string;
  channel: string;
  /** The stage the message did not pass: sendable (deferred / refused before sending), sent, delivered. */
  stage: "sendable" | "sent" | "delivered";
  reason: string;
  n: number;
}

/**
 * Failure reasons that stop a message before any provider call (policy and content checks; the
 * "policy" and "render" stages of nodes/channels/provider.ts `failureStage`, copied here because
 * app code does not import the runtime's modules).
 */
const SENDABLE_REASONS = new Set(["missing_address", "unsubscribed", "no_consent", "quiet_hours", "frequency_capped", "template_error", "too_long", "not_configured"]);

/**
 * Loss reasons per channel and stage from rollup rows (message + delivery + deferrals). Send
 * failures whose reason is a policy or content check count at "sendable", other send failures at
 * "sent" (provider rejected, quota), late delivery failures and "not delivered" at "delivered".
 */
export function lossReasons(rows: readonly RollupRow[]): LossRow[] {
  const out = new Map<string, LossRow>();
  const bump = (nodeId: string, channel: string, stage: LossRow["stage"], reason: string, n: number) => {
    const key = `${nodeId}\u0000${stage}\u0000${reason}`;
    const row = out.get(key) ?? { nodeId, channel, stage, reason, n: 0 };
    row.n += n;
    out.set(key, row);
  };
  const engineLate = new Map<string, number>();
  for (const r of rows) if (r.kind === "message" && r.status === "delivery_failed") engineLate.set(`${r.nodeId}\u0000${r.reason}`, (engineLate.get(`${r.nodeId}\u0000${r.reason}`) ?? 0) + r.n);
  for (const r of rows) {
    if (r.kind === "message") {
      const reason = r.reason || r.status;
      if (r.status === "deferred") bump(r.nodeId, r.channel, "sendable", reason, r.n);
      else if (r.status === "failed") bump(r.nodeId, r.channel, SENDABLE_REASONS.has(reason) ? "sendable" : "sent", reason, r.n);
      else if (r.status === "delivery_failed" || r.status === "not_delivered") bump(r.nodeId, r.channel, "delivered", reason, r.n);
    } else if (r.kind === "delivery" && r.status === "delivery_failed") {
      const key = `${r.nodeId}\u0000${r.reason}`;
      const already = engineLate.get(key) ?? 0;
      const late = Math.max(0, r.n - already);
      engineLate.set(key, Math.max(0, already - r.n));
      if (late > 0) bump(r.nodeId, r.channel, "delivered", r.reason || "delivery_failed", late);
    }
  }
  return [...out.values()].sort((a, b) => (a.nodeId !== b.nodeId ? (a.nodeId < b.nodeId ? -1 : 1) : LOSS_STAGES.indexOf(a.stage) - LOSS_STAGES.indexOf(b.stage) || b.n - a.n));
}

// ---------------------------------------------------------------- reconciliation (tests, operators)

/**
 * Checks that every user is accounted for, against the raw tables (not the rollups): per
 * version, entry hour and node, node events entered = left by an output + ended there + instances
 * active there now; and that the rollups say the same as the raw node events. Returns one line
 * per mismatch (empty when all is well). Reads every node event of the journey: for tests and
 * an operator's check, not for the canvas.
 */
export async function reconcileJourney(db: Db, journeyId: string): Promise<string[]> {
  const raw = await query<{ version_id: string; cohort: string | Date; node_id: string | null; kind: string; output: string | null; reason: string | null; n: number | string }>(
    db,
    sql`select e.version_id::text as version_id, date_trunc('hour', i.entered_at) as cohort, e.node_id, e.kind, e.output, e.reason, count(*) as n
        from journey_node_events e join journey_instances i on i.id = e.instance_id
        where e.journey_id = ${journeyId}::uuid and e.kind in ('entered', 'left', 'exit')
        group by 1, 2, 3, 4, 5, 6`,
  );
  const active = await query<{ version_id: string; cohort: string | Date; node_id: string | null; n: number | string }>(
    db,
    sql`select version_id::text as version_id, date_trunc('hour', entered_at) as cohort, node_id, count(*) as n
        from journey_instances where journey_id = ${journeyId}::uuid and status = 'active' group by 1, 2, 3`,
  );
  const rolled = await rollupRows(db, journeyId, {}, { byVersion: true, byCohort: true, kinds: ["entered", "left", "exit"] });
  type Tally = { entered: number; left: Record<string, number>; exits: Record<string, number>; active: number };
  const tally = () => new Map<string, Tally>();
  const get = (m: Map<string, Tally>, key: string) => m.get(key) ?? (m.set(key, { entered: 0, left: {}, exits: {}, active: 0 }), m.get(key)!);
  const fromRaw = tally();
  const fromRollup = tally();
  const keyOf = (version: string, cohort: string | Date, nodeId: string | null) => `${version} ${new Date(cohort).toISOString()} ${nodeId ?? ""}`;
  for (const r of raw) {
    const t = get(fromRaw, keyOf(r.version_id, r.cohort, r.node_id));
    if (r.kind === "entered") t.entered += Number(r.n);
    else if (r.kind === "left") add(t.left, r.output ?? "next", Number(r.n));
    else add(t.exits, r.reason ?? "", Number(r.n));
  }
  for (const r of active) get(fromRaw, keyOf(r.version_id, r.cohort, r.node_id)).active += Number(r.n);
  for (const r of rolled) {
    const t = get(fromRollup, keyOf(r.versionId!, r.cohort!, r.nodeId || null));
    if (r.kind === "entered") t.entered += r.n;
    else if (r.kind === "left") add(t.left, r.output || "next", r.n);
    else add(t.exits, r.reason, r.n);
  }
  const problems: string[] = [];
  const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);
  for (const [key, t] of fromRaw) {
    if (t.entered !== sum(t.left) + sum(t.exits) + t.active) {
      problems.push(`${key}: entered ${t.entered} ≠ left ${JSON.stringify(t.left)} + exits ${JSON.stringify(t.exits)} + waiting ${t.active}`);
    }
    const r = fromRollup.get(key) ?? { entered: 0, left: {}, exits: {}, active: 0 };
    const same = (a: Record<string, number>, b: Record<string, number>) =>
      [...new Set([...Object.keys(a), ...Object.keys(b)])].every((k) => (a[k] ?? 0) === (b[k] ?? 0));
    if (r.entered !== t.entered || !same(r.left, t.left) || !same(r.exits, t.exits)) {
      problems.push(`${key}: rollup ${JSON.stringify({ entered: r.entered, left: r.left, exits: r.exits })} ≠ node events ${JSON.stringify({ entered: t.entered, left: t.left, exits: t.exits })}`);
    }
  }
  for (const [key, r] of fromRollup) {
    if (!fromRaw.has(key) && (r.entered !== 0 || sum(r.left) !== 0 || sum(r.exits) !== 0)) problems.push(`${key}: rollup counts ${JSON.stringify(r)} without node events`);
  }
  return problems;
}

/** Engine-wide totals for Prometheus (all journeys, all time): time-zone fallbacks and failures by reason. */
export async function analyticsTotals(db: Db): Promise<{ tzFallbacks: Array<{ reason: string; n: number }>; failures: Array<{ channel: string; reason: string; n: number }> }> {
  const found = await query<{ kind: string; status: string; channel: string; reason: string; n: number | string }>(
    db,
    sql`select kind, status, channel, reason, sum(n) as n from (
          select kind, status, channel, reason, n from journey_node_rollup where kind = 'tz_fallback' or (kind in ('message', 'delivery') and status in ('failed', 'delivery_failed', 'not_delivered'))
          union all
          select kind, status, channel, reason, n from journey_node_rollup_pending where kind = 'tz_fallback' or (kind in ('message', 'delivery') and status in ('failed', 'delivery_failed', 'not_delivered'))) r
        group by 1, 2, 3, 4 having sum(n) <> 0`,
  );
  const tz = new Map<string, number>();
  const engineLate = new Map<string, number>();
  const failures = new Map<string, { channel: string; reason: string; n: number }>();
  const bump = (channel: string, reason: string, n: number) => {
    const key = `${channel}\u0000${reason}`;
    const row = failures.get(key) ?? { channel, reason, n: 0 };
    row.n += n;
    failures.set(key, row);
  };
  for (const r of found) {
    const n = Number(r.n);
    if (r.kind === "tz_fallback") tz.set(r.reason || "missing", (tz.get(r.reason || "missing") ?? 0) + n);
    else if (r.kind === "message") {
      bump(r.channel, r.reason || r.status, n);
      if (r.status === "delivery_failed") engineLate.set(`${r.channel}\u0000${r.reason}`, (engineLate.get(`${r.channel}\u0000${r.reason}`) ?? 0) + n);
    }
  }
  // Late failures reported by the channels that no delivery wait already recorded (decision 0250).
  for (const r of found) {
    if (r.kind !== "delivery") continue;
    const late = Math.max(0, Number(r.n) - (engineLate.get(`${r.channel}\u0000${r.reason}`) ?? 0));
    if (late > 0) bump(r.channel, r.reason || "delivery_failed", late);
  }
  return { tzFallbacks: [...tz].map(([reason, n]) => ({ reason, n })), failures: [...failures.values()] };
}

// ---------------------------------------------------------------- report queries on the raw tables

/**
 * The period's instances, for the report queries the rollups cannot answer: they read node events
 * by instance (primary-key prefix) and profiles / events by user, so their cost is the cohort's
 * size, not the journey's history.
 */
function cohortInstances(workspaceId: string, journeyId: string, range: StatsRange) {
  const { from, to } = cohortBounds(range);
  return sql`select i.id, i.user_id, i.workspace_id, i.version_id from journey_instances i
             where i.journey_id = ${journeyId}::uuid and i.workspace_id = ${workspaceId}::uuid
               ${range.versionId ? sql`and i.version_id = ${range.versionId}::uuid` : sql``}
               ${from !== null ? sql`and i.entered_at >= ${iso(from)}::timestamptz` : sql``}
               ${to !== null ? sql`and i.entered_at < ${iso(to)}::timestamptz` : sql``}`;
}

/**
 * The zone names PostgreSQL knows, read once per process: `pg_timezone_names` parses the zone
 * files on every read (seconds when cold), far more than the query that needs it.
 */
let knownZones: Promise<string[]> | null = null;
function zoneNames(db: Db): Promise<string[]> {
  knownZones ??= query<{ name: string }>(db, sql`select name from pg_timezone_names`).then(
    (found) => found.map((r) => r.name),
    (error: unknown) => {
      knownZones = null;
      throw error;
    },
  );
  return knownZones;
}

export interface SendHourRow {
  /** 0–23, the hour the message was sent in the user's own time zone. */
  hour: number;
  sent: number;
  /** Of those, users who converted after the send (within the goal's window: conversions are only recorded inside it). */
  converted: number;
}

/**
 * Conversion by send hour in the users' local time: each successful send, bucketed by the hour
 * on the user's clock (the profile's `timezone`, else `traits.timezone`; an unknown zone falls back
 * to the journey's, then the workspace's zone, as the engine does — decision 0105). PostgreSQL's
 * `AT TIME ZONE` applies each zone's DST rules at the send instant.
 */
export async function sendHourConversions(db: Db, workspaceId: string, journeyId: string, range: StatsRange = {}, options: { nodeId?: string } = {}): Promise<SendHourRow[]> {
  const names = await zoneNames(db);
  const found = await query<{ hour: number | string; sent: number | string; converted: number | string }>(
    db,
    sql`with zones as materialized (select unnest(${sql.param(names)}::text[]) as name),
         inst as materialized (${cohortInstances(workspaceId, journeyId, range)}),
         sends as (
           select e.instance_id, e.user_id, e.at, inst.version_id from inst
           join journey_node_events e on e.instance_id = inst.id
           where e.kind = 'message' and e.message_status = 'sent'${options.nodeId ? sql` and e.node_id = ${options.nodeId}` : sql``}),
         conversions as (
           select e.instance_id, min(e.at) as at from inst
           join journey_node_events e on e.instance_id = inst.id
           where e.kind = 'conversion' and not coalesce((e.data ->> 'holdout')::boolean, false)
           group by e.instance_id)
        select extract(hour from s.at at time zone coalesce(uz.name, jz.name, wz.name, 'UTC'))::int as hour,
               count(*) as sent, count(*) filter (where c.at >= s.at) as converted
        from sends s
        left join users u on u.workspace_id = ${workspaceId}::uuid and u.id = s.user_id
        left join zones uz on uz.name = coalesce(u.timezone, u.traits ->> 'timezone')
        left join journey_versions v on v.id = s.version_id
        left join zones jz on jz.name = v.program -> 'settings' ->> 'timezone'
        left join workspaces w on w.id = ${workspaceId}::uuid
        left join zones wz on wz.name = w.timezone
        left join conversions c on c.instance_id = s.instance_id
        group by 1 order by 1`,
  );
  return found.map((r) => ({ hour: Number(r.hour), sent: Number(r.sent), converted: Number(r.converted) }));
}

export interface ReturnRates {
  /** Users of the period who were sent a message (their first successful send counts). */
  messaged: number;
  /** Per day N: how many did the event (any tracked event, or the chosen one) within N days after that send. */
  days: Array<{ day: number; returned: number; rate: number }>;
}

/**
 * Return rate N days after a message: users with at least one event within (send, send + N days].
 * "Any tracked event" leaves out the internal `$…` events (delivery reports, segment changes).
 */
export async function returnRates(
  db: Db,
  workspaceId: string,
  journeyId: string,
  range: StatsRange = {},
  options: { days?: readonly number[]; event?: string; nodeId?: string } = {},
): Promise<ReturnRates> {
  const days = [...(options.days ?? [1, 3, 7])];
  const match = options.event ? sql`ev.name = ${options.event}` : sql`ev.name not like '$%'`;
  const found = await query<{ day: number | string | null; messaged: number | string; returned: number | string }>(
    db,
    sql`with inst as materialized (${cohortInstances(workspaceId, journeyId, range)}),
         first_send as materialized (
           select e.instance_id, e.user_id, min(e.at) as at from inst
           join journey_node_events e on e.instance_id = inst.id
           where e.kind = 'message' and e.message_status = 'sent'${options.nodeId ? sql` and e.node_id = ${options.nodeId}` : sql``}
           group by e.instance_id, e.user_id)
        select d.day, count(*) as messaged,
               count(*) filter (where exists (
                 select 1 from events ev
                 where ev.workspace_id = ${workspaceId}::uuid and ev.user_id = f.user_id and ${match}
                   and ev.timestamp > f.at and ev.timestamp <= f.at + d.day * interval '1 day')) as returned
        from first_send f cross join unnest(${sql.param(days)}::int[]) as d(day)
        group by d.day order by d.day`,
  );
  const messaged = Number(found[0]?.messaged ?? 0);
  return {
    messaged,
    days: days.map((day) => {
      const r = found.find((x) => Number(x.day) === day);
      const returned = Number(r?.returned ?? 0);
      return { day, returned, rate: rate(returned, messaged) };
    }),
  };
}
