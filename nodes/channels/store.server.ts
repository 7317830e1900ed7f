/**
 * SQL of the channels layer. Each function is one round trip (CTEs chain the history insert to
 * the row change), because the send path runs once per message and Postgres round trips are
 * what the policy layer costs.
 */
import { v7 as uuidv7 } from "uuid";
import { sql, type SQL } from "drizzle-orm";
import { query, type Db } from "../../db/client";
import type { Category, Channel, DeliveryState, FailureReason, RenderedContent } from "./provider";
import type { ConsentMap, Suppression } from "./policies/consent";
import type { LengthIssue } from "./limits";
import { normalisePhone } from "./phone";

export interface MessageRow {
  id: string;
  workspace_id: string;
  user_id: string;
  journey_id: string | null;
  instance_id: string | null;
  node_id: string | null;
  channel: Channel;
  category: Category;
  provider: string | null;
  address: string | null;
  state: DeliveryState;
  failure_reason: FailureReason | null;
  provider_message_id: string | null;
  attempts: number;
  defer_until: Date | null;
  lease_until: Date | null;
  provider_call_at: Date | null;
}

/** postgres-js cannot bind Date objects in raw SQL (drizzle passes them through): send ISO text. */
const iso = (d: Date): string => d.toISOString();
const toDate = (v: unknown): Date | null => (v === null || v === undefined ? null : v instanceof Date ? v : new Date(String(v)));
const toJson = <T>(v: unknown): T => (typeof v === "string" ? (JSON.parse(v) as T) : (v as T));

function normaliseRow(r: Record<string, unknown>): MessageRow {
  return {
    ...(r as unknown as MessageRow),
    attempts: Number(r.attempts),
    defer_until: toDate(r.defer_until),
    lease_until: toDate(r.lease_until),
    provider_call_at: toDate(r.provider_call_at),
  };
}

/** Runs one statement: directly on the database, or through a WriteBatcher (shared commit). */
export type Exec = (statement: SQL) => Promise<Record<string, unknown>[]>;
export type Target = Db | Exec;
const run = (target: Target, statement: SQL): Promise<Record<string, unknown>[]> =>
  typeof target === "function" ? target(statement) : query(target, statement);

const ROW = sql.raw(
  "id, workspace_id, user_id, journey_id, instance_id, node_id, channel, category, provider, address, state, failure_reason, provider_message_id, attempts, defer_until, lease_until, provider_call_at",
);

export interface NewMessage {
  /** Chosen by the caller when the id must be known before the row exists (tracking links). */
  id?: string;
  workspaceId: string;
  idempotencyKey: string;
  userId: string;
  journeyId: string | null;
  instanceId: string | null;
  nodeId: string | null;
  channel: Channel;
  category: Category;
}

export async function findByKey(db: Db, workspaceId: string, idempotencyKey: string): Promise<MessageRow | null> {
  const rows = await query(db, sql`select ${ROW} from messages where workspace_id = ${workspaceId} and idempotency_key = ${idempotencyKey}`);
  return rows[0] ? normaliseRow(rows[0]) : null;
}

export async function findById(db: Db, id: string): Promise<MessageRow | null> {
  const rows = await query(db, sql`select ${ROW} from messages where id = ${id}`);
  return rows[0] ? normaliseRow(rows[0]) : null;
}

export async function findByProviderId(db: Db, provider: string, providerMessageId: string): Promise<MessageRow[]> {
  const rows = await query(db, sql`select ${ROW} from messages where provider = ${provider} and provider_message_id = ${providerMessageId}`);
  return rows.map(normaliseRow);
}

export interface CapReservation {
  capKey: string;
  windowStart: string;
  limit: number;
}

const messageValues = (m: NewMessage) =>
  sql`${m.id ?? uuidv7()}::uuid, ${m.workspaceId}::uuid, ${m.idempotencyKey}, ${m.userId}, ${m.journeyId}, ${m.instanceId}, ${m.nodeId}, ${m.channel}, ${m.category}`;
const MESSAGE_COLUMNS = sql.raw("id, workspace_id, idempotency_key, user_id, journey_id, instance_id, node_id, channel, category");

/**
 * First write of a message that policies stopped or deferred: the row and its history in one
 * statement. Null when the key already exists (a concurrent duplicate got there first).
 */
export async function insertSettled(
  db: Target,
  m: NewMessage,
  now: Date,
  outcome:
    | { state: "failed"; reason: FailureReason; detail?: string; content?: RenderedContent }
    | { state: "queued"; deferUntil: Date; deferReason: string },
): Promise<string | null> {
  const failed = outcome.state === "failed";
  const rows = await run(
    db,
    sql`with ins as (
      insert into messages (${MESSAGE_COLUMNS}, state, failure_reason, failure_detail, failed_at, defer_until, content, attempts, created_at, updated_at)
      values (${messageValues(m)}, ${outcome.state}, ${failed ? outcome.reason : null}, ${failed ? (outcome.detail ?? null) : null},
        ${failed ? iso(now) : null}::timestamptz, ${failed ? null : iso(outcome.deferUntil)}::timestamptz,
        ${JSON.stringify((failed && outcome.content) || {})}::jsonb, 1, ${iso(now)}, ${iso(now)})
      on conflict (workspace_id, idempotency_key) do nothing
      returning id, workspace_id
    ), hist as (
      insert into message_state_history (message_id, workspace_id, state, reason, detail, at)
      select ins.id, ins.workspace_id, s.state, s.reason, s.detail::jsonb, ${iso(now)}::timestamptz
      from ins cross join (values
        (1, 'queued', null::text, null::text),
        (2, ${outcome.state}::text, ${failed ? outcome.reason : outcome.deferReason}::text,
            ${failed ? JSON.stringify({ detail: outcome.detail }) : JSON.stringify({ deferUntil: outcome.deferUntil.toISOString() })}::text)
      ) as s(n, state, reason, detail) order by s.n
    )
    select id from ins`,
  );
  return (rows[0]?.id as string | undefined) ?? null;
}

/**
 * First write of a message about to go to the provider: counts it against its frequency caps and
 * inserts it leased, with its copy and the provider-call mark — or, when a cap is full, inserts
 * it failed (frequency_capped). One statement, one commit. `id` is null when the key already
 * existed; `caps` lists what was reserved (to give back when not all were, or on conflict).
 */
export async function insertForSend(
  db: Target,
  m: NewMessage,
  now: Date,
  leaseUntil: Date,
  caps: CapReservation[],
  data: { provider: string; address: string; content: RenderedContent; truncations: LengthIssue[] },
): Promise<{ id: string | null; state: "queued" | "failed" | null; caps: string[] }> {
  const wanted = caps.length
    ? sql.join(caps.map((c) => sql`(${c.capKey}::text, ${c.windowStart}::date, ${c.limit}::int)`), sql`, `)
    : sql`(null::text, null::date, 0)`;
  const capped = caps.map((c) => `${c.limit}/${c.capKey}`).join(", ");
  const rows = await run(
    db,
    sql`with wanted(cap_key, window_start, lim) as (values ${wanted}),
    fresh as (select not exists (select 1 from messages where workspace_id = ${m.workspaceId} and idempotency_key = ${m.idempotencyKey}) as ok),
    cap as (
      insert into frequency_counters (workspace_id, user_id, cap_key, window_start, count)
      select ${m.workspaceId}::uuid, ${m.userId}, cap_key, window_start, 1 from wanted
      where cap_key is not null and lim > 0 and (select ok from fresh)
      on conflict (workspace_id, user_id, cap_key, window_start)
      do update set count = frequency_counters.count + 1
        where frequency_counters.count < (select w.lim from wanted w where w.cap_key = excluded.cap_key)
      returning cap_key
    ),
    verdict as (select (select count(*) from cap) = ${caps.length} as allowed),
    ins as (
      insert into messages (${MESSAGE_COLUMNS}, state, failure_reason, failure_detail, failed_at, provider, address, content, truncations,
        provider_call_at, lease_until, attempts, created_at, updated_at)
      select ${messageValues(m)},
        case when v.allowed then 'queued' else 'failed' end,
        case when v.allowed then null else 'frequency_capped' end,
        case when v.allowed then null else ${capped} end,
        case when v.allowed then null else ${iso(now)}::timestamptz end,
        ${data.provider}, ${data.address}, ${JSON.stringify(data.content)}::jsonb, ${data.truncations.length ? JSON.stringify(data.truncations) : null}::jsonb,
        case when v.allowed then ${iso(now)}::timestamptz end, case when v.allowed then ${iso(leaseUntil)}::timestamptz end,
        1, ${iso(now)}, ${iso(now)}
      from verdict v
      on conflict (workspace_id, idempotency_key) do nothing
      returning id, workspace_id, state, failure_reason
    ), hist as (
      insert into message_state_history (message_id, workspace_id, state, reason, at)
      select ins.id, ins.workspace_id, s.state, s.reason, ${iso(now)}::timestamptz
      from ins cross join lateral (values (1, 'queued', null::text), (2, 'failed', ins.failure_reason)) as s(n, state, reason)
      where s.n = 1 or ins.state = 'failed' order by s.n
    )
    select (select id from ins) as id, (select state from ins) as state, array(select cap_key from cap) as caps`,
  );
  const r = rows[0]!;
  const reserved = typeof r.caps === "string" ? String(r.caps).replace(/^\{|\}$/g, "").split(",").filter(Boolean) : ((r.caps as string[]) ?? []);
  return { id: (r.id as string | null) ?? null, state: (r.state as "queued" | "failed" | null) ?? null, caps: reserved };
}

/** Takes the lease of an existing queued message; false when another sender holds it. */
export async function claimMessage(db: Target, id: string, now: Date, leaseUntil: Date): Promise<boolean> {
  const rows = await run(
    db,
    sql`update messages set lease_until = ${iso(leaseUntil)}, attempts = attempts + 1, updated_at = ${iso(now)}
        where id = ${id} and state = 'queued' and (lease_until is null or lease_until < ${iso(now)}) returning id`,
  );
  return rows.length > 0;
}

export interface Recipient {
  email: string | null;
  phone: string | null;
  timezone: string | null;
  consent: ConsentMap;
  traits: Record<string, unknown>;
  workspaceZone: string;
  tokens: Array<{ token: string; platform: "android" | "ios" | "web" }>;
  suppressions: Suppression[];
}

/** SQL twin of normalisePhone (aliyun-sms) so suppressions match however the number was typed. */
const PHONE_SQL = (column: ReturnType<typeof sql.raw>) =>
  sql`regexp_replace(regexp_replace(${column}, '[[:space:]-]', '', 'g'), '^(\\+86|0086)(1[0-9]{10})$', '\\2')`;

/**
 * Everything the send path reads, in one round trip: the row already holding this idempotency key
 * (if any), and the user's addresses, consent, zone, active tokens and suppressions (null when the
 * user does not exist).
 */
export async function loadSendContext(
  db: Db,
  workspaceId: string,
  userId: string,
  channel: Channel,
  idempotencyKey: string,
): Promise<{ existing: MessageRow | null; recipient: Recipient | null }> {
  const address =
    channel === "sms" ? PHONE_SQL(sql.raw("u.phone")) : channel === "email" ? sql`lower(u.email)` : sql`null::text`;
  const rows = await query<Record<string, unknown>>(
    db,
    sql`select u.id as user_id, u.email, u.phone, u.timezone, u.consent, u.traits, w.timezone as workspace_zone,
      ${
        channel === "push"
          ? sql`(select coalesce(json_agg(json_build_object('token', t.token, 'platform', t.platform) order by t.last_seen_at desc), '[]'::json)
               from (select token, platform, last_seen_at from device_tokens d
                     where d.workspace_id = u.workspace_id and d.user_id = u.id and d.retired_at is null
                     order by last_seen_at desc limit 10) t)`
          : sql`'[]'::json`
      } as tokens,
      (select coalesce(json_agg(json_build_object('scope', s.scope, 'reason', s.reason)), '[]'::json)
         from suppressions s where s.workspace_id = u.workspace_id and s.channel = ${channel} and s.address = ${address}) as suppressions,
      (select row_to_json(m) from (select ${ROW} from messages where workspace_id = ${workspaceId} and idempotency_key = ${idempotencyKey}) m) as existing
      from (select 1) one
      left join users u on u.workspace_id = ${workspaceId} and u.id = ${userId}
      left join workspaces w on w.id = u.workspace_id`,
  );
  const r = rows[0]!;
  const existing = r.existing ? normaliseRow(toJson<Record<string, unknown>>(r.existing)) : null;
  if (r.user_id === null || r.user_id === undefined) return { existing, recipient: null };
  return {
    existing,
    recipient: {
      email: (r.email as string | null) ?? null,
      phone: (r.phone as string | null) ?? null,
      timezone: (r.timezone as string | null) ?? null,
      consent: toJson<ConsentMap>(r.consent) ?? {},
      traits: toJson<Record<string, unknown>>(r.traits) ?? {},
      workspaceZone: String(r.workspace_zone),
      tokens: toJson<Recipient["tokens"]>(r.tokens) ?? [],
      suppressions: toJson<Suppression[]>(r.suppressions) ?? [],
    },
  };
}

export async function releaseFrequency(db: Target, workspaceId: string, userId: string, capKey: string, windowStart: string): Promise<void> {
  await run(
    db,
    sql`update frequency_counters set count = count - 1
        where workspace_id = ${workspaceId} and user_id = ${userId} and cap_key = ${capKey} and window_start = ${windowStart} and count > 0`,
  );
}

/**
 * Counts the message against its frequency caps and, only if every cap had room, stores what is
 * about to be sent and marks the provider call as started — one statement, one commit. Returns
 * the caps it reserved; fewer than asked means capped (the caller gives those back).
 */
export async function reserveAndMark(
  db: Target,
  id: string,
  now: Date,
  caps: Array<{ workspaceId: string; userId: string; capKey: string; windowStart: string; limit: number }>,
  data: { provider: string; address: string; content: RenderedContent; truncations: LengthIssue[] },
): Promise<string[]> {
  if (caps.length === 0) {
    await markProviderCall(db, id, now, data);
    return [];
  }
  if (caps.some((c) => c.limit <= 0)) return [];
  const values = sql.join(
    caps.map((c) => sql`(${c.workspaceId}::uuid, ${c.userId}, ${c.capKey}, ${c.windowStart}::date, ${c.limit}::int)`),
    sql`, `,
  );
  const rows = await run(
    db,
    sql`with wanted(workspace_id, user_id, cap_key, window_start, lim) as (values ${values}),
    cap as (
      insert into frequency_counters (workspace_id, user_id, cap_key, window_start, count)
      select workspace_id, user_id, cap_key, window_start, 1 from wanted
      on conflict (workspace_id, user_id, cap_key, window_start)
      do update set count = frequency_counters.count + 1
        where frequency_counters.count < (select w.lim from wanted w where w.cap_key = excluded.cap_key)
      returning cap_key
    ), mark as (
      update messages set provider = ${data.provider}, address = ${data.address}, content = ${JSON.stringify(data.content)}::jsonb,
        truncations = ${data.truncations.length ? JSON.stringify(data.truncations) : null}::jsonb, provider_call_at = ${iso(now)}, updated_at = ${iso(now)}
      where id = ${id} and (select count(*) from cap) = ${caps.length}
      returning id
    )
    select cap_key from cap`,
  );
  return rows.map((r) => String(r.cap_key));
}

/** Stores what is about to be sent and marks the provider call as started. */
export async function markProviderCall(
  db: Target,
  id: string,
  now: Date,
  data: { provider: string; address: string; content: RenderedContent; truncations: LengthIssue[] },
): Promise<void> {
  await run(
    db,
    sql`update messages set provider = ${data.provider}, address = ${data.address}, content = ${JSON.stringify(data.content)}::jsonb,
        truncations = ${data.truncations.length ? JSON.stringify(data.truncations) : null}::jsonb, provider_call_at = ${iso(now)}, updated_at = ${iso(now)}
        where id = ${id}`,
  );
}

export async function recordSent(
  db: Target,
  id: string,
  now: Date,
  data: { provider: string; address: string; providerMessageId: string; delivered: boolean; detail?: Record<string, unknown> },
): Promise<void> {
  const states = data.delivered ? sql`array['sent', 'delivered']` : sql`array['sent']`;
  await run(
    db,
    sql`with u as (
      update messages set state = ${data.delivered ? "delivered" : "sent"}, provider = ${data.provider}, address = ${data.address},
        provider_message_id = ${data.providerMessageId}, sent_at = ${iso(now)}, delivered_at = ${data.delivered ? iso(now) : null},
        failure_reason = null, failure_detail = null, provider_code = null,
        lease_until = null, provider_call_at = null, defer_until = null, updated_at = ${iso(now)}
      where id = ${id} returning id, workspace_id
    )
    insert into message_state_history (message_id, workspace_id, state, detail, at)
    select u.id, u.workspace_id, s.state, ${data.detail ? JSON.stringify(data.detail) : null}::jsonb, ${iso(now)}
    from u cross join unnest(${states}::text[]) with ordinality as s(state, n) order by s.n`,
  );
}

export async function recordFailed(
  db: Target,
  id: string,
  now: Date,
  data: { reason: FailureReason; detail?: string; providerCode?: string; provider?: string; address?: string; content?: RenderedContent },
): Promise<void> {
  await run(
    db,
    sql`with u as (
      update messages set state = 'failed', failure_reason = ${data.reason}, failure_detail = ${data.detail ?? null},
        provider_code = ${data.providerCode ?? null}, provider = coalesce(${data.provider ?? null}, provider),
        address = coalesce(${data.address ?? null}, address),
        content = coalesce(${data.content ? JSON.stringify(data.content) : null}::jsonb, content),
        failed_at = ${iso(now)}, lease_until = null, provider_call_at = null, defer_until = null, updated_at = ${iso(now)}
      where id = ${id} returning id, workspace_id
    )
    insert into message_state_history (message_id, workspace_id, state, reason, detail, at)
    select id, workspace_id, 'failed', ${data.reason}, ${JSON.stringify({ detail: data.detail, providerCode: data.providerCode })}::jsonb, ${iso(now)} from u`,
  );
}

/** `problem`: the provider failure that caused the deferral, kept so attempts can be capped. */
export async function recordDeferred(
  db: Target,
  id: string,
  now: Date,
  until: Date,
  reason: string,
  problem?: { reason: FailureReason; detail?: string; providerCode?: string },
): Promise<void> {
  await run(
    db,
    sql`with u as (
      update messages set defer_until = ${iso(until)}, lease_until = null, provider_call_at = null, updated_at = ${iso(now)},
        failure_reason = coalesce(${problem?.reason ?? null}, failure_reason), failure_detail = coalesce(${problem?.detail ?? null}, failure_detail),
        provider_code = coalesce(${problem?.providerCode ?? null}, provider_code)
      where id = ${id} returning id, workspace_id
    )
    insert into message_state_history (message_id, workspace_id, state, reason, detail, at)
    select id, workspace_id, 'queued', ${reason}, ${JSON.stringify({ deferUntil: until.toISOString() })}::jsonb, ${iso(now)} from u`,
  );
}

/**
 * Moves a message forward after the send (receipt, open, click, late bounce). Guarded in SQL so
 * concurrent receipts cannot move it backwards; returns the row when the change applied.
 */
export async function advanceState(
  db: Target,
  id: string,
  next: DeliveryState,
  at: Date,
  allowedFrom: DeliveryState[],
  failure?: { reason: FailureReason; detail?: string; providerCode?: string },
): Promise<MessageRow | null> {
  if (allowedFrom.length === 0) return null;
  const column = { delivered: "delivered_at", opened: "opened_at", clicked: "clicked_at", failed: "failed_at", sent: "sent_at", queued: "created_at" }[next];
  const from = sql.join(allowedFrom.map((s) => sql`${s}`), sql`, `);
  const rows = await run(
    db,
    sql`with u as (
      update messages set state = ${next}, ${sql.raw(column)} = coalesce(${sql.raw(column)}, ${iso(at)}),
        failure_reason = coalesce(${failure?.reason ?? null}, failure_reason), failure_detail = coalesce(${failure?.detail ?? null}, failure_detail),
        provider_code = coalesce(${failure?.providerCode ?? null}, provider_code), updated_at = ${iso(at)}
      where id = ${id} and state in (${from}) returning ${ROW}
    ), h as (
      insert into message_state_history (message_id, workspace_id, state, reason, at) select id, workspace_id, ${next}, ${failure?.reason ?? null}, ${iso(at)} from u
    )
    select * from u`,
  );
  return rows[0] ? normaliseRow(rows[0]) : null;
}

export async function retireToken(db: Target, workspaceId: string, token: string, reason: string, at: Date): Promise<void> {
  await run(
    db,
    sql`update device_tokens set retired_at = ${iso(at)}, retired_reason = ${reason} where workspace_id = ${workspaceId} and token = ${token} and retired_at is null`,
  );
}

export async function addSuppression(
  db: Target,
  s: { workspaceId: string; channel: Channel; address: string; userId?: string | null; scope: "marketing" | "all"; reason: Suppression["reason"]; source: string; messageId?: string | null },
): Promise<void> {
  // An "all" entry is never weakened by a later "marketing" one for the same address.
  await run(
    db,
    sql`insert into suppressions (workspace_id, channel, address, user_id, scope, reason, source, message_id)
        values (${s.workspaceId}, ${s.channel}, ${s.address}, ${s.userId ?? null}, ${s.scope}, ${s.reason}, ${s.source}, ${s.messageId ?? null})
        on conflict (workspace_id, channel, address) do update set
          scope = case when suppressions.scope = 'all' then 'all' else excluded.scope end,
          reason = case when suppressions.scope = 'all' and excluded.scope <> 'all' then suppressions.reason else excluded.reason end,
          source = excluded.source, message_id = excluded.message_id, created_at = now()`,
  );
}

export async function removeSuppression(db: Target, workspaceId: string, channel: Channel, address: string): Promise<void> {
  await run(db, sql`delete from suppressions where workspace_id = ${workspaceId} and channel = ${channel} and address = ${address}`);
}

/** Registers or refreshes a device token (ingestion API); a token moving to another user follows them. */
export async function upsertDeviceToken(
  db: Target,
  t: { workspaceId: string; userId: string; token: string; platform: "android" | "ios" | "web"; at?: Date },
): Promise<void> {
  const at = t.at ?? new Date();
  await run(
    db,
    sql`insert into device_tokens (workspace_id, token, user_id, platform, created_at, last_seen_at)
        values (${t.workspaceId}, ${t.token}, ${t.userId}, ${t.platform}, ${iso(at)}, ${iso(at)})
        on conflict (workspace_id, token) do update set user_id = excluded.user_id, platform = excluded.platform,
          last_seen_at = excluded.last_seen_at, retired_at = null, retired_reason = null`,
  );
}

export interface HistoryEntry {
  state: string;
  reason: string | null;
  detail: Record<string, unknown> | null;
  at: Date;
}

export async function messageHistory(db: Db, messageId: string): Promise<HistoryEntry[]> {
  const rows = await query<Record<string, unknown>>(db, sql`select state, reason, detail, at from message_state_history where message_id = ${messageId} order by id`);
  return rows.map((r) => ({ state: String(r.state), reason: (r.reason as string | null) ?? null, detail: toJson(r.detail) ?? null, at: toDate(r.at)! }));
}

export interface MessageSearch {
  userId?: string;
  /** Any spelling of the number: +86 138 0013 8000 finds 13800138000. */
  phone?: string;
  email?: string;
  journeyId?: string;
  channel?: Channel;
  state?: DeliveryState;
  /** Keyset paging: messages created before this one. */
  before?: { createdAt: Date; id: string };
  limit?: number;
}

export interface MessageListItem {
  id: string;
  userId: string;
  journeyId: string | null;
  nodeId: string | null;
  channel: Channel;
  category: Category;
  provider: string | null;
  address: string | null;
  content: RenderedContent;
  state: DeliveryState;
  failureReason: FailureReason | null;
  failureDetail: string | null;
  providerCode: string | null;
  createdAt: Date;
}

/** The Messages page query: what support looks up when a user says a message never came. */
export async function searchMessages(db: Db, workspaceId: string, q: MessageSearch): Promise<MessageListItem[]> {
  const where: SQL[] = [sql`m.workspace_id = ${workspaceId}`];
  if (q.userId) where.push(sql`m.user_id = ${q.userId}`);
  if (q.journeyId) where.push(sql`m.journey_id = ${q.journeyId}`);
  if (q.channel) where.push(sql`m.channel = ${q.channel}`);
  if (q.state) where.push(sql`m.state = ${q.state}`);
  if (q.email) where.push(sql`m.channel = 'email' and lower(m.address) = ${q.email.trim().toLowerCase()}`);
  if (q.phone) {
    where.push(sql`m.channel = 'sms' and m.address = ${normalisePhone(q.phone)}`);
  }
  if (q.before) where.push(sql`(m.created_at, m.id) < (${iso(q.before.createdAt)}::timestamptz, ${q.before.id}::uuid)`);
  const rows = await query<Record<string, unknown>>(
    db,
    sql`select m.id, m.user_id, m.journey_id, m.node_id, m.channel, m.category, m.provider, m.address, m.content, m.state,
          m.failure_reason, m.failure_detail, m.provider_code, m.created_at
        from messages m where ${sql.join(where, sql` and `)}
        order by m.created_at desc, m.id desc limit ${Math.min(q.limit ?? 50, 500)}`,
  );
  return rows.map((r) => ({
    id: String(r.id),
    userId: String(r.user_id),
    journeyId: (r.journey_id as string | null) ?? null,
    nodeId: (r.node_id as string | null) ?? null,
    channel: r.channel as Channel,
    category: r.category as Category,
    provider: (r.provider as string | null) ?? null,
    address: (r.address as string | null) ?? null,
    content: toJson<RenderedContent>(r.content) ?? {},
    state: r.state as DeliveryState,
    failureReason: (r.failure_reason as FailureReason | null) ?? null,
    failureDetail: (r.failure_detail as string | null) ?? null,
    providerCode: (r.provider_code as string | null) ?? null,
    createdAt: toDate(r.created_at)!,
  }));
}
