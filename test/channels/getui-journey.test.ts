import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppServices } from "../../app/services.server";
import { providerCallback } from "../../app/channels/provider-callbacks.server";
import { query } from "../../db/client";
import { loadExtension } from "../../nodes/extension/loader.server";
import { getChannelProviderDefinition } from "../../nodes/channels/custom-providers.server";
import { parseAllowlist } from "../../nodes/net/outbound.server";
import { deriveSecretKey } from "../../nodes/channels/secrets.server";
import { createMessagingService, type MessageNodeEvent, type MessagingService } from "../../nodes/channels/send.server";
import { createProviderRegistry, savePolicySettings, saveProviderSettings, type ProviderRegistry } from "../../nodes/channels/settings.server";
import { upsertDeviceToken } from "../../nodes/channels/store.server";
import { buildJourney } from "../../workflows/builder";
import { createHarness, type EngineHarness } from "../engine/support";
import { startAliyunSmsFake, type AliyunSmsFake } from "../fakes/aliyun-sms-server";
import { startGetuiFake, type GetuiFake } from "../fakes/getui-server";

// 短信补量 through Getui, end to end on the embedded engine: the Getui extension is loaded the
// way WAYPOST_EXTENSIONS loads it, the workspace chooses it for push on its channel settings
// (stored encrypted, resolved by the settings registry through the outbound guard with a loopback
// allowlist), and a published journey's push node sends through it with all policies. A push
// Getui confirms by receipt (posted to the callback handler as Getui posts it) leaves by `sent`;
// one without a receipt within 2 hours leaves by `failed` (not_delivered) and the SMS node sends
// through the Alibaba Cloud fake; one the quota cannot cover falls back at once.
// The only stand-in: the callback token check (another engineer's signer) accepts one fixed token.
const T0 = Date.parse("2024-05-06T04:00:00.000Z"); // 12:00 in Shanghai, outside quiet hours
const HOUR = 3_600_000;
const AK = { accessKeyId: "LTAI5tGetuiJourney", accessKeySecret: "getui-journey-secret" };

let getui: GetuiFake;
let sms: AliyunSmsFake;
let h: EngineHarness;
let registry: ProviderRegistry;
let messaging: MessagingService;
let journeyId: string;
let services: AppServices;
const nodeEvents: MessageNodeEvent[] = [];
const CALLBACK_TOKEN = `callback-${randomBytes(6).toString("hex")}`;

const journey = () =>
  buildJourney({
    name: "个推召回 with SMS top-up",
    settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "api" } },
      { id: "push", type: "core.push", config: { title: "我们想你了，回来看看新品吧超值好物等你来抢", body: "送你一张 ¥10 优惠券", deliveryTimeoutMs: 2 * HOUR } },
      { id: "sms", type: "core.sms", config: { body: "${name}，10元红包已到账，回TD退订", templateCode: "SMS_2001", templateParams: { name: "{{ user.name }}" } } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "push"],
      ["push", "sent", "exit"],
      ["push", "failed", "sms"],
      ["sms", "sent", "exit"],
      ["sms", "failed", "exit"],
    ],
  });

async function addUser(id: string, cid: string, phone: string) {
  await h.insertUsers([{ id, traits: { name: id }, timezone: "Asia/Shanghai" }]);
  await query(
    h.db.db,
    sql`update users set phone = ${phone}, consent = ${JSON.stringify({ push: { marketing: true }, sms: { marketing: true } })}::jsonb
        where workspace_id = ${h.workspaceId} and id = ${id}`,
  );
  await upsertDeviceToken(h.db.db, { workspaceId: h.workspaceId, userId: id, token: cid, platform: "android" });
}

const left = async (userId: string) =>
  (await h.records(journeyId)).filter((r) => r.userId === userId && r.kind === "left").map((r) => `${r.nodeId}:${(r as { output: string }).output}`);

async function enter(userId: string) {
  await h.engine.handleEvents([await h.storeEvent(userId, "$api.trigger")]);
  await h.engine.runUntilIdle();
}

beforeAll(async () => {
  [getui, sms] = await Promise.all([startGetuiFake(), startAliyunSmsFake(AK)]);
  sms.signNames.add("路标商城");
  sms.templates.set("SMS_2001", "${name}，10元红包已到账，回TD退订");
  getui.devices.set("cid-receipt", { vendor: "xm", online: true });
  getui.devices.set("cid-silent", { vendor: "vv", online: false });
  getui.devices.set("cid-quota", { vendor: "op", online: false });

  const status = await loadExtension("./extensions/getui");
  expect(status).toMatchObject({ status: "loaded", name: "waypost-getui", providers: 1 });
  expect(getChannelProviderDefinition("getui.push")).toBeDefined();

  const key = deriveSecretKey("getui-journey-test-key-0123456789abcdef");
  h = await createHarness({ start: T0, engine: { actionServices: (workspaceId) => ({ sendMessage: messaging.forWorkspace(workspaceId) }) } });
  registry = createProviderRegistry({ db: h.db.db, key, outboundAllow: parseAllowlist(["127.0.0.1"]), aliyunProtocol: "http", timeoutMs: 2_000 });
  messaging = createMessagingService({
    db: h.db.db,
    providers: registry.resolve,
    now: h.clock.now,
    recordNodeEvent: (e) => void nodeEvents.push(e),
    emitEvent: (e) =>
      h.engine.handleEvents([
        { workspaceId: e.workspaceId, userId: e.userId, messageId: e.messageId, name: e.name, properties: { ...e.properties }, timestamp: e.timestamp.getTime() },
      ]),
  });
  await saveProviderSettings(h.db.db, key, {
    workspaceId: h.workspaceId,
    channel: "push",
    provider: "getui.push",
    config: { appId: getui.appId, appKey: getui.appKey, baseUrl: getui.baseUrl, vendors: ["xm", "vv", "op"], strategy: { default: 1, vv: 4 } },
    secrets: { masterSecret: getui.masterSecret },
  });
  await saveProviderSettings(h.db.db, key, {
    workspaceId: h.workspaceId,
    channel: "sms",
    provider: "aliyun-sms",
    config: { accessKeyId: AK.accessKeyId, signName: "路标商城", endpoint: sms.endpoint },
    secrets: { accessKeySecret: AK.accessKeySecret },
  });
  await savePolicySettings(h.db.db, h.workspaceId, { frequencyCaps: [], quietHours: { enabled: false } });
  const runtime = {
    registry,
    messaging,
    verifyCallbackToken: async (token: string, purpose: string) => (token === CALLBACK_TOKEN && purpose === "provider:getui.push" ? h.workspaceId : null),
  };
  services = { db: h.db.db, now: h.clock.now, log: { info() {}, warn() {}, error() {}, debug() {} }, channels: runtime } as unknown as AppServices;
  ({ journeyId } = await h.publish(journey()));
});
afterAll(async () => {
  await registry?.close();
  await h?.close();
  await Promise.all([getui?.close(), sms?.close()]);
});

describe("push via Getui → not delivered within 2 h → SMS", () => {
  it("a push Getui reports delivered (receipt callback) leaves by sent and no SMS is sent", async () => {
    await addUser("gt-1", "cid-receipt", "13800002001");
    await enter("gt-1");
    const push = getui.pushes.at(-1)!;
    expect(push.cid).toBe("cid-receipt");
    expect(push.body).toMatchObject({ settings: { strategy: { default: 1, vv: 4 } }, push_channel: { android: { ups: { notification: { body: "送你一张 ¥10 优惠券" } } } } });
    // vivo is enabled: the 21-character title is cut to vivo's 40 units, and the cut is on record.
    expect((push.body.push_message as { notification: { title: string } }).notification.title).toBe("我们想你了，回来看看新品吧超值好物等你…");
    const [message] = await query<{ id: string; provider: string; provider_message_id: string; state: string; detail: { truncations?: Array<{ rule?: string }> } | null }>(
      h.db.db,
      sql`select m.id, m.provider, m.provider_message_id, m.state, h.detail from messages m
          left join lateral (select detail from message_state_history where message_id = m.id and state = 'sent' limit 1) h on true
          where m.user_id = 'gt-1' and m.channel = 'push'`,
    );
    expect(message).toMatchObject({ provider: "getui.push", provider_message_id: push.taskId, state: "sent" });
    expect(message!.detail?.truncations?.map((t) => t.rule)).toEqual(["getui.push: vivo title (a Chinese character counts 2)"]);
    expect(await left("gt-1")).toEqual(["trigger:next"]); // waiting for the receipt

    h.clock.advance(10 * 60_000);
    const smsBefore = sms.sent.length;
    const url = `http://waypost.local/callbacks/provider/getui.push/${CALLBACK_TOKEN}`;
    const forged = await providerCallback(services, new Request(url, { method: "POST", body: getui.receiptBody([{ cid: "cid-receipt", taskid: push.taskId, code: "200", forge: true }]) }), "getui.push", CALLBACK_TOKEN);
    expect(forged.status).toBe(403);
    const wrongAddress = await providerCallback(services, new Request(url, { method: "POST", body: "x" }), "getui.push", "not-the-token");
    expect(wrongAddress.status).toBe(403);
    const res = await providerCallback(services, new Request(url, { method: "POST", body: getui.receiptBody([{ cid: "cid-receipt", taskid: push.taskId, code: "200" }]) }), "getui.push", CALLBACK_TOKEN);
    expect(res.status).toBe(200);
    await h.engine.runUntilIdle();
    expect((await left("gt-1")).slice(0, 2)).toEqual(["trigger:next", "push:sent"]);
    const [state] = await query<{ state: string }>(h.db.db, sql`select state from messages where id = ${message!.id}`);
    expect(state!.state).toBe("delivered");
    h.clock.advance(2 * HOUR);
    await h.engine.runUntilIdle();
    expect(sms.sent.length).toBe(smsBefore);
    expect(nodeEvents.filter((e) => e.userId === "gt-1").map((e) => `${e.nodeId}:${e.state}`)).toEqual(["push:sent", "push:delivered"]);
  });

  it("a push without a receipt within 2 hours is topped up by SMS (短信补量)", async () => {
    await addUser("gt-2", "cid-silent", "13800002002");
    await enter("gt-2");
    expect(getui.pushes.at(-1)!.status).toBe("successed_offline");
    expect(await left("gt-2")).toEqual(["trigger:next"]);
    const smsBefore = sms.sent.length;
    h.clock.advance(2 * HOUR + 1_000);
    await h.engine.runUntilIdle();
    expect((await left("gt-2")).slice(0, 3)).toEqual(["trigger:next", "push:failed", "sms:sent"]);
    const pushLeft = (await h.records(journeyId)).find((r) => r.userId === "gt-2" && r.kind === "left" && r.nodeId === "push");
    expect(pushLeft).toMatchObject({ output: "failed", reason: "not_delivered" });
    expect(sms.sent.length - smsBefore).toBe(1);
    expect(sms.sent.at(-1)).toMatchObject({ phone: "13800002002", content: "【路标商城】gt-2，10元红包已到账，回TD退订" });
  });

  it("when today's quota cannot cover the push, nothing goes to Getui and the SMS goes out at once", async () => {
    getui.quota.set("op", { total_num: 100, remain_num: 0, limit: true });
    // A new settings version so the registry builds a fresh provider (its quota reading is cached a minute).
    await registry.invalidate(h.workspaceId);
    await addUser("gt-3", "cid-quota", "13800002003");
    const pushes = getui.pushes.length;
    await enter("gt-3");
    expect(getui.pushes.length).toBe(pushes);
    expect((await left("gt-3")).slice(0, 3)).toEqual(["trigger:next", "push:failed", "sms:sent"]);
    const [row] = await query<{ failure_reason: string; provider_code: string }>(h.db.db, sql`select failure_reason, provider_code from messages where user_id = 'gt-3' and channel = 'push'`);
    expect(row).toMatchObject({ failure_reason: "quota_exceeded", provider_code: "quota_limited" });
    getui.quota.clear();
  });
});
