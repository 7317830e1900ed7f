import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChannelsRuntime, type ChannelsRuntime } from "../../nodes/channels/runtime.server";
import { listProviderSettings, saveProviderSettings } from "../../nodes/channels/settings.server";
import { startAliyunSmsFake, type AliyunSmsFake } from "../fakes/aliyun-sms-server";
import { startTestApp, type TestApp } from "../support/app";

/**
 * Provider endpoints through the outbound-request guard, and secrets bound to their destination
 * (issue 13, items 1 and 4). Real nodemailer against real SMTP servers (smtp-server) that record
 * every connection and every AUTH; the real Alibaba Cloud SDK against the signature-checking fake.
 */
interface RecordingSmtp {
  port: number;
  host: string;
  connections: number;
  logins: Array<{ username: string; password: string }>;
  mails: number;
  close(): Promise<void>;
}

async function startRecordingSmtp(host: string): Promise<RecordingSmtp> {
  const state = { connections: 0, logins: [] as RecordingSmtp["logins"], mails: 0 };
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    closeTimeout: 200,
    onConnect(_session, callback) {
      state.connections++;
      callback();
    },
    onAuth(auth, _session, callback) {
      state.logins.push({ username: auth.username ?? "", password: auth.password ?? "" });
      callback(null, { user: auth.username });
    },
    onData(stream, _session, callback) {
      stream.resume();
      stream.on("end", () => {
        state.mails++;
        callback();
      });
    },
  });
  await new Promise<void>((ok) => server.listen(0, host, ok));
  const port = (server.server.address() as AddressInfo).port;
  return Object.assign(state, { port, host, close: () => new Promise<void>((ok) => server.close(() => ok())) });
}

const AK = { accessKeyId: "LTAI5tGuard", accessKeySecret: "guard-secret" };
let guarded: TestApp;
let allowed: TestApp;
let first: RecordingSmtp;
let second: RecordingSmtp;
let sms: AliyunSmsFake;

beforeAll(async () => {
  [guarded, allowed, first, second, sms] = await Promise.all([
    startTestApp({ env: { WAYPOST_SECRET_KEY: "guard-test-secret-key-0123456789abcdef" } }),
    // The loopback servers stand for internal services this deployment allows explicitly.
    startTestApp({ env: { WAYPOST_SECRET_KEY: "guard-test-secret-key-0123456789abcdef", WAYPOST_OUTBOUND_ALLOW: "127.0.0.1, 127.0.0.2" } }),
    startRecordingSmtp("127.0.0.1"),
    startRecordingSmtp("127.0.0.2"),
    startAliyunSmsFake(AK),
  ]);
  sms.signNames.add("路标商城");
  sms.templates.set("SMS_1", "验证码${code}");
});

afterAll(async () => {
  for (const app of [guarded, allowed]) {
    await app?.services.channels?.close();
    await app?.close();
  }
  await Promise.all([first?.close(), second?.close(), sms?.close()]);
});

const runtimeOf = (app: TestApp): ChannelsRuntime => (app.services.channels ??= createChannelsRuntime(app.services, { aliyunProtocol: "http", timeoutMs: 2_000 }));
const mail = { subject: "test", text: "hello" };

describe("provider endpoints go through the outbound-request guard", () => {
  it("refuses an SMTP host on an internal address unless allowlisted: nothing connects, the test send says why", async () => {
    const runtime = runtimeOf(guarded);
    const ws = guarded.workspaceId;
    for (const host of ["127.0.0.1", "localhost", "2130706433", "[::ffff:127.0.0.1]"]) {
      await saveProviderSettings(guarded.services.db, runtime.key(), { workspaceId: ws, channel: "email", provider: "smtp", config: { host, port: first.port, user: "ops", from: "ops@example.com" }, secrets: { pass: "s3cret" } });
      await runtime.registry.invalidate(ws);
      const result = await runtime.messaging.sendTestMessage(ws, "email", "someone@example.com", mail);
      expect(result, host).toMatchObject({ status: "failed", reason: "provider_rejected", providerCode: "destination_refused" });
      expect(result.detail, host).toMatch(/Destination refused.*WAYPOST_OUTBOUND_ALLOW/);
    }
    expect(first.connections).toBe(0);
    expect(first.logins).toEqual([]);
  });

  it("refuses an Alibaba Cloud endpoint on an internal address unless allowlisted", async () => {
    const runtime = runtimeOf(guarded);
    const ws = guarded.workspaceId;
    await saveProviderSettings(guarded.services.db, runtime.key(), {
      workspaceId: ws,
      channel: "sms",
      provider: "aliyun-sms",
      config: { accessKeyId: AK.accessKeyId, signName: "路标商城", endpoint: sms.endpoint },
      secrets: { accessKeySecret: AK.accessKeySecret },
    });
    await runtime.registry.invalidate(ws);
    const result = await runtime.messaging.sendTestMessage(ws, "sms", "+86 13800000001", { body: "验证码1234", templateCode: "SMS_1", templateParams: { code: "1234" } });
    expect(result).toMatchObject({ status: "failed", reason: "provider_rejected", providerCode: "destination_refused" });
    expect(sms.requests).toEqual([]);

    // The same settings with the endpoint allowlisted reach the fake.
    const open = runtimeOf(allowed);
    await saveProviderSettings(allowed.services.db, open.key(), {
      workspaceId: allowed.workspaceId,
      channel: "sms",
      provider: "aliyun-sms",
      config: { accessKeyId: AK.accessKeyId, signName: "路标商城", endpoint: sms.endpoint },
      secrets: { accessKeySecret: AK.accessKeySecret },
    });
    const sent = await open.messaging.sendTestMessage(allowed.workspaceId, "sms", "+86 13800000001", { body: "验证码1234", templateCode: "SMS_1", templateParams: { code: "1234" } });
    expect(sent.status).toBe("sent");
    expect(sms.requests).toHaveLength(1);
  });
});

describe("secrets are bound to their destination", () => {
  it("a changed SMTP host or port drops the stored password unless it is entered again in the same save", async () => {
    const runtime = runtimeOf(allowed);
    const { db } = allowed.services;
    const ws = allowed.workspaceId;
    const save = async (config: Record<string, unknown>, secrets?: Record<string, string>) => {
      await saveProviderSettings(db, runtime.key(), { workspaceId: ws, channel: "email", provider: "smtp", config: { user: "ops", from: "ops@example.com", ...config }, secrets });
      await runtime.registry.invalidate(ws);
    };
    const secretsSet = async () => (await listProviderSettings(db, runtime.key(), ws)).find((p) => p.channel === "email")!.secretsSet;

    await save({ host: "127.0.0.1", port: first.port }, { pass: "s3cret" });
    expect((await runtime.messaging.sendTestMessage(ws, "email", "a@example.com", mail)).status).toBe("sent");
    expect(first.logins).toEqual([{ username: "ops", password: "s3cret" }]);

    // Another field (the sender) changes: the password stays.
    await save({ host: "127.0.0.1", port: first.port, from: "news@example.com" });
    expect(await secretsSet()).toEqual(["pass"]);
    // Same host written differently (case, trailing dot): still the same destination.
    await save({ host: "127.0.0.1.", port: first.port });
    expect(await secretsSet()).toEqual(["pass"]);

    // The developer re-saves only host and port: the stored password is dropped, never sent there.
    await save({ host: "127.0.0.2", port: second.port });
    expect(await secretsSet()).toEqual([]);
    await runtime.messaging.sendTestMessage(ws, "email", "b@example.com", mail);
    expect(second.logins.map((l) => l.password)).not.toContain("s3cret");

    // A changed port alone is another destination too.
    await save({ host: "127.0.0.2", port: second.port }, { pass: "new-pass" });
    expect(await secretsSet()).toEqual(["pass"]);
    await save({ host: "127.0.0.2", port: first.port });
    expect(await secretsSet()).toEqual([]);

    // Entered again in the same save: kept and used.
    await save({ host: "127.0.0.2", port: second.port }, { pass: "new-pass" });
    second.logins.length = 0;
    expect((await runtime.messaging.sendTestMessage(ws, "email", "c@example.com", mail)).status).toBe("sent");
    expect(second.logins).toEqual([{ username: "ops", password: "new-pass" }]);
    expect(first.logins).toEqual([{ username: "ops", password: "s3cret" }]);
  });

  it("a changed Alibaba Cloud endpoint needs the AccessKey secret again; without it the save is refused and nothing changes", async () => {
    const runtime = runtimeOf(allowed);
    const { db } = allowed.services;
    const ws = allowed.workspaceId;
    const before = (await listProviderSettings(db, runtime.key(), ws)).find((p) => p.channel === "sms")!;
    expect(before.secretsSet).toEqual(["accessKeySecret"]);
    const moved = { accessKeyId: AK.accessKeyId, signName: "路标商城", endpoint: "127.0.0.2:9" };
    await expect(saveProviderSettings(db, runtime.key(), { workspaceId: ws, channel: "sms", provider: "aliyun-sms", config: moved })).rejects.toThrow(/accessKeySecret/);
    const after = (await listProviderSettings(db, runtime.key(), ws)).find((p) => p.channel === "sms")!;
    expect(after).toEqual(before);
    // The endpoint written as the default it already was keeps the secret; a new endpoint with the secret entered saves.
    await saveProviderSettings(db, runtime.key(), { workspaceId: ws, channel: "sms", provider: "aliyun-sms", config: { ...moved, endpoint: sms.endpoint, signName: "路标" } });
    await saveProviderSettings(db, runtime.key(), { workspaceId: ws, channel: "sms", provider: "aliyun-sms", config: moved, secrets: { accessKeySecret: "other" } });
    expect((await listProviderSettings(db, runtime.key(), ws)).find((p) => p.channel === "sms")).toMatchObject({ config: moved, secretsSet: ["accessKeySecret"] });
  });
});
