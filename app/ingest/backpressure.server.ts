import { sql } from "drizzle-orm";
import { query } from "../../db/client";
import { measureEngineLag } from "../lib/readiness.server";
import type { AppServices } from "../services.server";

/**
 * Backpressure instead of silent lag (decision 1003). When the embedded engine's oldest due timer
 * is more than WAYPOST_BACKPRESSURE_LAG_SECONDS late, ingestion answers calls that reach journeys
 * (track/page/screen) for the workspaces that are behind with 429 and a Retry-After, so clients
 * slow down instead of piling up timers the engine cannot serve in time. Other workspaces, and
 * identify/group/alias calls, are not held back. Both figures are read at most once a second per
 * process, with one query in flight, so the check costs the hot path nothing but a map lookup.
 */

const LAG_EVERY_MS = 1_000;
/** Timers looked at to find the workspaces that are behind (the oldest ones). */
const BEHIND_SAMPLE = 2_000;

const RUNTIME = Symbol.for("waypost.ingest.backpressure");

interface State {
  lagMs: number;
  behind: Set<string>;
  readAt: number;
  reading: Promise<void> | null;
}

function state(services: AppServices): State {
  const holder = services as unknown as Record<symbol, State | undefined>;
  let found = holder[RUNTIME];
  if (!found) {
    found = { lagMs: 0, behind: new Set(), readAt: 0, reading: null };
    Object.defineProperty(services, RUNTIME, { value: found, enumerable: false });
  }
  return found;
}

async function refresh(services: AppServices, s: State, thresholdMs: number): Promise<void> {
  const lag = await measureEngineLag(services);
  s.lagMs = lag.lagMs;
  if (lag.lagMs <= thresholdMs) {
    s.behind = new Set();
    return;
  }
  const cutoff = new Date(services.now().getTime() - thresholdMs).toISOString();
  const rows = await query<{ workspace_id: string }>(
    services.db,
    sql`select distinct i.workspace_id from (
          select instance_id from journey_timers where wake_at <= ${cutoff}::timestamptz order by wake_at limit ${BEHIND_SAMPLE}
        ) t join journey_instances i on i.id = t.instance_id`,
  );
  s.behind = new Set(rows.map((r) => r.workspace_id));
}

/** Seconds a client of this workspace should wait, or null to go ahead. Never throws. */
export function engineBackpressure(services: AppServices, workspaceId: string, realNow = Date.now()): number | null {
  const threshold = services.config.WAYPOST_BACKPRESSURE_LAG_SECONDS;
  if (threshold <= 0 || !services.engine || services.config.WAYPOST_ENGINE !== "embedded") return null;
  const s = state(services);
  if (!s.reading && realNow - s.readAt >= LAG_EVERY_MS) {
    s.readAt = realNow;
    s.reading = refresh(services, s, threshold * 1000)
      .catch((error: unknown) => services.log.debug("engine lag not measured", { error: error instanceof Error ? error.message : String(error) }))
      .finally(() => (s.reading = null));
  }
  if (!s.behind.has(workspaceId)) return null;
  // Roughly how long the engine needs to be back under the threshold, within 1–60 s.
  return Math.min(60, Math.max(1, Math.ceil(s.lagMs / 1000 - threshold)));
}

/** Waits for a lag reading in flight (tests). */
export async function settleBackpressure(services: AppServices): Promise<void> {
  await state(services).reading;
}

export function lastEngineLagMs(services: AppServices): number {
  return state(services).lagMs;
}
