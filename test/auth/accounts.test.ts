import { TRPCError } from "@trpc/server";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOperator, signIn } from "../../app/lib/accounts.server";
import { readSession } from "../../app/lib/auth.server";
import { createCallerFactory } from "../../app/trpc/init.server";
import { appRouter } from "../../app/trpc/router.server";
import { ensureFirstStart } from "../../cli/bootstrap";
import { auditLog, operators, workspaces } from "../../db/schema";
import { startTestApp, type TestApp } from "../support/app";

const createCaller = createCallerFactory(appRouter);

/** Account procedures through the real router on a real database, with real sessions (tokens in the sessions table). */
describe("accounts: passwords, sessions, roles and guard rails", () => {
  let app: TestApp;
  const clock = Date.parse("2026-03-02T09:00:00Z");

  beforeAll(async () => {
    app = await startTestApp({ now: () => new Date(clock) });
  });
  afterAll(() => app?.close());

  async function token(who: { email: string; password: string }): Promise<string> {
    const result = await signIn(app.services, { email: who.email, password: who.password, ttlHours: 24 });
    if (!result.ok) throw new Error(`sign-in failed: ${result.reason}`);
    return result.token;
  }
  const alive = async (t: string) => (await readSession(app.services.db, t, new Date(clock))) !== null;
  async function as(t: string) {
    const session = await readSession(app.services.db, t, new Date(clock));
    return createCaller({ services: app.services, session });
  }
  async function refusal(promise: Promise<unknown>): Promise<TRPCError> {
    const error = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TRPCError);
    return error as TRPCError;
  }
  const audit = async (action: string) =>
    app.services.db.select({ target: auditLog.target, operatorId: auditLog.operatorId, details: auditLog.details }).from(auditLog).where(eq(auditLog.action, action));

  it("changing one's password ends every other session, keeps this one, and the new password works", async () => {
    const me = await app.addOperator("marketer");
    const [laptop, phone, tablet] = [await token(me), await token(me), await token(me)];
    const result = await (await as(laptop)).accounts.changePassword({ currentPassword: me.password, newPassword: "a-new-password-9" });
    expect(result.endedSessions).toBe(2);
    expect([await alive(laptop), await alive(phone), await alive(tablet)]).toEqual([true, false, false]);
    expect((await signIn(app.services, { email: me.email, password: me.password, ttlHours: 1 })).ok).toBe(false);
    expect((await signIn(app.services, { email: me.email, password: "a-new-password-9", ttlHours: 1 })).ok).toBe(true);
    expect(await audit("operator.password_changed")).toContainEqual(expect.objectContaining({ target: me.email, operatorId: me.id }));
  });

  it("refuses a wrong current password or a weak new one with a field issue, changing nothing", async () => {
    const me = await app.addOperator("developer");
    const t = await token(me);
    const caller = await as(t);
    const wrong = await refusal(caller.accounts.changePassword({ currentPassword: "not-my-password", newPassword: "another-password-1" }));
    expect(wrong.code).toBe("BAD_REQUEST");
    expect((wrong.cause as unknown as { issues: { path: string[] }[] }).issues[0].path).toEqual(["currentPassword"]);
    const short = await refusal(caller.accounts.changePassword({ currentPassword: me.password, newPassword: "short" }));
    expect(short.code).toBe("BAD_REQUEST");
    expect(JSON.stringify((short.cause as unknown as { issues: unknown }).issues)).toContain("newPassword");
    const email = await refusal(caller.accounts.changePassword({ currentPassword: me.password, newPassword: me.email }));
    expect(email.message).toBe("The password cannot be your email address.");
    expect((await signIn(app.services, { email: me.email, password: me.password, ttlHours: 1 })).ok).toBe(true);
    expect(await audit("operator.password_change_failed")).toContainEqual(expect.objectContaining({ target: me.email }));
  });

  it("sign out everywhere ends every session, this one too", async () => {
    const me = await app.addOperator("developer");
    const [a, b] = [await token(me), await token(me)];
    expect(await (await as(a)).accounts.signOutEverywhere()).toEqual({ endedSessions: 2 });
    expect([await alive(a), await alive(b)]).toEqual([false, false]);
    expect(await audit("operator.signed_out_everywhere")).toContainEqual(expect.objectContaining({ operatorId: me.id }));
  });

  it("deactivation ends the operator's sessions at once and refuses sign-in until reactivated", async () => {
    const admin = await app.addOperator("admin");
    const marketer = await app.addOperator("marketer");
    const admins = await as(await token(admin));
    const theirs = await token(marketer);
    expect(await admins.accounts.deactivate({ operatorId: marketer.id })).toEqual({ changed: true, endedSessions: 1 });
    expect(await alive(theirs)).toBe(false);
    expect(await signIn(app.services, { email: marketer.email, password: marketer.password, ttlHours: 1 })).toMatchObject({ ok: false, reason: "deactivated" });
    // A wrong password does not learn that the account is deactivated.
    expect(await signIn(app.services, { email: marketer.email, password: "wrong-wrong", ttlHours: 1 })).toMatchObject({ ok: false, reason: "invalid" });
    const listed = (await admins.accounts.team()).find((o) => o.id === marketer.id);
    expect(listed?.deactivatedAt).toBeInstanceOf(Date);
    await admins.accounts.reactivate({ operatorId: marketer.id });
    expect((await signIn(app.services, { email: marketer.email, password: marketer.password, ttlHours: 1 })).ok).toBe(true);
    expect((await audit("operator.deactivated")).map((r) => r.target)).toContain(marketer.email);
    expect((await audit("operator.reactivated")).map((r) => r.target)).toContain(marketer.email);
  });

  it("a role change applies to the operator's very next request", async () => {
    const admin = await app.addOperator("admin");
    const dev = await app.addOperator("developer");
    const devToken = await token(dev);
    expect(await (await as(devToken)).settings.apiKeys()).toBeInstanceOf(Array);
    await (await as(await token(admin))).accounts.changeRole({ operatorId: dev.id, role: "marketer" });
    expect((await readSession(app.services.db, devToken, new Date(clock)))?.role).toBe("marketer");
    const denied = await refusal((await as(devToken)).settings.apiKeys());
    expect(denied.code).toBe("FORBIDDEN");
    expect(await audit("operator.role_changed")).toContainEqual(expect.objectContaining({ target: dev.email, details: { from: "developer", to: "marketer" } }));
  });

  it("only admins manage the team", async () => {
    const dev = await app.addOperator("developer");
    const other = await app.addOperator("marketer");
    const caller = await as(await token(dev));
    for (const call of [caller.accounts.team(), caller.accounts.deactivate({ operatorId: other.id }), caller.accounts.invite({ email: "x@example.com", role: "admin" })]) {
      expect((await refusal(call)).code).toBe("FORBIDDEN");
    }
    expect((await readSession(app.services.db, await token(other), new Date(clock)))?.role).toBe("marketer");
  });

  it("keeps at least one active admin: no demoting or deactivating the last one, no deactivating yourself", async () => {
    // A workspace of its own, so its admins are the only ones counted.
    const [ws] = await app.services.db.insert(workspaces).values({ name: "Second workspace" }).returning({ id: workspaces.id });
    const add = async (tag: string) => {
      const password = `pw-${tag}-secret`;
      const created = await createOperator(app.services.db, { workspaceId: ws.id, email: `${tag}@second.example.com`, role: "admin", password });
      return { id: created.id, email: created.email, password };
    };
    const only = await add("only");
    const me = await as(await token(only));
    const demote = await refusal(me.accounts.changeRole({ operatorId: only.id, role: "developer" }));
    expect(demote.code).toBe("PRECONDITION_FAILED");
    expect(demote.message).toContain("only active admin");
    expect((await refusal(me.accounts.deactivate({ operatorId: only.id }))).message).toBe("You cannot deactivate yourself; ask another admin.");

    const second = await add("second");
    const them = await as(await token(second));
    // With two admins each may step down, but not both.
    await them.accounts.changeRole({ operatorId: second.id, role: "developer" });
    expect((await refusal(me.accounts.changeRole({ operatorId: only.id, role: "marketer" }))).code).toBe("PRECONDITION_FAILED");
    const team = await me.accounts.team();
    expect(team.filter((o) => o.role === "admin" && !o.deactivatedAt).map((o) => o.id)).toEqual([only.id]);
    // Operators of another workspace are out of reach.
    const outsider = await app.addOperator("marketer");
    expect((await refusal(me.accounts.deactivate({ operatorId: outsider.id }))).code).toBe("NOT_FOUND");
  });

  it("invites with a one-time password that must be changed before anything else, and resets work the same way", async () => {
    const admin = await app.addOperator("admin");
    const admins = await as(await token(admin));
    const invalid = await refusal(admins.accounts.invite({ email: "not an email", role: "marketer" }));
    expect(invalid.code).toBe("BAD_REQUEST");
    const invited = await admins.accounts.invite({ email: "New.Person@Example.com", name: "小林", role: "marketer" });
    expect(invited.email).toBe("new.person@example.com");
    const taken = await refusal(admins.accounts.invite({ email: "new.person@example.com", role: "developer" }));
    expect(taken.code).toBe("CONFLICT");

    const t = await token({ email: invited.email, password: invited.oneTimePassword });
    const restricted = await as(t);
    expect((await restricted.accounts.me()).mustChangePassword).toBe(true);
    const blocked = await refusal(restricted.journeys.list({}));
    expect(blocked.code).toBe("FORBIDDEN");
    expect(blocked.message).toContain("Choose your own password first");
    await restricted.accounts.changePassword({ currentPassword: invited.oneTimePassword, newPassword: "my-own-password-1" });
    const freed = await as(t);
    expect((await freed.accounts.me()).mustChangePassword).toBe(false);
    expect(await freed.journeys.list({})).toBeDefined();

    const reset = await admins.accounts.resetPassword({ operatorId: invited.id });
    expect(reset.endedSessions).toBe(1);
    expect(await alive(t)).toBe(false);
    const again = await token({ email: invited.email, password: reset.oneTimePassword });
    expect((await readSession(app.services.db, again, new Date(clock)))?.mustChangePassword).toBe(true);
    expect(await audit("operator.password_reset")).toContainEqual(expect.objectContaining({ target: invited.email, operatorId: admin.id }));
    expect(await audit("operator.created")).toContainEqual(expect.objectContaining({ target: invited.email, operatorId: admin.id }));
  });

  it("first start prints an admin password that must be changed at the first sign-in", async () => {
    // An empty install: no operators yet.
    await app.services.db.delete(operators);
    const first = await ensureFirstStart(app.services);
    expect(first.admin).toBeDefined();
    const r = await signIn(app.services, { email: first.admin!.email, password: first.admin!.password, ttlHours: 1 });
    expect(r.ok && r.session.mustChangePassword).toBe(true);
  });
});
