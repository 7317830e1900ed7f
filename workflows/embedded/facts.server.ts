import { sql } from "drizzle-orm";
import { matchesFilters } from "../../nodes/filters";
import type { ConditionConfig } from "../../nodes/condition/definition";
import { factQueries, noMessage, type EventQuery, type Facts, type MessageStateFlags } from "../../nodes/condition/evaluate";
import type { UserSnapshot } from "../../nodes/runtime";
import { MESSAGE_DELIVERED_EVENT, MESSAGE_FAILED_EVENT, type NodeRecord } from "../interpreter";
import { MESSAGE_CLICKED_EVENT, MESSAGE_OPENED_EVENT } from "../simulate";
import { arr, epochMs, iso, keyLookup, rows, toMs, type Conn } from "./db.server";

/**
 * Database-backed `Facts` for condition nodes: traits from the user snapshot, event history
 * from `events`, message state from this instance's node events, `$message.*` engagement
 * events and the channels' `messages` rows. All conditions waiting in one batch are answered
 * with three queries in total, not three per instance.
 */

export interface FactRequest {
  instanceId: string;
  workspaceId: string;
  userId: string;
  config: ConditionConfig;
  now: number;
  user: UserSnapshot;
  /** Records this batch produced for the instance and has not written yet. */
  unsaved: readonly NodeRecord[];
}

interface StoredEvent {
  name: string;
  properties: Record<string, unknown>;
  at: number;
}

interface MessageRecordRow {
  nodeId: string;
  seq: number;
  status: string;
  at: number;
  messageId?: string;
}

interface MessageRow {
  state: string;
  delivered: boolean;
  opened: boolean;
  clicked: boolean;
}

const engagementFlags: Record<string, keyof MessageStateFlags> = {
  [MESSAGE_DELIVERED_EVENT]: "delivered",
  [MESSAGE_FAILED_EVENT]: "failed",
  [MESSAGE_OPENED_EVENT]: "opened",
  [MESSAGE_CLICKED_EVENT]: "clicked",
};

export async function loadFacts(db: Conn, requests: readonly FactRequest[]): Promise<Map<string, Facts>> {
  const out = new Map<string, Facts>();
  if (requests.length === 0) return out;

  const plans = requests.map((r) => ({ request: r, queries: factQueries(r.config, r.now) }));
  const eventNames = new Set<string>();
  const messageInstances = new Set<string>();
  for (const { request, queries } of plans) {
    for (const q of queries) {
      if (q.kind === "messageState") {
        messageInstances.add(request.instanceId);
        for (const name of Object.keys(engagementFlags)) eventNames.add(name);
      } else eventNames.add(q.query.event);
    }
  }

  const history = new Map<string, StoredEvent[]>();
  if (eventNames.size > 0) {
    const users = [...new Set(requests.map((r) => `${r.workspaceId}\u0000${r.userId}`))].map((k) => k.split("\u0000"));
    const until = Math.max(...requests.map((r) => r.now));
    const found = await rows<{ workspace_id: string; user_id: string; name: string; properties: Record<string, unknown>; at: number }>(
      db,
      sql`select e.workspace_id, e.user_id, e.name, e.properties, ${epochMs(sql`e.timestamp`)} as at
          from unnest(${arr(users.map((u) => u[0]))}::uuid[], ${arr(users.map((u) => u[1]))}::text[]) as k(w, u_id)
          ${keyLookup("events", "e",
            sql`e.workspace_id = k.w and e.user_id = k.u_id and e.name = any(${arr([...eventNames])}::text[]) and e.timestamp <= ${iso(until)}::timestamptz`,
            { many: true },
          )}
          order by e.timestamp, e.id`,
    );
    for (const e of found) {
      const key = `${e.workspace_id}\u0000${e.user_id}`;
      const list = history.get(key) ?? [];
      list.push({ name: e.name, properties: e.properties ?? {}, at: toMs(e.at)! });
      history.set(key, list);
    }
  }

  const records = new Map<string, MessageRecordRow[]>();
  const messages = new Map<string, MessageRow>();
  if (messageInstances.size > 0) {
    const ids = [...messageInstances];
    const [recordRows, messageRows] = await Promise.all([
      rows<{ instance_id: string; node_id: string; seq: number; message_status: string; at: number; message_id: string | null }>(
        db,
        sql`select instance_id, node_id, seq, message_status, ${epochMs(sql`at`)} as at, data ->> 'messageId' as message_id
            from journey_node_events where instance_id = any(${arr(ids)}::uuid[]) and kind = 'message'`,
      ),
      rows<{ id: string; state: string; delivered: boolean; opened: boolean; clicked: boolean }>(
        db,
        sql`select id::text as id, state, delivered_at is not null as delivered, opened_at is not null as opened, clicked_at is not null as clicked
            from messages where instance_id = any(${arr(ids)}::text[])`,
      ),
    ]);
    for (const r of recordRows) {
      const list = records.get(r.instance_id) ?? [];
      list.push({ nodeId: r.node_id, seq: r.seq, status: r.message_status, at: toMs(r.at)!, ...(r.message_id ? { messageId: r.message_id } : {}) });
      records.set(r.instance_id, list);
    }
    for (const m of messageRows) messages.set(m.id, m);
  }

  for (const { request } of plans) {
    const events = history.get(`${request.workspaceId}\u0000${request.userId}`) ?? [];
    const matching = (q: EventQuery) =>
      events.filter((e) => e.name === q.event && e.at <= q.until && (q.since === undefined || e.at >= q.since) && matchesFilters(e.properties, q.filters));
    const unsaved = request.unsaved
      .filter((r): r is Extract<NodeRecord, { kind: "message" }> => r.kind === "message")
      .map((r) => ({ nodeId: r.nodeId, seq: r.seq, status: r.status, at: r.at, ...(r.messageId ? { messageId: r.messageId } : {}) }));
    const ownRecords = [...(records.get(request.instanceId) ?? []), ...unsaved];
    out.set(request.instanceId, {
      now: request.now,
      trait: (name) => request.user.traits[name],
      eventCount: (q) => matching(q).length,
      lastSeen: (q) => {
        const found = matching(q);
        return found.length ? found[found.length - 1].at : null;
      },
      messageState: (nodeId) => messageState(request.instanceId, nodeId, ownRecords, events, messages),
    });
  }
  return out;
}

/**
 * The latest send of `nodeId` in this instance and what happened to it since, from every
 * source that can know: delivery-wait records, `$message.*` events, the channels' message row.
 */
function messageState(
  instanceId: string,
  nodeId: string,
  records: readonly MessageRecordRow[],
  events: readonly StoredEvent[],
  messages: ReadonlyMap<string, MessageRow>,
): MessageStateFlags {
  const own = records.filter((r) => r.nodeId === nodeId).sort((a, b) => a.seq - b.seq);
  const sendIndex = own.map((r) => r.status === "sent" || r.status === "failed").lastIndexOf(true);
  if (sendIndex < 0) return noMessage;
  const send = own[sendIndex];
  const flags: MessageStateFlags = { ...noMessage, sent: send.status === "sent", failed: send.status === "failed" };
  if (!flags.sent) return flags;
  for (const r of own.slice(sendIndex + 1)) {
    if (r.status === "delivered") flags.delivered = true;
    if (r.status === "delivery_failed") flags.failed = true;
  }
  for (const e of events) {
    const flag = engagementFlags[e.name];
    if (!flag || e.at < send.at || e.properties.nodeId !== nodeId) continue;
    if (typeof e.properties.instanceId === "string" && e.properties.instanceId !== instanceId) continue;
    flags[flag] = true;
  }
  // The channels' row of exactly this send (its id is the messageId the send returned).
  const latest = send.messageId ? messages.get(send.messageId) : undefined;
  if (latest) {
    if (latest.delivered) flags.delivered = true;
    if (latest.opened) flags.opened = true;
    if (latest.clicked) flags.clicked = true;
    if (latest.state === "failed") flags.failed = true;
  }
  return flags;
}

export type { ConditionConfig };
