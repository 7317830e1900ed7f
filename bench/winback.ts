/**
 * What the engine benchmarks share (`bench/engine.ts`, `bench/temporal.ts`): throwaway databases,
 * CPU accounting from /proc, and the win-back journey (PRODUCT.md journey 1) for N users on the
 * embedded engine with a virtual clock.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { createJourney, publishJourney } from "../app/lib/journeys.server";
import { migrate, openDatabase, type Database, type Db } from "../db/client";
import { winBackJourney } from "../workflows/demo-journeys";
import { arr, rows } from "../workflows/embedded/db.server";
import { createEmbeddedEngine } from "../workflows/embedded/engine.server";
import type { IncomingEvent } from "../workflows/engine";

export const BASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export async function withDatabase<T>(body: (database: Database, url: string) => Promise<T>): Promise<T> {
  const name = `waypost_bench_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const admin = postgres(BASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), maxConnections: 10 });
  try {
    await migrate(database);
    return await body(database, url.toString());
  } finally {
    await database.close();
    if (process.env.BENCH_KEEP) console.log(`kept database ${name} (BENCH_KEEP)`);
    else await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}

/** utime + stime of a process in clock ticks (USER_HZ, 100/s); 0 once it is gone. */
export function cpuTicks(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime, after the "(comm) " part
  } catch {
    return 0;
  }
}

/** CPU seconds used by the database's server processes since the call (Linux /proc, same host). */
export async function postgresCpu(dbName: string): Promise<() => Promise<number>> {
  const admin = postgres(BASE_URL, { max: 1, onnotice: () => {} });
  const pids = async () => (await admin<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${dbName}`).map((r) => Number(r.pid));
  const before = new Map((await pids()).map((pid) => [pid, cpuTicks(pid)]));
  return async () => {
    const now = await pids();
    // Backends that started during the measurement count from zero.
    const ticks = now.reduce((sum, pid) => sum + cpuTicks(pid) - (before.get(pid) ?? 0), 0);
    await admin.end();
    return ticks / 100; // USER_HZ
  };
}

export async function parallelChunks<T>(items: T[], size: number, lanes: number, fn: (chunk: T[]) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < items.length) {
        const chunk = items.slice(next, next + size);
        next += size;
        await fn(chunk);
      }
    }),
  );
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

// ------------------------------------------------------------------ the win-back workload

/** 09:00 in Shanghai: everyone waits for the 11:00 send hour. */
export const WINBACK_START = Date.parse("2024-05-06T01:00:00.000Z");
/** Default order time: the day after the push. */
export const ORDERS_NEXT_DAY = Date.parse("2024-05-07T02:00:00.000Z");
const WINBACK_END = Date.parse("2024-05-20T00:00:00.000Z");

export interface WinBackSetup {
  workspaceId: string;
  journeyId: string;
  versionId: string;
  /** User ids; every fifth (i % 5 === 0) orders. */
  ids: string[];
}

/**
 * A workspace, the published win-back journey and `users` users. `programId` fixes the program's
 * id, which the holdout hashes: two runs with the same id hold out the same users.
 */
export async function setupWinBack(db: Db, users: number, options: { programId?: string } = {}): Promise<WinBackSetup> {
  const [workspace] = await rows<{ id: string }>(db, sql`insert into workspaces (name, timezone) values ('bench', 'Asia/Shanghai') returning id`);
  const created = await createJourney(db, { workspaceId: workspace.id }, { name: "win-back", document: winBackJourney() });
  const published = await publishJourney(db, { workspaceId: workspace.id }, { journeyId: created.id });
  if (!published.ok) throw new Error("win-back does not compile");
  if (options.programId) {
    await rows(db, sql`update journey_versions set program = jsonb_set(program, '{id}', to_jsonb(${options.programId}::text)) where id = ${published.versionId}::uuid`);
  }
  const ids = Array.from({ length: users }, (_, i) => `u${String(i).padStart(6, "0")}`);
  for (let i = 0; i < ids.length; i += 10_000) {
    const chunk = ids.slice(i, i + 10_000);
    await rows(
      db,
      sql`insert into users (workspace_id, id, traits, timezone)
          select ${workspace.id}::uuid, u, jsonb_build_object('name', '用户' || u), 'Asia/Shanghai' from unnest(${arr(chunk)}::text[]) as d(u)`,
    );
  }
  return { workspaceId: workspace.id, journeyId: created.id, versionId: published.versionId, ids };
}

export const segmentEntries = (setup: WinBackSetup, at: number): IncomingEvent[] =>
  setup.ids.map((userId) => ({
    workspaceId: setup.workspaceId,
    userId,
    messageId: `seg-${userId}`,
    name: "$segment.entered",
    properties: { segment: "churned_buyers" },
    timestamp: at,
  }));

/** 20% of the users (every fifth) order; the treated among them reach the goal. */
export const orders = (setup: WinBackSetup, at: number): IncomingEvent[] =>
  setup.ids
    .filter((_, i) => i % 5 === 0)
    .map((userId) => ({ workspaceId: setup.workspaceId, userId, messageId: `order-${userId}`, name: "order_completed", properties: { amount: 88 }, timestamp: at }));

/** Instances of the journey by completion reason ("inside" while active). */
export async function finishedCounts(db: Db, journeyId: string): Promise<Record<string, number>> {
  const finished = await rows<{ reason: string | null; n: number | string }>(
    db,
    sql`select coalesce(reason, 'inside') as reason, count(*) as n from journey_instances where journey_id = ${journeyId}::uuid group by 1 order by 1`,
  );
  return Object.fromEntries(finished.map((f) => [f.reason ?? "inside", Number(f.n)]));
}

export interface WinBackResult {
  nodeCpuMicros: number;
  postgresCpuMicros: number;
  load: number;
  users: number;
  steps: number;
  elapsedMs: number;
  entryMs: number;
  actions: number;
  finished: Record<string, number>;
  orderLatency: { p50: number; p99: number };
}

export interface EmbeddedWinBackOptions {
  users: number;
  lanes: number;
  /** Journey time of the orders (default: the day after the push). */
  orderAt?: number;
  programId?: string;
}

/**
 * The win-back journey on the embedded engine with a virtual clock: segment entries (6 concurrent
 * calls of 500), the 11:00 send hour, push + delivery report, 20% ordering (goal), 2-day timeout,
 * 3-day wait, email, the holdout's 7-day goal window. User-steps are interpreter steps committed.
 */
export async function embeddedWinBack(database: Database, dbName: string, options: EmbeddedWinBackOptions): Promise<WinBackResult> {
  const db = database.db;
  const setup = await setupWinBack(db, options.users, { programId: options.programId });
  const orderAt = options.orderAt ?? ORDERS_NEXT_DAY;
  const lanes = options.lanes;

  const clock = { ms: WINBACK_START };
  const engine = createEmbeddedEngine({ db, now: () => new Date(clock.ms), database }, { batchSize: 500, lanes });
  const pg = await postgresCpu(dbName);
  const cpu = process.cpuUsage();
  const loads: number[] = [];
  const sampler = setInterval(() => loads.push(loadavg()[0]), 5000);
  const started = Date.now();
  // Segment entries arrive as concurrent calls of 500, as ingestion requests and the segment
  // evaluator make them; the engine spreads them over its lanes' event queues.
  await parallelChunks(segmentEntries(setup, clock.ms), 500, 2 * lanes, (chunk) => engine.handleEvents(chunk));
  const entryMs = Date.now() - started;

  const orderLatencies: number[] = [];
  let ordersSent = false;
  for (;;) {
    const due = await engine.nextDueAt();
    if (!ordersSent && (due === null || due > orderAt)) {
      clock.ms = orderAt;
      await parallelChunks(orders(setup, clock.ms), 500, lanes, async (chunk) => {
        const t = performance.now();
        await engine.handleEvents(chunk);
        // Every event of the chunk is committed (goal reached, journey ended) when the call returns.
        const latency = performance.now() - t;
        for (let i = 0; i < chunk.length; i++) orderLatencies.push(latency);
      });
      ordersSent = true;
      continue;
    }
    if (due === null || due > WINBACK_END) break;
    clock.ms = Math.max(clock.ms, due);
    await engine.runUntilIdle({ lanes });
  }
  const elapsedMs = Date.now() - started;
  clearInterval(sampler);
  const nodeCpu = process.cpuUsage(cpu);
  const postgresSeconds = await pg();
  const steps = engine.stats().steps;
  orderLatencies.sort((a, b) => a - b);
  return {
    nodeCpuMicros: (nodeCpu.user + nodeCpu.system) / steps,
    postgresCpuMicros: (postgresSeconds / steps) * 1e6,
    load: loads.length ? loads.reduce((a, b) => a + b, 0) / loads.length : loadavg()[0],
    users: options.users,
    steps,
    elapsedMs,
    entryMs,
    actions: engine.stats().actions,
    finished: await finishedCounts(db, setup.journeyId),
    orderLatency: { p50: percentile(orderLatencies, 0.5), p99: percentile(orderLatencies, 0.99) },
  };
}
