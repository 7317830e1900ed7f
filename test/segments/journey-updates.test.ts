import { randomUUID } from "node:crypto";
import { bundleWorkflowCode } from "@temporalio/worker";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { segmentRuntime } from "../../app/segments/membership.server";
import { createSegment } from "../../app/segments/store.server";
import { embeddedAppEngine, temporalAppEngine } from "../../cli/engine-services";
import { buildJourney } from "../../workflows/builder";
import type { JourneyEngine } from "../../workflows/engine";
import { WORKFLOWS_PATH } from "../../workflows/temporal/worker";
import { startTestApp, type TestApp } from "../support/app";
import { untilNoActiveInstance } from "../support/instances";
import { addUser, group, listenTo } from "./helpers";

// What journeys do to a profile re-evaluates segments at once, like ingestion does: an "Update
// user" node's traits and tags, and the messages a journey sends (message rules). The app's own
// engines (cli/engine-services.ts, sandbox provider) on the test database, the embedded one always
// and the Temporal one on a real server with a real worker; nothing recorded or mocked.

const temporalAddress = process.env.TEMPORAL_ADDRESS;
if (!temporalAddress) {
  console.log("[segments] TEMPORAL_ADDRESS is not set: journey-updates runs on the embedded engine only (scripts/temporal-server.sh start <dir> prints one).");
}

interface Harness {
  app: TestApp;
  engine: JourneyEngine;
  /** Returns once the journeys started so far, and the segment changes they caused, have run their course. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

describe("what journeys do -> segments (embedded engine)", () => {
  journeyUpdates(async () => {
    const app = await startTestApp();
    const engine = embeddedAppEngine(app.services);
    app.services.engine = engine;
    return {
      app,
      engine,
      settle: async () => {
        await engine.runUntilIdle();
        await segmentRuntime(app.services).evaluator.whenIdle();
        // Segment changes hand journeys their entries: run what they started.
        await engine.runUntilIdle();
      },
      close: () => app.close(),
    };
  });
});

describe.skipIf(!temporalAddress)("what journeys do -> segments (Temporal engine, real server and worker)", () => {
  journeyUpdates(async () => {
    // The same settings the app reads, on a task queue of this file's own.
    const temporalEnv = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith("TEMPORAL_") && e[1] !== undefined));
    const app = await startTestApp({ env: { ...temporalEnv, WAYPOST_ENGINE: "temporal", TEMPORAL_TASK_QUEUE: `waypost-segments-${randomUUID()}` } });
    const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH });
    const engine = temporalAppEngine(app.services, { workflowBundle: { code: bundle.code } });
    app.services.engine = engine;
    await engine.start();
    return {
      app,
      engine,
      settle: async () => {
        await untilNoActiveInstance(app.services.db);
        await segmentRuntime(app.services).evaluator.whenIdle();
        await untilNoActiveInstance(app.services.db);
      },
      close: async () => {
        await engine.stop();
        await app.close();
      },
    };
  });
});

function journeyUpdates(setup: () => Promise<Harness>): void {
  let h: Harness;
  beforeAll(async () => {
    h = await setup();
  });
  afterAll(() => h?.close());

  /** Publishes "API trigger → one action node → exit" and runs it for one user, segments included. */
  async function runActionJourney(name: string, action: { id: string; type: string; config: unknown; ports: string[] }, userId: string): Promise<void> {
    const { app, engine } = h;
    const document = buildJourney({
      name,
      settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
      nodes: [
        { id: "trigger", type: "core.trigger", config: { source: "api" } },
        { id: action.id, type: action.type, config: action.config },
        { id: "exit", type: "core.exit", config: {} },
      ],
      edges: [["trigger", "next", action.id], ...action.ports.map((port) => [action.id, port, "exit"] as [string, string, string])],
    });
    const journey = await createJourney(app.services.db, { workspaceId: app.workspaceId }, { name: document.name, document });
    expect((await publishJourney(app.services.db, { workspaceId: app.workspaceId }, { journeyId: journey.id })).ok).toBe(true);
    expect(await engine.triggerJourney({ workspaceId: app.workspaceId, journeyId: journey.id, userId })).toMatchObject({ entered: true });
    await h.settle();
  }

  it("tagging a user moves them into a tag segment and starts the journey it triggers", async () => {
    const { app } = h;
    await addUser(app, "tagged-1");
    await addUser(app, "untouched-1");
    const segment = await createSegment(app.services, app.workspaceId, { name: "VIP", key: "vip_tagged", definition: group("all", { kind: "tag", op: "has", tag: "vip" }) });
    await listenTo(app, "vip_tagged");
    await runActionJourney("tag vips", { id: "tag", type: "core.update-user", config: { operations: [{ op: "add_tag", tag: "vip" }] }, ports: ["next", "failed"] }, "tagged-1");

    const members = await query<{ user_id: string }>(app.services.db, sql`select user_id from segment_members where segment_id = ${segment.id}::uuid order by user_id`);
    expect(members.map((m) => m.user_id)).toEqual(["tagged-1"]);
    const entered = await query<{ user_id: string; name: string }>(
      app.services.db,
      sql`select i.user_id, j.name from journey_instances i join journeys j on j.id = i.journey_id where j.name like 'segment_entry%' order by i.user_id`,
    );
    expect(entered).toEqual([{ user_id: "tagged-1", name: "segment_entry vip_tagged" }]);
  });

  it("a message a journey sends moves the user into a message-rule segment without waiting for the sweep", async () => {
    const { app } = h;
    await addUser(app, "messaged-1");
    const segment = await createSegment(app.services, app.workspaceId, {
      name: "Push unreachable",
      key: "push_failed",
      definition: group("all", { kind: "message", check: "did", state: "failed", channel: "push" }),
    });
    await runActionJourney("push once", { id: "push", type: "core.push", config: { title: "Hi", body: "Hello {{ user.id }}" }, ports: ["sent", "failed"] }, "messaged-1");
    const [message] = await query<{ state: string }>(app.services.db, sql`select state from messages where user_id = 'messaged-1'`);
    expect(message.state).toBe("failed"); // no device token: the push fails, which the segment is about
    const members = await query<{ user_id: string }>(app.services.db, sql`select user_id from segment_members where segment_id = ${segment.id}::uuid`);
    expect(members.map((m) => m.user_id)).toEqual(["messaged-1"]);
  });
}
