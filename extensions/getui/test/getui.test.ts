/**
 * Wire-level tests of the Getui provider against a loopback server that speaks and verifies
 * Getui RestAPI v2 (fake-getui.ts): auth and token refresh, push bodies (notification vs
 * transmission, vendor channels, strategy), error codes, vendor length limits, receipts and the
 * quota. Run with `npx vitest run extensions/getui`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runProviderForTest } from "waypost/extension/testing";
import extension, { getuiPush } from "../src/index";
import { authSign, requestIdFor } from "../src/wire";
import { startGetuiFake, type GetuiFake } from "./fake-getui";

let fake: GetuiFake;
const config = (over: Record<string, unknown> = {}) => ({ appId: fake.appId, appKey: fake.appKey, baseUrl: fake.baseUrl, ...over });
const secrets = () => ({ masterSecret: fake.masterSecret });
const handles: Array<{ close(): Promise<void> }> = [];
const run = (over: Record<string, unknown> = {}, s: Record<string, unknown> = secrets(), options: { timeoutMs?: number } = {}) => {
  const h = runProviderForTest(getuiPush, { config: config(over), secrets: s, timeoutMs: options.timeoutMs });
  handles.push(h);
  return h;
};

beforeAll(async () => {
  fake = await startGetuiFake();
  fake.devices.set("cid-online", { vendor: "xm", online: true });
  fake.devices.set("cid-offline", { vendor: "vv", online: false });
  fake.devices.set("cid-idle", { vendor: "op", online: false, inactive: true });
  fake.devices.set("cid-iphone", { vendor: "ios", online: false });
});
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
});
afterAll(async () => {
  await fake?.close();
});

describe("the extension", () => {
  it("default-exports an extension of API 1 with the provider", () => {
    expect(extension).toMatchObject({ kind: "waypost.extension", apiVersion: 1 });
    expect(extension.providers).toEqual([getuiPush]);
    expect(getuiPush).toMatchObject({ id: "getui.push", channel: "push", capabilities: { idempotency: "native", deliveryReports: "callback" } });
  });

  it("refuses settings that do not fit, naming the field", () => {
    expect(() => run({ strategy: { default: 9 } })).toThrow(/config\.strategy\.default/);
    expect(() => run({}, {})).toThrow(/secrets\.masterSecret/);
  });
});

describe("auth", () => {
  it("signs sha256(appkey + timestamp + mastersecret), caches the token and sends it in the token header", async () => {
    const before = fake.authCalls.length;
    const h = run();
    expect(await h.send({ to: "cid-online", content: { title: "你好", body: "第一条" } })).toMatchObject({ ok: true, state: "sent" });
    expect(await h.send({ to: "cid-online", content: { title: "你好", body: "第二条" } })).toMatchObject({ ok: true });
    const calls = fake.authCalls.slice(before);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.ok).toBe(true);
    const body = calls[0]!.body as { sign: string; timestamp: string; appkey: string };
    expect(body.timestamp).toMatch(/^\d{13}$/);
    expect(body.sign).toBe(authSign(fake.appKey, body.timestamp, fake.masterSecret));
    const [auth, push1, push2] = h.requests;
    expect(auth!.url).toBe(`${fake.baseUrl}/${fake.appId}/auth`);
    expect(push1!.headers.token).toMatch(/^[0-9a-f]{32}$/);
    expect(push2!.headers.token).toBe(push1!.headers.token);
  });

  it("a 10001 answer (token expired or revoked) gets a fresh token and the push goes through once", async () => {
    const h = run();
    await h.send({ to: "cid-online", content: { title: "t", body: "b" } });
    fake.expireTokens();
    const pushesBefore = fake.pushes.length;
    expect(await h.send({ to: "cid-online", content: { title: "t", body: "after expiry" } })).toMatchObject({ ok: true });
    expect(fake.requests.slice(-3).map((r) => `${r.path.split("/").slice(3).join("/")}:${r.code}`)).toEqual(["push/single/cid:10001", "auth:0", "push/single/cid:0"]);
    expect(fake.pushes.length - pushesBefore).toBe(1);
  });

  it("a wrong master secret is refused by Getui's auth and reported, not thrown", async () => {
    const h = run({}, { masterSecret: "wrong" });
    const outcome = await h.send({ to: "cid-online", content: { title: "t", body: "b" } });
    expect(outcome).toMatchObject({ ok: false, reason: "provider_rejected", providerCode: "20001" });
    expect(fake.authCalls.at(-1)).toMatchObject({ ok: false });
  });
});

describe("push to a client id", () => {
  it("notification: title, body and a web link as click_type url, vendor channel copy for Android, strategy passed through", async () => {
    const h = run({ strategy: { default: 4, xm: 2 }, ttlMs: 3_600_000, xiaomiChannelId: "wp_marketing" });
    const outcome = await h.send({ to: "cid-online", idempotencyKey: "journey-1:node-push:user-1", content: { title: "我们想你了", body: "送你一张 ¥10 优惠券", deepLink: "https://shop.example/coupon" } });
    expect(outcome).toMatchObject({ ok: true, state: "sent" });
    const push = fake.pushes.at(-1)!;
    expect(outcome.ok && outcome.providerMessageId).toBe(push.taskId);
    expect(push.requestId).toBe(requestIdFor("journey-1:node-push:user-1"));
    expect(push.body).toMatchObject({
      settings: { ttl: 3_600_000, strategy: { default: 4, xm: 2 } },
      audience: { cid: ["cid-online"] },
      push_message: { notification: { title: "我们想你了", body: "送你一张 ¥10 优惠券", click_type: "url", url: "https://shop.example/coupon" } },
      push_channel: { android: { ups: { notification: { title: "我们想你了", click_type: "url" }, options: { XM: { "/extra.channel_id": "wp_marketing" } } } } },
    });
    expect(push.body.push_channel).not.toHaveProperty("ios");
  });

  it("transmission: the app gets the payload (our message id, data, title and body); vendor channels still show the copy", async () => {
    const h = run({ messageType: "transmission" });
    await h.send({ to: "cid-offline", messageId: "0190f0f0-0000-7000-8000-000000000001", content: { title: "订单已发货", body: "点击查看物流", deepLink: "myapp://orders/42", data: { orderId: "42" } } });
    const push = fake.pushes.at(-1)!;
    expect(push.status).toBe("successed_offline");
    const message = push.body.push_message as { transmission: string; notification?: unknown };
    expect(message.notification).toBeUndefined();
    expect(JSON.parse(message.transmission)).toEqual({ wp_mid: "0190f0f0-0000-7000-8000-000000000001", deep_link: "myapp://orders/42", orderId: "42", title: "订单已发货", body: "点击查看物流" });
    expect(push.body.push_channel).toMatchObject({ android: { ups: { notification: { title: "订单已发货", body: "点击查看物流", click_type: "payload" } } } });
  });

  it("iOS: the APNs block (aps.alert, payload, badge) instead of Android's", async () => {
    const h = run();
    await h.send({ to: "cid-iphone", platform: "ios", category: "transactional", content: { title: "验证码", body: "您的验证码是 1234" } });
    const push = fake.pushes.at(-1)!;
    expect(push.body.push_channel).toMatchObject({ ios: { type: "notify", aps: { alert: { title: "验证码", body: "您的验证码是 1234" }, sound: "default" }, auto_badge: "+1" } });
    expect(push.body.push_channel).not.toHaveProperty("android");
  });

  it("the same idempotency key is the same request_id: a retry is answered, not pushed again", async () => {
    const h = run();
    const first = await h.send({ to: "cid-online", idempotencyKey: "retry-me", content: { title: "t", body: "once" } });
    const pushes = fake.pushes.length;
    const again = await h.send({ to: "cid-online", idempotencyKey: "retry-me", content: { title: "t", body: "once" } });
    expect(again).toEqual(first);
    expect(fake.pushes.length).toBe(pushes);
  });

  it("maps Getui's answers onto loss reasons", async () => {
    const h = run({}, secrets(), { timeoutMs: 300 });
    expect(await h.send({ to: "cid-unknown", content: { title: "t", body: "b" } })).toMatchObject({ ok: false, reason: "invalid_token", retireAddress: true, providerCode: "20001" });
    expect(await h.send({ to: "cid-idle", content: { title: "t", body: "b" } })).toMatchObject({ ok: false, reason: "invalid_token", providerCode: "successed_ignore" });
    fake.queueFaults({ http: 401, code: 10005, msg: "每分钟调用频率超限" });
    expect(await h.send({ to: "cid-online", content: { title: "t", body: "b" } })).toMatchObject({ ok: false, reason: "rate_limited", retryable: true, retryAfterMs: 60_000 });
    fake.queueFaults({ http: 403, code: 30001, msg: "套餐相关" });
    expect(await h.send({ to: "cid-online", content: { title: "t", body: "b" } })).toMatchObject({ ok: false, reason: "quota_exceeded", retryable: false });
    fake.queueFaults({ http: 500, code: 2, msg: "服务正在启动" });
    expect(await h.send({ to: "cid-online", content: { title: "t", body: "b" } })).toMatchObject({ ok: false, reason: "provider_unavailable", retryable: true });
    fake.queueFaults("hang");
    expect(await h.send({ to: "cid-online", content: { title: "t", body: "b" } })).toMatchObject({ ok: false, reason: "timeout", retryable: true, maybeDelivered: true });
  });

  it("the fake refuses a malformed body the way Getui does (our bodies pass its checks above)", async () => {
    const h = run();
    await h.send({ to: "cid-online", content: { title: "t", body: "b" } });
    const token = h.requests.at(-1)!.headers.token!;
    const bad = await fetch(`${fake.baseUrl}/${fake.appId}/push/single/cid`, {
      method: "POST",
      headers: { token, "content-type": "application/json" },
      body: JSON.stringify({ request_id: "short", audience: { cid: ["cid-online"] }, push_message: { notification: { title: "t", body: "b", click_type: "startapp" } } }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ code: 20001, msg: "request_id is invalid" });
  });
});

describe("vendor limits", () => {
  const longTitle = "双十一限时抢购开启全场商品低至五折起还有更多惊喜"; // 24 characters

  it("cuts the copy to the strictest enabled vendor and reports which rule cut it", () => {
    const h = run({ vendors: ["xm", "vv"] });
    const result = h.limits({ title: longTitle, body: "好".repeat(130) });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    // vivo: 40 units, a Chinese character counts 2 → 19 characters and "…".
    expect([...result.content.title!].length).toBe(20);
    expect(result.content.title!.endsWith("…")).toBe(true);
    expect(result.truncations.map((t) => `${t.field}:${t.limit}:${t.rule}`)).toEqual([
      "title:40:getui.push: vivo title (a Chinese character counts 2)",
      "body:128:getui.push: Xiaomi body",
      "body:100:getui.push: vivo body (a Chinese character counts 2)",
    ]);
  });

  it("refuses as too long when the node does not allow truncation, naming the vendor", () => {
    const h = run({ vendors: ["vv"] });
    expect(h.limits({ title: longTitle, body: "b" }, { truncate: false })).toEqual({
      ok: false,
      issue: { field: "title", length: 48, limit: 40, truncated: false, rule: "getui.push: vivo title (a Chinese character counts 2)" },
    });
  });

  it("iOS devices only get Getui's own limits; Huawei-only apps only the channel's", () => {
    const h = run({ vendors: ["vv"] });
    expect(h.limits({ title: longTitle, body: "b" }, { platform: "ios" })).toMatchObject({ ok: true, truncations: [] });
    const hw = run({ vendors: ["hw"] });
    expect(hw.limits({ title: longTitle, body: "好".repeat(200) })).toMatchObject({ ok: true, truncations: [] });
  });
});

describe("receipts", () => {
  it("turns Getui's signed receipt lines into delivery states and loss reasons", async () => {
    const h = run();
    const result = await h.callback({
      body: fake.receiptBody([
        { cid: "cid-online", taskid: "RASS_1_a", code: "200", recvtime: 1_717_000_000_000 },
        { cid: "cid-iphone", taskid: "RASS_1_b", code: "400", desc: "推送苹果接口失败" },
        { cid: "cid-gone", taskid: "RASS_1_c", code: "401" },
      ]),
    });
    expect(result.response.status).toBe(200);
    expect(result.receipts).toEqual([
      { providerMessageId: "RASS_1_a", address: "cid-online", providerCode: "200", at: new Date(1_717_000_000_000), state: "delivered" },
      expect.objectContaining({ providerMessageId: "RASS_1_b", address: "cid-iphone", state: "failed", reason: "not_delivered", detail: "推送苹果接口失败" }),
      expect.objectContaining({ providerMessageId: "RASS_1_c", state: "failed", reason: "invalid_token" }),
    ]);
  });

  it("drops lines with a forged sign or another app's id; a body with nothing genuine is answered 403", async () => {
    const h = run();
    const mixed = await h.callback({ body: fake.receiptBody([{ cid: "cid-online", taskid: "T1", code: "200", forge: true }, { cid: "cid-online", taskid: "T2", code: "200" }]) });
    expect(mixed.receipts.map((r) => r.providerMessageId)).toEqual(["T2"]);
    const forged = await h.callback({ body: fake.receiptBody([{ cid: "cid-online", taskid: "T3", code: "200", forge: true }]) });
    expect(forged).toMatchObject({ receipts: [], response: { status: 403 } });
    const otherApp = fake.receiptBody([{ cid: "cid-online", taskid: "T4", code: "200" }]).replace(fake.appId, "someoneElse");
    expect((await h.callback({ body: otherApp })).receipts).toEqual([]);
  });
});

describe("today's quota (查询推送量)", () => {
  it("reads the push count and stops sends the quota cannot cover, without calling Getui's push", async () => {
    fake.quota.set("xm", { total_num: 1000, remain_num: 2, limit: false });
    fake.quota.set("vv", { total_num: 5000, remain_num: 4000, push_num: 1000, limit: false });
    const h = run({ vendors: ["xm", "vv", "hw"] });
    expect(await h.quota()).toMatchObject({ remaining: 2, limited: false, detail: { xm: { remain_num: 2 }, vv: { remain_num: 4000 } } });
    const quotaCalls = fake.quotaCalls;
    expect(await h.send({ to: "cid-online", content: { title: "t", body: "1" } })).toMatchObject({ ok: true });
    expect(await h.send({ to: "cid-online", content: { title: "t", body: "2" } })).toMatchObject({ ok: true });
    // The reading (2 left) is counted down locally: the third send is refused before the push.
    const pushes = fake.pushes.length;
    expect(await h.send({ to: "cid-online", content: { title: "t", body: "3" } })).toMatchObject({ ok: false, reason: "quota_exceeded", providerCode: "quota_remaining" });
    expect(fake.pushes.length).toBe(pushes);
    expect(fake.quotaCalls - quotaCalls).toBe(1); // one reading for the three sends (60 s cache)
    // A large send asks again at once; Xiaomi now reports the limit reached.
    const batch = Array.from({ length: 100 }, (_, i) => ({ to: "cid-online", content: { title: "t", body: `b${i}` } }));
    const outcomes = await h.sendBatch(batch);
    expect(fake.quotaCalls - quotaCalls).toBe(2);
    expect(outcomes.every((o) => !o.ok && o.reason === "quota_exceeded" && o.providerCode === "quota_limited")).toBe(true);
    expect(fake.pushes.length).toBe(pushes);
    fake.quota.clear();
  });

  it("vendors outside quotaVendors do not stop sends", async () => {
    fake.quota.set("mz", { total_num: 10, remain_num: 0, limit: true });
    const h = run({ vendors: ["xm", "mz"], quotaVendors: ["xm"] });
    expect(await h.quota()).toMatchObject({ remaining: null, limited: false });
    expect(await h.send({ to: "cid-online", content: { title: "t", body: "b" } })).toMatchObject({ ok: true });
    fake.quota.clear();
  });
});
