import { sql, type SQL } from "drizzle-orm";
import { query, type Db, type Tx } from "../../db/client";
import type { Consent } from "../../db/schema";
import type { IncomingEvent } from "../../workflows/engine";
import { segmentRuntime } from "../segments/membership.server";
import type { AppServices } from "../services.server";
import { moveDeviceTokens, upsertDeviceTokens } from "./device-tokens.server";
import type { NormalizedCall } from "./validate.server";

/**
 * Stores validated calls: ONE transaction per request and a handful of set-based statements
 * whatever the number of calls (alias lookup, multi-row event insert with ON CONFLICT DO
 * NOTHING RETURNING, one MERGE of all touched profiles, device tokens). Only calls whose
 * messageId was new change profiles, so a resent batch changes nothing. See decision 0301.
 */

export interface StoreOutcome {
  /** Calls whose messageId was new, with resolved user ids. */
  stored: NormalizedCall[];
  /** Calls whose messageId was stored before (or earlier in the same request). */
  duplicates: NormalizedCall[];
  /**
   * The `event_routing_pending` row written with the stored activity calls (`markUnrouted`): delete
   * it (routing.server.ts `routed`) once the engine has taken them; left behind, the sweep routes them.
   */
  pendingRouting?: number;
}

export interface StoreOptions {
  /** Write the durable "not yet routed" marker for the stored activity calls (decision 1001). */
  markUnrouted?: boolean;
}

const RETRYABLE = new Set(["40001", "40P01"]);

export function pgErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A transaction retried on deadlock and serialization failure. */
export async function retryingTransaction<T>(db: Db, body: (tx: Tx) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(body);
    } catch (error) {
      const code = pgErrorCode(error);
      if (attempt >= attempts || !code || !RETRYABLE.has(code)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 3 * attempt + Math.random() * 10));
    }
  }
}

const iso = (ms: number) => new Date(ms).toISOString();
const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const jsonList = (values: readonly string[]) => sql`(select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;

/** track, page and screen are user activity: they move last_seen_at and reach journeys. */
export const activityTypes = new Set(["track", "page", "screen"]);

function mergeConsent(a: Consent | undefined, b: Consent): Consent {
  const out: Consent = { ...(a ?? {}) };
  for (const [channel, flags] of Object.entries(b) as [keyof Consent, Consent[keyof Consent]][]) {
    out[channel] = { ...(out[channel] ?? {}), ...(flags ?? {}) };
  }
  return out;
}

interface ProfileRow {
  id: string;
  anon?: string;
  traits: Record<string, unknown> | null;
  email?: string | null;
  phone?: string | null;
  tz?: string;
  tags?: string[];
  consent?: Consent;
  fs: number;
  ls: number | null;
  set_email: boolean;
  set_phone: boolean;
  set_tags: boolean;
}

function profileRows(calls: readonly NormalizedCall[]): ProfileRow[] {
  const rows = new Map<string, ProfileRow>();
  for (const call of calls) {
    let row = rows.get(call.userId);
    if (!row) {
      row = { id: call.userId, traits: null, fs: call.timestamp, ls: null, set_email: false, set_phone: false, set_tags: false };
      rows.set(call.userId, row);
    }
    row.fs = Math.min(row.fs, call.timestamp);
    if (activityTypes.has(call.type)) row.ls = Math.max(row.ls ?? call.timestamp, call.timestamp);
    if (call.anonymousId) row.anon = call.anonymousId;
    const p = call.profile;
    if (!p) continue;
    if (p.traits) row.traits = { ...(row.traits ?? {}), ...p.traits };
    if (p.email !== undefined) {
      row.email = p.email;
      row.set_email = true;
    }
    if (p.phone !== undefined) {
      row.phone = p.phone;
      row.set_phone = true;
    }
    if (p.timezone) row.tz = p.timezone;
    if (p.tags) {
      row.tags = p.tags;
      row.set_tags = true;
    }
    if (p.consent) row.consent = mergeConsent(row.consent, p.consent);
    if (p.createdAt !== undefined) row.fs = Math.min(row.fs, p.createdAt);
  }
  return [...rows.values()].sort((a, b) => byString(a.id, b.id));
}

/**
 * Whether an activity upsert changes anything worth a write. last_seen_at moves in steps of a
 * minute: a user clicking through a session costs one profile write a minute, not one per event.
 */
function profileChanged(activity: boolean): SQL {
  return sql`(u.first_seen_at > excluded.first_seen_at
    ${activity ? sql`or u.last_seen_at < excluded.last_seen_at - interval '1 minute'` : sql``}
    or (excluded.anonymous_id is not null and u.anonymous_id is distinct from excluded.anonymous_id)
    or (excluded.timezone is not null and u.timezone is distinct from excluded.timezone))`;
}

/**
 * Upserts profiles. Every touched user goes through INSERT ... ON CONFLICT DO UPDATE, which is
 * safe when concurrent requests create the same new user; activity moves first/last seen.
 * Users whose calls carried traits then get one UPDATE that knows which fields were sent
 * (`"email": null` clears the email, a missing one keeps it), which ON CONFLICT cannot express.
 * Rows are sorted by id so concurrent requests lock users in the same order.
 */
async function upsertProfiles(tx: Tx, workspaceId: string, rows: ProfileRow[], now: number): Promise<void> {
  if (rows.length === 0) return;
  const ws = sql`${workspaceId}::uuid`;
  const at = sql`${iso(now)}::timestamptz`;
  const touch = async (group: ProfileRow[], activity: boolean) => {
    if (group.length === 0) return;
    const json = JSON.stringify(group.map((r) => ({ id: r.id, anon: r.anon ?? null, tz: r.tz ?? null, fs: iso(r.fs), ls: r.ls === null ? null : iso(r.ls) })));
    await tx.execute(sql`
      insert into users as u (workspace_id, id, anonymous_id, timezone, first_seen_at, last_seen_at, updated_at)
      select ${ws}, r.id, r.anon, r.tz, r.fs, coalesce(r.ls, r.fs), ${at}
      from jsonb_to_recordset(${json}::jsonb) as r(id text, anon text, tz text, fs timestamptz, ls timestamptz)
      order by r.id
      on conflict (workspace_id, id) do update set
        anonymous_id = coalesce(excluded.anonymous_id, u.anonymous_id),
        timezone = coalesce(excluded.timezone, u.timezone),
        first_seen_at = least(u.first_seen_at, excluded.first_seen_at),
        ${activity ? sql`last_seen_at = greatest(u.last_seen_at, excluded.last_seen_at),` : sql``}
        updated_at = excluded.updated_at
      where ${profileChanged(activity)}`);
  };
  // Identify-only users are not "seen": a backend syncing traits must not make churned users active.
  await touch(
    rows.filter((r) => r.ls !== null),
    true,
  );
  await touch(
    rows.filter((r) => r.ls === null),
    false,
  );
  const patched = rows.filter((r) => r.traits !== null || r.set_email || r.set_phone || r.set_tags || r.consent);
  if (patched.length === 0) return;
  const json = JSON.stringify(
    patched.map((r) => ({ id: r.id, traits: r.traits, email: r.email ?? null, phone: r.phone ?? null, tags: r.tags ?? null, consent: r.consent ?? null, set_email: r.set_email, set_phone: r.set_phone, set_tags: r.set_tags })),
  );
  await tx.execute(sql`
    update users u set
      traits = case when r.traits is null then u.traits else u.traits || r.traits end,
      email = case when r.set_email then r.email else u.email end,
      phone = case when r.set_phone then r.phone else u.phone end,
      tags = case when r.set_tags then r.tags else u.tags end,
      consent = case when r.consent is null then u.consent else waypost_merge_consent(u.consent, r.consent) end
    from (
      select * from jsonb_to_recordset(${json}::jsonb)
        as r(id text, traits jsonb, email text, phone text, tags text[], consent jsonb, set_email boolean, set_phone boolean, set_tags boolean)
      order by id
    ) r
    where u.workspace_id = ${ws} and u.id = r.id`);
}

/**
 * Folds profile `fromId` into `toId` (alias, or identify of a user who was anonymous): events,
 * traits (the identified profile's values win), tags, consent, device tokens, and an alias row
 * so later calls under the old id land on the new profile. The old profile's segment
 * memberships end silently: that id no longer exists.
 */
export async function mergeProfiles(tx: Tx, workspaceId: string, fromId: string, toId: string, now: number): Promise<void> {
  if (fromId === toId) return;
  const ws = sql`${workspaceId}::uuid`;
  await tx.execute(sql`insert into user_aliases (workspace_id, alias, user_id) values (${ws}, ${fromId}, ${toId})
                       on conflict (workspace_id, alias) do update set user_id = excluded.user_id`);
  await tx.execute(sql`update user_aliases set user_id = ${toId} where workspace_id = ${ws} and user_id = ${fromId}`);
  await tx.execute(sql`update events set user_id = ${toId} where workspace_id = ${ws} and user_id = ${fromId}`);
  await tx.execute(sql`
    insert into users as u (workspace_id, id, anonymous_id, traits, email, phone, timezone, tags, consent, first_seen_at, last_seen_at, updated_at)
    select workspace_id, ${toId}, coalesce(anonymous_id, ${fromId}), traits, email, phone, timezone, tags, consent, first_seen_at, last_seen_at, ${iso(now)}::timestamptz
    from users where workspace_id = ${ws} and id = ${fromId}
    on conflict (workspace_id, id) do update set
      traits = excluded.traits || u.traits,
      email = coalesce(u.email, excluded.email),
      phone = coalesce(u.phone, excluded.phone),
      timezone = coalesce(u.timezone, excluded.timezone),
      tags = array(select distinct t from unnest(u.tags || excluded.tags) as t order by t),
      consent = waypost_merge_consent(excluded.consent, u.consent),
      anonymous_id = coalesce(u.anonymous_id, excluded.anonymous_id),
      first_seen_at = least(u.first_seen_at, excluded.first_seen_at),
      last_seen_at = greatest(u.last_seen_at, excluded.last_seen_at),
      updated_at = excluded.updated_at`);
  await tx.execute(sql`delete from users where workspace_id = ${ws} and id = ${fromId}`);
  await tx.execute(sql`
    with gone as (
      delete from segment_members where workspace_id = ${ws} and user_id = ${fromId} returning segment_id
    ),
    logged as (
      insert into segment_membership_events (workspace_id, segment_id, user_id, change, at, notified_at)
      select ${ws}, segment_id, ${fromId}, 'exited', ${iso(now)}::timestamptz, ${iso(now)}::timestamptz from gone
    )
    update segments s set member_count = s.member_count - g.n
    from (select segment_id, count(*)::int as n from gone group by segment_id) g where s.id = g.segment_id`);
  await moveDeviceTokens(tx, workspaceId, fromId, toId);
}

/** Stores calls; returns which were new and which were duplicates. Does not notify anyone. */
export async function storeCalls(services: AppServices, workspaceId: string, input: readonly NormalizedCall[], receivedAt: number, options: StoreOptions = {}): Promise<StoreOutcome> {
  // A messageId repeated inside one request is a duplicate of its first occurrence.
  const firstById = new Map<string, NormalizedCall>();
  const repeated: NormalizedCall[] = [];
  for (const call of input) {
    if (firstById.has(call.messageId)) repeated.push(call);
    else firstById.set(call.messageId, call);
  }
  const unique = [...firstById.values()];
  if (unique.length === 0) return { stored: [], duplicates: repeated };

  if (unique.every((c) => activityTypes.has(c.type))) {
    return storeActivity(services, workspaceId, unique, repeated, receivedAt, options.markUnrouted === true);
  }

  return retryingTransaction(services.db, async (tx) => {
    // Calls under an aliased id belong to the profile it was merged into.
    const ids = new Set(unique.map((c) => c.userId));
    const aliases = await query<{ alias: string; user_id: string }>(
      tx,
      sql`select alias, user_id from user_aliases where workspace_id = ${workspaceId}::uuid and alias in ${jsonList([...ids])}`,
    );
    const resolve = new Map(aliases.map((a) => [a.alias, a.user_id]));
    const calls = unique.map((c) => (resolve.has(c.userId) ? { ...c, userId: resolve.get(c.userId)! } : c));

    const rows = calls
      .map((c) => ({ m: c.messageId, u: c.userId, t: c.type, n: c.name, p: c.properties, ts: iso(c.timestamp) }))
      .sort((a, b) => byString(a.m, b.m));
    const inserted = await query<{ message_id: string }>(
      tx,
      sql`insert into events (workspace_id, message_id, user_id, type, name, properties, timestamp, received_at)
          select ${workspaceId}::uuid, r.m, r.u, r.t, r.n, coalesce(r.p, '{}'::jsonb), r.ts, ${iso(receivedAt)}::timestamptz
          from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(m text, u text, t text, n text, p jsonb, ts timestamptz)
          order by r.m
          on conflict (workspace_id, message_id) do nothing
          returning message_id`,
    );
    const isNew = new Set(inserted.map((r) => r.message_id));
    const stored = calls.filter((c) => isNew.has(c.messageId));
    const duplicates = [...calls.filter((c) => !isNew.has(c.messageId)), ...repeated];

    await upsertProfiles(tx, workspaceId, profileRows(stored), services.now().getTime());

    const tokens = stored.flatMap((c) => (c.deviceTokens ?? []).map((t) => ({ ...t, userId: c.userId, at: c.timestamp })));
    await upsertDeviceTokens(tx, workspaceId, tokens);

    // Profile merges: alias calls, and identified calls whose anonymous profile still exists.
    const merges: [string, string][] = stored.filter((c) => c.type === "alias" && c.previousId).map((c) => [c.previousId!, c.userId]);
    const anonymous = stored.filter((c) => c.identified && c.anonymousId && c.anonymousId !== c.userId);
    if (anonymous.length > 0) {
      const existing = new Set(
        (
          await query<{ id: string }>(
            tx,
            sql`select id from users where workspace_id = ${workspaceId}::uuid and id in ${jsonList(anonymous.map((c) => c.anonymousId!))}`,
          )
        ).map((r) => r.id),
      );
      for (const c of anonymous) if (existing.has(c.anonymousId!)) merges.push([c.anonymousId!, c.userId]);
    }
    for (const [from, to] of merges) await mergeProfiles(tx, workspaceId, from, to, services.now().getTime());
    for (const [from, to] of merges) {
      for (const c of stored) if (c.userId === from) c.userId = to;
    }
    const activity = stored.filter((c) => activityTypes.has(c.type)).map((c) => c.messageId);
    if (!options.markUnrouted || activity.length === 0) return { stored, duplicates };
    const [marker] = await query<{ id: number | string }>(
      tx,
      sql`insert into event_routing_pending (workspace_id, message_ids) values (${workspaceId}::uuid, ${sql.param(activity)}::text[]) returning id`,
    );
    return { stored, duplicates, pendingRouting: Number(marker.id) };
  });
}

/**
 * track / page / screen only (the bulk of traffic): ONE statement, so one atomic transaction
 * and one round trip, like a bare multi-row INSERT. It resolves aliases, inserts the events
 * (ON CONFLICT DO NOTHING), touches the profiles of the new ones, upserts device tokens, and
 * reports anonymous profiles that an identified call should absorb (merged right after).
 */
async function storeActivity(
  services: AppServices,
  workspaceId: string,
  calls: NormalizedCall[],
  repeated: NormalizedCall[],
  receivedAt: number,
  markUnrouted: boolean,
): Promise<StoreOutcome> {
  const now = services.now().getTime();
  const rows = calls
    .map((c) => ({
      m: c.messageId,
      u: c.userId,
      t: c.type,
      n: c.name,
      p: c.properties,
      ts: iso(c.timestamp),
      a: c.anonymousId ?? null,
      tz: c.profile?.timezone ?? null,
      tok: c.deviceTokens?.[0]?.token ?? null,
      pf: c.deviceTokens?.[0]?.platform ?? null,
    }))
    .sort((a, b) => byString(a.m, b.m));
  const ws = sql`${workspaceId}::uuid`;
  const result = await retryingTransaction(services.db, (tx) =>
    query<{ message_id: string; user_id: string; inserted: boolean; merge_from: string | null; pending: number | string | null }>(
      tx,
      sql`with input as (
            select r.*, coalesce(a.user_id, r.u) as uid
            from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
              as r(m text, u text, t text, n text, p jsonb, ts timestamptz, a text, tz text, tok text, pf text)
            left join user_aliases a on a.workspace_id = ${ws} and a.alias = r.u
          ),
          ins as (
            insert into events (workspace_id, message_id, user_id, type, name, properties, timestamp, received_at)
            select ${ws}, i.m, i.uid, i.t, i.n, coalesce(i.p, '{}'::jsonb), i.ts, ${iso(receivedAt)}::timestamptz from input i order by i.m
            on conflict (workspace_id, message_id) do nothing
            returning message_id
          ),
          fresh as (select i.* from input i join ins on ins.message_id = i.m),
          touched as (
            insert into users as u (workspace_id, id, anonymous_id, timezone, first_seen_at, last_seen_at, updated_at)
            select ${ws}, f.uid, max(f.a), max(f.tz), min(f.ts), max(f.ts), ${iso(now)}::timestamptz from fresh f group by f.uid order by f.uid
            on conflict (workspace_id, id) do update set
              anonymous_id = coalesce(excluded.anonymous_id, u.anonymous_id),
              timezone = coalesce(excluded.timezone, u.timezone),
              first_seen_at = least(u.first_seen_at, excluded.first_seen_at),
              last_seen_at = greatest(u.last_seen_at, excluded.last_seen_at),
              updated_at = excluded.updated_at
            where ${profileChanged(true)}
          ),
          tokens as (
            insert into device_tokens as d (workspace_id, token, user_id, platform, created_at, last_seen_at)
            select distinct on (f.tok) ${ws}, f.tok, f.uid, f.pf, f.ts, f.ts from fresh f where f.tok is not null order by f.tok, f.ts desc
            on conflict (workspace_id, token) do update
              set user_id = excluded.user_id, platform = excluded.platform, last_seen_at = greatest(d.last_seen_at, excluded.last_seen_at)
              where d.user_id <> excluded.user_id or d.platform <> excluded.platform or d.last_seen_at < excluded.last_seen_at - interval '1 hour'
          ),
          -- The durable "not yet routed" marker, in the same statement (decision 1001).
          pending as (
            insert into event_routing_pending (workspace_id, message_ids)
            select ${ws}, array_agg(ins.message_id) from ins where ${markUnrouted ? sql`true` : sql`false`} having count(*) > 0
            returning id
          )
          select i.m as message_id, i.uid as user_id, (ins.message_id is not null) as inserted, (select id from pending) as pending,
                 case when i.a is not null and i.a <> i.uid and ins.message_id is not null
                      and exists (select 1 from users p where p.workspace_id = ${ws} and p.id = i.a) then i.a end as merge_from
          from input i left join ins on ins.message_id = i.m`,
    ),
  );
  const byId = new Map(result.map((r) => [r.message_id, r]));
  const marker = result.find((r) => r.pending !== null && r.pending !== undefined)?.pending;
  const stored: NormalizedCall[] = [];
  const duplicates: NormalizedCall[] = [...repeated];
  const merges = new Map<string, string>();
  for (const call of calls) {
    const row = byId.get(call.messageId)!;
    const resolved = row.user_id === call.userId ? call : { ...call, userId: row.user_id };
    (row.inserted ? stored : duplicates).push(resolved);
    if (row.merge_from) merges.set(row.merge_from, row.user_id);
  }
  // An identified call whose anonymous profile still exists: fold it in (rare; once per user).
  for (const [from, to] of merges) {
    await retryingTransaction(services.db, (tx) => mergeProfiles(tx, workspaceId, from, to, services.now().getTime()));
    for (const c of stored) if (c.userId === from) c.userId = to;
  }
  return { stored, duplicates, ...(marker !== undefined && marker !== null ? { pendingRouting: Number(marker) } : {}) };
}

/** Engine events for activity calls, in timestamp order per user. */
export function engineEvents(workspaceId: string, calls: readonly NormalizedCall[]): IncomingEvent[] {
  return calls
    .filter((c) => activityTypes.has(c.type))
    .sort((a, b) => byString(a.userId, b.userId) || a.timestamp - b.timestamp)
    .map((c) => ({ workspaceId, userId: c.userId, messageId: c.messageId, name: c.name, properties: c.properties, timestamp: c.timestamp }));
}

/** Tells segment membership what the stored calls changed (evaluated within milliseconds). */
export function enqueueSegmentSignals(services: AppServices, workspaceId: string, stored: readonly NormalizedCall[]): void {
  const evaluator = segmentRuntime(services).evaluator;
  for (const call of stored) {
    switch (call.type) {
      case "track":
      case "page":
      case "screen":
      case "group":
        evaluator.enqueue(workspaceId, call.userId, {
          events: [call.name],
          activity: call.type !== "group",
          traits: call.profile?.timezone ? ["timezone"] : [],
        });
        break;
      case "identify": {
        const traits = Object.keys(call.profile?.traits ?? {});
        if (call.profile?.timezone) traits.push("timezone");
        evaluator.enqueue(workspaceId, call.userId, { events: [call.name], traits, activity: true, all: call.identified });
        break;
      }
      case "alias":
        evaluator.enqueue(workspaceId, call.userId, { all: true });
        break;
    }
  }
}
