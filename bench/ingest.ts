/**
 * Ingestion throughput: events/s through POST /api/v1/batch on PostgreSQL, next to the raw
 * multi-row INSERT rate of the same rows into the same events table, measured in the same run.
 *
 *   npm run bench:ingest -- [--events 200000] [--batch 500] [--concurrency 8] [--users 20000]
 *
 * Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres) and the
 * Remix build (run `npx remix build` first; `npm run bench:ingest` does). Every run uses fresh
 * throwaway databases. Not part of the test suite.
 *
 * Three runs: the raw INSERT baseline; ingestion alone (validation, idempotency, profiles, one
 * transaction per request); and ingestion as deployed (the embedded journey engine handed every
 * event, lifecycle + RFM segments re-evaluated after every request).
 */
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { loadConfig } from "../app/config.server";
import { ensureDefaultWorkspace } from "../app/lib/accounts.server";
import { createApiKey } from "../app/lib/auth.server";
import { createLogger } from "../app/lib/log.server";
import { segmentRuntime } from "../app/segments/membership.server";
import { ensurePresetSegments } from "../app/segments/store.server";
import type { AppServices } from "../app/services.server";
import { serverBuildPath, startServer } from "../cli/server";
import { createTestDb, type TestDb } from "../test/support/db";
import { openDatabase, query } from "../db/client";
import { embeddedAppEngine } from "../cli/engine-services";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "200000" },
    batch: { type: "string", default: "500" },
    concurrency: { type: "string", default: "8" },
    users: { type: "string", default: "20000" },
  },
});
const EVENTS = Number(args.events);
const BATCH = Number(args.batch);
const CONCURRENCY = Number(args.concurrency);
const USERS = Number(args.users);
process.env.DATABASE_URL ??= "postgres://postgres@127.0.0.1:5432/postgres";

if (!existsSync(serverBuildPath)) {
  console.error("No Remix build: run `npx remix build` first (npm run bench:ingest does).");
  process.exit(2);
}

// ---- the rows: a deterministic e-commerce mix (GLOSSARY demo vocabulary) ----------------------
function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(7);
const names = ["app_opened", "app_opened", "product_viewed", "product_viewed", "added_to_cart", "order_completed"];
const categories = ["food", "beauty", "electronics", "apparel", "home", "travel"];
const start = Date.now() - 3_600_000;

interface Row {
  messageId: string;
  userId: string;
  event: string;
  properties: Record<string, unknown>;
  timestamp: string;
}
const rows: Row[] = Array.from({ length: EVENTS }, (_, i) => {
  const event = names[Math.floor(random() * names.length)];
  const properties: Record<string, unknown> =
    event === "order_completed"
      ? { amount: Math.round(random() * 50000) / 100, currency: "CNY", category: categories[i % 6], order_count: 1 + (i % 5) }
      : event === "app_opened"
        ? { source: "push", version: "3.2.1" }
        : { category: categories[i % 6], sku: `SKU-${100 + (i % 900)}`, price: Math.round(random() * 30000) / 100 };
  return {
    messageId: `bench-${i.toString(36)}-${Math.floor(random() * 1e9).toString(36)}`,
    userId: `user-${Math.floor(random() * USERS)}`,
    event,
    properties,
    timestamp: new Date(start + Math.floor((i / EVENTS) * 3_600_000)).toISOString(),
  };
});
const batches: Row[][] = [];
for (let i = 0; i < rows.length; i += BATCH) batches.push(rows.slice(i, i + BATCH));

/** Runs `work(batchIndex)` on CONCURRENCY workers over all batches; returns elapsed seconds. */
async function drive(work: (index: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < batches.length; i = next++) await work(i);
    }),
  );
  return (performance.now() - started) / 1000;
}

// ---- 1. raw multi-row INSERT of the same rows --------------------------------------------------
async function rawInsert(): Promise<number> {
  const database = await createTestDb();
  const workspace = await ensureDefaultWorkspace(database.db);
  const client = postgres(database.url!, { max: CONCURRENCY, onnotice: () => {} });
  try {
    const seconds = await drive(async (index) => {
      const batch = batches[index];
      const params: unknown[] = [];
      const tuples = batch.map((r) => {
        const p = params.length;
        params.push(workspace.id, r.messageId, r.userId, r.event, JSON.stringify(r.properties), r.timestamp);
        return `($${p + 1}::uuid, $${p + 2}, $${p + 3}, 'track', $${p + 4}, $${p + 5}::jsonb, $${p + 6}::timestamptz)`;
      });
      await client.unsafe(
        `insert into events (workspace_id, message_id, user_id, type, name, properties, timestamp) values ${tuples.join(", ")}`,
        params as never[],
      );
    });
    return EVENTS / seconds;
  } finally {
    await client.end();
    await database.drop();
  }
}

// ---- 2./3. through POST /api/v1/batch --------------------------------------------------------
async function throughApi(mode: "bare" | "deployed"): Promise<{ perSecond: number; drainSeconds: number; users: number }> {
  // Opened like the app opens it: a pool of 10 connections (the tests' databases get 5).
  const scratch: TestDb = await createTestDb();
  await scratch.close();
  const database = await openDatabase({ url: scratch.url, maxConnections: 10 });
  const config = loadConfig({ ...process.env, DATABASE_URL: database.url, WAYPOST_LOG_LEVEL: "error", WAYPOST_INGEST_RATE_LIMIT: "0", NODE_ENV: "production" });
  const services: AppServices = { config, database, db: database.db, log: createLogger("error"), now: () => new Date() };
  const workspace = await ensureDefaultWorkspace(database.db);
  if (mode === "deployed") {
    services.engine = embeddedAppEngine(services);
    await ensurePresetSegments(services, workspace.id, "lifecycle");
    await ensurePresetSegments(services, workspace.id, "rfm");
  }
  const key = (await createApiKey(database.db, { workspaceId: workspace.id, kind: "write", name: "bench" })).key;
  const server = await startServer(services, { port: 0, host: "127.0.0.1" });
  const authorization = `Basic ${Buffer.from(`${key}:`).toString("base64")}`;
  const bodies = batches.map((batch) =>
    JSON.stringify({
      sentAt: new Date().toISOString(),
      batch: batch.map((r) => ({ type: "track", messageId: r.messageId, userId: r.userId, event: r.event, properties: r.properties, timestamp: r.timestamp })),
    }),
  );
  try {
    const seconds = await drive(async (index) => {
      const res = await fetch(`${server.url}/api/v1/batch`, { method: "POST", headers: { "content-type": "application/json", authorization }, body: bodies[index] });
      if (res.status !== 200) throw new Error(`batch ${index}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
      await res.arrayBuffer();
    });
    const drained = performance.now();
    await segmentRuntime(services).evaluator.whenIdle();
    const drainSeconds = (performance.now() - drained) / 1000;
    const [{ n, u }] = await query<{ n: number; u: number }>(database.db, sql`select (select count(*)::int from events) as n, (select count(*)::int from users) as u`);
    if (n !== EVENTS) throw new Error(`stored ${n} events, expected ${EVENTS}`);
    return { perSecond: EVENTS / seconds, drainSeconds, users: u };
  } finally {
    await server.close();
    await segmentRuntime(services).evaluator.whenIdle();
    await services.engine?.stop();
    await database.close();
    await scratch.drop();
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(`ingest benchmark: ${fmt(EVENTS)} events, batches of ${BATCH}, ${CONCURRENCY} concurrent clients, ${fmt(USERS)} users, ${cpus().length} cores`);
const raw = await rawInsert();
console.log(`  raw multi-row INSERT (events only)         ${fmt(raw).padStart(8)} events/s`);
const bare = await throughApi("bare");
console.log(`  POST /api/v1/batch, ingestion only         ${fmt(bare.perSecond).padStart(8)} events/s  (${((bare.perSecond / raw) * 100).toFixed(0)}% of raw; ${fmt(bare.users)} profiles)`);
const deployed = await throughApi("deployed");
console.log(
  `  POST /api/v1/batch, engine + 7 segments    ${fmt(deployed.perSecond).padStart(8)} events/s  (${((deployed.perSecond / raw) * 100).toFixed(0)}% of raw; segment backlog drained ${deployed.drainSeconds.toFixed(2)} s after the last batch)`,
);
console.log(JSON.stringify({ bench: "ingest", events: EVENTS, batch: BATCH, concurrency: CONCURRENCY, raw, bare: bare.perSecond, deployed: deployed.perSecond, drainSeconds: deployed.drainSeconds }));
process.exit(0);
