import { sql, type SQL } from "drizzle-orm";
import { query, type Db } from "../../db/client";
import type { InstanceState } from "../../workflows/interpreter";
import type { JourneyProgram } from "../../workflows/program";
import type { WaitForEventConfig } from "../../nodes/wait-for-event/definition";
import { findFailedStep } from "../../workflows/embedded/operations.server";
import type { InstanceView } from "../ops/views";
import { isRetryableFailure } from "./retryable";
import { nodeNamesByVersion, nodeNamesOf, type NodeNames } from "./node-names.server";

/**
 * Read side of the Instances page (实例): the filtered list with keyset paging, one instance's
 * timeline, and engine health. Reads the tables both engines share (db/schema/engine.ts), so
 * Temporal-driven instances are listed too (`engine: "temporal"`).
 */

export { instanceViews, type InstanceView } from "../ops/views";

export interface InstanceFilter {
  journeyId?: string;
  versionId?: string;
  nodeId?: string;
  status?: InstanceView;
  userId?: string;
  /** Opaque cursor from the previous page's `next`. */
  after?: string;
  limit?: number;
}

export interface InstanceListItem {
  id: string;
  journeyId: string;
  journeyName: string;
  journeyStatus: string;
  /** Paused with "hold": its users inside are held where they are. */
  journeyHeld: boolean;
  versionId: string;
  version: number;
  userId: string;
  view: InstanceView;
  reason: string | null;
  nodeId: string | null;
  /** The current node in operator words (its label, else its type's label), both languages. */
  nodeLabel: { en: string; zh: string } | null;
  wakeAt: string | null;
  enteredAt: string;
  updatedAt: string;
  engine: "embedded" | "temporal";
}

/** SQL of each view; `completed` counts the holdout (watched to the end of its window) as finished. */
function viewCondition(view: InstanceView): SQL {
  switch (view) {
    case "running":
      return sql`i.status = 'active' and i.state -> 'block' ->> 'kind' in ('run', 'evaluate')`;
    case "waiting":
      return sql`i.status = 'active' and coalesce(i.state -> 'block' ->> 'kind', '') not in ('run', 'evaluate')`;
    case "completed":
      return sql`i.status = 'completed' and i.reason in ('exit_node', 'goal', 'holdout')`;
    case "exited":
      return sql`i.status = 'completed' and i.reason in ('exit_criteria', 'cancelled')`;
    case "failed":
      return sql`i.status = 'completed' and i.reason = 'failed'`;
  }
}

const VIEW_SQL = sql`case
  when i.status = 'active' and i.state -> 'block' ->> 'kind' in ('run', 'evaluate') then 'running'
  when i.status = 'active' then 'waiting'
  when i.reason = 'failed' then 'failed'
  when i.reason in ('exit_criteria', 'cancelled') then 'exited'
  else 'completed' end`;

function encodeCursor(enteredAt: string, id: string): string {
  return Buffer.from(JSON.stringify([enteredAt, id])).toString("base64url");
}

function decodeCursor(cursor: string): [string, string] | null {
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && /^[0-9a-f-]{36}$/i.test(String(value[1]))) {
      return [value[0], String(value[1])];
    }
  } catch {
    // An unreadable cursor starts from the first page.
  }
  return null;
}

type ListRow = {
  id: string;
  journey_id: string;
  journey_name: string;
  journey_status: string;
  journey_held: boolean;
  version_id: string;
  version: number;
  user_id: string;
  view: InstanceView;
  reason: string | null;
  node_id: string | null;
  wake_at: string | null;
  entered_at: string;
  updated_at: string;
  driver: string | null;
};

const ts = (column: SQL) => sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * When an active instance next wakes: the embedded engine's `wake_at`; a Temporal instance keeps
 * that column empty (its timers live in Temporal), so its stored state's deadline instead.
 */
const WAKE_SQL = sql`coalesce(i.wake_at, case when i.status = 'active' then to_timestamp((i.state -> 'block' ->> 'until')::float8 / 1000) end)`;

/** Newest entries first; keyset on (entered_at, id), so deep pages cost the same as the first. */
function filterConditions(workspaceId: string, filter: InstanceFilter): SQL[] {
  const where: SQL[] = [sql`i.workspace_id = ${workspaceId}::uuid`];
  if (filter.journeyId) where.push(sql`i.journey_id = ${filter.journeyId}::uuid`);
  if (filter.versionId) where.push(sql`i.version_id = ${filter.versionId}::uuid`);
  if (filter.nodeId) where.push(sql`i.node_id = ${filter.nodeId}`);
  if (filter.userId) where.push(sql`i.user_id = ${filter.userId}`);
  if (filter.status) where.push(viewCondition(filter.status));
  return where;
}

export async function listInstances(db: Db, workspaceId: string, filter: InstanceFilter = {}): Promise<{ items: InstanceListItem[]; next: string | null }> {
  const limit = Math.min(Math.max(filter.limit ?? 50, 1), 200);
  const where = filterConditions(workspaceId, filter);
  const cursor = filter.after ? decodeCursor(filter.after) : null;
  // Compared as microsecond text-free timestamps: the cursor carries the exact stored value.
  if (cursor) where.push(sql`(i.entered_at, i.id) < (${cursor[0]}::timestamptz, ${cursor[1]}::uuid)`);
  const found = await query<ListRow>(
    db,
    sql`select i.id, i.journey_id, j.name as journey_name, j.status as journey_status, j.held as journey_held, i.version_id, coalesce(v.version, 0) as version,
               i.user_id, ${VIEW_SQL} as view, i.reason, i.node_id, ${ts(WAKE_SQL)} as wake_at,
               ${ts(sql`i.entered_at`)} as entered_at, ${ts(sql`i.updated_at`)} as updated_at, i.state ->> 'driver' as driver
        from journey_instances i
        join journeys j on j.id = i.journey_id
        left join journey_versions v on v.id = i.version_id
        where ${sql.join(where, sql` and `)}
        order by i.entered_at desc, i.id desc
        limit ${limit + 1}`,
  );
  const page = found.slice(0, limit);
  const last = page.at(-1);
  const names = await nodeNamesByVersion(db, workspaceId, page.map((r) => r.version_id));
  return {
    items: page.map((r) => withLabel(toItem(r), names[r.version_id])),
    next: found.length > limit && last ? encodeCursor(last.entered_at, last.id) : null,
  };
}

/** The list's filter without paging: what a bulk action applies to. */
export type InstanceSelection = Omit<InstanceFilter, "after" | "limit">;

/**
 * The instances a bulk cancel with this filter would end now: those inside a journey (active),
 * by engine. The same conditions as the list, so the count in the confirmation is the list's.
 */
export async function cancellableInstances(db: Db, workspaceId: string, filter: InstanceSelection): Promise<{ embedded: string[]; temporal: string[] }> {
  const found = await query<{ id: string; driver: string | null }>(
    db,
    sql`select i.id, i.state ->> 'driver' as driver from journey_instances i
        where ${sql.join([...filterConditions(workspaceId, filter), sql`i.status = 'active'`], sql` and `)}
        order by i.id`,
  );
  return {
    embedded: found.filter((r) => r.driver !== "temporal").map((r) => r.id),
    temporal: found.filter((r) => r.driver === "temporal").map((r) => r.id),
  };
}

/** Which engine drives an instance of the workspace (null: no such instance). */
export async function instanceEngine(db: Db, workspaceId: string, instanceId: string): Promise<"embedded" | "temporal" | null> {
  const [row] = await query<{ driver: string | null }>(
    db,
    sql`select state ->> 'driver' as driver from journey_instances where id = ${instanceId}::uuid and workspace_id = ${workspaceId}::uuid`,
  );
  if (!row) return null;
  return row.driver === "temporal" ? "temporal" : "embedded";
}

function withLabel(item: InstanceListItem, names: NodeNames | undefined): InstanceListItem {
  return { ...item, nodeLabel: item.nodeId ? (names?.[item.nodeId]?.label ?? null) : null };
}

function toItem(r: ListRow): InstanceListItem {
  return {
    id: r.id,
    journeyId: r.journey_id,
    journeyName: r.journey_name,
    journeyStatus: r.journey_status,
    journeyHeld: r.journey_held,
    versionId: r.version_id,
    version: Number(r.version),
    userId: r.user_id,
    view: r.view,
    reason: r.reason,
    nodeId: r.node_id,
    nodeLabel: null,
    wakeAt: r.wake_at,
    enteredAt: r.entered_at,
    updatedAt: r.updated_at,
    engine: r.driver === "temporal" ? "temporal" : "embedded",
  };
}

/** Journeys, versions and nodes for the filter controls. */
export async function instanceFilterOptions(db: Db, workspaceId: string): Promise<{ journeys: Array<{ id: string; name: string; status: string; versions: Array<{ id: string; version: number }>; nodes: string[]; nodeNames: NodeNames }> }> {
  const found = await query<{ id: string; name: string; status: string; version_id: string | null; version: number | null; nodes: string[] | null; document: unknown }>(
    db,
    sql`select j.id, j.name, j.status, v.id as version_id, v.version, v.document,
               (select array_agg(k order by k) from jsonb_object_keys(coalesce(v.program -> 'nodes', '{}'::jsonb)) as k) as nodes
        from journeys j left join journey_versions v on v.journey_id = j.id and v.state = 'published'
        where j.workspace_id = ${workspaceId}::uuid and j.status <> 'draft'
        order by j.name, v.version desc`,
  );
  const byId = new Map<string, { id: string; name: string; status: string; versions: Array<{ id: string; version: number }>; nodes: Set<string>; nodeNames: NodeNames }>();
  for (const r of found) {
    const entry = byId.get(r.id) ?? { id: r.id, name: r.name, status: r.status, versions: [], nodes: new Set<string>(), nodeNames: {} };
    // Newest version first: an older version names only the nodes the newer ones dropped.
    entry.nodeNames = { ...nodeNamesOf(r.document), ...entry.nodeNames };
    if (r.version_id) entry.versions.push({ id: r.version_id, version: Number(r.version) });
    for (const n of r.nodes ?? []) entry.nodes.add(n);
    byId.set(r.id, entry);
  }
  return { journeys: [...byId.values()].map((j) => ({ ...j, nodes: [...j.nodes].sort() })) };
}

export interface TimelineEntry {
  seq: number;
  at: string;
  kind: string;
  nodeId: string | null;
  nodeType: string | null;
  output: string | null;
  reason: string | null;
  messageStatus: string | null;
  channel: string | null;
  data: Record<string, unknown> | null;
}

export interface CurrentWait {
  nodeId: string;
  kind: "sleep" | "event" | "run" | "evaluate";
  purpose: string | null;
  /** Deadline (ISO) or null: no deadline. */
  until: string | null;
  /** Event the node waits for (wait for event), else null. */
  event: string | null;
  /** Every event name the instance listens to now (goal, exit criteria, delivery reports). */
  awaiting: string[];
  attempt: number | null;
}

export interface InstanceDetail extends InstanceListItem {
  /** Node and port names of the instance's version, for the timeline and messages. */
  nodeNames: NodeNames;
  timeline: TimelineEntry[];
  /** Operator actions from the audit log (instance.cancelled, instance.wait_skipped, instance.step_retried). */
  operatorActions: Array<{ action: string; at: string; by: string | null }>;
  wait: CurrentWait | null;
  holdout: boolean;
  completedAt: string | null;
  /** Which operator actions apply now (the server checks again when one is used). */
  actions: { cancel: boolean; skipWait: boolean; retry: boolean };
  /** `retryable`: a retry can succeed (app/lib/retryable.ts); the Retry button shows only then. */
  failedStep: { nodeId: string; reason: string | null; retryable: boolean } | null;
  messages: Array<{ id: string; nodeId: string | null; channel: string; state: string; failureReason: string | null; createdAt: string }>;
}

export async function getInstance(db: Db, workspaceId: string, instanceId: string): Promise<InstanceDetail | null> {
  const [row] = await query<ListRow & { state: InstanceState & { driver?: string }; awaiting: string[]; holdout: boolean; completed_at: string | null; program: JourneyProgram | null; document: unknown }>(
    db,
    sql`select i.id, i.journey_id, j.name as journey_name, j.status as journey_status, j.held as journey_held, i.version_id, coalesce(v.version, 0) as version,
               i.user_id, ${VIEW_SQL} as view, i.reason, i.node_id, ${ts(WAKE_SQL)} as wake_at,
               ${ts(sql`i.entered_at`)} as entered_at, ${ts(sql`i.updated_at`)} as updated_at, i.state ->> 'driver' as driver,
               i.state, i.awaiting, i.holdout, ${ts(sql`i.completed_at`)} as completed_at, v.program, v.document
        from journey_instances i
        join journeys j on j.id = i.journey_id
        left join journey_versions v on v.id = i.version_id
        where i.id = ${instanceId}::uuid and i.workspace_id = ${workspaceId}::uuid`,
  );
  if (!row) return null;
  const [events, messages, audits] = await Promise.all([
    query<{ seq: number; at: string; kind: string; node_id: string | null; output: string | null; reason: string | null; message_status: string | null; channel: string | null; data: Record<string, unknown> | null }>(
      db,
      sql`select seq, ${ts(sql`at`)} as at, kind, node_id, output, reason, message_status, channel, data
          from journey_node_events where instance_id = ${instanceId}::uuid order by at, seq`,
    ),
    query<{ id: string; node_id: string | null; channel: string; state: string; failure_reason: string | null; created_at: string }>(
      db,
      sql`select id::text as id, node_id, channel, state, failure_reason, ${ts(sql`created_at`)} as created_at
          from messages where workspace_id = ${workspaceId}::uuid and instance_id = ${instanceId} order by created_at`,
    ),
    // Operator actions on this instance, shown in its timeline next to what they caused.
    query<{ action: string; at: string; email: string | null }>(
      db,
      sql`select a.action, ${ts(sql`a.at`)} as at, o.email
          from audit_log a left join operators o on o.id = a.operator_id
          where a.workspace_id = ${workspaceId}::uuid and a.target = ${instanceId} and a.action like 'instance.%'
          order by a.at`,
    ),
  ]);
  const program = row.program;
  const nodeType = (id: string | null) => (id && program?.nodes[id]?.type) || null;
  const state = row.state;
  const block = state.status === "active" ? state.block : null;
  let wait: CurrentWait | null = null;
  if (block) {
    const event =
      block.kind === "event" && block.purpose === "wait_for_event" && program ? ((program.nodes[block.nodeId]?.config as WaitForEventConfig | undefined)?.event ?? null) : null;
    wait = {
      nodeId: block.nodeId,
      kind: block.kind,
      purpose: "purpose" in block ? block.purpose : null,
      until: "until" in block && block.until !== null ? new Date(block.until).toISOString() : null,
      event,
      awaiting: row.awaiting ?? [],
      attempt: "attempt" in block ? block.attempt : null,
    };
  }
  const actionNodes = new Set(program ? Object.values(program.nodes).filter((n) => n.role === "action").map((n) => n.id) : []);
  const found = await findFailedStep(db, instanceId, state, actionNodes);
  // An exit record says only "failed": the step's own reason is on its last failed message.
  const failed = found
    ? {
        nodeId: found.nodeId,
        reason:
          found.reason && found.reason !== "failed"
            ? found.reason
            : ([...messages].reverse().find((m) => m.node_id === found.nodeId && m.state === "failed")?.failure_reason ?? found.reason),
      }
    : null;
  const retryable = failed !== null && isRetryableFailure(failed.reason === "failed" ? null : failed.reason);
  const nodeNames = nodeNamesOf(row.document);
  return {
    ...withLabel(toItem(row), nodeNames),
    nodeNames,
    holdout: row.holdout,
    completedAt: row.completed_at,
    timeline: events.map((e) => ({
      seq: e.seq,
      at: e.at,
      kind: e.kind,
      nodeId: e.node_id,
      nodeType: nodeType(e.node_id),
      output: e.output,
      reason: e.reason,
      messageStatus: e.message_status,
      channel: e.channel,
      data: e.data,
    })),
    operatorActions: audits.map((a) => ({ action: a.action, at: a.at, by: a.email })),
    wait,
    actions: {
      cancel: state.status === "active",
      skipWait: Boolean(block && (block.kind === "sleep" || block.kind === "event") && block.until !== null),
      retry: retryable,
    },
    failedStep: failed ? { nodeId: failed.nodeId, reason: failed.reason, retryable } : null,
    messages: messages.map((m) => ({ id: m.id, nodeId: m.node_id, channel: m.channel, state: m.state, failureReason: m.failure_reason, createdAt: m.created_at })),
  };
}

export interface EngineHealth {
  /** Active instances whose wake time has passed (due timers not yet taken). */
  dueBacklog: number;
  /** How late the oldest due timer is, in ms (0 when nothing is due). */
  oldestDueLagMs: number;
  /** Side effects waiting in the outbox (not yet fed back). */
  outboxPending: number;
  /** Outbox rows a worker took but did not finish (executed more than once, or an error recorded). */
  outboxFailed: number;
  /** Interpreter steps in the last minute (distinct instance and time in node events). */
  stepsLastMinute: number;
  /** Failed steps in the last hour: left by `failed`, or ended as failed. */
  failuresLastHour: number;
  /** Instances inside journeys now. */
  activeInstances: number;
  at: string;
}

/**
 * Engine-wide health (all workspaces: the engine is one). Every query uses an index: the timers
 * table's (wake_at) key, the outbox's due index, and node events by (journey, at) per journey.
 */
export async function engineHealth(db: Db, now: number): Promise<EngineHealth> {
  const nowIso = new Date(now).toISOString();
  const minute = new Date(now - 60_000).toISOString();
  const hour = new Date(now - 3_600_000).toISOString();
  const [due, outbox, steps, failures, active] = await Promise.all([
    query<{ n: number | string; oldest: number | string | null }>(
      db,
      sql`select count(*) as n, (extract(epoch from min(wake_at)) * 1000)::float8 as oldest
          from journey_timers where wake_at <= ${nowIso}::timestamptz`,
    ),
    query<{ pending: number | string; failed: number | string }>(
      db,
      sql`select count(*) as pending, count(*) filter (where attempts > 1 or last_error is not null) as failed from journey_outbox`,
    ),
    query<{ n: number | string }>(
      db,
      sql`select count(*) as n from (select distinct instance_id, at from journey_node_events
          where journey_id = any(array(select id from journeys)) and at > ${minute}::timestamptz and at <= ${nowIso}::timestamptz) s`,
    ),
    query<{ n: number | string }>(
      db,
      sql`select count(*) as n from journey_node_events
          where journey_id = any(array(select id from journeys)) and at > ${hour}::timestamptz and at <= ${nowIso}::timestamptz
            and ((kind = 'left' and output = 'failed') or (kind = 'exit' and reason = 'failed'))`,
    ),
    query<{ n: number | string }>(db, sql`select count(*) as n from journey_instances where status = 'active'`),
  ]);
  const oldest = due[0]?.oldest === null || due[0]?.oldest === undefined ? null : Number(due[0].oldest);
  return {
    dueBacklog: Number(due[0]?.n ?? 0),
    oldestDueLagMs: oldest === null ? 0 : Math.max(0, now - oldest),
    outboxPending: Number(outbox[0]?.pending ?? 0),
    outboxFailed: Number(outbox[0]?.failed ?? 0),
    stepsLastMinute: Number(steps[0]?.n ?? 0),
    failuresLastHour: Number(failures[0]?.n ?? 0),
    activeInstances: Number(active[0]?.n ?? 0),
    at: nowIso,
  };
}
