import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../app/config.server";
import { ensureDefaultWorkspace } from "../../app/lib/accounts.server";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { createLogger } from "../../app/lib/log.server";
import type { AppServices } from "../../app/services.server";
import { query, type Database } from "../../db/client";
import { embeddedAppEngine } from "../../cli/engine-services";
import { startServer, type RunningServer } from "../../cli/server";
import { waitThenPushJourney } from "../../workflows/testing";
import { createPgliteTestDb } from "../support/db";

/**
 * The embedded default (PGlite, in the app's thread) keeps answering HTTP while the engine drains
 * a backlog (decision 1002): users wait 1 minute, the clock jumps past it, and the worker starts
 * on the backlog. /healthz and the login page must answer while instances are still inside.
 * Answers are asserted, not timings.
 */

const USERS = 300;

describe("PGlite: HTTP answers while the engine drains a backlog", () => {
  let database: Database;
  let services: AppServices;
  let server: RunningServer;
  let clock = Date.now();
  beforeAll(async () => {
    // Always PGlite, whatever DATABASE_URL the suite runs with: the embedded default is the subject.
    database = await createPgliteTestDb();
    const config = loadConfig({ WAYPOST_LOG_LEVEL: "silent", NODE_ENV: "test", WAYPOST_DEMO_DATA: "false" });
    services = { config, database, db: database.db, log: createLogger("silent"), now: () => new Date(clock) };
    services.engine = embeddedAppEngine(services);
    const workspace = await ensureDefaultWorkspace(database.db);
    const journey = await createJourney(database.db, { workspaceId: workspace.id }, {
      name: "soak",
      document: waitThenPushJourney("soak"),
    });
    expect((await publishJourney(database.db, { workspaceId: workspace.id }, { journeyId: journey.id })).ok).toBe(true);
    for (let i = 0; i < USERS; i += 100) {
      await services.engine.handleEvents(
        Array.from({ length: 100 }, (_, k) => ({ workspaceId: workspace.id, userId: `u${i + k}`, messageId: `m${i + k}`, name: "signed_up", properties: {}, timestamp: clock })),
      );
    }
    server = await startServer(services, { port: 0, host: "127.0.0.1" });
  }, 120_000);
  afterAll(async () => {
    await services?.engine?.stop();
    await server?.close();
    await database?.close();
  });

  const inside = async () => Number((await query<{ n: number | string }>(database.db, sql`select count(*) as n from journey_instances where status = 'active'`))[0].n);

  it("answers /healthz and the login page while users are still inside, then drains", async () => {
    expect(await inside()).toBe(USERS);
    clock += 2 * 60_000;
    await services.engine!.start();
    // Let the worker get going on the backlog first.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { status: string }).status).toBe("ok");
    const login = await fetch(`${server.url}/login`);
    expect(login.status).toBe(200);
    expect(await login.text()).toContain("<form");
    // Both answered while the engine was still draining.
    expect(await inside()).toBeGreaterThan(0);
    while ((await inside()) > 0) await new Promise((resolve) => setTimeout(resolve, 250));
    const [row] = await query<{ n: number | string }>(database.db, sql`select count(*) as n from journey_node_events where kind = 'exit'`);
    expect(Number(row.n)).toBe(USERS);
  }, 240_000);
});
