import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { apiKeys, operators, workspaceMembers, type ApiKeyKind, type ApiKeyScope, type Role } from "../../db/schema";
import { createApiKey, sha256, type CreatedApiKey } from "../lib/auth.server";
import { widerThanRole, type Action, type KeyHolder } from "../lib/permissions";
import type { AppServices } from "../services.server";

/**
 * API-key authentication for the REST endpoints: HTTP Basic with the key as user name (what
 * Segment's libraries send), `Authorization: Bearer <key>`, or a `writeKey` in the body.
 * Verified write keys are cached for a few seconds so ingestion does not pay a lookup per request
 * (a revoked write key stops working within KEY_CACHE_MS); secret keys are read on every call.
 */

export const KEY_CACHE_MS = 10_000;
const LAST_USED_EVERY_MS = 60_000;
const MAX_CACHED = 10_000;

/** A verified key: its workspace, and who stands behind it now (app/lib/permissions.ts `keyMay`). */
export interface KeyAuth {
  workspaceId: string;
  keyId: string;
  holder: KeyHolder;
}

interface CachedKey {
  result: KeyAuth | null;
  expiresAt: number;
}

const RUNTIME = Symbol.for("waypost.ingest.keys");

interface KeyRuntime {
  cache: Map<string, CachedKey>;
  lastUsed: Map<string, number>;
}

function runtime(services: AppServices): KeyRuntime {
  const holder = services as unknown as Record<symbol, KeyRuntime | undefined>;
  let state = holder[RUNTIME];
  if (!state) {
    state = { cache: new Map(), lastUsed: new Map() };
    Object.defineProperty(services, RUNTIME, { value: state, enumerable: false });
  }
  return state;
}

/** The key in an Authorization header (Basic user name, or Bearer token), if any. */
export function keyFromAuthorization(header: string | null): string | undefined {
  if (!header) return undefined;
  const [scheme, value] = header.trim().split(/\s+/, 2);
  if (!value) return undefined;
  if (/^bearer$/i.test(scheme)) return value;
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const user = colon === -1 ? decoded : decoded.slice(0, colon);
    // Some clients put the key in the password with an empty user name.
    return user || (colon === -1 ? undefined : decoded.slice(colon + 1)) || undefined;
  }
  return undefined;
}

/**
 * A live key of this kind, with its scope and its creator's current role: a creator who was
 * deactivated or left the workspace leaves a secret key with no rights (decision 0741).
 */
async function verifyKey(db: Db, key: string, kind: ApiKeyKind): Promise<KeyAuth | null> {
  if (!key.startsWith(`wp_${kind}_`)) return null;
  const [row] = await db
    .select({
      workspaceId: apiKeys.workspaceId,
      keyId: apiKeys.id,
      scope: apiKeys.scope,
      createdBy: apiKeys.createdBy,
      disabledAt: operators.disabledAt,
      role: workspaceMembers.role,
    })
    .from(apiKeys)
    .leftJoin(operators, eq(operators.id, apiKeys.createdBy))
    .leftJoin(workspaceMembers, and(eq(workspaceMembers.operatorId, apiKeys.createdBy), eq(workspaceMembers.workspaceId, apiKeys.workspaceId)))
    .where(and(eq(apiKeys.keyHash, sha256(key)), eq(apiKeys.kind, kind), isNull(apiKeys.revokedAt)))
    .limit(1);
  if (!row) return null;
  const creatorless = row.createdBy === null;
  const creator: Role | null = !creatorless && row.disabledAt === null && row.role ? row.role : null;
  return { workspaceId: row.workspaceId, keyId: row.keyId, holder: { kind, scope: row.scope, creatorless, creator } };
}

export async function authenticateKey(services: AppServices, key: string | undefined, kind: ApiKeyKind): Promise<KeyAuth | null> {
  if (!key || key.length > 200) return null;
  const state = runtime(services);
  const cacheKey = `${kind}:${sha256(key)}`;
  const now = Date.now();
  // Only write keys are cached (ingestion volume). A secret key is read with its creator's role on
  // every management call, so a revocation, role change or deactivation applies to the next one.
  const cached = kind === "write" ? state.cache.get(cacheKey) : undefined;
  let result: CachedKey["result"];
  if (cached && cached.expiresAt > now) result = cached.result;
  else {
    result = await verifyKey(services.db, key, kind);
    if (kind === "write") {
      if (state.cache.size >= MAX_CACHED) state.cache.clear();
      state.cache.set(cacheKey, { result, expiresAt: now + KEY_CACHE_MS });
    }
  }
  if (result && (state.lastUsed.get(result.keyId) ?? 0) < now - LAST_USED_EVERY_MS) {
    state.lastUsed.set(result.keyId, now);
    // Best effort: the Settings page shows it; a failure here must not fail the request.
    void services.db
      .update(apiKeys)
      .set({ lastUsedAt: sql`now()` })
      .where(eq(apiKeys.id, result.keyId))
      .catch(() => undefined);
  }
  return result;
}

/** Forget cached verifications (tests revoke keys and expect an immediate 401). */
export function clearKeyCache(services: AppServices): void {
  runtime(services).cache.clear();
}

/** A key whose scope is wider than its creator's role is refused (403 on every surface). */
export class ScopeTooWideError extends Error {
  constructor(
    readonly role: Role,
    readonly scope: ApiKeyScope,
    readonly actions: Action[],
  ) {
    super(`A ${role} cannot create a key with the ${scope} scope: it would allow ${actions.join(", ")}, which your role does not. Choose a narrower scope.`);
    this.name = "ScopeTooWideError";
  }
}

/**
 * Creates a key for a signed-in operator, refusing a scope wider than their role. The scope is
 * set in the same transaction as the insert, so no key ever exists with the default scope.
 */
export async function createScopedApiKey(
  db: Db,
  input: { workspaceId: string; kind: ApiKeyKind; name: string; scope: ApiKeyScope; createdBy: string; role: Role },
): Promise<CreatedApiKey & { scope: ApiKeyScope | null }> {
  const wider = widerThanRole(input.kind, input.scope, input.role);
  if (wider.length > 0) throw new ScopeTooWideError(input.role, input.scope, wider);
  return db.transaction(async (tx) => {
    const created = await createApiKey(tx as unknown as Db, { workspaceId: input.workspaceId, kind: input.kind, name: input.name, createdBy: input.createdBy });
    // A write key's scope is never consulted: it keeps the column default.
    if (input.kind === "secret") await tx.update(apiKeys).set({ scope: input.scope }).where(eq(apiKeys.id, created.id));
    return { ...created, scope: input.kind === "secret" ? input.scope : null };
  });
}
