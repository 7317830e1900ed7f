import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCallerFactory } from "../../app/trpc/init.server";
import { appRouter } from "../../app/trpc/router.server";
import type { Role } from "../../db/schema";
import { startTestApp, type TestApp } from "../support/app";
import { send, writeKey } from "../ingest/helpers";

// The users and segments tRPC routers the pages use, called as a signed-in operator.

let app: TestApp;
const callerAs = async (role: Role) => {
  const operator = await app.addOperator(role);
  return createCallerFactory(appRouter)({
    services: app.services,
    session: { operatorId: operator.id, workspaceId: app.workspaceId, email: operator.email, name: role, role, locale: null },
  });
};

beforeAll(async () => {
  app = await startTestApp();
  const key = await writeKey(app);
  for (const [id, phone] of [["t-ann", "+8613811112222"], ["t-bob", "+8613933334444"]]) {
    await send(app, "identify", { userId: id, traits: { email: `${id}@example.com`, phone, plan: id === "t-ann" ? "pro" : "free" } }, { key });
  }
});
afterAll(() => app?.close());

describe("users router", () => {
  it("lists and searches by id, email prefix and phone without +86", async () => {
    const marketer = await callerAs("marketer");
    expect((await marketer.users.list({})).total).toBe(2);
    expect((await marketer.users.list({ search: "t-b" })).items.map((u) => u.id)).toEqual(["t-bob"]);
    expect((await marketer.users.list({ search: "t-ann@ex" })).items.map((u) => u.id)).toEqual(["t-ann"]);
    expect((await marketer.users.list({ search: "13933334444" })).items.map((u) => u.id)).toEqual(["t-bob"]);
    expect((await marketer.users.list({ search: "100%_" })).items).toEqual([]);
    const profile = await marketer.users.get({ userId: "t-ann" });
    expect(profile.traits).toMatchObject({ plan: "pro" });
    await expect(marketer.users.get({ userId: "nobody" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect((await marketer.users.events({ userId: "t-ann" })).map((e) => e.name)).toEqual(["$identify"]);
  });

  it("only admins erase users", async () => {
    const marketer = await callerAs("marketer");
    await expect(marketer.users.erase({ userId: "t-bob" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    const admin = await callerAs("admin");
    expect((await admin.users.erase({ userId: "t-bob" })).found).toBe(true);
    expect((await admin.users.list({})).total).toBe(1);
  });
});

describe("segments router", () => {
  it("previews, creates, edits and lists members; invalid rules are a BAD_REQUEST naming the field", async () => {
    const marketer = await callerAs("marketer");
    const pro = { kind: "group", match: "all", rules: [{ kind: "trait", trait: "plan", op: "eq", value: "pro" }] };
    expect(await marketer.segments.preview({ definition: pro })).toEqual({ count: 1 });
    await expect(marketer.segments.preview({ definition: { kind: "group", match: "all", rules: [{ kind: "trait", trait: "plan", op: "between" }] } })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("definition.rules.0.op"),
    });
    const created = await marketer.segments.create({ name: "Pro", definition: pro });
    expect(created).toMatchObject({ key: "pro", memberCount: 1, rules: { en: "plan = pro", zh: "plan = pro" } });
    expect((await marketer.segments.members({ id: created.id })).map((m) => m.userId)).toEqual(["t-ann"]);
    const edited = await marketer.segments.update({ id: "pro", definition: { ...pro, negate: true } });
    expect(edited.memberCount).toBe(0);
    expect((await marketer.segments.list()).map((s) => s.key)).toContain("pro");
    expect((await marketer.segments.vocabulary()).traits).toEqual(expect.arrayContaining(["email", "phone", "plan"]));
    await marketer.segments.archive({ id: created.id });
    await expect(marketer.segments.get({ id: created.id })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("creates presets in the operator's language and applies thresholds", async () => {
    const marketer = await callerAs("marketer");
    expect(await marketer.segments.createPresets({ family: "rfm", locale: "zh" })).toHaveLength(3);
    const high = await marketer.segments.get({ id: "rfm_high" });
    expect(high.name).toBe("高价值用户");
    const updated = await marketer.segments.updatePreset({ id: "rfm_high", params: { highValue: 5000, mediumValue: 300 } });
    expect(updated.preset?.params).toMatchObject({ highValue: 5000, mediumValue: 300, minOrders: 3 });
    await expect(marketer.segments.updatePreset({ id: "rfm_high", params: { highValue: 100, mediumValue: 300 } })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });
});
