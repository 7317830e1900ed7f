import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFcmProvider, collapseId } from "../../nodes/channels/fcm/provider.server";
import type { ChannelProvider, OutboundMessage } from "../../nodes/channels/provider";
import { startFcmFake, type FcmFake } from "../fakes/fcm-server";

// The real firebase-admin client talks HTTPS to a loopback server holding a certificate for
// fcm.googleapis.com. The only stand-in is the OAuth credential: Google's token endpoint is
// unreachable here, so a fixed access token is supplied (the Authorization header is asserted).
let fake: FcmFake;
let fcm: ChannelProvider;

const push = (over: Partial<OutboundMessage> = {}): OutboundMessage => ({
  messageId: "msg-1",
  idempotencyKey: "journey-1:node-1:user-1",
  channel: "push",
  category: "marketing",
  to: "token-ok",
  content: { title: "我们想你了", body: "送你一张 ¥10 优惠券", data: { coupon: "WB10" } },
  ...over,
});

beforeAll(async () => {
  fake = await startFcmFake();
  fcm = createFcmProvider({
    projectId: "waypost-test",
    credential: { getAccessToken: async () => ({ access_token: "ya29.test-token", expires_in: 3600 }) },
    httpAgent: fake.agent(),
    timeoutMs: 500,
    android: { channelId: "promotions" },
  });
});
afterAll(async () => {
  await fcm.close?.();
  await fake.close();
});

describe("FCM provider on the wire", () => {
  it("sends notification + data with Android and iOS options, exactly as FCM v1 expects", async () => {
    const before = fake.requests.length;
    const outcome = await fcm.send(push());
    expect(outcome).toMatchObject({ ok: true, state: "sent" });
    expect(outcome.ok && outcome.providerMessageId).toMatch(/^projects\/waypost-test\/messages\//);
    const req = fake.requests[before]!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/v1/projects/waypost-test/messages:send");
    expect(req.headers.authorization).toBe("Bearer ya29.test-token");
    expect(req.body).toEqual({
      message: {
        token: "token-ok",
        notification: { title: "我们想你了", body: "送你一张 ¥10 优惠券" },
        data: { coupon: "WB10", wp_mid: "msg-1" },
        android: { priority: "high", ttl: "86400s", notification: { channel_id: "promotions" } },
        apns: {
          headers: { "apns-collapse-id": collapseId("journey-1:node-1:user-1"), "apns-priority": "5" },
          payload: { aps: { sound: "default" } },
        },
      },
    });
  });

  it("maps an unregistered token to invalid_token and asks to retire it", async () => {
    fake.tokenFaults.set("token-gone", "unregistered");
    const outcome = await fcm.send(push({ to: "token-gone", messageId: "m-gone", idempotencyKey: "k-gone" }));
    expect(outcome).toMatchObject({
      ok: false,
      reason: "invalid_token",
      retireAddress: true,
      retryable: false,
      providerCode: "messaging/registration-token-not-registered",
    });
  });

  it("maps a malformed token (INVALID_ARGUMENT) to invalid_token", async () => {
    fake.tokenFaults.set("not-a-token", "invalid_argument");
    const outcome = await fcm.send(push({ to: "not-a-token", messageId: "m-bad", idempotencyKey: "k-bad" }));
    expect(outcome).toMatchObject({ ok: false, reason: "invalid_token", retireAddress: true });
  });

  it("maps QUOTA_EXCEEDED (429) to a retryable rate_limited", async () => {
    fake.queueFaults("quota_exceeded");
    const outcome = await fcm.send(push({ messageId: "m-q", idempotencyKey: "k-q" }));
    expect(outcome).toMatchObject({ ok: false, reason: "rate_limited", retryable: true });
  });

  it("lets firebase-admin retry a 503 itself and succeeds", async () => {
    const before = fake.requests.length;
    fake.queueFaults("unavailable");
    const outcome = await fcm.send(push({ messageId: "m-503", idempotencyKey: "k-503" }));
    expect(outcome).toMatchObject({ ok: true });
    expect(fake.requests.length - before).toBe(2);
  });

  it("times out a hung request and a retry with the same key is shown once", async () => {
    const before = fake.requests.length;
    const deliveredBefore = fake.delivered.length;
    fake.queueFaults("hang");
    const message = push({ messageId: "m-hang", idempotencyKey: "k-hang" });
    const first = await fcm.send(message);
    expect(first).toMatchObject({ ok: false, reason: "timeout", retryable: true });
    // FCM was only slow: the first request lands after all.
    fake.releaseHung();
    const second = await fcm.send(message);
    expect(second).toMatchObject({ ok: true });
    expect(fake.requests.length - before).toBe(2);
    expect(fake.requests[before]!.body.message.apns?.headers?.["apns-collapse-id"]).toBe(
      fake.requests[before + 1]!.body.message.apns?.headers?.["apns-collapse-id"],
    );
    expect(fake.delivered.length - deliveredBefore).toBe(1);
  });

  it("batches through sendEach (one HTTP/1.1 request per message) with per-message outcomes", async () => {
    fake.tokenFaults.set("token-dead", "unregistered");
    const before = fake.requests.length;
    const outcomes = await fcm.sendBatch([
      push({ to: "token-a", messageId: "b1", idempotencyKey: "kb1" }),
      push({ to: "token-dead", messageId: "b2", idempotencyKey: "kb2" }),
      push({ to: "token-c", messageId: "b3", idempotencyKey: "kb3", category: "transactional" }),
    ]);
    expect(outcomes.map((o) => (o.ok ? "ok" : o.reason))).toEqual(["ok", "invalid_token", "ok"]);
    const batch = fake.requests.slice(before);
    expect(batch.map((r) => r.body.message.token).sort()).toEqual(["token-a", "token-c", "token-dead"]);
    expect(batch.find((r) => r.body.message.token === "token-c")!.body.message.apns?.headers?.["apns-priority"]).toBe("10");
  });
});
