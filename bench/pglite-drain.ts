/**
 * Profiling aid for decision 1002 (not a benchmark of record): N users wait 1 minute in
 * "trigger → wait → push → exit" on an in-memory PGlite with the app's action services, the clock
 * jumps past the wait, and the worker drains the backlog while a probe query runs every 100 ms.
 * Prints drain time, probe latencies, the event loop's longest stall, and per-statement time
 * (wall time around PGlite's query/exec, queueing included). `N=10000 node bin/run-ts.mjs bench/pglite-drain.ts`
 */
import { sql } from "drizzle-orm";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { openDatabase, migrate, query } from "../db/client";
import { createJourney, publishJourney } from "../app/lib/journeys.server";
import { ensureDefaultWorkspace } from "../app/lib/accounts.server";
import { waitThenPushJourney } from "../workflows/testing";
import { embeddedAppEngine } from "../cli/engine-services";
import { loadConfig } from "../app/config.server";
import { createLogger } from "../app/lib/log.server";

const N = Number(process.env.N ?? 20000);
const database = await openDatabase({ dataDir: "memory://" });
await migrate(database);
const ws = await ensureDefaultWorkspace(database.db);
let clock = Date.now();
const now = () => new Date(clock);
const doc = waitThenPushJourney();
const j = await createJourney(database.db, { workspaceId: ws.id }, { name: "soak", document: doc });
const pub = await publishJourney(database.db, { workspaceId: ws.id }, { journeyId: j.id }); if (!pub.ok) { console.log(JSON.stringify(pub.errors)); process.exit(1); }
const services = { config: loadConfig({ WAYPOST_LOG_LEVEL: "info" }), database, db: database.db, log: createLogger("info"), now };
const engine = embeddedAppEngine(services as never, { lanes: Number(process.env.LANES ?? 2) });
const t0 = Date.now();
for (let i = 0; i < N; i += 500) {
  await engine.handleEvents(Array.from({ length: Math.min(500, N - i) }, (_, k) => ({ workspaceId: ws.id, userId: `u${i + k}`, messageId: `m${i + k}`, name: "signed_up", properties: {}, timestamp: clock })));
}
console.log("entered", N, "in", Date.now() - t0, "ms");
clock += 120_000;
const h = monitorEventLoopDelay({ resolution: 10 }); h.enable();
const lat: number[] = [];
let stop = false;
const prober = (async () => { while (!stop) { const s = performance.now(); await query(database.db, sql`select 1 as x`); lat.push(performance.now() - s); await new Promise((r) => setTimeout(r, 100)); } })();
const client = (database.db as unknown as { $client: Record<string, (...a: unknown[]) => Promise<unknown>> }).$client;
const stat = new Map<string, { n: number; ms: number; max: number }>();
for (const m of ["query", "exec"]) {
  const orig = client[m].bind(client);
  client[m] = async (...a: unknown[]) => { const s0 = performance.now(); try { return await orig(...a); } finally { const d = performance.now() - s0; const k = String(a[0]).replace(/\s+/g, " ").slice(0, 90); const e = stat.get(k) ?? { n: 0, ms: 0, max: 0 }; e.n++; e.ms += d; e.max = Math.max(e.max, d); stat.set(k, e); } };
}
const t1 = Date.now();
await engine.start();
for (;;) { await new Promise((r) => setTimeout(r, 1000)); const [r] = await query<{ n: string }>(database.db, sql`select count(*) as n from journey_instances where status='active'`); if (Number(r.n) === 0) break; }
stop = true; await prober; await engine.stop();
lat.sort((a, b) => a - b);
console.log({ drainMs: Date.now() - t1, steps: engine.stats().steps, probes: lat.length, p50: lat[lat.length >> 1]?.toFixed(0), max: lat.at(-1)?.toFixed(0), loopMaxMs: (h.max / 1e6).toFixed(0), loopP99: (h.percentile(99) / 1e6).toFixed(0) });
console.log([...stat].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15).map(([k, v]) => `${v.ms.toFixed(0).padStart(7)}ms n=${v.n} max=${v.max.toFixed(0)} ${k}`).join("\n"));
await database.close();
