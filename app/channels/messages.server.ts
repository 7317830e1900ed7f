/**
 * The Messages page's search: what support looks up when a rider says the fare notice never
 * came. One query finds the messages, one their state histories, one the journey names.
 */
import { sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import { query, type Db } from "../../db/client";
import { nodeNamesByVersion } from "../lib/node-names.server";
import { normalisePhone } from "../../nodes/channels/phone";
import { channels, deliveryStates, failureStage, type FailureReason } from "../../nodes/channels/provider";

export const messageSearchInput = z.object({
  by: z.enum(["user", "phone", "email", "journey"]),
  q: z.string().trim().min(1, "Enter what to search for").max(200),
  channel: z.enum(channels).optional(),
  state: z.enum(deliveryStates).optional(),
  /** Keyset paging: the last message of the previous page. */
  before: z.object({ createdAt: z.coerce.date(), id: z.string().uuid() }).optional(),
  limit: z.number().int().min(1).max(500).default(50),
});
export type MessageSearchInput = z.input<typeof messageSearchInput>;

export interface MessageView {
  id: string;
  userId: string;
  journeyId: string | null;
  journeyName: string | null;
  nodeId: string | null;
  /** The node in operator words (label, else type label) in both languages (issue 14). */
  nodeLabel: { en: string; zh: string } | null;
  /** A deferred message's scheduled send time (quiet hours, throttling). */
  deferUntil: string | null;
  channel: string;
  category: string;
  provider: string | null;
  address: string | null;
  content: Record<string, unknown>;
  truncations: unknown[] | null;
  state: string;
  failureReason: FailureReason | null;
  failureStage: string | null;
  failureDetail: string | null;
  providerCode: string | null;
  createdAt: string;
  history: { state: string; reason: string | null; detail: Record<string, unknown> | null; at: string }[];
}

const iso = (v: unknown) => (v instanceof Date ? v : new Date(String(v))).toISOString();
const json = <T>(v: unknown): T | null => (v === null || v === undefined ? null : typeof v === "string" ? (JSON.parse(v) as T) : (v as T));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Spaces, dashes and the +86/0086 prefix removed on both sides: any spelling finds the number. */
const phoneSql = (column: SQL) => sql`regexp_replace(regexp_replace(${column}, '[[:space:]-]', '', 'g'), '^(\\+86|0086)(1[0-9]{10})$', '\\2')`;

export async function searchMessageLog(db: Db, workspaceId: string, raw: MessageSearchInput): Promise<MessageView[]> {
  const input = messageSearchInput.parse(raw);
  const where: SQL[] = [sql`m.workspace_id = ${workspaceId}::uuid`];
  const q = input.q;
  if (input.by === "user") where.push(sql`m.user_id = ${q}`);
  else if (input.by === "phone") {
    // The number's SMS, and every message of the users with that number (their push too).
    const phone = normalisePhone(q.replace(/[()（）.]/g, ""));
    where.push(sql`((m.channel = 'sms' and ${phoneSql(sql`m.address`)} = ${phone})
      or m.user_id in (select u.id from users u where u.workspace_id = ${workspaceId}::uuid and ${phoneSql(sql`u.phone`)} = ${phone}))`);
  } else if (input.by === "email") {
    const email = q.toLowerCase();
    where.push(sql`((m.channel = 'email' and lower(m.address) = ${email})
      or m.user_id in (select u.id from users u where u.workspace_id = ${workspaceId}::uuid and lower(u.email) = ${email}))`);
  } else {
    // A journey id, or (part of) its name.
    where.push(
      UUID.test(q)
        ? sql`m.journey_id = ${q.toLowerCase()}`
        : sql`m.journey_id in (select j.id::text from journeys j where j.workspace_id = ${workspaceId}::uuid and j.name ilike ${`%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`})`,
    );
  }
  if (input.channel) where.push(sql`m.channel = ${input.channel}`);
  if (input.state) where.push(sql`m.state = ${input.state}`);
  if (input.before) where.push(sql`(m.created_at, m.id) < (${input.before.createdAt.toISOString()}::timestamptz, ${input.before.id}::uuid)`);

  const rows = await query<Record<string, unknown>>(
    db,
    sql`select m.id::text as id, m.user_id, m.journey_id, j.name as journey_name, m.node_id, m.channel, m.category, m.provider, m.address,
               m.content, m.truncations, m.state, m.failure_reason, m.failure_detail, m.provider_code, m.created_at, m.defer_until,
               (select ji.version_id::text from journey_instances ji where ji.id::text = m.instance_id) as version_id
        from messages m left join journeys j on j.id::text = m.journey_id
        where ${sql.join(where, sql` and `)}
        order by m.created_at desc, m.id desc limit ${input.limit}`,
  );
  const ids = rows.map((r) => String(r.id));
  const history = ids.length
    ? await query<Record<string, unknown>>(
        db,
        sql`select message_id::text as message_id, state, reason, detail, at from message_state_history
            where message_id = any(${sql.param(ids)}::uuid[]) order by id`,
      )
    : [];
  const byMessage = new Map<string, MessageView["history"]>();
  for (const h of history) {
    const list = byMessage.get(String(h.message_id)) ?? [];
    list.push({ state: String(h.state), reason: (h.reason as string | null) ?? null, detail: json<Record<string, unknown>>(h.detail), at: iso(h.at) });
    byMessage.set(String(h.message_id), list);
  }
  const names = await nodeNamesByVersion(db, workspaceId, rows.map((r) => (r.version_id as string | null) ?? ""));
  return rows.map((r) => {
    const reason = (r.failure_reason as FailureReason | null) ?? null;
    const versionId = (r.version_id as string | null) ?? null;
    const nodeId = (r.node_id as string | null) ?? null;
    return {
      nodeLabel: versionId && nodeId ? (names[versionId]?.[nodeId]?.label ?? null) : null,
      deferUntil: r.defer_until ? iso(r.defer_until) : null,
      id: String(r.id),
      userId: String(r.user_id),
      journeyId: (r.journey_id as string | null) ?? null,
      journeyName: (r.journey_name as string | null) ?? null,
      nodeId: (r.node_id as string | null) ?? null,
      channel: String(r.channel),
      category: String(r.category),
      provider: (r.provider as string | null) ?? null,
      address: (r.address as string | null) ?? null,
      content: json<Record<string, unknown>>(r.content) ?? {},
      truncations: json<unknown[]>(r.truncations),
      state: String(r.state),
      failureReason: reason,
      failureStage: reason ? (failureStage[reason] ?? null) : null,
      failureDetail: (r.failure_detail as string | null) ?? null,
      providerCode: (r.provider_code as string | null) ?? null,
      createdAt: iso(r.created_at),
      history: byMessage.get(String(r.id)) ?? [],
    };
  });
}

const csvCell = (value: unknown): string => {
  let s = value === null || value === undefined ? "" : String(value);
  // Spreadsheet formula injection: a cell starting with = + - @ is read as text.
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The copy as the user saw it, in one line (title + body, subject, or SMS template params). */
export function copyText(content: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const key of ["title", "subject", "body", "text"]) if (typeof content[key] === "string" && content[key]) parts.push(String(content[key]));
  if (!parts.length && typeof content.html === "string") parts.push(content.html.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim());
  if (content.templateCode) parts.push(`${String(content.templateCode)} ${JSON.stringify(content.templateParams ?? {})}`);
  return parts.join(" · ");
}

export function messagesCsv(items: MessageView[], label: (reason: string) => string): string {
  const header = ["created_at", "message_id", "user_id", "channel", "category", "journey", "node_id", "provider", "address", "state", "failure_reason", "failure_label", "provider_code", "failure_detail", "copy", "history"];
  const lines = items.map((m) =>
    [
      m.createdAt,
      m.id,
      m.userId,
      m.channel,
      m.category,
      m.journeyName ?? m.journeyId ?? "",
      m.nodeId ?? "",
      m.provider ?? "",
      m.address ?? "",
      m.state,
      m.failureReason ?? "",
      m.failureReason ? label(m.failureReason) : "",
      m.providerCode ?? "",
      m.failureDetail ?? "",
      copyText(m.content),
      m.history.map((h) => `${h.at} ${h.state}${h.reason ? ` (${h.reason})` : ""}`).join("; "),
    ]
      .map(csvCell)
      .join(","),
  );
  // BOM: Excel opens UTF-8 (Chinese copy) correctly only with it.
  return "\uFEFF" + [header.join(","), ...lines].join("\r\n") + "\r\n";
}
