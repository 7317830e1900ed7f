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

/** A new message's identity as one record of a set-based statement (`jsonb_to_recordset`). */
const messageRecord = (m: NewMessage, n: number) => ({
  n,
  id: m.id ?? uuidv7(),
  w: m.workspaceId,
  k: m.idempotencyKey,
  u: m.userId,
  j: m.journeyId,
  i: m.instanceId,
  nd: m.nodeId,
  ch: m.channel,
  cat: m.category,
});
const MESSAGE_RECORD = sql.raw("n int, id uuid, w uuid, k text, u text, j text, i text, nd text, ch text, cat text");
const RECORD_VALUES = sql.raw("d.id, d.w, d.k, d.u, d.j, d.i, d.nd, d.ch, d.cat");

export interface SettledMessage {
  message: NewMessage;
  now: Date;
  outcome: { state: "failed"; reason: FailureReason; detail?: string; content?: RenderedContent } | { state: "queued"; deferUntil: Date; deferReason: string };
}

/** insertSettled for many messages in one statement: each answer is its id, or null as there. */
export async function insertSettledMany(db: Db, items: readonly SettledMessage[]): Promise<Array<string | null>> {
  const records = items.map(({ message, now, outcome }, n) => {
    const failed = outcome.state === "failed";
    return {
      ...messageRecord(message, n),
      st: outcome.state,
      fr: failed ? outcome.reason : null,
      fd: failed ? (outcome.detail ?? null) : null,
      fa: failed ? iso(now) : null,
      du: failed ? null : iso(outcome.deferUntil),
      c: (failed && outcome.content) || {},
      t: iso(now),
      hr: failed ? outcome.reason : outcome.deferReason,
      hd: failed ? { detail: outcome.detail } : { deferUntil: outcome.deferUntil.toISOString() },
    };
  });
  const rows = await query<{ n: number }>(
    db,
    sql`with d as (
      select * from jsonb_to_recordset(${JSON.stringify(records)}::jsonb)
        as d(${MESSAGE_RECORD}, st text, fr text, fd text, fa timestamptz, du timestamptz, c jsonb, t timestamptz, hr text, hd jsonb)
    ), ins as (
      insert into messages (${MESSAGE_COLUMNS}, state, failure_reason, failure_detail, failed_at, defer_until, content, attempts, created_at, updated_at)
      select ${RECORD_VALUES}, d.st, d.fr, d.fd, d.fa, d.du, d.c, 1, d.t, d.t from d order by d.n
      on conflict (workspace_id, idempotency_key) do nothing
      returning id, workspace_id
    ), hist as (
      insert into message_state_history (message_id, workspace_id, state, reason, detail, at)
      select ins.id, ins.workspace_id, s.state, s.reason, s.detail, d.t
      from ins join d on d.id = ins.id
      cross join lateral (values (1, 'queued', null::text, null::jsonb), (2, d.st, d.hr, d.hd)) as s(n, state, reason, detail)
      order by d.n, s.n
    )
    select d.n from ins join d on d.id = ins.id`,
  );
  const inserted = new Set(rows.map((r) => Number(r.n)));
  return records.map((r) => (inserted.has(r.n) ? r.id : null));
}

export interface LeasedMessage {
  /** With its id chosen by the caller (tracking links carry it). */
  message: NewMessage & { id: string };
  now: Date;
  leaseUntil: Date;
  caps: CapReservation[];
  data: { provider: string; address: string; content: RenderedContent; truncations: LengthIssue[] };
}
export type LeasedInsert = Awaited<ReturnType<typeof insertForSend>>;

/**
 * insertForSend for many messages in one statement, with the same answers. A user's frequency
 * counters can be raised once per statement, so a second message of the same user in the list
 * is inserted on its own after the others.
 */
export async function insertForSendMany(db: Db, items: readonly LeasedMessage[]): Promise<LeasedInsert[]> {
  const seen = new Set<string>();
  const together: number[] = [];
  const after: number[] = [];
  items.forEach((item, n) => {
    const user = `${item.message.workspaceId}/${item.message.userId}`;
    if (item.caps.length > 0 && seen.has(user)) return void after.push(n);
    seen.add(user);
    together.push(n);
  });
  const answers: LeasedInsert[] = new Array(items.length);
  const records = together.map((n) => {
    const { message, now, leaseUntil, caps, data } = items[n]!;
    return {
      ...messageRecord(message, n),
      p: data.provider,
      a: data.address,
      c: data.content,
      tr: data.truncations.length ? data.truncations : null,
      t: iso(now),
      l: iso(leaseUntil),
      caps: caps.map((c) => ({ key: c.capKey, ws: c.windowStart, lim: c.limit })),
      capped: caps.map((c) => `${c.limit}/${c.capKey}`).join(", "),
    };
  });
  if (records.length > 0) {
    const rows = await query<{ n: number; id: string | null; state: "queued" | "failed" | null; caps: unknown }>(
      db,
      sql`with d as (
        select * from jsonb_to_recordset(${JSON.stringify(records)}::jsonb)
          as d(${MESSAGE_RECORD}, p text, a text, c jsonb, tr jsonb, t timestamptz, l timestamptz, caps jsonb, capped text)
      ), wanted as (
        select d.n, d.w, d.u, c.key as cap_key, c.ws as window_start, c.lim
        from d cross join lateral jsonb_to_recordset(d.caps) as c(key text, ws date, lim int)
        where not exists (select 1 from messages m where m.workspace_id = d.w and m.idempotency_key = d.k)
      ), cap as (
        insert into frequency_counters (workspace_id, user_id, cap_key, window_start, count)
        select w, u, cap_key, window_start, 1 from wanted where lim > 0
        on conflict (workspace_id, user_id, cap_key, window_start)
        do update set count = frequency_counters.count + 1
          where frequency_counters.count < (select w.lim from wanted w
                                            where w.w = excluded.workspace_id and w.u = excluded.user_id and w.cap_key = excluded.cap_key)
        returning workspace_id, user_id, cap_key
      ), reserved as (
        select d.n, array_agg(cap.cap_key) as caps, count(*) as count
        from cap join d on d.w = cap.workspace_id and d.u = cap.user_id group by d.n
      ), verdict as (
        select d.*, coalesce(r.count, 0) = jsonb_array_length(d.caps) as allowed, coalesce(r.caps, array[]::text[]) as reserved
        from d left join reserved r on r.n = d.n
      ), ins as (
        insert into messages (${MESSAGE_COLUMNS}, state, failure_reason, failure_detail, failed_at, provider, address, content, truncations,
          provider_call_at, lease_until, attempts, created_at, updated_at)
        select ${RECORD_VALUES},
          case when v.allowed then 'queued' else 'failed' end,
          case when v.allowed then null else 'frequency_capped' end,
          case when v.allowed then null else v.capped end,
          case when v.allowed then null else v.t end,
          v.p, v.a, v.c, v.tr, case when v.allowed then v.t end, case when v.allowed then v.l end, 1, v.t, v.t
        from verdict v join d on d.n = v.n order by v.n
        on conflict (workspace_id, idempotency_key) do nothing
        returning id, workspace_id, state, failure_reason
      ), hist as (
        insert into message_state_history (message_id, workspace_id, state, reason, at)
        select ins.id, ins.workspace_id, s.state, s.reason, d.t
        from ins join d on d.id = ins.id
        cross join lateral (values (1, 'queued', null::text), (2, 'failed', ins.failure_reason)) as s(n, state, reason)
        where s.n = 1 or ins.state = 'failed' order by d.n, s.n
      )
      select v.n, ins.id, ins.state, v.reserved as caps from verdict v left join ins on ins.id = v.id`,
    );
    for (const r of rows) answers[Number(r.n)] = { id: r.id ?? null, state: r.state ?? null, caps: pgTextArray(r.caps) };
  }
  for (const n of after) {
    const { message, now, leaseUntil, caps, data } = items[n]!;
    answers[n] = await insertForSend(db, message, now, leaseUntil, caps, data);
  }
  return answers;
}

/** A text[] as the driver hands it back: an array (postgres.js) or its literal (some PGlite paths). */
const pgTextArray = (v: unknown): string[] =>
  typeof v === "string" ? v.replace(/^\{|\}$/g, "").split(",").filter(Boolean) : ((v as string[] | null) ?? []);

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
  return { id: (r.id as string | null) ?? null, state: (r.state as "queued" | "failed" | null) ?? null, caps: pgTextArray(r.caps) };
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

export interface SendContextKey {
  workspaceId: string;
  userId: string;
  channel: Channel;
  idempotencyKey: string;
}
export interface SendContext {
  existing: MessageRow | null;
  recipient: Recipient | null;
}

/**
 * Everything the send path reads, in one round trip: the row already holding this idempotency key
 * (if any), and the user's addresses, consent, zone, active tokens and suppressions (null when the
 * user does not exist).
 */
export async function loadSendContext(db: Db, workspaceId: string, userId: string, channel: Channel, idempotencyKey: string): Promise<SendContext> {
  return (await loadSendContexts(db, [{ workspaceId, userId, channel, idempotencyKey }]))[0]!;
}

/**
 * loadSendContext for many messages in one statement (the engine sends hundreds at once). Each key
 * is looked up through its index (lateral subqueries), never by joining whole tables.
 */
export async function loadSendContexts(db: Db, keys: readonly SendContextKey[]): Promise<SendContext[]> {
  if (keys.length === 0) return [];
  const list = keys.map((k, n) => ({ n, w: k.workspaceId, u: k.userId, c: k.channel, k: k.idempotencyKey }));
  const rows = await query<Record<string, unknown>>(
    db,
    sql`select d.n, u.id as user_id, u.email, u.phone, u.timezone, u.consent, u.traits, w.timezone as workspace_zone,
          case when d.c = 'push' then
            (select coalesce(json_agg(json_build_object('token', t.token, 'platform', t.platform) order by t.last_seen_at desc), '[]'::json)
               from (select token, platform, last_seen_at from device_tokens dt
                     where dt.workspace_id = u.workspace_id and dt.user_id = u.id and dt.retired_at is null
                     order by last_seen_at desc limit 10) t)
          else '[]'::json end as tokens,
          (select coalesce(json_agg(json_build_object('scope', s.scope, 'reason', s.reason)), '[]'::json)
             from suppressions s
             where s.workspace_id = u.workspace_id and s.channel = d.c
               and s.address = case d.c when 'sms' then ${PHONE_SQL(sql.raw("u.phone"))} when 'email' then lower(u.email) end) as suppressions,
          (select row_to_json(m) from (select ${ROW} from messages where workspace_id = d.w and idempotency_key = d.k) m) as existing
        from jsonb_to_recordset(${JSON.stringify(list)}::jsonb) as d(n int, w uuid, u text, c text, k text)
        left join lateral (select * from users u where u.workspace_id = d.w and u.id = d.u limit 1) u on true
        left join lateral (select * from workspaces w where w.id = u.workspace_id limit 1) w on true`,
  );
  const contexts: SendContext[] = new Array(keys.length);
  for (const r of rows) {
    const existing = r.existing ? normaliseRow(toJson<Record<string, unknown>>(r.existing)) : null;
    contexts[Number(r.n)] =
      r.user_id === null || r.user_id === undefined
        ? { existing, recipient: null }
        : {
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
  return contexts;
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

export interface SentRecord {
  id: string;
  now: Date;
  data: { provider: string; address: string; providerMessageId: string; delivered: boolean; detail?: Record<string, unknown> };
}

/** recordSent for many messages in one statement. */
export async function recordSentMany(db: Db, items: readonly SentRecord[]): Promise<void> {
  const records = items.map(({ id, now, data }, n) => ({
    n,
    id,
    st: data.delivered ? "delivered" : "sent",
    p: data.provider,
    a: data.address,
    pm: data.providerMessageId,
    t: iso(now),
    dl: data.delivered ? iso(now) : null,
    dt: data.detail ?? null,
  }));
  await query(
    db,
    sql`with d as (
      select * from jsonb_to_recordset(${JSON.stringify(records)}::jsonb)
        as d(n int, id uuid, st text, p text, a text, pm text, t timestamptz, dl timestamptz, dt jsonb)
    ), u as (
      update messages m set state = d.st, provider = d.p, address = d.a, provider_message_id = d.pm, sent_at = d.t, delivered_at = d.dl,
        failure_reason = null, failure_detail = null, provider_code = null,
        lease_until = null, provider_call_at = null, defer_until = null, updated_at = d.t
      from d where m.id = d.id returning m.id, m.workspace_id
    )
    insert into message_state_history (message_id, workspace_id, state, detail, at)
    select u.id, u.workspace_id, s.state, d.dt, d.t
    from u join d on d.id = u.id
    cross join lateral (select * from unnest(case when d.st = 'delivered' then array['sent', 'delivered'] else array['sent'] end) with ordinality as s(state, k)) s
    order by d.n, s.k`,
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
