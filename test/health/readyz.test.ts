import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../app/config.server";
import { createLogger } from "../../app/lib/log.server";
import type { AppServices } from "../../app/services.server";
import { migrate, openDatabase, query, type Database } from "../../db/client";
import { startServer, type RunningServer } from "../../cli/server";
import { pgClusterUnavailable, startPgCluster, type PgCluster } from "../support/pg-cluster";

/**
 * /healthz (liveness) and /readyz (readiness) on a throwaway PostgreSQL cluster that the test
 * really stops and starts: readiness must say "not ready" while the database is down and recover
 * by itself; liveness must keep answering (docs/operations.md).
 */

const missing = pgClusterUnavailable();
if (missing) console.log(`readyz.test skipped: ${missing}`);

describe.skipIf(!!missing)("health endpoints during a real database outage", () => {
  let cluster: PgCluster;
  let database: Database;
  let server: RunningServer;
  let services: AppServices;
  beforeAll(async () => {
    cluster = await startPgCluster();
    database = await openDatabase({ url: cluster.url, maxConnections: 4, connectTimeoutMs: 1_000 });
    await migrate(database);
    const config = loadConfig({ DATABASE_URL: cluster.url, WAYPOST_LOG_LEVEL: "silent", NODE_ENV: "test", WAYPOST_ENGINE_LAG_ALERT_SECONDS: "60" });
    services = { config, database, db: database.db, log: createLogger("silent"), now: () => new Date() };
    server = await startServer(services, { port: 0, host: "127.0.0.1" });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await database?.close();
    cluster?.destroy();
  });

  const get = async (path: string) => {
    const response = await fetch(server.url + path);
    return { status: response.status, body: (await response.json()) as Record<string, { ok?: boolean; detail?: Record<string, unknown> } | string> };
  };

  it("ready with the database up, migrations applied and nothing due", async () => {
    const ready = await get("/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: "ready", database: { ok: true }, migrations: { ok: true }, engine: { ok: true, detail: { lagSeconds: 0, thresholdSeconds: 60 } } });
    expect((await get("/healthz")).status).toBe(200);
  });

  it("not ready while PostgreSQL is stopped, alive throughout, ready again once it is back", async () => {
    cluster.stop();
    const down = await get("/readyz");
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: "not_ready", database: { ok: false }, migrations: { ok: false }, engine: { ok: false } });
    const live = await get("/healthz");
    expect(live.status).toBe(200);
    expect(live.body.status).toBe("ok");
    cluster.start();
    const back = await get("/readyz");
    expect(back.status).toBe(200);
    expect(back.body.status).toBe("ready");
  }, 60_000);

  it("not ready when the oldest due timer is later than the threshold, ready once it is gone", async () => {
    const late = new Date(Date.now() - 5 * 60_000).toISOString();
    await query(database.db, sql`insert into journey_timers (wake_at, instance_id) values (${late}::timestamptz, gen_random_uuid())`);
    const behind = await get("/readyz");
    expect(behind.status).toBe(503);
    expect(behind.body).toMatchObject({ status: "not_ready", database: { ok: true }, engine: { ok: false, detail: { thresholdSeconds: 60 } } });
    expect((behind.body.engine as { detail: { lagSeconds: number } }).detail.lagSeconds).toBeGreaterThan(60);
    await query(database.db, sql`delete from journey_timers`);
    expect((await get("/readyz")).status).toBe(200);
  });

  it("not ready when the database lacks a migration of this build", async () => {
    const [last] = await query<{ id: number }>(database.db, sql`select id from drizzle.__drizzle_migrations order by created_at desc limit 1`);
    const saved = await query<Record<string, unknown>>(database.db, sql`delete from drizzle.__drizzle_migrations where id = ${last.id} returning id, hash, created_at`);
    const behind = await get("/readyz");
    expect(behind.status).toBe(503);
    expect(behind.body).toMatchObject({ migrations: { ok: false, detail: { problem: "database is behind this build" } } });
    await query(database.db, sql`insert into drizzle.__drizzle_migrations (id, hash, created_at) values (${saved[0].id}::int, ${saved[0].hash}::text, ${saved[0].created_at}::bigint)`);
    expect((await get("/readyz")).status).toBe(200);
  });
});
