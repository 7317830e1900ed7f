import type { AppServices } from "../services.server";

/**
 * Per-key token bucket, counted in calls (a batch of 500 costs 500). In memory, per process:
 * with several app processes each enforces its own share. A refused request gets the seconds
 * until enough tokens are back (Retry-After), which Segment's libraries honour.
 */

export interface RateLimitSettings {
  /** Sustained calls per second per key; 0 disables the limit. */
  perSecond: number;
  /** Largest burst. */
  burst: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

const RUNTIME = Symbol.for("waypost.ingest.rate");

interface RateRuntime {
  buckets: Map<string, Bucket>;
}

function runtime(services: AppServices): RateRuntime {
  const holder = services as unknown as Record<symbol, RateRuntime | undefined>;
  let state = holder[RUNTIME];
  if (!state) {
    state = { buckets: new Map() };
    Object.defineProperty(services, RUNTIME, { value: state, enumerable: false });
  }
  return state;
}

export function rateLimitSettings(services: AppServices): RateLimitSettings {
  const perSecond = services.config.WAYPOST_INGEST_RATE_LIMIT;
  return { perSecond, burst: services.config.WAYPOST_INGEST_BURST ?? Math.max(perSecond * 2, 500) };
}

/** Takes `cost` tokens; returns null when allowed, else the seconds to wait. */
export function takeTokens(services: AppServices, keyId: string, cost: number, settings = rateLimitSettings(services), now = Date.now()): number | null {
  if (settings.perSecond <= 0) return null;
  // A request larger than the burst passes when the bucket is full instead of never.
  cost = Math.min(cost, settings.burst);
  const buckets = runtime(services).buckets;
  let bucket = buckets.get(keyId);
  if (!bucket) buckets.set(keyId, (bucket = { tokens: settings.burst, updatedAt: now }));
  bucket.tokens = Math.min(settings.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * settings.perSecond);
  bucket.updatedAt = now;
  if (bucket.tokens >= cost) {
    bucket.tokens -= cost;
    return null;
  }
  const missing = cost - bucket.tokens;
  return Math.max(1, Math.ceil(missing / settings.perSecond));
}
