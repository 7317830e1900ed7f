import { v7 as uuidv7 } from "uuid";
import { sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import type { SendMessageRequest, SendMessageResponse } from "../../nodes/runtime";
import { arr, iso, keyLookup, rows } from "./db.server";

/**
 * The embedded engine's default `sendMessage` when no messaging service is wired: a sandbox
 * provider that stores every message in the channels' `messages` table, delivered at once, so
 * journeys, fallbacks and analytics work end to end with no credentials. The app wires the
 * channels' messaging service instead (workflows/embedded/app.server.ts); the crash test and the
 * benchmark use this one.
 *
 * Crash safety: the row is written AFTER the provider call and a retry of the same idempotency
 * key that finds a row does not call the provider again. A worker that dies between the call
 * and the write leaves no row, so the retry calls the provider again with the same key, which a
 * provider with idempotency keys (the sandbox is one) deduplicates. Rows left `queued` by other
 * senders are sent again the same way.
 *
 * Concurrent calls are gathered: one read and one multi-row insert per gathering, whatever its size.
 */

export interface SandboxDelivery {
  workspaceId: string;
  messageId: string;
  request: SendMessageRequest;
}

export interface SandboxSenderOptions {
  db: Db;
  now(): number;
  /** The sandbox "provider": called once per provider call (tests and the crash test count here). */
  onProviderCall?: (delivery: SandboxDelivery) => void;
}

interface Pending {
  workspaceId: string;
  request: SendMessageRequest;
  resolve(response: SendMessageResponse): void;
  reject(error: unknown): void;
}

const MAX_GATHER = 1000;

export interface SandboxSender {
  forWorkspace(workspaceId: string): (request: SendMessageRequest) => Promise<SendMessageResponse>;
}

export function createSandboxSender(options: SandboxSenderOptions): SandboxSender {
  let queue: Pending[] = [];
  let scheduled = false;

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const items = queue.slice(0, MAX_GATHER);
      queue = queue.slice(MAX_GATHER);
      if (queue.length > 0) schedule();
      flush(items).catch((error) => items.forEach((item) => item.reject(error)));
    });
  };

  const flush = async (items: Pending[]) => {
    const now = iso(options.now());
    const keyOf = (i: Pending) => `${i.workspaceId}\u0000${i.request.idempotencyKey}`;
    // One message per (workspace, key) even if a key appears twice in a gathering.
    const unique = [...new Map(items.map((i) => [keyOf(i), i])).values()];
    const stored = await rows<{ workspace_id: string; idempotency_key: string; id: string; state: string; failure_reason: string | null }>(
      options.db,
      sql`select m.workspace_id, m.idempotency_key, m.id::text as id, m.state, m.failure_reason
          from unnest(${arr(unique.map((i) => i.workspaceId))}::uuid[], ${arr(unique.map((i) => i.request.idempotencyKey))}::text[]) as k(w, key)
          ${keyLookup("messages", "m", sql`m.workspace_id = k.w and m.idempotency_key = k.key`)}`,
    );
    const byKey = new Map(stored.map((m) => [`${m.workspace_id}\u0000${m.idempotency_key}`, m]));
    const toSend = unique.filter((i) => !byKey.has(keyOf(i)) || byKey.get(keyOf(i))!.state === "queued");
    const sent = toSend.map((item) => ({ item, id: byKey.get(keyOf(item))?.id ?? uuidv7() }));
    for (const { item, id } of sent) options.onProviderCall?.({ workspaceId: item.workspaceId, messageId: id, request: item.request });
    if (sent.length > 0) {
      await rows(
        options.db,
        sql`insert into messages (id, workspace_id, idempotency_key, user_id, journey_id, instance_id, node_id, channel, category, provider, provider_message_id,
                                  content, state, attempts, created_at, updated_at, sent_at, delivered_at)
            select d.id, d.w, d.k, d.u, d.j, d.i, d.n, d.ch, d.cat, 'sandbox', 'sandbox:' || d.id::text, d.content, 'delivered', 1,
                   ${now}::timestamptz, ${now}::timestamptz, ${now}::timestamptz, ${now}::timestamptz
            from jsonb_to_recordset(${JSON.stringify(
              sent.map(({ item, id }) => ({
                id,
                w: item.workspaceId,
                k: item.request.idempotencyKey,
                u: item.request.userId,
                j: item.request.journeyId,
                i: item.request.instanceId,
                n: item.request.nodeId,
                ch: item.request.channel,
                cat: item.request.category,
                content: item.request.content,
              })),
            )}::jsonb) as d(id uuid, w uuid, k text, u text, j text, i text, n text, ch text, cat text, content jsonb)
            on conflict (workspace_id, idempotency_key) do update
              set state = 'delivered', sent_at = excluded.sent_at, delivered_at = excluded.delivered_at, attempts = messages.attempts + 1
              where messages.state = 'queued'`,
      );
      for (const { item, id } of sent) {
        byKey.set(keyOf(item), { workspace_id: item.workspaceId, idempotency_key: item.request.idempotencyKey, id, state: "delivered", failure_reason: null });
      }
    }
    for (const item of items) {
      const row = byKey.get(keyOf(item))!;
      if (row.state === "failed") item.resolve({ status: "failed", messageId: row.id, reason: row.failure_reason ?? "provider_rejected" });
      else item.resolve({ status: "sent", messageId: row.id });
    }
  };

  return {
    forWorkspace: (workspaceId) => (request) =>
      new Promise<SendMessageResponse>((resolve, reject) => {
        queue.push({ workspaceId, request, resolve, reject });
        schedule();
      }),
  };
}
