/**
 * Segments at scale, on PostgreSQL:
 *  1. lifecycle segment recompute for 1,000,000 users (one set-based statement per segment):
 *     the first computation, and the sweep's recompute a day later;
 *  2. p95 latency event -> segment entry -> journey entry under ingestion load, through HTTP and
 *     the real embedded journey engine (a published journey with a segment-entry trigger).
 *
 *   npm run bench:segments -- [--users 1000000] [--probes 200] [--load 3000]   (--users 0: latency only)
 *
 * Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres) and the
 * Remix build. Throwaway databases. Not part of the test suite.
 */
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { sql } from "drizzle-orm";
import { loadConfig } from "../app/config.server";
import { ensureDefaultWorkspace } from "../app/lib/accounts.server";
import { createApiKey } from "../app/lib/auth.server";
import { createJourney, publishJourney } from "../app/lib/journeys.server";
import { createLogger } from "../app/lib/log.server";
import { evaluateSegment, loadLiveSegments, segmentRuntime } from "../app/segments/membership.server";
import { createSegment, ensurePresetSegments } from "../app/segments/store.server";
import type { AppServices } from "../app/services.server";
import { serverBuildPath, startServer } from "../cli/server";
import { openDatabase, query } from "../db/client";
import { createTestDb, type TestDb } from "../test/support/db";
import type { SegmentChange } from "../workflows/engine";
import { buildJourney } from "../workflows/builder";
import { embeddedAppEngine } from "../cli/engine-services";

const { values: args } = parseArgs({
  options: {
    users: { type: "string", default: "1000000" },
    probes: { type: "string", default: "200" },
    load: { type: "string", default: "3000" },
  },
});
const USERS = Number(args.users);
const PROBES = Number(args.probes);
const LOAD = Number(args.load);
process.env.DATABASE_URL ??= "postgres://postgres@127.0.0.1:5432/postgres";
if (!existsSync(serverBuildPath)) {
  console.error("No Remix build: run `npx remix build` first (npm run bench:segments does).");
  process.exit(2);
}
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const DAY = 86_400_000;

/** A fresh database, opened like the app opens it (a pool of 10, not the tests' 5). */
async function freshServices(now: () => Date): Promise<AppServices & { drop(): Promise<void> }> {
  const scratch: TestDb = await createTestDb();
  await scratch.close();
  const database = await openDatabase({ url: scratch.url, maxConnections: 10 });
  const config = loadConfig({ ...process.env, DATABASE_URL: database.url, WAYPOST_LOG_LEVEL: "error", WAYPOST_INGEST_RATE_LIMIT: "0", NODE_ENV: "production" });
  const drop = async () => {
    await database.close();
    await scratch.drop();
  };
  return { config, database, db: database.db, log: createLogger("error"), now, drop };
}

// ---- 1. lifecycle recompute for USERS users ---------------------------------------------------
async function recompute() {
  let clock = new Date();
  const services = await freshServices(() => clock);
  const ws = (await ensureDefaultWorkspace(services.db)).id;
  const loadStarted = performance.now();
  // Signups over 400 days; last activity anywhere between signup and now (skewed to recent).
  await services.db.execute(sql`
    insert into users (workspace_id, id, traits, first_seen_at, last_seen_at, updated_at)
    select ${ws}::uuid, 'u' || g, '{}'::jsonb, f, f + (now() - f) * (1 - power(random(), 3)), now()
    from (select g, now() - random() * interval '400 days' as f from generate_series(1, ${USERS}) g) s`);
  await services.db.execute(sql`analyze users`);
  console.log(`  loaded ${fmt(USERS)} users in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s`);

  const started = performance.now();
  await ensurePresetSegments(services, ws, "lifecycle", { locale: "en" });
  console.log(`  first computation of the 4 lifecycle segments (creating every membership): ${((performance.now() - started) / 1000).toFixed(2)} s in total`);
  const segments = await loadLiveSegments(services.db, sql`workspace_id = ${ws}::uuid`);
  const counts = await query<{ key: string; member_count: number }>(services.db, sql`select key, member_count from segments order by created_at`);
  console.log(`  members: ${counts.map((c) => `${c.key.replace("lifecycle_", "")} ${fmt(c.member_count)}`).join(", ")}`);
  const results: { key: string; seconds: number; changes: number }[] = [];
  // A day later: the sweep recomputes each time-based segment with one statement.
  clock = new Date(clock.getTime() + DAY);
  for (const segment of segments) {
    const started = performance.now();
    const changes = await evaluateSegment(services.db, segment, null, clock, { notify: false });
    results.push({ key: segment.key, seconds: (performance.now() - started) / 1000, changes: changes.length });
  }
  for (const r of results) console.log(`  recompute ${r.key.padEnd(18)} ${r.seconds.toFixed(2).padStart(6)} s  (${fmt(r.changes)} entries/exits)`);
  await services.drop();
  return results;
}

// ---- 2. event -> segment entry -> journey entry, under load --------------------------------------
async function latency() {
  const services = await freshServices(() => new Date());
  const ws = (await ensureDefaultWorkspace(services.db)).id;
  const engine = embeddedAppEngine(services);
  services.engine = engine;
  await ensurePresetSegments(services, ws, "lifecycle", { locale: "en" });
  await createSegment(services, ws, {
    key: "vip_buyers",
    name: "VIP buyers",
    definition: {
      kind: "group",
      match: "all",
      rules: [
        { kind: "trait", trait: "vip", op: "eq", value: true },
        { kind: "event", event: "order_completed", filters: [], check: "did", within: { amount: 30, unit: "days" } },
      ],
    },
  });
  const document = buildJourney({
    name: "VIP welcome",
    settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "segment_entry", segment: "vip_buyers" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [["trigger", "next", "exit"]],
  });
  const journey = await createJourney(services.db, { workspaceId: ws }, { name: document.name, document });
  const published = await publishJourney(services.db, { workspaceId: ws }, { journeyId: journey.id });
  if (!published.ok) throw new Error(`journey does not compile: ${JSON.stringify(published.errors)}`);
  await engine.start();

  const key = (await createApiKey(services.db, { workspaceId: ws, kind: "write", name: "bench" })).key;
  const server = await startServer(services, { port: 0, host: "127.0.0.1" });
  const headers = { "content-type": "application/json", authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}` };
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };

  // Journey entry = the engine has accepted the segment change: the embedded engine creates the
  // instance inside handleSegmentChanges (checked against journey_instances at the end).
  const entered = new Map<string, (at: number) => void>();
  const handed = new Map<string, number>();
  const original = engine.handleSegmentChanges.bind(engine);
  engine.handleSegmentChanges = async (changes: SegmentChange[]) => {
    const start = performance.now();
    for (const c of changes) if (c.segmentId === "vip_buyers") handed.set(c.userId, start);
    await original(changes);
    const at = performance.now();
    for (const c of changes) if (c.change === "entered" && c.segmentId === "vip_buyers") entered.get(c.userId)?.(at);
  };

  for (let i = 0; i < PROBES; i += 100) {
    await post("/api/v1/batch", { batch: Array.from({ length: Math.min(100, PROBES - i) }, (_, k) => ({ type: "identify", userId: `probe-${i + k}`, traits: { vip: true } })) });
  }
  await segmentRuntime(services).evaluator.whenIdle();

  // Background load: LOAD events/s of ordinary activity from 50,000 other users, in batches of 100.
  let stop = false;
  let sent = 0;
  const loadStarted = performance.now();
  const background = (async () => {
    let n = 0;
    const inFlight = new Set<Promise<void>>();
    while (!stop) {
      const due = ((performance.now() - loadStarted) / 1000) * LOAD;
      while (sent + 100 <= due && inFlight.size < 16) {
        const batch = Array.from({ length: 100 }, () => ({ type: "track", userId: `bg-${n++ % 50_000}`, event: n % 7 ? "app_opened" : "product_viewed", properties: { source: "bench" } }));
        sent += 100;
        const p = post("/api/v1/batch", { batch }).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(inFlight);
  })();

  await new Promise((r) => setTimeout(r, 2000));
  const latencies: number[] = [];
  const stages = { request: [] as number[], segment: [] as number[], engine: [] as number[] };
  for (let i = 0; i < PROBES; i++) {
    const userId = `probe-${i}`;
    const done = new Promise<number>((resolve) => entered.set(userId, resolve));
    const t0 = performance.now();
    await post("/api/v1/track", { userId, event: "order_completed", properties: { amount: 99 } });
    const t1 = performance.now();
    const t3 = await done;
    const t2 = handed.get(userId)!;
    latencies.push(t3 - t0);
    stages.request.push(t1 - t0);
    stages.segment.push(t2 - t0);
    stages.engine.push(t3 - t2);
    await new Promise((r) => setTimeout(r, 20));
  }
  stop = true;
  await background;
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  const [instances] = await query<{ n: number }>(services.db, sql`select count(*)::int as n from journey_instances where journey_id = ${journey.id}::uuid and user_id like 'probe-%'`);
  await server.close();
  await segmentRuntime(services).evaluator.whenIdle();
  await engine.stop();
  await services.drop();
  const pct = (list: number[], p: number) => {
    const sorted = [...list].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  };
  return {
    p50: pct(latencies, 50),
    p95: pct(latencies, 95),
    max: pct(latencies, 100),
    p95Stages: { request: pct(stages.request, 95), segment: pct(stages.segment, 95), engine: pct(stages.engine, 95) },
    instances: instances.n,
    loadRate: sent / loadSeconds,
  };
}

console.log(`segments benchmark on PostgreSQL, ${cpus().length} cores`);
console.log(`1. lifecycle recompute, ${fmt(USERS)} users${USERS === 0 ? " (skipped: --users 0)" : ""}`);
const recomputed = USERS > 0 ? await recompute() : [];
console.log(`2. event -> segment entry -> journey entry (HTTP, embedded engine), ${PROBES} probes under ~${fmt(LOAD)} events/s of background load`);
const lat = await latency();
console.log(
  `  p50 ${lat.p50.toFixed(0)} ms, p95 ${lat.p95.toFixed(0)} ms, max ${lat.max.toFixed(0)} ms; ${lat.instances} of ${PROBES} probes entered the journey; background load ran at ${fmt(lat.loadRate)} events/s`,
);
console.log(
  `  p95 from sending the event: HTTP response ${lat.p95Stages.request.toFixed(0)} ms, segment entry handed to the engine ${lat.p95Stages.segment.toFixed(0)} ms; engine's own entry work p95 ${lat.p95Stages.engine.toFixed(0)} ms`,
);
console.log(JSON.stringify({ bench: "segments", users: USERS, recompute: recomputed, latency: lat }));
process.exit(0);
