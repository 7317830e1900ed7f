import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { migrationsFolder, query } from "../../db/client";
import type { AppServices } from "../services.server";

/**
 * Readiness (`GET /readyz`) and the engine lag that readiness, backpressure and `/metrics` share.
 * Liveness (`/healthz`) answers from the process alone and never touches the database: a
 * restarting PostgreSQL must not make an orchestrator kill healthy app processes (docs/operations.md).
 */

/** How long a readiness check may take before it counts as failed. */
const CHECK_TIMEOUT_MS = 2_000;

export interface EngineLag {
  /** Journey time minus the oldest due timer's wake time, in ms (0 when nothing is due). */
  lagMs: number;
  /** Whether the lag was measured (the embedded engine's timers; Temporal keeps its own). */
  measured: boolean;
}

export interface CheckResult {
  ok: boolean;
  detail: Record<string, unknown>;
}

export interface Readiness {
  ready: boolean;
  checks: { database: CheckResult; migrations: CheckResult; engine: CheckResult };
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The oldest due timer of the embedded engine, one index probe (`journey_timers` is keyed by wake time). */
export async function measureEngineLag(services: AppServices): Promise<EngineLag> {
  if (services.config.WAYPOST_ENGINE !== "embedded") return { lagMs: 0, measured: false };
  const now = services.now().getTime();
  const [row] = await query<{ oldest: number | string | null }>(
    services.db,
    sql`select (extract(epoch from min(wake_at)) * 1000)::float8 as oldest from journey_timers`,
  );
  const oldest = row?.oldest === null || row?.oldest === undefined ? null : Number(row.oldest);
  return { lagMs: oldest === null ? 0 : Math.max(0, now - oldest), measured: true };
}

let journal: { count: number; last: number } | null = null;
function expectedMigrations(): { count: number; last: number } {
  if (!journal) {
    const entries = (JSON.parse(readFileSync(join(migrationsFolder, "meta", "_journal.json"), "utf8")) as { entries: { when: number }[] }).entries;
    journal = { count: entries.length, last: Math.max(...entries.map((e) => e.when)) };
  }
  return journal;
}

async function checkMigrations(services: AppServices): Promise<CheckResult> {
  const expected = expectedMigrations();
  const [row] = await query<{ n: number | string; last: number | string | null }>(
    services.db,
    sql`select count(*) as n, max(created_at) as last from drizzle.__drizzle_migrations`,
  );
  const applied = Number(row?.n ?? 0);
  const last = row?.last === null || row?.last === undefined ? 0 : Number(row.last);
  // Behind: this build has migrations the database lacks (a deploy whose migrate step did not run).
  // A database ahead of the build (a newer build migrated it) is also not this build's schema.
  const ok = last === expected.last;
  return { ok, detail: { applied, expected: expected.count, ...(ok ? {} : { problem: last < expected.last ? "database is behind this build" : "database is ahead of this build" }) } };
}

async function checked(what: string, run: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await withTimeout(run(), CHECK_TIMEOUT_MS, what);
  } catch (error) {
    return { ok: false, detail: { error: error instanceof Error ? error.message : String(error) } };
  }
}

export async function readiness(services: AppServices): Promise<Readiness> {
  const threshold = services.config.WAYPOST_ENGINE_LAG_ALERT_SECONDS;
  const database = await checked("the database", async () => {
    const started = Date.now();
    await query(services.db, sql`select 1 as up`);
    return { ok: true, detail: { kind: services.database.kind, ms: Date.now() - started } };
  });
  // Without a database the other two cannot be known; say so instead of waiting twice more.
  const unknown: CheckResult = { ok: false, detail: { error: "not checked: the database is unreachable" } };
  const [migrations, engine] = database.ok
    ? await Promise.all([
        checked("the migrations check", () => checkMigrations(services)),
        checked("the engine lag check", async () => {
          const lag = await measureEngineLag(services);
          if (!lag.measured) return { ok: true, detail: { engine: services.config.WAYPOST_ENGINE, lag: "measured by Temporal, not here" } };
          const lagSeconds = Math.round(lag.lagMs / 100) / 10;
          return { ok: threshold <= 0 || lagSeconds <= threshold, detail: { lagSeconds, thresholdSeconds: threshold } };
        }),
      ])
    : [unknown, unknown];
  return { ready: database.ok && migrations.ok && engine.ok, checks: { database, migrations, engine } };
}
