import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import {
  createJourney,
  DraftConflictError,
  duplicateJourney,
  exportJourney,
  getJourney,
  importJourney,
  InvalidDocumentError,
  listLiveJourneys,
  listVersions,
  loadProgram,
  NothingToPublishError,
  publishJourney,
  restoreVersion,
  saveDraft,
  setJourneyStatus,
  startEditing,
} from "../../app/lib/journeys.server";
import { JourneyStateError } from "../../app/lib/journey-transitions";
import { startTestApp, type TestApp } from "../support/app";

function signupDocument(name: string, exitLabel = "done") {
  return {
    schemaVersion: 1,
    name,
    settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", typeVersion: 1, config: { source: "event", event: "signed_up", filters: [] }, position: { x: 0, y: 0 } },
      { id: "exit", type: "core.exit", typeVersion: 1, config: {}, position: { x: 0, y: 120 }, label: exitLabel },
    ],
    edges: [{ id: "e1", source: "trigger", sourcePort: "next", target: "exit" }],
  };
}

describe("journey store: drafts, publishing, versions", () => {
  let app: TestApp;
  let actor: { workspaceId: string; operatorId: string };
  beforeAll(async () => {
    app = await startTestApp();
    const op = await app.addOperator("marketer");
    actor = { workspaceId: app.workspaceId, operatorId: op.id };
  });
  afterAll(() => app?.close());

  it("creates a draft, refuses to publish it while incomplete, then publishes an immutable version", async () => {
    const { id } = await createJourney(app.services.db, actor, { name: "注册未下单 · Registered, no order" });
    let detail = await getJourney(app.services.db, app.workspaceId, id);
    expect(detail.status).toBe("draft");
    expect(detail.draft?.revision).toBe(1);

    const refused = await publishJourney(app.services.db, actor, { journeyId: id });
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.errors.map((e) => e.code)).toContain("no_trigger");
    expect((await getJourney(app.services.db, app.workspaceId, id)).liveVersion).toBeNull();

    const saved = await saveDraft(app.services.db, actor, { journeyId: id, baseRevision: 1, document: signupDocument("注册未下单 · Registered, no order") });
    expect(saved.revision).toBe(2);
    const published = await publishJourney(app.services.db, actor, { journeyId: id, baseRevision: 2 });
    expect(published.ok).toBe(true);
    detail = await getJourney(app.services.db, app.workspaceId, id);
    expect(detail.status).toBe("live");
    expect(detail.liveVersion?.version).toBe(1);
    expect(detail.draft).toBeNull();
    if (published.ok) expect((await loadProgram(app.services.db, published.versionId))?.triggerId).toBe("trigger");
    expect((await listLiveJourneys(app.services.db, app.workspaceId)).map((j) => j.journeyId)).toContain(id);
    await expect(publishJourney(app.services.db, actor, { journeyId: id })).rejects.toBeInstanceOf(NothingToPublishError);
  });

  it("keeps published versions immutable: editing makes a new draft and a new version", async () => {
    const { id } = await createJourney(app.services.db, actor, { name: "v", document: signupDocument("v") });
    const v1 = await publishJourney(app.services.db, actor, { journeyId: id });
    const { revision } = await startEditing(app.services.db, actor, id);
    await saveDraft(app.services.db, actor, { journeyId: id, baseRevision: revision, document: signupDocument("v", "changed") });
    const v2 = await publishJourney(app.services.db, actor, { journeyId: id });
    expect(v1.ok && v2.ok && v1.versionId !== v2.versionId).toBe(true);
    const first = await exportJourney(app.services.db, app.workspaceId, id, 1);
    expect(first.nodes.find((n) => n.id === "exit")?.label).toBe("done");
    const history = await listVersions(app.services.db, app.workspaceId, id);
    expect(history.map((h) => [h.version, h.nodeCount])).toEqual([
      [2, 2],
      [1, 2],
    ]);
    // Restoring v1 puts its document in a new draft; v2 stays live until that draft is published.
    await restoreVersion(app.services.db, actor, id, 1);
    const detail = await getJourney(app.services.db, app.workspaceId, id);
    expect(detail.liveVersion?.version).toBe(2);
    expect(detail.draft?.document.nodes.find((n) => n.id === "exit")?.label).toBe("done");
  });

  it("refuses a save based on a stale revision and keeps the other editor's work", async () => {
    const { id } = await createJourney(app.services.db, actor, { name: "two editors" });
    await saveDraft(app.services.db, actor, { journeyId: id, baseRevision: 1, document: signupDocument("two editors", "alice") });
    const stale = saveDraft(app.services.db, actor, { journeyId: id, baseRevision: 1, document: signupDocument("two editors", "bob") });
    await expect(stale).rejects.toBeInstanceOf(DraftConflictError);
    await expect(stale).rejects.toThrow(/revision 2/);
    const detail = await getJourney(app.services.db, app.workspaceId, id);
    expect(detail.draft?.document.nodes.find((n) => n.id === "exit")?.label).toBe("alice");
  });

  it("refuses a malformed document with field paths and stores nothing", async () => {
    const before = await query<{ n: number }>(app.services.db, sql`select count(*)::int as n from journeys`);
    const bad = { ...signupDocument("bad"), nodes: [{ id: "x", type: "core.exit", typeVersion: "one", config: {}, position: { x: 0 } }] };
    const error = await importJourney(app.services.db, actor, bad).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidDocumentError);
    expect((error as InvalidDocumentError).errors.map((e) => e.path)).toEqual(expect.arrayContaining(["nodes.0.typeVersion", "nodes.0.position.y"]));
    const after = await query<{ n: number }>(app.services.db, sql`select count(*)::int as n from journeys`);
    expect(after[0].n).toBe(before[0].n);
  });

  it("imports, exports, duplicates, pauses and archives", async () => {
    const { id } = await importJourney(app.services.db, actor, JSON.stringify(signupDocument("imported")));
    expect((await exportJourney(app.services.db, app.workspaceId, id)).name).toBe("imported");
    const copy = await duplicateJourney(app.services.db, actor, id);
    expect((await getJourney(app.services.db, app.workspaceId, copy.id)).name).toBe("imported (copy)");
    await expect(setJourneyStatus(app.services.db, actor, id, "live")).rejects.toBeInstanceOf(JourneyStateError);
    await publishJourney(app.services.db, actor, { journeyId: id });
    await setJourneyStatus(app.services.db, actor, id, "paused");
    expect((await listLiveJourneys(app.services.db, app.workspaceId)).map((j) => j.journeyId)).not.toContain(id);
    await setJourneyStatus(app.services.db, actor, id, "archived");
    expect((await getJourney(app.services.db, app.workspaceId, id)).status).toBe("archived");
  });
});
