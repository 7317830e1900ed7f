import { TRPCError } from "@trpc/server";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionInfo } from "../../app/lib/auth.server";
import { createCallerFactory } from "../../app/trpc/init.server";
import { appRouter } from "../../app/trpc/router.server";
import { query } from "../../db/client";
import { startSmtpFake, type SmtpFake } from "../fakes/smtp-server";
import { startTestApp, type TestApp } from "../support/app";

/** Settings → Channels through the `channels` tRPC router: secrets, validation, roles, test sends. */
describe("channels router", () => {
  let app: TestApp;
  let smtp: SmtpFake;
  const createCaller = createCallerFactory(appRouter);
  const sessions: Record<"admin" | "developer" | "marketer", SessionInfo> = {} as never;
  const as = (role: keyof typeof sessions) => createCaller({ services: app.services, session: sessions[role] }).channels;

  beforeAll(async () => {
    [app, smtp] = await Promise.all([startTestApp({ env: { WAYPOST_SECRET_KEY: "router-test-secret-key-0123456789abcdef", WAYPOST_OUTBOUND_ALLOW: "127.0.0.1" } }), startSmtpFake()]);
    for (const role of ["admin", "developer", "marketer"] as const) {
      const op = await app.addOperator(role);
      sessions[role] = { operatorId: op.id, workspaceId: app.workspaceId, email: op.email, name: role, role, locale: null };
    }
  });
  afterAll(async () => {
    await app?.services.channels?.close();
    await smtp?.close();
    await app?.close();
  });

  async function failure(work: Promise<unknown>): Promise<{ code: string; issues: Record<string, string> }> {
    try {
      await work;
    } catch (error) {
      if (!(error instanceof TRPCError)) throw error;
      const cause = error.cause as { issues?: { path: (string | number)[]; message: string }[] } | undefined;
      return { code: error.code, issues: Object.fromEntries((cause?.issues ?? []).map((i) => [i.path.join("."), i.message])) };
    }
    return { code: "OK", issues: {} };
  }

  const rows = () => query<{ kind: string }>(app.services.db, sql`select kind from channel_settings where workspace_id = ${app.workspaceId} order by kind`);

  it("lets marketers search messages but not read or change provider settings (403)", async () => {
    expect((await failure(as("marketer").settings())).code).toBe("FORBIDDEN");
    expect((await failure(as("marketer").saveProvider({ channel: "email", provider: "smtp", config: { host: "x", port: 25, from: "a@b.c" } }))).code).toBe("FORBIDDEN");
    expect((await failure(as("marketer").savePolicy({}))).code).toBe("FORBIDDEN");
    expect((await failure(as("marketer").sendTest({ channel: "email", to: "a@example.com" }))).code).toBe("FORBIDDEN");
    expect(await as("marketer").messages({ by: "user", q: "nobody" })).toEqual([]);
    const anonymous = createCaller({ services: app.services, session: null }).channels;
    expect((await failure(anonymous.messages({ by: "user", q: "x" }))).code).toBe("UNAUTHORIZED");
  });

  it("shows every channel on the sandbox before anything is configured", async () => {
    const view = await as("developer").settings({ origin: "https://wp.example.com" });
    expect(view.providers.map((p) => [p.channel, p.provider])).toEqual([
      ["push", "sandbox"],
      ["sms", "sandbox"],
      ["email", "sandbox"],
    ]);
    expect(view.callbacks.smsReport).toMatch(/^https:\/\/wp\.example\.com\/callbacks\/aliyun-sms\/[0-9a-f-]{36}\.[\w-]+\/report$/);
    expect(view.policy.quietHours).toMatchObject({ start: "21:00", end: "08:00" });
  });

  it("names the bad field and saves nothing", async () => {
    const bad = await failure(as("developer").saveProvider({ channel: "email", provider: "smtp", config: { host: "", port: 70000, from: "a@b.c" }, secrets: { pass: "hunter2" } }));
    expect(bad.code).toBe("BAD_REQUEST");
    expect(Object.keys(bad.issues).sort()).toEqual(["config.host", "config.port"]);
    const noSecret = await failure(as("developer").saveProvider({ channel: "sms", provider: "aliyun-sms", config: { accessKeyId: "LTAI", signName: "路标商城" } }));
    expect(noSecret.code).toBe("BAD_REQUEST");
    expect(Object.keys(noSecret.issues)).toEqual(["secrets.accessKeySecret"]);
    const json = await failure(as("developer").saveProvider({ channel: "push", provider: "fcm", serviceAccountJson: '{"type":"service_account","project_id":"p"}' }));
    expect(Object.keys(json.issues)).toEqual(["serviceAccountJson"]);
    expect((await failure(as("developer").saveProvider({ channel: "push", provider: "smtp", config: {} }))).issues).toHaveProperty("provider");
    const policy = await failure(as("developer").savePolicy({ quietHours: { start: "25:00" }, frequencyCaps: [{ channel: "push", limit: -1, period: "day" }] }));
    expect(Object.keys(policy.issues).sort()).toEqual(["frequencyCaps.0.limit", "quietHours.start"]);
    expect(await rows()).toEqual([]);
  });

  it("never returns a secret after saving, keeps it when the form leaves it empty, and audits the change", async () => {
    const privateKey = "-----BEGIN PRIVATE KEY-----\nMIIEv-private-material\n-----END PRIVATE KEY-----\n";
    await as("developer").saveProvider({
      channel: "push",
      provider: "fcm",
      serviceAccountJson: JSON.stringify({ type: "service_account", project_id: "wp-prod", client_email: "svc@wp-prod.iam.gserviceaccount.com", private_key: privateKey }),
    });
    await as("admin").saveProvider({ channel: "email", provider: "smtp", config: { host: "127.0.0.1", port: smtp.port, from: "路标商城 <news@example.com>", user: "mailer" }, secrets: { pass: "smtp-password-1" } });
    // Saved again without the password: the stored one stays.
    await as("admin").saveProvider({ channel: "email", provider: "smtp", config: { host: "127.0.0.1", port: smtp.port, from: "路标商城 <news@example.com>", user: "mailer" }, secrets: { pass: "" } });
    const view = await as("developer").settings();
    const text = JSON.stringify(view);
    expect(text).not.toContain("smtp-password-1");
    expect(text).not.toContain("private-material");
    expect(text).not.toContain("svc@wp-prod");
    expect(view.providers.find((p) => p.channel === "push")).toMatchObject({ provider: "fcm", config: { projectId: "wp-prod" }, secretsSet: expect.arrayContaining(["clientEmail", "privateKey"]) });
    expect(view.providers.find((p) => p.channel === "email")).toMatchObject({ provider: "smtp", secretsSet: ["pass"] });
    const audit = await query<{ action: string; details: unknown }>(app.services.db, sql`select action, details from audit_log where workspace_id = ${app.workspaceId} and action like 'channels.%'`);
    expect(audit.length).toBe(3);
    expect(JSON.stringify(audit)).not.toContain("smtp-password-1");
    expect(JSON.stringify(audit)).not.toContain("private-material");
  });

  it("sends a test message through the configured provider and reports a failure with its reason", async () => {
    await as("admin").saveProvider({ channel: "email", provider: "smtp", config: { host: "127.0.0.1", port: smtp.port, from: "路标商城 <news@example.com>" } });
    const ok = await as("developer").sendTest({ channel: "email", to: "ops@example.com" });
    expect(ok).toMatchObject({ status: "sent", reason: null });
    expect(smtp.mails.at(-1)!.envelope.to).toEqual(["ops@example.com"]);
    smtp.rejectRecipient.set("gone@example.com", { code: 550, message: "5.1.1 User unknown" });
    const bad = await as("developer").sendTest({ channel: "email", to: "gone@example.com" });
    expect(bad).toMatchObject({ status: "failed", reason: "bounced" });
    expect(bad.providerCode ?? bad.detail).toBeTruthy();
    expect((await failure(as("developer").sendTest({ channel: "email", to: "not-an-address" }))).issues).toHaveProperty("to");
    // Both are on the Messages page under the test pseudo-user, with their state history.
    const found = await as("marketer").messages({ by: "email", q: "GONE@example.com" });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ channel: "email", state: "failed", failureReason: "bounced", failureStage: "delivery" });
    expect(found[0]!.history.map((h) => h.state)).toEqual(["queued", "failed"]);
  });

  it("finds messages by any spelling of a phone number, and by the user's number for other channels", async () => {
    const sent = await as("developer").sendTest({ channel: "sms", to: "+86 139-0000-0001", content: { templateCode: "SMS_1", templateParams: '{"code":"1234"}' } });
    expect(sent.status).toBe("sent");
    for (const spelling of ["13900000001", "+8613900000001", "0086 139 0000 0001", "139-0000-0001"]) {
      const found = await as("marketer").messages({ by: "phone", q: spelling });
      expect(found.map((m) => m.id), spelling).toEqual([sent.messageId]);
    }
    expect((await as("marketer").messages({ by: "phone", q: "13900000002" })).length).toBe(0);
  });

  it("saves the policy and reads it back", async () => {
    const saved = await as("developer").savePolicy({
      quietHours: { enabled: true, start: "22:00", end: "07:30", appliesTo: ["marketing"] },
      frequencyCaps: [{ channel: "any", category: "marketing", limit: 3, period: "week" }],
      rateLimits: { "aliyun-sms": { perSecond: 50, burst: 50 } },
    });
    expect(saved.quietHours.start).toBe("22:00");
    const view = await as("admin").settings();
    expect(view.policy).toMatchObject({ quietHours: { end: "07:30" }, frequencyCaps: [{ channel: "any", limit: 3, period: "week" }], rateLimits: { "aliyun-sms": { perSecond: 50 } } });
  });
});
