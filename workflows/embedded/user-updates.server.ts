import { sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import type { UpdateUserRequest } from "../../nodes/runtime";
import { applyUserOperations } from "../../nodes/update-user/definition";
import { iso, rows, transaction } from "./db.server";

/**
 * The embedded engine's `updateUser`: applies an "Update user" node's operations to the profile
 * exactly once per idempotency key. "Increment" is not idempotent by itself, so the key is
 * recorded in `engine_effects` in the same transaction as the profile write: a retried or
 * re-executed run finds the key and changes nothing.
 */
export function createUserUpdater(db: Db, now: () => number) {
  return (workspaceId: string) =>
    async (request: UpdateUserRequest): Promise<void> => {
      await transaction(db, async (tx) => {
        const fresh = await rows(
          tx,
          sql`insert into engine_effects (workspace_id, key, at) values (${workspaceId}::uuid, ${request.idempotencyKey}, ${iso(now())}::timestamptz)
              on conflict do nothing returning key`,
        );
        if (fresh.length === 0) return;
        const [current] = await rows<{ traits: Record<string, unknown>; tags: string[] }>(
          tx,
          sql`select traits, tags from users where workspace_id = ${workspaceId}::uuid and id = ${request.userId} for update`,
        );
        const base = { ...(current?.traits ?? {}) };
        if (current && current.tags.length > 0 && !Array.isArray(base.tags)) base.tags = current.tags;
        const next = applyUserOperations(base, request.operations);
        const tags = Array.isArray(next.tags) ? (next.tags as unknown[]).filter((t): t is string => typeof t === "string") : [];
        const timezone = typeof next.timezone === "string" ? next.timezone : null;
        // `tags` and `timezone` are indexed projections of the traits of the same name.
        await rows(
          tx,
          sql`insert into users (workspace_id, id, traits, tags, timezone, updated_at)
              values (${workspaceId}::uuid, ${request.userId}, ${JSON.stringify(next)}::jsonb, ${sql.param(tags)}::text[], ${timezone}, ${iso(now())}::timestamptz)
              on conflict (workspace_id, id) do update set traits = excluded.traits, tags = excluded.tags,
                timezone = coalesce(excluded.timezone, users.timezone), updated_at = excluded.updated_at`,
        );
      });
    };
}
