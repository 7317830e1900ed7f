/**
 * `npm run bench:engine` — the embedded engine against this machine's PostgreSQL limits.
 *
 * 1. PostgreSQL limits, pgbench-style: one step per transaction (UPDATE one state row + INSERT
 *    one event, 8 clients) and batched steps (500 UPDATEs + 500 INSERTs per transaction),
 *    measured before and again after (3), since other load on the machine changes them.
 * 2. Event → action latency with a running worker and the real clock: ride events for the
 *    fare-notice journey at 100/s and at 500/s, one call each as ingestion makes them;
 *    latency = event handed to the engine → push handed to the provider. p50 / p99.
 * 3. 100,000 users through the win-back journey (PRODUCT.md journey 1) with a virtual clock:
 *    entries (6 concurrent calls of 500 segment entries), send-hour timers, push with delivery
 *    report, conversions, timeouts, email; the engine runs BENCH_LANES (3) lanes and event queues.
 *    Prints user-steps per second (interpreter steps committed), the ratio to (1), and the CPU
 *    each user-step costs in the engine process and in PostgreSQL.
 * 4. Idle CPU with 1,000,000 waiting instances: worker process + its PostgreSQL backends.
 *
 * Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_USERS,
 * BENCH_IDLE_INSTANCES, BENCH_LANES, BENCH_PARTS (comma list of limits, latency, winback, idle;
 * default all: `BENCH_PARTS=winback` while working on throughput), BENCH_ROUNDS (win-back rounds,
 * default 1, each with its own limits; prints the median ratio). Creates and drops its own
 * databases (BENCH_KEEP=1 keeps them, to look at the tables afterwards).
 */
import { randomUUID } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { createJourney, publishJourney } from "../app/lib/journeys.server";
import type { Database } from "../db/client";
import { fareNoticeJourney, winBackJourney } from "../workflows/demo-journeys";
import { iso, rows } from "../workflows/embedded/db.server";
import { createEmbeddedEngine } from "../workflows/embedded/engine.server";
import { cpuTicks, DAY, embeddedWinBack, fmt, percentile, postgresCpu, seconds, withDatabase } from "./winback";

const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const IDLE_INSTANCES = Number(process.env.BENCH_IDLE_INSTANCES ?? 1_000_000);
const LANES = Number(process.env.BENCH_LANES ?? 3);
/** Win-back rounds, each on a fresh database between its own limit measurements; the median ratio is printed. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1));
const PARTS = new Set((process.env.BENCH_PARTS ?? "limits,latency,winback,idle").split(",").map((p) => p.trim()));

// ------------------------------------------------------------------ 1. PostgreSQL limits

async function setupLimitTables(url: string): Promise<void> {
  const setup = postgres(url, { max: 1, onnotice: () => {} });
  await setup.unsafe(`
    create table bench_state (id int primary key, state jsonb not null, wake_at timestamptz);
    create index on bench_state (wake_at);
    create table bench_events (instance int not null, seq int not null, kind text not null, at timestamptz not null, primary key (instance, seq));
    insert into bench_state select g, jsonb_build_object('seq', 0, 'node', 'wait'), now() from generate_series(1, 100000) g;`);
  await setup.end();
}

interface Limits {
  single: number;
  batched: number;
  /** CPU per batched step, client + server (µs): what the machine could do with nothing else running. */
  batchedCpuMicros: number;
  load: number;
}

async function postgresLimits(url: string, dbName: string): Promise<Limits> {
  const clients = 8;
  let seq = 0;
  const run = async (durationMs: number, stepsPerTx: number): Promise<{ rate: number; cpuMicros: number }> => {
    const pool = postgres(url, { max: clients, onnotice: () => {} });
    let steps = 0;
    const until = Date.now() + durationMs;
    const pg = await postgresCpu(dbName);
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        while (Date.now() < until) {
          const ids = Array.from({ length: stepsPerTx }, () => 1 + Math.floor(Math.random() * 100_000));
          const s = ++seq * clients + c;
          await pool.begin(async (tx) => {
            if (stepsPerTx === 1) {
              await tx`update bench_state set state = jsonb_set(state, '{seq}', to_jsonb(${s}::int)), wake_at = now() + interval '1 hour' where id = ${ids[0]}`;
              await tx`insert into bench_events values (${ids[0]}, ${s}, 'left', now()) on conflict do nothing`;
            } else {
              const unique = [...new Set(ids)].sort((a, b) => a - b);
              await tx`update bench_state b set state = jsonb_set(b.state, '{seq}', to_jsonb(${s}::int)), wake_at = now() + interval '1 hour'
                       from unnest(${unique}::int[]) as d(id) where b.id = d.id`;
              await tx`insert into bench_events select d.id, ${s}, 'left', now() from unnest(${unique}::int[]) as d(id) on conflict do nothing`;
            }
          });
          steps += stepsPerTx;
        }
      }),
    );
    const wall = (performance.now() - started) / 1000;
    const client = process.cpuUsage(cpu);
    const server = await pg();
    await pool.end();
    return { rate: steps / wall, cpuMicros: (((client.user + client.system) / 1e6 + server) / steps) * 1e6 };
  };
  const load = loadavg()[0];
  const single = await run(5000, 1);
  const batched = await run(5000, 500);
  return { single: single.rate, batched: batched.rate, batchedCpuMicros: batched.cpuMicros, load };
}

// ------------------------------------------------------------------ 3. event → action latency

async function eventToAction(database: Database, events: number, rate: number): Promise<{ events: number; rate: number; p50: number; p99: number; max: number }> {
  const db = database.db;
  const [workspace] = await rows<{ id: string }>(db, sql`insert into workspaces (name, timezone) values (${`latency-${rate}`}, 'Asia/Shanghai') returning id`);
  const created = await createJourney(db, { workspaceId: workspace.id }, { name: "fare", document: fareNoticeJourney() });
  const published = await publishJourney(db, { workspaceId: workspace.id }, { journeyId: created.id });
  if (!published.ok) throw new Error("fare notice does not compile");
  const handedAt = new Map<string, number>();
  const latencies: number[] = [];
  // The app process hands events to the engine; the worker (here: same process) runs the push.
  const engine = createEmbeddedEngine(
    { db, now: () => new Date(), database },
    {
      onSandboxSend: (d) => {
        const at = handedAt.get(d.request.userId);
        if (at !== undefined) latencies.push(performance.now() - at);
      },
    },
  );
  await engine.start();
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < events; i++) {
    const due = started + (i / rate) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const userId = `rider-${i}`;
    handedAt.set(userId, performance.now());
    pending.push(
      engine.handleEvents([{ workspaceId: workspace.id, userId, messageId: randomUUID(), name: "ride_completed", properties: { fare: 3, from_station: "人民广场", to_station: "陆家嘴" }, timestamp: Date.now() }]),
    );
  }
  await Promise.all(pending);
  while (latencies.length < events) await new Promise((resolve) => setTimeout(resolve, 50));
  await engine.stop();
  latencies.sort((a, b) => a - b);
  return { events, rate, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies[latencies.length - 1] };
}

// ------------------------------------------------------------------ 4. idle CPU, 1M waiting

async function idleCpu(database: Database, dbName: string): Promise<{ instances: number; workerCpu: number; postgresCpu: number; seconds: number }> {
  const db = database.db;
  const [workspace] = await rows<{ id: string }>(db, sql`insert into workspaces (name, timezone) values ('idle', 'Asia/Shanghai') returning id`);
  const created = await createJourney(db, { workspaceId: workspace.id }, { name: "idle", document: winBackJourney() });
  const published = await publishJourney(db, { workspaceId: workspace.id }, { journeyId: created.id });
  if (!published.ok) throw new Error("win-back does not compile");
  const wake = iso(Date.now() + 30 * DAY);
  // Waiting in wait_order with a deadline a month away, as after a push.
  for (let i = 0; i < IDLE_INSTANCES; i += 100_000) {
    await rows(
      db,
      sql`insert into journey_instances (id, workspace_id, journey_id, version_id, user_id, entry_key, status, node_id, state, wake_at, awaiting, entered_at, updated_at)
          select gen_random_uuid(), ${workspace.id}::uuid, ${created.id}::uuid, ${published.versionId}::uuid, 'idle-' || g, 'e', 'active', 'wait_order',
                 jsonb_build_object('v', 1, 'status', 'active', 'nodeId', 'wait_order', 'block', jsonb_build_object('kind', 'event', 'nodeId', 'wait_order', 'purpose', 'wait_for_event')),
                 ${wake}::timestamptz + (g || ' seconds')::interval, '{order_completed}', now(), now()
          from generate_series(${i + 1}::int, ${Math.min(i + 100_000, IDLE_INSTANCES)}::int) g`,
    );
  }
  await rows(db, sql`insert into journey_timers (wake_at, instance_id) select wake_at, id from journey_instances where journey_id = ${created.id}::uuid`);
  // Steady state: a deployment has long since vacuumed these (otherwise autovacuum's first pass
  // over a million fresh rows lands in the measurement window).
  await rows(db, sql`vacuum analyze journey_instances`);
  await rows(db, sql`vacuum analyze journey_timers`);
  const engine = createEmbeddedEngine({ db, now: () => new Date(), database });
  await engine.start();
  await new Promise((resolve) => setTimeout(resolve, 3000)); // settle into the idle back-off
  const backends = (await rows<{ pid: number }>(db, sql`select pid from pg_stat_activity where datname = ${dbName}`)).map((r) => Number(r.pid));
  const tick = 100; // USER_HZ
  const pgBefore = backends.reduce((sum, pid) => sum + cpuTicks(pid), 0);
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 20_000));
  const wall = (performance.now() - wallBefore) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const pgTicks = backends.reduce((sum, pid) => sum + cpuTicks(pid), 0) - pgBefore;
  await engine.stop();
  return {
    instances: IDLE_INSTANCES,
    workerCpu: ((cpu.user + cpu.system) / 1e6 / wall) * 100,
    postgresCpu: (pgTicks / tick / wall) * 100,
    seconds: wall,
  };
}

// ------------------------------------------------------------------ main

/** Part 3 on a database whose limits (part 1) were measured just before: prints and returns the ratio. */
async function winBackRound(database: Database, url: string, before: Limits | null, round: string): Promise<number | null> {
  const dbName = new URL(url).pathname.slice(1);
  const wb = await embeddedWinBack(database, dbName, { users: USERS, lanes: LANES });
  const stepsPerSecond = wb.steps / (wb.elapsedMs / 1000);
  console.log(`\n3. Win-back journey${round}, ${fmt(wb.users)} users, virtual clock, ${LANES} lanes (load average ${wb.load.toFixed(1)})`);
  console.log(`   ${fmt(wb.steps)} user-steps and ${fmt(wb.actions)} side effects in ${seconds(wb.elapsedMs)} (entries: ${seconds(wb.entryMs)})`);
  console.log(`   ${fmt(stepsPerSecond)} user-steps/s`);
  let ratio: number | null = null;
  if (before) {
    const after = await postgresLimits(url, dbName);
    const single = (before.single + after.single) / 2;
    const batched = (before.batched + after.batched) / 2;
    ratio = stepsPerSecond / single;
    console.log(`   PostgreSQL limits again after it (load average ${after.load.toFixed(1)}): ${fmt(after.single)} and ${fmt(after.batched)} steps/s`);
    console.log(`   ratio to the mean limits: ${ratio.toFixed(1)}× one-step-per-transaction, ${((stepsPerSecond / batched) * 100).toFixed(0)}% of batched`);
  }
  console.log(`   CPU per user-step: engine process ${wb.nodeCpuMicros.toFixed(0)} µs, PostgreSQL ${wb.postgresCpuMicros.toFixed(0)} µs ` +
    `(on ${cpus().length} otherwise idle cores: about ${fmt((cpus().length * 1e6) / (wb.nodeCpuMicros + wb.postgresCpuMicros))} user-steps/s)`);
  console.log(`   finished: ${Object.entries(wb.finished).map(([k, v]) => `${k} ${fmt(v)}`).join(", ")}`);
  console.log(`   ${fmt(wb.users / 5)} order events in calls of 500, 3 at a time (a flood): call → goal committed p50 ${wb.orderLatency.p50.toFixed(0)} ms, p99 ${wb.orderLatency.p99.toFixed(0)} ms`);
  return ratio;
}

async function measuredLimits(url: string): Promise<Limits | null> {
  if (!PARTS.has("limits")) return null;
  await setupLimitTables(url);
  const limits = await postgresLimits(url, new URL(url).pathname.slice(1));
  console.log(`\n1. PostgreSQL limits (8 clients, 5 s each; load average ${limits.load.toFixed(1)})`);
  console.log(`   one step per transaction (UPDATE + INSERT, commit): ${fmt(limits.single)} steps/s`);
  console.log(`   500 steps per transaction (unnest UPDATE + INSERT):  ${fmt(limits.batched)} steps/s (${limits.batchedCpuMicros.toFixed(0)} µs CPU per step)`);
  return limits;
}

const machine = `${cpus().length} cores (${cpus()[0]?.model.trim()}), load average ${loadavg().map((l) => l.toFixed(1)).join(" / ")}`;
console.log(`Waypost embedded engine benchmark — ${machine}`);
const ratios: number[] = [];
const roundName = (round: number) => (ROUNDS > 1 ? ` (round ${round} of ${ROUNDS})` : "");
await withDatabase(async (database, url) => {
  const before = await measuredLimits(url);

  if (PARTS.has("latency")) {
    console.log(`\n2. Event → action (ride event handed to the engine → push handed to the provider), running worker, real clock, one call per event`);
    for (const [events, rate] of [
      [2000, 100],
      [5000, 500],
    ]) {
      const latency = await eventToAction(database, events, rate);
      console.log(`   ${fmt(latency.events)} events at ${latency.rate}/s (load average ${loadavg()[0].toFixed(1)}): p50 ${latency.p50.toFixed(0)} ms, p99 ${latency.p99.toFixed(0)} ms, max ${latency.max.toFixed(0)} ms`);
    }
  }

  if (PARTS.has("winback")) {
    const ratio = await winBackRound(database, url, before, roundName(1));
    if (ratio !== null) ratios.push(ratio);
  }
});

// Further rounds, each on a fresh database with its own limits before and after: this machine's
// speed moves by ±15% within minutes, so one round's ratio is one sample of it.
for (let round = 2; round <= ROUNDS && PARTS.has("winback"); round++) {
  await withDatabase(async (database, url) => {
    const ratio = await winBackRound(database, url, await measuredLimits(url), roundName(round));
    if (ratio !== null) ratios.push(ratio);
  });
}
if (ratios.length > 1) {
  const sorted = [...ratios].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  console.log(`\n   win-back over ${ratios.length} rounds: ratio to one-step-per-transaction ${ratios.map((r) => `${r.toFixed(1)}×`).join(", ")}; median ${median.toFixed(1)}×`);
}

if (PARTS.has("idle")) {
  await withDatabase(async (database, url) => {
    const idle = await idleCpu(database, new URL(url).pathname.slice(1));
    console.log(`\n4. Idle with ${fmt(idle.instances)} waiting instances (${idle.seconds.toFixed(0)} s)`);
    console.log(`   worker process ${idle.workerCpu.toFixed(2)}% of one core, its PostgreSQL backends ${idle.postgresCpu.toFixed(2)}%`);
  });
}
