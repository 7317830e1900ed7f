import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { segmentRuntime } from "../../app/segments/membership.server";
import { createSegment } from "../../app/segments/store.server";
import { buildJourney } from "../../workflows/builder";
import { createAppEngine } from "../../workflows/embedded/app.server";
import type { EmbeddedEngine } from "../../workflows/embedded/engine.server";
import { startTestApp, type TestApp } from "../support/app";
import { addUser, group, listenTo } from "./helpers";

// A journey's "Update user" node changes the profile like an identify call: segments reading the
// changed trait are re-evaluated for that user, and their entry triggers start journeys. Real
// app engine (createAppEngine) on the test database; nothing recorded or mocked.

let app: TestApp;
let engine: EmbeddedEngine;

beforeAll(async () => {
  app = await startTestApp();
  engine = createAppEngine(app.services);
  app.services.engine = engine;
});
afterAll(() => app?.close());

describe("Update user node -> segments", () => {
  it("tagging a user moves them into a tag segment and starts the journey it triggers", async () => {
    await addUser(app, "tagged-1");
    await addUser(app, "untouched-1");
    const segment = await createSegment(app.services, app.workspaceId, { name: "VIP", key: "vip_tagged", definition: group("all", { kind: "tag", op: "has", tag: "vip" }) });
    await listenTo(app, "vip_tagged");
    const document = buildJourney({
      name: "tag vips",
      settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
      nodes: [
        { id: "trigger", type: "core.trigger", config: { source: "api" } },
        { id: "tag", type: "core.update-user", config: { operations: [{ op: "add_tag", tag: "vip" }] } },
        { id: "exit", type: "core.exit", config: {} },
      ],
      edges: [
        ["trigger", "next", "tag"],
        ["tag", "next", "exit"],
        ["tag", "failed", "exit"],
      ],
    });
    const journey = await createJourney(app.services.db, { workspaceId: app.workspaceId }, { name: document.name, document });
    expect((await publishJourney(app.services.db, { workspaceId: app.workspaceId }, { journeyId: journey.id })).ok).toBe(true);

    expect(await engine.triggerJourney({ workspaceId: app.workspaceId, journeyId: journey.id, userId: "tagged-1" })).toMatchObject({ entered: true });
    await engine.runUntilIdle();
    await segmentRuntime(app.services).evaluator.whenIdle();
    await engine.runUntilIdle();

    const members = await query<{ user_id: string }>(app.services.db, sql`select user_id from segment_members where segment_id = ${segment.id}::uuid order by user_id`);
    expect(members.map((m) => m.user_id)).toEqual(["tagged-1"]);
    const entered = await query<{ user_id: string; name: string }>(
      app.services.db,
      sql`select i.user_id, j.name from journey_instances i join journeys j on j.id = i.journey_id where j.name like 'segment_entry%' order by i.user_id`,
    );
    expect(entered).toEqual([{ user_id: "tagged-1", name: "segment_entry vip_tagged" }]);
  });
});
