import { eq, sql } from "drizzle-orm";
import { apiKeys, type ApiKeyKind } from "../../db/schema";
import { sha256, verifyApiKey } from "../lib/auth.server";
import type { AppServices } from "../services.server";

/**
 * API-key authentication for the REST endpoints: HTTP Basic with the key as user name (what
 * Segment's libraries send), `Authorization: Bearer <key>`, or a `writeKey` in the body.
 * Verified keys are cached for a few seconds so ingestion does not pay a lookup per request;
 * a revoked key stops working within KEY_CACHE_MS.
 */

export const KEY_CACHE_MS = 10_000;
const LAST_USED_EVERY_MS = 60_000;
const MAX_CACHED = 10_000;

interface CachedKey {
  result: { workspaceId: string; keyId: string } | null;
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

export async function authenticateKey(services: AppServices, key: string | undefined, kind: ApiKeyKind): Promise<{ workspaceId: string; keyId: string } | null> {
  if (!key || key.length > 200) return null;
  const state = runtime(services);
  const cacheKey = `${kind}:${sha256(key)}`;
  const now = Date.now();
  const cached = state.cache.get(cacheKey);
  let result: CachedKey["result"];
  if (cached && cached.expiresAt > now) result = cached.result;
  else {
    result = await verifyApiKey(services.db, key, kind);
    if (state.cache.size >= MAX_CACHED) state.cache.clear();
    state.cache.set(cacheKey, { result, expiresAt: now + KEY_CACHE_MS });
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
