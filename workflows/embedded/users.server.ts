import { sql } from "drizzle-orm";
import type { UserSnapshot } from "../../nodes/runtime";
import { arr, keyLookup, rows, type Conn } from "./db.server";

export type UserRow = {
  id: string;
  traits: Record<string, unknown> | null;
  timezone: string | null;
  tags: string[] | null;
};

/**
 * The profile the interpreter sees. Tags live in their own column; conditions and templates
 * read them as the `tags` trait, the same place the simulator and `applyUserOperations` keep them.
 */
export function snapshotOf(userId: string, row: Omit<UserRow, "id"> | undefined): UserSnapshot {
  if (!row) return { id: userId, traits: {}, timezone: null };
  const traits = row.traits ?? {};
  const withTags = row.tags && row.tags.length > 0 && !Array.isArray(traits.tags) ? { ...traits, tags: row.tags } : traits;
  return { id: userId, traits: withTags, timezone: row.timezone };
}

/** Snapshots for many users of many workspaces in one query, keyed `workspace\u0000user`. */
export async function loadUsers(db: Conn, keys: ReadonlyArray<{ workspaceId: string; userId: string }>): Promise<Map<string, UserSnapshot>> {
  const unique = new Map(keys.map((k) => [userKey(k.workspaceId, k.userId), k]));
  const out = new Map<string, UserSnapshot>();
  if (unique.size === 0) return out;
  const list = [...unique.values()];
  const found = await rows<UserRow & { workspace_id: string }>(
    db,
    sql`select u.workspace_id, u.id, u.traits, u.timezone, u.tags
        from unnest(${arr(list.map((k) => k.workspaceId))}::uuid[], ${arr(list.map((k) => k.userId))}::text[]) as k(w, u_id)
        ${keyLookup("users", "u", sql`u.workspace_id = k.w and u.id = k.u_id`)}`,
  );
  const byKey = new Map(found.map((r) => [userKey(r.workspace_id, r.id), r]));
  for (const [key, k] of unique) out.set(key, snapshotOf(k.userId, byKey.get(key)));
  return out;
}

export function userKey(workspaceId: string, userId: string): string {
  return `${workspaceId}\u0000${userId}`;
}
