import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleIngest } from "../../app/ingest/http.server";
import { sweepUnrouted } from "../../app/ingest/routing.server";
import { loadConfig } from "../../app/config.server";
import { createApiKey } from "../../app/lib/auth.server";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { createLogger } from "../../app/lib/log.server";
import type { AppServices } from "../../app/services.server";
import { executeNode } from "../../nodes/registry.server";
import { buildJourney } from "../../workflows/builder";
import { rows } from "../../workflows/embedded/db.server";
import type { JourneyEngine } from "../../workflows/engine";
import { createActivities } from "../../workflows/temporal/activities";
import { temporalGateway } from "../../workflows/temporal/client";
import { createTemporalEngine } from "../../workflows/temporal/engine";
import { closeLiveTemporal, liveTemporalSettings, openLiveTemporal, temporalAddress, type LiveTemporal } from "./support";

/**
 * Decision 1001 on Temporal: events stored by ingestion whose routing failed (the engine refused
 * them) reach journeys through the routing sweep, which calls the Temporal engine like ingestion
 * does: every user's workflow starts and completes once, and a second sweep or offer starts nothing.
 */

describe.skipIf(!temporalAddress)("orphaned events routed by the sweep to the Temporal engine (real server)", () => {
  let shared: LiveTemporal;
  let worker: Worker;
  let running: Promise<void>;
  beforeAll(async () => {
    shared = await openLiveTemporal();
  }, 120_000);
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await closeLiveTemporal(shared);
  });

  it("stored events with a left-behind marker start each user's workflow exactly once", async () => {
    const { db } = shared;
    const [workspace] = await rows<{ id: string }>(db.db, sql`insert into workspaces (name) values (${`orphans-${randomUUID()}`}) returning id`);
    const workspaceId = workspace.id;
    const taskQueue = `waypost-orphans-${randomUUID()}`;
    const activities = createActivities({ db: db.db, now: () => Date.now(), executeAction: executeNode, actionServices: () => ({ sendMessage: async () => ({ status: "sent" as const, messageId: "none" }), updateUser: async () => {}, fetch: async () => ({ status: 200, ok: true, text: async () => "ok" }) }) });
    worker = await Worker.create({ connection: shared.connection, namespace: liveTemporalSettings().namespace, taskQueue, workflowBundle: { code: shared.bundle.code }, activities });
    running = worker.run();
    const temporal = createTemporalEngine({ db: db.db, now: () => new Date(), gateway: temporalGateway(shared.client, taskQueue) });

    const { id: journeyId } = await createJourney(db.db, { workspaceId }, {
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
    expect((await publishJourney(db.db, { workspaceId }, { journeyId })).ok).toBe(true);

    // Ingestion with an engine that refuses: the events are stored with their marker, answered 200.
    const refusing = { kind: "temporal", handleEvents: async () => Promise.reject(new Error("engine unreachable")) } as unknown as JourneyEngine;
    const services: AppServices = { config: loadConfig({ WAYPOST_LOG_LEVEL: "silent", NODE_ENV: "test" }), database: db, db: db.db, log: createLogger("silent"), now: () => new Date(), engine: refusing };
    const key = (await createApiKey(db.db, { workspaceId, kind: "write", name: "orphans" })).key;
    const users = Array.from({ length: 5 }, (_, i) => `t-orphan-${i}`);
    const response = await handleIngest(
      new Request("http://test/api/v1/batch", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}` },
        body: JSON.stringify({ batch: users.map((userId, i) => ({ type: "track", event: "signed_up", userId, messageId: `t-orphan-msg-${i}` })) }),
      }),
      services,
      "batch",
    );
    expect(response.status).toBe(200);
    const instances = () => rows<{ user_id: string; status: string }>(db.db, sql`select user_id, status from journey_instances where journey_id = ${journeyId}::uuid order by user_id`);
    expect(await instances()).toEqual([]);

    services.engine = temporal;
    expect(await sweepUnrouted(services, { realNow: Date.now() + 60_000 })).toBe(5);
    const deadline = Date.now() + 60_000;
    while ((await instances()).filter((r) => r.status === "completed").length < users.length && Date.now() < deadline) await sleep(250);
    expect(await instances()).toEqual(users.map((user_id) => ({ user_id, status: "completed" })));
    // Nothing left to sweep, and a second offer of the same events enters nobody twice.
    expect(await sweepUnrouted(services, { realNow: Date.now() + 600_000 })).toBe(0);
    await temporal.handleEvents(users.map((userId, i) => ({ workspaceId, userId, messageId: `t-orphan-msg-${i}`, name: "signed_up", properties: {}, timestamp: Date.now() })));
    await sleep(1_000);
    expect((await instances()).length).toBe(users.length);
  }, 180_000);
});
