import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import { createDeliveryHandlers } from "../../nodes/channels/delivery.server";
import { deriveSecretKey, decryptSecret } from "../../nodes/channels/secrets.server";
import { createMessagingService, type InternalUserEvent, type MessageNodeEvent } from "../../nodes/channels/send.server";
import { parseAllowlist } from "../../nodes/net/outbound.server";
import { createProviderRegistry, listProviderSettings, saveProviderSettings, savePolicySettings, type ProviderRegistry } from "../../nodes/channels/settings.server";
import { createTestDb, type TestDb } from "../support/db";
import { startAliyunSmsFake, type AliyunSmsFake } from "../fakes/aliyun-sms-server";
import { startFcmFake, type FcmFake } from "../fakes/fcm-server";
import { startSmtpFake, type SmtpFake } from "../fakes/smtp-server";
import { createUser, createWorkspace, historyStates, messageRow, request } from "./support";

// The whole path with real parts: encrypted settings in Postgres → registry → real client
// libraries → loopback servers speaking each protocol. Only Google's OAuth token endpoint is
// replaced (a fixed access token), since it is unreachable here.
const key = deriveSecretKey("test-secret-key-material-0123456789abcdef");
const trackingSecret = "tracking-secret-for-tests";
let db: TestDb;
let ws: string;
let fcm: FcmFake;
let sms: AliyunSmsFake;
let smtp: SmtpFake;
let registry: ProviderRegistry;
const nodeEvents: MessageNodeEvent[] = [];
const userEvents: InternalUserEvent[] = [];
let clock = new Date("2024-06-01T04:00:00Z");

const AK = { accessKeyId: "LTAI5tE2E", accessKeySecret: "e2e-secret-value" };

beforeAll(async () => {
  [db, fcm, sms, smtp] = await Promise.all([createTestDb(), startFcmFake(), startAliyunSmsFake(AK), startSmtpFake()]);
  sms.signNames.add("路标商城");
  sms.templates.set("SMS_1001", "${name}，红包${amount}元已到账，回TD退订");
  ws = await createWorkspace(db);
  await saveProviderSettings(db.db, key, {
    workspaceId: ws,
    channel: "push",
    provider: "fcm",
    config: { projectId: "wp-e2e" },
    secrets: { clientEmail: "svc@wp-e2e.iam.gserviceaccount.com", privateKey: "-----BEGIN PRIVATE KEY-----\nnot-used-in-tests\n-----END PRIVATE KEY-----\n" },
  });
  await saveProviderSettings(db.db, key, { workspaceId: ws, channel: "sms", provider: "aliyun-sms", config: { accessKeyId: AK.accessKeyId, signName: "路标商城", endpoint: sms.endpoint }, secrets: { accessKeySecret: AK.accessKeySecret } });
  await saveProviderSettings(db.db, key, {
    workspaceId: ws,
    channel: "email",
    provider: "smtp",
    config: { host: "127.0.0.1", port: smtp.port, from: "路标商城 <news@shop.example.com>", trackingBaseUrl: "https://wp.example.com", unsubscribeMailto: "unsub@shop.example.com" },
    secrets: {},
  });
  await savePolicySettings(db.db, ws, { frequencyCaps: [] });
  registry = createProviderRegistry({
    db: db.db,
    key,
    fcmHttpAgent: fcm.agent(),
    fcmCredential: { getAccessToken: async () => ({ access_token: "ya29.e2e", expires_in: 3600 }) },
    aliyunProtocol: "http",
    timeoutMs: 400,
    // The loopback fakes are internal addresses: allowed explicitly, as a deployment would.
    outboundAllow: parseAllowlist("127.0.0.1"),
  });
});
afterAll(async () => {
  await registry.close();
  await Promise.all([fcm.close(), sms.close(), smtp.close()]);
  await db.drop();
});

const service = () =>
  createMessagingService({
    db: db.db,
    providers: registry.resolve,
    recordNodeEvent: (e) => void nodeEvents.push(e),
    emitEvent: (e) => void userEvents.push(e),
    trackingSecret,
    now: () => clock,
    retry: { baseDelayMs: 1 },
  });

describe("settings at rest", () => {
  it("stores secrets encrypted, shows only which are set, and binds ciphertext to its row", async () => {
    const [row] = await query<{ secrets: string }>(db.db, sql`select secrets from channel_settings where workspace_id = ${ws} and kind = 'sms'`);
    expect(row!.secrets).toMatch(/^v1\./);
    expect(row!.secrets).not.toContain(AK.accessKeySecret);
    expect(JSON.parse(decryptSecret(key, row!.secrets, `${ws}/sms`))).toEqual({ accessKeySecret: AK.accessKeySecret });
    expect(() => decryptSecret(key, row!.secrets, `${ws}/email`)).toThrow();
    const views = await listProviderSettings(db.db, key, ws);
    expect(views.find((v) => v.channel === "sms")).toMatchObject({ provider: "aliyun-sms", secretsSet: ["accessKeySecret"] });
    expect(JSON.stringify(views)).not.toContain(AK.accessKeySecret);
  });

  it("keeps a stored secret when the form is saved without it", async () => {
    await saveProviderSettings(db.db, key, { workspaceId: ws, channel: "sms", provider: "aliyun-sms", config: { accessKeyId: AK.accessKeyId, signName: "路标商城", endpoint: sms.endpoint }, secrets: { accessKeySecret: "" } });
    const [row] = await query<{ secrets: string }>(db.db, sql`select secrets from channel_settings where workspace_id = ${ws} and kind = 'sms'`);
    expect(JSON.parse(decryptSecret(key, row!.secrets, `${ws}/sms`))).toEqual({ accessKeySecret: AK.accessKeySecret });
    await registry.invalidate(ws);
  });
});

describe("push through firebase-admin to the FCM fake", () => {
  it("sends, retires an unregistered token, and does not deliver a timed-out retry twice", async () => {
    await createUser(db, ws, "p1", { tokens: ["fcm-good"] });
    const ok = await service().sendMessage(request(ws, { userId: "p1", content: { title: "我们想你了", body: "¥10 券", deepLink: "app://coupons" } }));
    expect(ok.status).toBe("sent");
    const wire = fcm.requests.at(-1)!.body.message;
    expect(wire).toMatchObject({ token: "fcm-good", notification: { title: "我们想你了", body: "¥10 券" }, data: { deep_link: "app://coupons", wp_mid: ok.messageId } });
    expect(await messageRow(db, ok.messageId!)).toMatchObject({ state: "sent", provider: "fcm", provider_message_id: expect.stringMatching(/^projects\/wp-e2e\/messages\//) });

    await createUser(db, ws, "p2", { tokens: ["fcm-gone"] });
    fcm.tokenFaults.set("fcm-gone", "unregistered");
    const gone = await service().sendMessage(request(ws, { userId: "p2" }));
    expect(gone).toMatchObject({ status: "failed", reason: "invalid_token" });
    const [token] = await query<{ retired_reason: string }>(db.db, sql`select retired_reason from device_tokens where token = 'fcm-gone'`);
    expect(token!.retired_reason).toBe("invalid_token");

    await createUser(db, ws, "p3", { tokens: ["fcm-slow"] });
    const before = fcm.requests.length;
    const deliveredBefore = fcm.delivered.length;
    fcm.queueFaults("hang");
    // FCM was slow, not dead: once the retry has arrived, the first request lands too.
    const release = (async () => {
      while (fcm.requests.length - before < 2) await new Promise((r) => setTimeout(r, 10));
      fcm.releaseHung();
    })();
    const slow = await service().sendMessage(request(ws, { userId: "p3" }));
    await release;
    expect(slow.status).toBe("sent");
    await new Promise((r) => setTimeout(r, 100));
    expect(fcm.requests.length - before).toBe(2);
    expect(fcm.delivered.length - deliveredBefore).toBe(1);
  });
});

describe("SMS through the Alibaba Cloud SDK to the signature-checking fake", () => {
  it("sends by template, then a report callback marks it delivered and wakes waiting instances", async () => {
    await createUser(db, ws, "s1", { phone: "+86 138 0000 0001" });
    const res = await service().sendMessage(
      request(ws, { userId: "s1", channel: "sms", nodeId: "sms-node", content: { body: "${name}，红包${amount}元已到账，回TD退订", templateCode: "SMS_1001", "param.name": "林", "param.amount": "10" } }),
    );
    expect(res.status).toBe("sent");
    const req = sms.requests.at(-1)!;
    expect(req.signatureValid).toBe(true);
    expect(req.params).toMatchObject({ PhoneNumbers: "13800000001", SignName: "路标商城", TemplateCode: "SMS_1001", OutId: res.messageId });
    expect(JSON.parse(req.params.TemplateParam!)).toEqual({ name: "林", amount: "10" });
    expect(sms.sent.at(-1)!.content).toBe("【路标商城】林，红包10元已到账，回TD退订");
    const stored = await messageRow(db, res.messageId!);
    expect(stored.content).toMatchObject({ body: "林，红包10元已到账，回TD退订", signName: "路标商城" });

    const handlers = createDeliveryHandlers({ db: db.db, messaging: service(), providers: registry.resolve, trackingSecret, now: () => clock });
    const ack = await handlers.smsReport([
      { phone_number: "13800000001", send_time: "2024-06-01 12:00:00", report_time: "2024-06-01 12:00:04", success: true, err_code: "DELIVERED", err_msg: "用户接收成功", sms_size: "1", biz_id: stored.provider_message_id, out_id: res.messageId },
    ]);
    expect(ack).toEqual({ code: 0, msg: "成功" });
    expect(await historyStates(db, res.messageId!)).toEqual(["queued", "sent", "delivered"]);
    expect(userEvents.at(-1)).toMatchObject({ name: "$message.delivered", userId: "s1", properties: { messageId: res.messageId, nodeId: "sms-node" } });
    // A repeated callback changes nothing and emits nothing.
    const count = userEvents.length;
    await handlers.smsReport([{ phone_number: "13800000001", success: true, err_code: "DELIVERED", out_id: res.messageId }]);
    expect(userEvents.length).toBe(count);
  });

  it("polls QuerySendDetails for receipts the callback missed", async () => {
    await createUser(db, ws, "s2", { phone: "13800000002" });
    sms.receiptFor.set("13800000002", "MK:0001");
    clock = new Date(); // the fake dates receipts by the real clock
    const res = await service().sendMessage(request(ws, { userId: "s2", channel: "sms", category: "transactional", content: { body: "x", templateCode: "SMS_1001", templateParams: { name: "a", amount: "1" } } }));
    const handlers = createDeliveryHandlers({ db: db.db, messaging: service(), providers: registry.resolve, trackingSecret, now: () => new Date(clock.getTime() + 120_000) });
    expect(await handlers.pollSmsReceipts(ws)).toBe(1);
    expect(await messageRow(db, res.messageId!)).toMatchObject({ state: "failed", failure_reason: "not_delivered", provider_code: "MK:0001" });
    // A waiting instance learns at once that the SMS will not arrive (decision 0110).
    expect(userEvents.at(-1)).toMatchObject({ name: "$message.failed", userId: "s2", properties: { messageId: res.messageId, reason: "not_delivered" } });
    expect(sms.requests.at(-1)!.action).toBe("QuerySendDetails");
    clock = new Date("2024-06-01T04:00:00Z");
  });

  it("maps isv.AMOUNT_NOT_ENOUGH to quota_exceeded on the message", async () => {
    await createUser(db, ws, "s3", { phone: "13800000003" });
    sms.balance = 0;
    const res = await service().sendMessage(request(ws, { userId: "s3", channel: "sms", content: { body: "x", templateCode: "SMS_1001", templateParams: { name: "a", amount: "1" } } }));
    sms.balance = Number.POSITIVE_INFINITY;
    expect(res).toMatchObject({ status: "failed", reason: "quota_exceeded" });
    expect(await messageRow(db, res.messageId!)).toMatchObject({ provider_code: "isv.AMOUNT_NOT_ENOUGH" });
  });

  it("turns a TD reply into an opt-out for marketing SMS", async () => {
    await createUser(db, ws, "s4", { phone: "+8613800000004" });
    const handlers = createDeliveryHandlers({ db: db.db, messaging: service(), providers: registry.resolve, trackingSecret });
    await handlers.smsReplies(ws, [{ phone_number: "13800000004", send_time: "2024-06-01 12:00:00", content: "TD", sign_name: "路标商城", dest_code: "1", sequence_id: 1 }]);
    const res = await service().sendMessage(request(ws, { userId: "s4", channel: "sms", content: { body: "x", templateCode: "SMS_1001", templateParams: { name: "a", amount: "1" } } }));
    expect(res).toMatchObject({ status: "failed", reason: "unsubscribed" });
  });
});

describe("email through nodemailer to smtp-server", () => {
  it("tracks opens and clicks through signed links and honours one-click unsubscribe", async () => {
    await createUser(db, ws, "e1", { email: "e1@example.com" });
    const res = await service().sendMessage(
      request(ws, { userId: "e1", channel: "email", nodeId: "email-node", content: { subject: "本周好物", html: '<p>你好</p><a href="https://shop.example.com/p/1">看看</a>' } }),
    );
    expect(res.status).toBe("sent");
    const mail = smtp.mails.at(-1)!;
    expect(mail.headers["list-unsubscribe-post"]).toBe("List-Unsubscribe=One-Click");
    const handlers = createDeliveryHandlers({ db: db.db, messaging: service(), providers: registry.resolve, trackingSecret, now: () => clock });
    const pixel = new URL(/<img src="([^"]+)"/.exec(mail.html!)![1]!).pathname;
    const click = new URL(/href="([^"]+)"/.exec(mail.html!)![1]!).pathname;
    expect(await handlers.trackingHit(pixel)).toMatchObject({ status: 200, kind: "open", contentType: "image/gif" });
    expect(await handlers.trackingHit(click)).toEqual({ status: 302, kind: "click", location: "https://shop.example.com/p/1" });
    expect(await handlers.trackingHit(pixel)).toMatchObject({ status: 200 }); // a second open changes nothing
    expect(await historyStates(db, res.messageId!)).toEqual(["queued", "sent", "opened", "clicked"]);
    const events = nodeEvents.filter((e) => e.messageId === res.messageId).map((e) => e.state);
    expect(events).toEqual(["sent", "delivered", "opened", "clicked"]);
    expect(await handlers.trackingHit(click.replace(/.$/, (c) => (c === "A" ? "B" : "A")))).toEqual({ status: 400 });

    const unsubscribe = new URL(/<(https:[^>]+)>/.exec(mail.headers["list-unsubscribe"]!)![1]!).pathname;
    expect(await handlers.trackingHit(unsubscribe)).toEqual({ status: 200, kind: "unsubscribe" });
    const next = await service().sendMessage(request(ws, { userId: "e1", channel: "email", content: { subject: "再看看", html: "<p>x</p>" } }));
    expect(next).toMatchObject({ status: "failed", reason: "unsubscribed" });
  });
});

describe("support and settings helpers", () => {
  it("finds a user's messages by phone however it is typed, with state and failure reason", async () => {
    const { searchMessages, messageHistory } = await import("../../nodes/channels/store.server");
    const byPhone = await searchMessages(db.db, ws, { phone: "+86 138-0000-0003" });
    expect(byPhone).toEqual([expect.objectContaining({ userId: "s3", channel: "sms", state: "failed", failureReason: "quota_exceeded", providerCode: "isv.AMOUNT_NOT_ENOUGH" })]);
    const byUser = await searchMessages(db.db, ws, { userId: "s1" });
    expect(byUser[0]!.content).toMatchObject({ body: "林，红包10元已到账，回TD退订" });
    expect((await messageHistory(db.db, byUser[0]!.id)).map((h) => h.state)).toEqual(["queued", "sent", "delivered"]);
    const page = await searchMessages(db.db, ws, { limit: 2 });
    const next = await searchMessages(db.db, ws, { limit: 2, before: { createdAt: page[1]!.createdAt, id: page[1]!.id } });
    expect(next.map((m) => m.id)).not.toContain(page[0]!.id);
    expect(next.map((m) => m.id)).not.toContain(page[1]!.id);
  });

  it("sends a test message straight to the provider and reports the provider's own code", async () => {
    const ok = await service().sendTestMessage(ws, "sms", "+86 13800000009", { body: "测试", templateCode: "SMS_1001", templateParams: { name: "测", amount: "0" } });
    expect(ok.status).toBe("sent");
    expect(sms.requests.at(-1)!.params).toMatchObject({ PhoneNumbers: "13800000009", SignName: "路标商城" });
    const bad = await service().sendTestMessage(ws, "sms", "12345", { body: "x", templateCode: "SMS_1001", templateParams: { name: "a", amount: "1" } });
    expect(bad).toMatchObject({ status: "failed", reason: "invalid_address", providerCode: "isv.MOBILE_NUMBER_ILLEGAL" });
  });
});

describe("late email bounce", () => {
  it("fails the sent message as bounced, wakes waiting instances and suppresses the address", async () => {
    await createUser(db, ws, "e2", { email: "Later.Gone@example.com" });
    const res = await service().sendMessage(request(ws, { userId: "e2", channel: "email", content: { subject: "你好", html: "<p>x</p>" } }));
    expect(res.status).toBe("sent");
    const handlers = createDeliveryHandlers({ db: db.db, messaging: service(), providers: registry.resolve, trackingSecret, now: () => clock });
    const returned = smtp.mails.at(-1)!.raw.split("\r\n\r\n")[0];
    const dsn = `Content-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; later.gone@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n${returned}`;
    expect(await handlers.emailBounce(dsn)).toBe(true);
    expect(await messageRow(db, res.messageId!)).toMatchObject({ state: "failed", failure_reason: "bounced", provider_code: "5.1.1" });
    expect(userEvents.at(-1)).toMatchObject({ name: "$message.failed", properties: { messageId: res.messageId, reason: "bounced" } });
    const next = await service().sendMessage(request(ws, { userId: "e2", channel: "email", category: "transactional", content: { subject: "收据", html: "<p>x</p>" } }));
    expect(next).toMatchObject({ status: "failed", reason: "invalid_address" });
    expect(await handlers.emailBounce(dsn)).toBe(false); // already failed: nothing changes
  });
});
