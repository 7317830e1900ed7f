import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { settleBackpressure } from "../../app/ingest/backpressure.server";
import { createApiKey } from "../../app/lib/auth.server";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { query } from "../../db/client";
import { embeddedAppEngine } from "../../cli/engine-services";
import { buildJourney } from "../../workflows/builder";
import type { EmbeddedEngine } from "../../workflows/embedded/engine.server";
import { startTestApp, type TestApp } from "../support/app";
import { eventsByMessageId, send } from "./helpers";

/**
 * Backpressure (decision 1003): with the engine's oldest due timer later than
 * WAYPOST_BACKPRESSURE_LAG_SECONDS, calls that reach journeys for the workspace that is behind are
 * answered 429 engine_behind with Retry-After and not stored; identify calls and other workspaces
 * go ahead; once the engine has caught up the workspace is served again.
 */

describe("ingestion backpressure when the engine is behind", () => {
  let app: TestApp;
  let clock = Date.parse("2026-06-01T08:00:00Z");
  let key: string;
  let otherKey: string;
  let engine: EmbeddedEngine;
  beforeAll(async () => {
    app = await startTestApp({ now: () => new Date(clock), env: { WAYPOST_BACKPRESSURE_LAG_SECONDS: "30" } });
    engine = embeddedAppEngine(app.services);
    app.services.engine = engine;
    key = (await createApiKey(app.services.db, { workspaceId: app.workspaceId, kind: "write", name: "bp" })).key;
    const [other] = await query<{ id: string }>(app.services.db, sql`insert into workspaces (name) values ('Other') returning id`);
    otherKey = (await createApiKey(app.services.db, { workspaceId: other.id, kind: "write", name: "other" })).key;
    const journey = await createJourney(app.services.db, { workspaceId: app.workspaceId }, {
      name: "wait",
      document: buildJourney({
        name: "wait",
        settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
        nodes: [
          { id: "trigger", type: "core.trigger", config: { source: "event", event: "signed_up", filters: [] } },
          { id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: 1, unit: "minutes" } } },
          { id: "exit", type: "core.exit", config: {} },
        ],
        edges: [
          ["trigger", "next", "wait"],
          ["wait", "next", "exit"],
        ],
      }),
    });
    expect((await publishJourney(app.services.db, { workspaceId: app.workspaceId }, { journeyId: journey.id })).ok).toBe(true);
  });
  afterAll(() => app?.close());

  /** Sends once to start a lag reading, waits for it, then sends the call that is judged. */
  const judged = async (k: string, endpoint: "track" | "identify", body: Record<string, unknown>) => {
    await send(app, endpoint, { ...body, messageId: `probe-${Math.random()}` }, { key: k });
    await settleBackpressure(app.services);
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    await send(app, endpoint, { ...body, messageId: `probe-${Math.random()}` }, { key: k });
    await settleBackpressure(app.services);
    return send(app, endpoint, body, { key: k });
  };

  it("answers 429 engine_behind with Retry-After to the workspace that is behind, stores nothing of it, serves the rest", async () => {
    const entered = await send(app, "track", { userId: "u1", event: "signed_up", messageId: "entry-1" }, { key });
    expect(entered.status).toBe(200);
    // The wait ends at +1 min; the clock moves to +6 min without a worker running: 5 minutes behind.
    clock += 6 * 60_000;
    const refused = await judged(key, "track", { userId: "u2", event: "page_viewed", messageId: "refused-1" });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: "engine_behind" });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    expect(await eventsByMessageId(app, ["refused-1"])).toBe(0);
    // Profile updates do not reach the engine: not held back.
    const identify = await send(app, "identify", { userId: "u2", traits: { plan: "pro" }, messageId: "identify-1" }, { key });
    expect(identify.status).toBe(200);
    // Another workspace whose journeys are not behind is served.
    const other = await send(app, "track", { userId: "x1", event: "page_viewed", messageId: "other-1" }, { key: otherKey });
    expect(other.status).toBe(200);
  });

  it("serves the workspace again once the engine has caught up", async () => {
    await engine.runUntilIdle();
    const served = await judged(key, "track", { userId: "u2", event: "page_viewed", messageId: "served-1" });
    expect(served.status).toBe(200);
    expect(await eventsByMessageId(app, ["served-1"])).toBe(1);
  });

  it("is off with WAYPOST_BACKPRESSURE_LAG_SECONDS=0, however far behind", async () => {
    await send(app, "track", { userId: "u3", event: "signed_up", messageId: "entry-2" }, { key });
    clock += 6 * 60_000;
    (app.services.config as { WAYPOST_BACKPRESSURE_LAG_SECONDS: number }).WAYPOST_BACKPRESSURE_LAG_SECONDS = 0;
    const served = await judged(key, "track", { userId: "u3", event: "page_viewed", messageId: "served-2" });
    expect(served.status).toBe(200);
  });
});
