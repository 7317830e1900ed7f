import { and, eq, sql } from "drizzle-orm";
import { query, type Db } from "../../db/client";
import { users } from "../../db/schema";
import { recordAudit } from "../lib/accounts.server";
import { nodeNamesByVersion } from "../lib/node-names.server";
import type { AppServices } from "../services.server";
import { segmentRuntime } from "../segments/membership.server";
import { userSegments } from "../segments/store.server";

/**
 * Profiles for the Users pages, the management API and support: lookup, search, the event
 * timeline, messages and journeys of a user, and erasure.
 */

export const profileColumns = {
  id: users.id,
  anonymousId: users.anonymousId,
  email: users.email,
  phone: users.phone,
  timezone: users.timezone,
  tags: users.tags,
  traits: users.traits,
  consent: users.consent,
  firstSeenAt: users.firstSeenAt,
  lastSeenAt: users.lastSeenAt,
  updatedAt: users.updatedAt,
};

export async function getProfile(db: Db, workspaceId: string, userId: string) {
  const [row] = await db.select(profileColumns).from(users).where(and(eq(users.workspaceId, workspaceId), eq(users.id, userId))).limit(1);
  if (!row) return null;
  const segments = await userSegments(db, workspaceId, userId);
  const tokens = await query<{ token: string; platform: string; last_seen_at: Date | string; retired_at: Date | string | null; retired_reason: string | null }>(
    db,
    sql`select token, platform, last_seen_at, retired_at, retired_reason from device_tokens
        where workspace_id = ${workspaceId}::uuid and user_id = ${userId} order by last_seen_at desc limit 20`,
  );
  return {
    ...row,
    segments,
    deviceTokens: tokens.map((t) => ({
      // Tokens are credentials for pushing to a phone: show enough to tell them apart.
      token: t.token.length > 16 ? `${t.token.slice(0, 8)}…${t.token.slice(-6)}` : t.token,
      platform: t.platform,
      lastSeenAt: new Date(t.last_seen_at).toISOString(),
      retiredAt: t.retired_at ? new Date(t.retired_at).toISOString() : null,
      retiredReason: t.retired_reason,
    })),
  };
}

function likePrefix(text: string): string {
  return `${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export interface UserListItem {
  id: string;
  email: string | null;
  phone: string | null;
  name: string | null;
  tags: string[];
  lastSeenAt: string;
  firstSeenAt: string;
}

/**
 * Search by user id, email or phone: exact matches and prefixes (indexed with text_pattern_ops).
 * A phone searched without its country code also finds +86 numbers. Newest activity first when
 * listing without a search; keyset-paginated by user id when searching.
 */
export async function searchUsers(db: Db, workspaceId: string, options: { search?: string; limit?: number; after?: string } = {}): Promise<UserListItem[]> {
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 200);
  const search = options.search?.trim() ?? "";
  let where = sql`u.workspace_id = ${workspaceId}::uuid`;
  let order = sql`u.last_seen_at desc, u.id`;
  if (search) {
    const prefix = likePrefix(search);
    const digits = search.replace(/[\s-]/g, "");
    const phones = /^\d{6,}$/.test(digits) ? [likePrefix(digits), likePrefix(`+86${digits}`)] : [likePrefix(search)];
    where = sql`${where} and (u.id like ${prefix} or u.email like ${prefix} or u.email like ${likePrefix(search.toLowerCase())} or ${sql.join(
      phones.map((p) => sql`u.phone like ${p}`),
      sql` or `,
    )})`;
    order = sql`u.id`;
    if (options.after) where = sql`${where} and u.id > ${options.after}`;
  } else if (options.after) {
    const [cursor] = await query<{ last_seen_at: Date | string }>(db, sql`select last_seen_at from users where workspace_id = ${workspaceId}::uuid and id = ${options.after}`);
    if (cursor) where = sql`${where} and (u.last_seen_at, u.id) < (${new Date(cursor.last_seen_at).toISOString()}::timestamptz, ${options.after}::text)`;
    order = sql`u.last_seen_at desc, u.id desc`;
  }
  const rows = await query<{ id: string; email: string | null; phone: string | null; name: unknown; tags: string[]; last_seen_at: Date | string; first_seen_at: Date | string }>(
    db,
    sql`select u.id, u.email, u.phone, u.traits -> 'name' as name, u.tags, u.last_seen_at, u.first_seen_at
        from users u where ${where} order by ${order} limit ${limit}`,
  );
  return rows.map((r) => ({
    id: r.id,
    email: r.email,
    phone: r.phone,
    name: typeof r.name === "string" ? r.name : null,
    tags: r.tags ?? [],
    lastSeenAt: new Date(r.last_seen_at).toISOString(),
    firstSeenAt: new Date(r.first_seen_at).toISOString(),
  }));
}

export async function countUsers(db: Db, workspaceId: string): Promise<number> {
  const [row] = await query<{ n: number | string }>(db, sql`select count(*) as n from users where workspace_id = ${workspaceId}::uuid`);
  return Number(row?.n ?? 0);
}

export interface TimelineEvent {
  id: number;
  messageId: string;
  type: string;
  name: string;
  properties: Record<string, unknown>;
  timestamp: string;
  receivedAt: string;
}

/** The user's events, newest first, keyset-paginated by (timestamp, id). */
export async function userEvents(
  db: Db,
  workspaceId: string,
  userId: string,
  options: { limit?: number; before?: { timestamp: string; id: number }; name?: string } = {},
): Promise<TimelineEvent[]> {
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
  const before = options.before ? sql` and (e.timestamp, e.id) < (${options.before.timestamp}::timestamptz, ${options.before.id}::bigint)` : sql``;
  const name = options.name ? sql` and e.name = ${options.name}` : sql``;
  const rows = await query<{ id: number | string; message_id: string; type: string; name: string; properties: Record<string, unknown>; timestamp: Date | string; received_at: Date | string }>(
    db,
    sql`select e.id, e.message_id, e.type, e.name, e.properties, e.timestamp, e.received_at from events e
        where e.workspace_id = ${workspaceId}::uuid and e.user_id = ${userId}${before}${name}
        order by e.timestamp desc, e.id desc limit ${limit}`,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    messageId: r.message_id,
    type: r.type,
    name: r.name,
    properties: r.properties,
    timestamp: new Date(r.timestamp).toISOString(),
    receivedAt: new Date(r.received_at).toISOString(),
  }));
}

const iso = (v: Date | string | null) => (v ? new Date(v).toISOString() : null);

/** Every message to the user with its channel, delivery state and failure reason (support view). */
export async function userMessages(db: Db, workspaceId: string, userId: string, options: { limit?: number } = {}) {
  const limit = Math.min(Math.max(options.limit ?? 100, 1), 500);
  const rows = await query<{
    id: string;
    channel: string;
    category: string;
    state: string;
    provider: string | null;
    address: string | null;
    content: Record<string, unknown>;
    failure_reason: string | null;
    failure_detail: string | null;
    journey_id: string | null;
    journey_name: string | null;
    node_id: string | null;
    created_at: Date | string;
    sent_at: Date | string | null;
    delivered_at: Date | string | null;
    opened_at: Date | string | null;
    clicked_at: Date | string | null;
    failed_at: Date | string | null;
  }>(
    db,
    sql`select m.id, m.channel, m.category, m.state, m.provider, m.address, m.content, m.failure_reason, m.failure_detail,
               m.journey_id, j.name as journey_name, m.node_id, m.created_at, m.sent_at, m.delivered_at, m.opened_at, m.clicked_at, m.failed_at
        from messages m left join journeys j on j.id::text = m.journey_id
        where m.workspace_id = ${workspaceId}::uuid and m.user_id = ${userId}
        order by m.created_at desc limit ${limit}`,
  );
  return rows.map((r) => ({
    id: r.id,
    channel: r.channel,
    category: r.category,
    state: r.state,
    provider: r.provider,
    address: r.address,
    title: typeof r.content?.title === "string" ? r.content.title : typeof r.content?.subject === "string" ? r.content.subject : null,
    body: typeof r.content?.body === "string" ? r.content.body : typeof r.content?.text === "string" ? r.content.text : null,
    failureReason: r.failure_reason,
    failureDetail: r.failure_detail,
    journeyId: r.journey_id,
    journeyName: r.journey_name,
    nodeId: r.node_id,
    createdAt: iso(r.created_at)!,
    sentAt: iso(r.sent_at),
    deliveredAt: iso(r.delivered_at),
    openedAt: iso(r.opened_at),
    clickedAt: iso(r.clicked_at),
    failedAt: iso(r.failed_at),
  }));
}

/** The user's journey instances: which journey and version, where they are, how it ended. */
export async function userJourneys(db: Db, workspaceId: string, userId: string, options: { limit?: number } = {}) {
  const limit = Math.min(Math.max(options.limit ?? 100, 1), 500);
  const rows = await query<{
    id: string;
    journey_id: string;
    journey_name: string | null;
    version: number | null;
    version_id: string | null;
    status: string;
    reason: string | null;
    node_id: string | null;
    holdout: boolean;
    entered_at: Date | string;
    completed_at: Date | string | null;
  }>(
    db,
    sql`select i.id, i.journey_id, j.name as journey_name, v.version, i.version_id::text as version_id, i.status, i.reason, i.node_id, i.holdout, i.entered_at, i.completed_at
        from journey_instances i
        left join journeys j on j.id = i.journey_id
        left join journey_versions v on v.id = i.version_id
        where i.workspace_id = ${workspaceId}::uuid and i.user_id = ${userId}
        order by i.entered_at desc limit ${limit}`,
  );
  // Where each user is, in operator words (node label, else its type's label; issue 14).
  const names = await nodeNamesByVersion(db, workspaceId, rows.map((r) => r.version_id ?? ""));
  return rows.map((r) => ({
    nodeLabel: r.node_id && r.version_id ? (names[r.version_id]?.[r.node_id]?.label ?? null) : null,
    instanceId: r.id,
    journeyId: r.journey_id,
    journeyName: r.journey_name,
    version: r.version,
    status: r.status,
    reason: r.reason,
    nodeId: r.node_id,
    holdout: r.holdout,
    enteredAt: iso(r.entered_at)!,
    completedAt: iso(r.completed_at),
  }));
}

/**
 * Erases everything stored about a user: every table with `workspace_id` and `user_id` columns
 * (events, memberships, messages, journey instances, device tokens, aliases, suppressions, and
 * whatever areas add later), rows keyed by the user's journey instances, then the profile. The
 * tables are found in the catalog so a new area cannot be forgotten. One transaction.
 */
export async function eraseUser(services: AppServices, workspaceId: string, userId: string, actor: { operatorId?: string | null; via: string }) {
  const deleted: Record<string, number> = {};
  const found = await services.db.transaction(async (tx) => {
    const [profile] = await query<{ id: string }>(tx, sql`select id from users where workspace_id = ${workspaceId}::uuid and id = ${userId} for update`);
    const tables = await query<{ table_name: string; has_instance: boolean }>(
      tx,
      sql`select c.table_name, false as has_instance from information_schema.columns c
          join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
          where c.table_schema = current_schema() and c.column_name = 'user_id'
            and exists (select 1 from information_schema.columns w where w.table_schema = c.table_schema and w.table_name = c.table_name and w.column_name = 'workspace_id')
          union all
          select c.table_name, true from information_schema.columns c
          join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
          where c.table_schema = current_schema() and c.column_name = 'instance_id'
            and not exists (select 1 from information_schema.columns w where w.table_schema = c.table_schema and w.table_name = c.table_name and w.column_name = 'user_id')`,
    );
    const hasInstances = tables.some((t) => t.table_name === "journey_instances");
    // Rows keyed by the user's instances go first, while the instances still say whose they are.
    if (hasInstances) {
      for (const t of tables.filter((t) => t.has_instance)) {
        const rows = await query<{ n: number | string }>(
          tx,
          sql`with d as (delete from ${sql.identifier(t.table_name)} where instance_id in (
                select id from journey_instances where workspace_id = ${workspaceId}::uuid and user_id = ${userId}) returning 1)
              select count(*) as n from d`,
        );
        if (Number(rows[0].n)) deleted[t.table_name] = Number(rows[0].n);
      }
    }
    // Membership counts stay right: decrement before the generic delete.
    await tx.execute(sql`update segments s set member_count = s.member_count - 1
                         from segment_members m where m.segment_id = s.id and m.workspace_id = ${workspaceId}::uuid and m.user_id = ${userId}`);
    // Children before parents (message_state_history cascades from messages anyway).
    const order = (name: string) => (name === "journey_instances" ? 1 : 0);
    for (const t of tables.filter((t) => !t.has_instance).sort((a, b) => order(a.table_name) - order(b.table_name))) {
      const rows = await query<{ n: number | string }>(
        tx,
        sql`with d as (delete from ${sql.identifier(t.table_name)} where workspace_id = ${workspaceId}::uuid and user_id = ${userId} returning 1)
            select count(*) as n from d`,
      );
      if (Number(rows[0].n)) deleted[t.table_name] = Number(rows[0].n);
    }
    const gone = await query<{ n: number | string }>(
      tx,
      sql`with d as (delete from users where workspace_id = ${workspaceId}::uuid and id = ${userId} returning 1) select count(*) as n from d`,
    );
    if (Number(gone[0].n)) deleted.users = Number(gone[0].n);
    await recordAudit(tx as unknown as Db, {
      workspaceId,
      operatorId: actor.operatorId ?? null,
      action: "user.erased",
      target: userId,
      details: { via: actor.via, rows: deleted },
    });
    return Boolean(profile) || Object.keys(deleted).length > 0;
  });
  segmentRuntime(services).evaluator.invalidate(workspaceId);
  return { found, deleted };
}
