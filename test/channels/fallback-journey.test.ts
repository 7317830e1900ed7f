import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import { createAliyunSmsProvider } from "../../nodes/channels/aliyun-sms/provider.server";
import { createDeliveryHandlers } from "../../nodes/channels/delivery.server";
import { createFcmProvider } from "../../nodes/channels/fcm/provider.server";
import { policySettingsSchema } from "../../nodes/channels/policies/settings";
import type { ChannelProvider } from "../../nodes/channels/provider";
import { createMessagingService, type MessageNodeEvent, type MessagingService } from "../../nodes/channels/send.server";
import { upsertDeviceToken } from "../../nodes/channels/store.server";
import { buildJourney } from "../../workflows/builder";
import { createHarness, type EngineHarness } from "../engine/support";
import { startAliyunSmsFake, type AliyunSmsFake } from "../fakes/aliyun-sms-server";
import { startFcmFake, type FcmFake } from "../fakes/fcm-server";

// 短信补量 end to end: the embedded engine runs a published journey whose push node falls back to
// SMS; messages go through the real send service and the real firebase-admin / Alibaba Cloud SDK
// clients to the loopback fakes. Only Google's OAuth token endpoint is stood in for.
const T0 = Date.parse("2024-05-06T04:00:00.000Z"); // 12:00 in Shanghai, outside quiet hours
const HOUR = 3_600_000;
const AK = { accessKeyId: "LTAI5tFallback", accessKeySecret: "fallback-secret" };

let fcm: FcmFake;
let sms: AliyunSmsFake;
let push: ChannelProvider;
let text: ChannelProvider;
let h: EngineHarness;
let messaging: MessagingService;
let journeyId: string;
const nodeEvents: MessageNodeEvent[] = [];

const journey = () =>
  buildJourney({
    name: "win-back with SMS top-up",
    settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "api" } },
      { id: "push", type: "core.push", config: { title: "我们想你了", body: "送你一张 ¥10 优惠券", deliveryTimeoutMs: 2 * HOUR } },
      {
        id: "sms",
        type: "core.sms",
        config: { body: "${name}，10元红包已到账，回TD退订", templateCode: "SMS_2001", templateParams: { name: "{{ user.name }}" } },
      },
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

async function addUser(id: string, token: string, phone: string) {
  await h.insertUsers([{ id, traits: { name: id }, timezone: "Asia/Shanghai" }]);
  await query(
    h.db.db,
    sql`update users set phone = ${phone}, consent = ${JSON.stringify({ push: { marketing: true }, sms: { marketing: true } })}::jsonb
        where workspace_id = ${h.workspaceId} and id = ${id}`,
  );
  await upsertDeviceToken(h.db.db, { workspaceId: h.workspaceId, userId: id, token, platform: "android" });
}

const left = async (journeyId: string, userId: string) =>
  (await h.records(journeyId))
    .filter((r) => r.userId === userId && r.kind === "left")
    .map((r) => `${r.nodeId}:${(r as { output: string }).output}`);

beforeAll(async () => {
  [fcm, sms] = await Promise.all([startFcmFake(), startAliyunSmsFake(AK)]);
  sms.signNames.add("路标商城");
  sms.templates.set("SMS_2001", "${name}，10元红包已到账，回TD退订");
  push = createFcmProvider({
    projectId: "wp-fallback",
    credential: { getAccessToken: async () => ({ access_token: "ya29.fallback", expires_in: 3600 }) },
    httpAgent: fcm.agent(),
    timeoutMs: 2_000,
  });
  text = createAliyunSmsProvider({ ...AK, signName: "路标商城", endpoint: sms.endpoint, protocol: "http" });
  h = await createHarness({ start: T0, engine: { actionServices: (workspaceId) => ({ sendMessage: messaging.forWorkspace(workspaceId) }) } });
  const policy = policySettingsSchema.parse({});
  messaging = createMessagingService({
    db: h.db.db,
    providers: async (_ws, channel) => ({ provider: channel === "push" ? push : text, options: { signName: "路标商城" } }),
    policies: async () => policy,
    now: h.clock.now,
    recordNodeEvent: (e) => void nodeEvents.push(e),
    // Delivery reports reach waiting instances as user events, as the app wires it.
    emitEvent: (e) =>
      h.engine.handleEvents([
        { workspaceId: e.workspaceId, userId: e.userId, messageId: e.messageId, name: e.name, properties: { ...e.properties }, timestamp: e.timestamp.getTime() },
      ]),
  });
  ({ journeyId } = await h.publish(journey()));
});
afterAll(async () => {
  await h?.close();
  await push?.close?.();
  await Promise.all([fcm?.close(), sms?.close()]);
});

describe("push → SMS fallback journey", () => {
  it("an uninstalled app's push fails at once and the SMS goes out; analytics count both", async () => {
    fcm.tokenFaults.set("token-uninstalled", "unregistered");
    await addUser("lapsed-1", "token-uninstalled", "+86 138 0000 1001");
    await h.engine.handleEvents([await h.storeEvent("lapsed-1", "$api.trigger")]);
    await h.engine.runUntilIdle();

    expect((await left(journeyId, "lapsed-1")).slice(0, 3)).toEqual(["trigger:next", "push:failed", "sms:sent"]);
    expect(fcm.requests.at(-1)!.body.message.token).toBe("token-uninstalled");
    const sent = sms.sent.at(-1)!;
    expect(sent).toMatchObject({ phone: "13800001001", templateCode: "SMS_2001", params: { name: "lapsed-1" } });
    expect(sent.content).toBe("【路标商城】lapsed-1，10元红包已到账，回TD退订");

    // The Alibaba report callback confirms delivery; analytics then see the whole funnel.
    const delivery = createDeliveryHandlers({ db: h.db.db, messaging, providers: async (_ws, c) => ({ provider: c === "push" ? push : text, options: {} }), trackingSecret: "t" });
    const [row] = await query<{ id: string; provider_message_id: string }>(h.db.db, sql`select id, provider_message_id from messages where user_id = 'lapsed-1' and channel = 'sms'`);
    await delivery.smsReport([{ phone_number: "13800001001", success: true, err_code: "DELIVERED", biz_id: row!.provider_message_id, out_id: row!.id, report_time: "2024-05-06 12:00:09" }]);
    const funnel = nodeEvents.filter((e) => e.userId === "lapsed-1").map((e) => `${e.nodeId}:${e.state}${e.reason ? `:${e.reason}` : ""}`);
    expect(funnel).toEqual(["push:failed:invalid_token", "sms:sent", "sms:delivered"]);
    const [token] = await query<{ retired_reason: string }>(h.db.db, sql`select retired_reason from device_tokens where token = 'token-uninstalled'`);
    expect(token!.retired_reason).toBe("invalid_token");
  });

  it("a push accepted by FCM but not reported delivered within 2 hours is topped up by SMS (短信补量)", async () => {
    await addUser("lapsed-2", "token-silent", "13800001002");
    await h.engine.handleEvents([await h.storeEvent("lapsed-2", "$api.trigger")]);
    await h.engine.runUntilIdle();
    expect(fcm.delivered.at(-1)!.token).toBe("token-silent");
    expect(await left(journeyId, "lapsed-2")).toEqual(["trigger:next"]); // waiting for the delivery report
    const smsBefore = sms.sent.length;

    h.clock.advance(2 * HOUR + 1_000);
    await h.engine.runUntilIdle();
    expect((await left(journeyId, "lapsed-2")).slice(0, 3)).toEqual(["trigger:next", "push:failed", "sms:sent"]);
    const pushLeft = (await h.records(journeyId)).find((r) => r.userId === "lapsed-2" && r.kind === "left" && r.nodeId === "push");
    expect(pushLeft).toMatchObject({ output: "failed", reason: "not_delivered" });
    expect(sms.sent.length - smsBefore).toBe(1);
    expect(sms.sent.at(-1)!.phone).toBe("13800001002");
  });
});
