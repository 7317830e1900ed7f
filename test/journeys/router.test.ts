import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionInfo } from "../../app/lib/auth.server";
import { createCallerFactory } from "../../app/trpc/init.server";
import { appRouter } from "../../app/trpc/router.server";
import { users } from "../../db/schema";
import { registeredNoOrderJourney } from "../../workflows/demo-journeys";
import { startTestApp, type TestApp } from "../support/app";

/** The `journeys` tRPC router as the canvas and the journeys list use it. */
describe("journeys router", () => {
  let app: TestApp;
  const createCaller = createCallerFactory(appRouter);
  let session: SessionInfo;
  let other: SessionInfo;
  let admin: SessionInfo;
  const caller = (s: SessionInfo | null) => createCaller({ services: app.services, session: s }).journeys;

  beforeAll(async () => {
    app = await startTestApp();
    const a = await app.addOperator("marketer", "mei@example.com");
    const b = await app.addOperator("developer", "dev@example.com");
    session = { operatorId: a.id, workspaceId: app.workspaceId, email: a.email, name: "Mei", role: "marketer", locale: null };
    other = { operatorId: b.id, workspaceId: app.workspaceId, email: b.email, name: "Dev", role: "developer", locale: null };
    const c = await app.addOperator("admin", "ada@example.com");
    admin = { operatorId: c.id, workspaceId: app.workspaceId, email: c.email, name: "Ada", role: "admin", locale: null };
  });
  afterAll(() => app?.close());

  async function codeOf(work: Promise<unknown>): Promise<string> {
    try {
      await work;
    } catch (error) {
      if (error instanceof TRPCError) return error.code;
      throw error;
    }
    return "OK";
  }

  it("refuses callers without a session", async () => {
    expect(await codeOf(caller(null).list({}))).toBe("UNAUTHORIZED");
  });

  it("lists journeys with status, live version, draft and last editor; searches literally and filters", async () => {
    const api = caller(session);
    const { id: live } = await api.create({ name: "注册未下单 50% off", document: registeredNoOrderJourney() });
    expect(await api.publish({ id: live, baseRevision: 1 })).toMatchObject({ ok: true, version: 1 });
    await api.startEditing({ id: live });
    const { id: draft } = await api.create({ name: "Win-back 5000" });

    const all = await api.list({});
    expect(all.find((j) => j.id === live)).toMatchObject({ status: "live", liveVersion: 1, hasDraft: true, updatedBy: "mei@example.com" });
    expect(all.find((j) => j.id === draft)).toMatchObject({ status: "draft", liveVersion: null, hasDraft: true });
    // "%" is a character to find, not a wildcard matching "5000".
    expect((await api.list({ search: "50%" })).map((j) => j.id)).toEqual([live]);
    expect((await api.list({ search: "注册" })).map((j) => j.id)).toEqual([live]);
    expect((await api.list({ status: "draft" })).map((j) => j.id)).toContain(draft);
    expect((await api.list({ status: "draft" })).map((j) => j.id)).not.toContain(live);
  });

  it("saves drafts against a revision and reports a second editor's save as a conflict", async () => {
    const { id } = await caller(session).create({ name: "Conflict", document: registeredNoOrderJourney() });
    const opened = await caller(session).get({ id });
    expect(opened.draft).toMatchObject({ revision: 1, updatedBy: "mei@example.com" });
    expect(typeof opened.draft!.updatedAt).toBe("string");

    const document = { ...opened.draft!.document, name: "Conflict (dev)" };
    expect(await caller(other).saveDraft({ id, baseRevision: 1, document })).toMatchObject({ revision: 2 });
    const error = await caller(session)
      .saveDraft({ id, baseRevision: 1, document: opened.draft!.document })
      .then(() => null, (e: unknown) => e as TRPCError);
    expect(error?.code).toBe("CONFLICT");
    expect(error?.message).toContain("dev@example.com");
    expect((await caller(session).get({ id })).draft).toMatchObject({ revision: 2, updatedBy: "dev@example.com" });
    expect(await codeOf(caller(session).saveDraft({ id, baseRevision: 2, document: { nope: true } }))).toBe("BAD_REQUEST");
  });

  it("publishes with the compile errors as data, never the compiled program", async () => {
    const api = caller(session);
    const { id } = await api.create({ name: "Incomplete" });
    const refused = await api.publish({ id, baseRevision: 1 });
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.errors.map((e) => e.code)).toContain("no_trigger");
    expect(await codeOf(api.publish({ id, baseRevision: 7 }))).toBe("CONFLICT");
    expect(await codeOf(api.get({ id: "00000000-0000-4000-8000-000000000000" }))).toBe("NOT_FOUND");
  });

  it("versions, restore, archive and unarchive", async () => {
    const api = caller(session);
    const { id } = await api.create({ name: "Lifecycle", document: registeredNoOrderJourney() });
    await api.publish({ id, baseRevision: 1 });
    const { revision } = await api.startEditing({ id });
    const doc = (await api.get({ id })).draft!.document;
    const saved = await api.saveDraft({ id, baseRevision: revision, document: { ...doc, nodes: doc.nodes.slice(0, 2), edges: [] } });
    expect(saved.revision).toBe(revision + 1);
    expect((await api.versions({ id })).map((v) => [v.version, v.nodeCount, v.publishedBy])).toEqual([[1, 4, "mei@example.com"]]);
    await api.restore({ id, version: 1 });
    expect((await api.get({ id })).draft!.document.nodes).toHaveLength(4);

    // Archiving stops entries: admins only (app/lib/permissions.ts); restoring is for every editor.
    expect(await codeOf(api.archive({ id }))).toBe("FORBIDDEN");
    await caller(admin).archive({ id });
    expect((await api.get({ id })).status).toBe("archived");
    await api.unarchive({ id });
    // Published before: back as paused, so nobody enters until someone resumes it on purpose.
    expect((await api.get({ id })).status).toBe("paused");

    const { id: never } = await api.create({ name: "Never published" });
    await caller(admin).archive({ id: never });
    await api.unarchive({ id: never });
    expect((await api.get({ id: never })).status).toBe("draft");
  });

  it("offers workspace users for test runs, with contact fields and tags as traits", async () => {
    await app.services.db.insert(users).values([
      { workspaceId: app.workspaceId, id: "u-1", traits: { name: "王小明", city: "上海" }, phone: "+8613800000001", tags: ["美食爱好者"], timezone: "Asia/Shanghai" },
      { workspaceId: app.workspaceId, id: "u-2", traits: { name: "Emma Li" }, email: "emma@example.com" },
    ]);
    const found = await caller(session).sampleUsers({ search: "小明" });
    expect(found).toEqual([
      { id: "u-1", timezone: "Asia/Shanghai", traits: { name: "王小明", city: "上海", phone: "+8613800000001", tags: ["美食爱好者"] } },
    ]);
    expect((await caller(session).sampleUsers({ search: "emma@" })).map((u) => u.id)).toEqual(["u-2"]);
  });
});
