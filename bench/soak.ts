/**
 * `npm run bench:soak` — the soak of issue 17 at a ladder of entry rates, on PostgreSQL and on
 * PGlite: `signed_up` events through real HTTP ingestion (batches, Basic auth) into
 * "trigger → wait 1 minute → push → exit", the app's embedded engine worker running in the same
 * process with the real clock. Per rate it prints: users accepted, completed (exit reached) and
 * the completion rate, the oldest-due lag p50/p99/max (sampled every second), ingestion latency
 * p99 and answers (200 / 429 engine_behind / other), /healthz latency max (probed every 250 ms),
 * and CPU of the app process (this process: app + load generator) and of PostgreSQL. Beside it, in
 * the same run: the engine alone on the same journey (virtual clock, entries then one jump past
 * the wait), its user-steps/s and users/s.
 *
 * Env: SOAK_ENGINES (postgres,pglite), SOAK_RATES_POSTGRES (default 100,300,600 entries/s),
 * SOAK_RATES_PGLITE (default 20,60), SOAK_SECONDS (seconds of sending per rung, default 60),
 * SOAK_DRAIN_SECONDS (after sending: the 1-minute wait plus this long to finish, default 45),
 * SOAK_ALONE_USERS (engine-alone users, default 20000 on PostgreSQL, 3000 on PGlite),
 * WAYPOST_BACKPRESSURE_LAG_SECONDS (default 30, as the app). DATABASE_URL as bench:engine.
 * Shared machines depress every figure: compare a rung with the engine-alone rate of the same run.
 */
import { cpus, loadavg } from "node:os";
import { sql } from "drizzle-orm";
import { loadConfig } from "../app/config.server";
import { createApiKey } from "../app/lib/auth.server";
import { ensureDefaultWorkspace } from "../app/lib/accounts.server";
import { createJourney, publishJourney } from "../app/lib/journeys.server";
import { createLogger } from "../app/lib/log.server";
import type { AppServices } from "../app/services.server";
import { embeddedAppEngine } from "../cli/engine-services";
import { pathToFileURL } from "node:url";
import { serverBuildPath, startServer } from "../cli/server";
import { migrate, openDatabase, query, type Database } from "../db/client";
import { waitThenPushJourney } from "../workflows/testing";
import { createEmbeddedEngine } from "../workflows/embedded/engine.server";
import { fmt, percentile, postgresCpu, withDatabase } from "./winback";

const ENGINES = (process.env.SOAK_ENGINES ?? "postgres,pglite").split(",").map((e) => e.trim());
const RATES: Record<string, number[]> = {
  postgres: (process.env.SOAK_RATES_POSTGRES ?? "100,300,600").split(",").map(Number),
  pglite: (process.env.SOAK_RATES_PGLITE ?? "20,60").split(",").map(Number),
};
const SEND_S = Number(process.env.SOAK_SECONDS ?? 60);
const DRAIN_S = Number(process.env.SOAK_DRAIN_SECONDS ?? 45);
const WAIT_MS = 60_000;

async function publishSoak(db: Database["db"], workspaceId: string): Promise<string> {
  const journey = await createJourney(db, { workspaceId }, { name: "soak", document: waitThenPushJourney() });
  const published = await publishJourney(db, { workspaceId }, { journeyId: journey.id });
  if (!published.ok) throw new Error(`soak journey does not compile: ${JSON.stringify(published.errors)}`);
  return journey.id;
}

async function withEngineDatabase<T>(kind: string, body: (database: Database, dbName: string | null) => Promise<T>): Promise<T> {
  if (kind === "postgres") return withDatabase((database, url) => body(database, new URL(url).pathname.slice(1)));
  const database = await openDatabase({ dataDir: "memory://" });
  try {
    await migrate(database);
    return await body(database, null);
  } finally {
    await database.close();
  }
}

/** The engine alone on the same journey: entries, then the clock jumps past the wait; all lanes until idle. */
async function engineAlone(kind: string): Promise<{ stepsPerSecond: number; usersPerSecond: number; users: number }> {
  const users = Number(process.env.SOAK_ALONE_USERS ?? (kind === "postgres" ? 20_000 : 3_000));
  return withEngineDatabase(kind, async (database) => {
    const workspace = await ensureDefaultWorkspace(database.db);
    await publishSoak(database.db, workspace.id);
    let clock = Date.now();
    const engine = createEmbeddedEngine({ db: database.db, now: () => new Date(clock), database }, { lanes: 3 });
    const started = performance.now();
    for (let i = 0; i < users; i += 500) {
      await engine.handleEvents(Array.from({ length: Math.min(500, users - i) }, (_, k) => ({ workspaceId: workspace.id, userId: `a${i + k}`, messageId: `a${i + k}`, name: "signed_up", properties: {}, timestamp: clock })));
    }
    clock += WAIT_MS + 1_000;
    await engine.runUntilIdle({ lanes: 3 });
    const seconds = (performance.now() - started) / 1000;
    return { stepsPerSecond: engine.stats().steps / seconds, usersPerSecond: users / seconds, users };
  });
}

interface Rung {
  rate: number;
  accepted: number;
  refused429: number;
  failed: number;
  completed: number;
  lag: number[];
  ingestMs: number[];
  healthMaxMs: number;
  appCpuS: number;
  dbCpuS: number | null;
  wallS: number;
}

async function rung(kind: string, rate: number): Promise<Rung> {
  return withEngineDatabase(kind, async (database, dbName) => {
    const config = loadConfig({ ...process.env, DATABASE_URL: kind === "postgres" ? database.url : "", WAYPOST_LOG_LEVEL: process.env.WAYPOST_LOG_LEVEL ?? "warn", NODE_ENV: "production" });
    const services: AppServices = { config, database, db: database.db, log: createLogger(config.WAYPOST_LOG_LEVEL), now: () => new Date() };
    services.engine = embeddedAppEngine(services);
    const workspace = await ensureDefaultWorkspace(database.db);
    const journeyId = await publishSoak(database.db, workspace.id);
    const key = (await createApiKey(database.db, { workspaceId: workspace.id, kind: "write", name: "soak" })).key;
    const auth = `Basic ${Buffer.from(`${key}:`).toString("base64")}`;
    const server = await startServer(services, { port: 0, host: "127.0.0.1" });
    await services.engine.start();
    const dbCpu = dbName ? await postgresCpu(dbName) : null;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const result: Rung = { rate, accepted: 0, refused429: 0, failed: 0, completed: 0, lag: [], ingestMs: [], healthMaxMs: 0, appCpuS: 0, dbCpuS: null, wallS: 0 };
    let sending = true;
    let sampling = true;
    let seq = 0;
    const inflight = new Set<Promise<void>>();
    // 10 batches a second, each of rate/10 new users.
    const sender = (async () => {
      const perTick = Math.max(1, Math.round(rate / 10));
      for (let tick = 0; performance.now() - t0 < SEND_S * 1000; tick++) {
        const batch = Array.from({ length: perTick }, () => {
          const n = seq++;
          return { type: "track", event: "signed_up", userId: `s${n}`, messageId: `s${n}` };
        });
        const started = performance.now();
        const job = fetch(`${server.url}/api/v1/batch`, { method: "POST", headers: { authorization: auth, "content-type": "application/json" }, body: JSON.stringify({ batch }) })
          .then(async (res) => {
            await res.arrayBuffer();
            result.ingestMs.push(performance.now() - started);
            if (res.status === 200) result.accepted += batch.length;
            else if (res.status === 429) result.refused429 += batch.length;
            else result.failed += batch.length;
          })
          .catch(() => void (result.failed += batch.length));
        inflight.add(job);
        void job.finally(() => inflight.delete(job));
        const next = t0 + (tick + 1) * 100;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
      }
      await Promise.all([...inflight]);
      sending = false;
    })();
    const prober = (async () => {
      while (sampling) {
        const started = performance.now();
        try {
          await (await fetch(`${server.url}/healthz`)).arrayBuffer();
        } catch {
          // counted as its time
        }
        result.healthMaxMs = Math.max(result.healthMaxMs, performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    const lagSampler = (async () => {
      while (sampling) {
        const [row] = await query<{ lag: number | string | null }>(
          database.db,
          sql`select (extract(epoch from now() - min(wake_at)) * 1000)::float8 as lag from journey_timers where wake_at <= now()`,
        );
        result.lag.push(Math.max(0, Number(row?.lag ?? 0)));
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    })();
    await sender;
    const sendEnd = performance.now();
    // The last entries wait a minute; then give the engine DRAIN_S to finish.
    const deadline = sendEnd + WAIT_MS + DRAIN_S * 1000;
    const done = async () =>
      Number((await query<{ n: number | string }>(database.db, sql`select count(*) as n from journey_instances where journey_id = ${journeyId}::uuid and status = 'completed'`))[0].n);
    while (performance.now() < deadline) {
      result.completed = await done();
      if (result.completed >= result.accepted) break;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    result.completed = await done();
    sampling = false;
    await Promise.all([prober, lagSampler]);
    const cpu = process.cpuUsage(cpu0);
    result.appCpuS = (cpu.user + cpu.system) / 1e6;
    result.dbCpuS = dbCpu ? await dbCpu() : null;
    result.wallS = (performance.now() - t0) / 1000;
    await services.engine.stop();
    await server.close();
    void sending;
    return result;
  });
}

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? percentile(sorted, p / 100) : 0;
};

// Loaded once (ESM caches it for every rung): a shared checkout may release its build lock after this line.
await import(pathToFileURL(serverBuildPath).href);
console.log("server build loaded");
console.log(`bench:soak — ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}; ${SEND_S} s of sending per rung, then the 1-minute wait + ${DRAIN_S} s to finish`);
for (const kind of ENGINES) {
  const alone = await engineAlone(kind);
  console.log(`\n[${kind}] engine alone (same journey, virtual clock, ${fmt(alone.users)} users): ${fmt(alone.stepsPerSecond)} user-steps/s = ${fmt(alone.usersPerSecond)} users/s through the journey`);
  console.log("  rate/s | accepted | 429 | failed | completed | completion | completed users/s | vs alone | lag p50 / p99 / max (s) | ingest p99 (ms) | /healthz max (ms) | CPU app / db (% of a core)");
  for (const rate of RATES[kind] ?? []) {
    const r = await rung(kind, rate);
    const completedPerS = r.completed / SEND_S;
    const line = [
      fmt(rate).padStart(6),
      fmt(r.accepted).padStart(8),
      fmt(r.refused429).padStart(3),
      fmt(r.failed).padStart(6),
      fmt(r.completed).padStart(9),
      `${r.accepted ? ((100 * r.completed) / r.accepted).toFixed(1) : "0.0"}%`.padStart(10),
      completedPerS.toFixed(0).padStart(17),
      `${((100 * completedPerS) / alone.usersPerSecond).toFixed(0)}%`.padStart(8),
      `${(pct(r.lag, 50) / 1000).toFixed(1)} / ${(pct(r.lag, 99) / 1000).toFixed(1)} / ${(Math.max(0, ...r.lag) / 1000).toFixed(1)}`.padStart(23),
      pct(r.ingestMs, 99).toFixed(0).padStart(15),
      r.healthMaxMs.toFixed(0).padStart(17),
      `${((100 * r.appCpuS) / r.wallS).toFixed(0)}% / ${r.dbCpuS === null ? "in app" : `${((100 * r.dbCpuS) / r.wallS).toFixed(0)}%`}`,
    ].join(" | ");
    console.log(`  ${line}`);
  }
}
process.exit(0);
