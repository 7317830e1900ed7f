import { spawn } from "node:child_process";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepUnrouted } from "../../app/ingest/routing.server";
import { createApiKey } from "../../app/lib/auth.server";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { query } from "../../db/client";
import { embeddedAppEngine } from "../../cli/engine-services";
import { buildJourney } from "../../workflows/builder";
import { startTestApp, type TestApp } from "../support/app";

/**
 * No orphaned events (decision 1001): a real app process stores a batch of `signed_up` calls and
 * is SIGKILLed while handing them to the engine, so the client never got an answer. Without any
 * resend, the routing sweep (what every worker runs) offers them to the real embedded engine and
 * each user enters the journey exactly once.
 */

const onPostgres = Boolean(process.env.DATABASE_URL);
if (!onPostgres) console.log("orphaned-events.test skipped: the killed app process and the test share a database, which needs DATABASE_URL (PGlite is one process's)");

describe.skipIf(!onPostgres)("events stored by a process killed before routing", () => {
  let app: TestApp;
  let journeyId: string;
  let key: string;
  beforeAll(async () => {
    app = await startTestApp();
    key = (await createApiKey(app.services.db, { workspaceId: app.workspaceId, kind: "write", name: "orphans" })).key;
    const journey = await createJourney(app.services.db, { workspaceId: app.workspaceId }, {
      name: "welcome",
      document: buildJourney({
        name: "welcome",
        settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
        nodes: [
          { id: "trigger", type: "core.trigger", config: { source: "event", event: "signed_up", filters: [] } },
          { id: "exit", type: "core.exit", config: {} },
        ],
        edges: [["trigger", "next", "exit"]],
      }),
    });
    const published = await publishJourney(app.services.db, { workspaceId: app.workspaceId }, { journeyId: journey.id });
    expect(published.ok).toBe(true);
    journeyId = journey.id;
  });
  afterAll(() => app?.close());

  it("are routed by the sweep without a resend; a second sweep changes nothing", async () => {
    const users = Array.from({ length: 20 }, (_, i) => `orphan-${i}`);
    const body = JSON.stringify({ batch: users.map((userId, i) => ({ type: "track", event: "signed_up", userId, messageId: `orphan-msg-${i}` })) });
    const child = spawn(process.execPath, ["bin/run-ts.mjs", "test/ingest/orphan-child.ts"], {
      env: { ...process.env, ORPHAN_DATABASE_URL: app.database.url!, ORPHAN_KEY: key, ORPHAN_BODY: body },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("routing")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`the app process ended (${code}) before routing: ${out}`)));
    });
    // Killed between store and routing: the request never got its answer.
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    expect(out).not.toContain("answered");

    const stored = await query<{ n: number | string }>(app.services.db, sql`select count(*) as n from events where workspace_id = ${app.workspaceId}::uuid and name = 'signed_up'`);
    expect(Number(stored[0].n)).toBe(20);
    const instances = () =>
      query<{ user_id: string }>(app.services.db, sql`select user_id from journey_instances where journey_id = ${journeyId}::uuid order by user_id`);
    expect(await instances()).toEqual([]);

    // A worker process's sweep, with the app's own engine wiring; a later clock instead of waiting out not_before.
    app.services.engine = embeddedAppEngine(app.services);
    expect(await sweepUnrouted(app.services, { realNow: Date.now() + 60_000 })).toBe(20);
    expect((await instances()).map((r) => r.user_id)).toEqual([...users].sort());
    expect(await query(app.services.db, sql`select id from event_routing_pending`)).toEqual([]);

    // Nothing left to sweep; and offering the same events again (a resend) enters nobody twice.
    expect(await sweepUnrouted(app.services, { realNow: Date.now() + 600_000 })).toBe(0);
    const again = await query<{ message_id: string; user_id: string; name: string }>(app.services.db, sql`select message_id, user_id, name from events where name = 'signed_up'`);
    await app.services.engine.handleEvents(again.map((e) => ({ workspaceId: app.workspaceId, userId: e.user_id, messageId: e.message_id, name: e.name, properties: {}, timestamp: Date.now() })));
    expect((await instances()).length).toBe(20);
  }, 60_000);
});
