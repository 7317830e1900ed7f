import { sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import type { DeviceToken } from "./validate.server";

/**
 * Push tokens from identify traits and `context.device.token`, written to the channels'
 * `device_tokens` table (db/schema/messages.ts). A token belongs to the user who sent it last:
 * a phone that changes hands moves its token to the new user. A token the channels retired
 * (unregistered at FCM) stays retired: an app resending a dead token does not revive it.
 * Unchanged tokens are not rewritten more than once an hour, so chatty clients cost no writes.
 */
export async function upsertDeviceTokens(
  tx: Tx,
  workspaceId: string,
  rows: ReadonlyArray<DeviceToken & { userId: string; at: number }>,
): Promise<void> {
  if (rows.length === 0) return;
  // One row per token (the last one wins), sorted so concurrent requests lock in the same order.
  const byToken = new Map<string, { t: string; u: string; p: string; at: string }>();
  for (const r of rows) byToken.set(r.token, { t: r.token, u: r.userId, p: r.platform, at: new Date(r.at).toISOString() });
  const list = [...byToken.values()].sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
  await tx.execute(sql`
    insert into device_tokens as d (workspace_id, token, user_id, platform, created_at, last_seen_at)
    select ${workspaceId}::uuid, r.t, r.u, r.p, r.at, r.at
    from jsonb_to_recordset(${JSON.stringify(list)}::jsonb) as r(t text, u text, p text, at timestamptz)
    on conflict (workspace_id, token) do update
      set user_id = excluded.user_id, platform = excluded.platform, last_seen_at = greatest(d.last_seen_at, excluded.last_seen_at)
      where d.user_id <> excluded.user_id or d.platform <> excluded.platform or d.last_seen_at < excluded.last_seen_at - interval '1 hour'`);
}

/** Moves tokens when two profiles merge (alias / identify of an anonymous user). */
export async function moveDeviceTokens(tx: Tx, workspaceId: string, fromUserId: string, toUserId: string): Promise<void> {
  await tx.execute(sql`update device_tokens set user_id = ${toUserId} where workspace_id = ${workspaceId}::uuid and user_id = ${fromUserId}`);
}
