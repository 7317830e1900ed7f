import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import type { ChannelProvider, OutboundMessage } from "../../nodes/channels/provider";
import { createSandboxProvider } from "../../nodes/channels/sandbox/provider";
import { createTestDb, type TestDb } from "../support/db";
import { createUser, createWorkspace, harness, historyStates, messageRow, request } from "./support";

let db: TestDb;
let ws: string;
beforeAll(async () => {
  db = await createTestDb();
  ws = await createWorkspace(db, "Asia/Shanghai");
});
afterAll(() => db.drop());

const at = (iso: string) => () => new Date(iso);
const NOON_SH = at("2024-06-01T04:00:00Z");

function recording(channel: "push" | "sms" | "email") {
  const sent: OutboundMessage[] = [];
  return { sent, provider: createSandboxProvider(channel, (m) => sent.push(m)) };
}

describe("consent and unsubscribes", () => {
  it("stops marketing SMS without opt-in, lets the transactional notice through", async () => {
    await createUser(db, ws, "c1", { consent: { sms: { marketing: false } } });
    const { service, nodeEvents } = harness(db, { now: NOON_SH });
    const content = { body: "您的车费已扣除 3 元" };
    const m = await service.sendMessage(request(ws, { userId: "c1", channel: "sms", content }));
    expect(m).toMatchObject({ status: "failed", reason: "no_consent" });
    expect(await historyStates(db, m.messageId!)).toEqual(["queued", "failed:no_consent"]);
    expect(nodeEvents.at(-1)).toMatchObject({ state: "failed", reason: "no_consent" });
    expect(await service.sendMessage(request(ws, { userId: "c1", channel: "sms", category: "transactional", content }))).toMatchObject({ status: "sent" });
  });

  it("a 回TD退订 opt-out stops marketing SMS to that number however it is written", async () => {
    await createUser(db, ws, "td", { phone: "+86 139-0000-1111" });
    const { service } = harness(db, { now: NOON_SH });
    await service.optOut(ws, "sms", "13900001111", "sms_reply");
    expect(await service.sendMessage(request(ws, { userId: "td", channel: "sms", content: { body: "促销" } }))).toMatchObject({ status: "failed", reason: "unsubscribed" });
    expect(await service.sendMessage(request(ws, { userId: "td", channel: "sms", category: "transactional", content: { body: "验证码 1234" } }))).toMatchObject({ status: "sent" });
  });

  it("a hard bounce stops even transactional email", async () => {
    await createUser(db, ws, "bounce", { email: "Gone@Example.com" });
    const bouncing: ChannelProvider = {
      ...createSandboxProvider("email"),
      id: "bouncer",
      send: async () => ({ ok: false, reason: "bounced", retryable: false, retireAddress: true, providerCode: "550" }),
    };
    const first = await harness(db, { now: NOON_SH, providers: { email: bouncing } }).service.sendMessage(
      request(ws, { userId: "bounce", channel: "email", category: "transactional", content: { subject: "收据", html: "<p>x</p>" } }),
    );
    expect(first).toMatchObject({ status: "failed", reason: "bounced" });
    const again = await harness(db, { now: NOON_SH }).service.sendMessage(
      request(ws, { userId: "bounce", channel: "email", category: "transactional", content: { subject: "收据", html: "<p>x</p>" } }),
    );
    expect(again).toMatchObject({ status: "failed", reason: "invalid_address" });
  });
});

describe("quiet hours", () => {
  it("defers a marketing push at 23:00 Shanghai to 08:00, and skips it when the node says skip", async () => {
    await createUser(db, ws, "night");
    const { service } = harness(db, { now: at("2024-06-01T15:00:00Z") });
    const deferred = await service.sendMessage(request(ws, { userId: "night" }));
    expect(deferred).toEqual({ status: "deferred", messageId: expect.any(String), deferUntil: Date.parse("2024-06-02T00:00:00Z"), reason: "quiet_hours" });
    expect(await historyStates(db, deferred.messageId!)).toEqual(["queued", "queued:quiet_hours"]);
    expect(await service.sendMessage(request(ws, { userId: "night", quietHours: "skip" }))).toMatchObject({ status: "failed", reason: "quiet_hours" });
  });

  it("the deferred message goes out when the engine calls again after deferUntil", async () => {
    await createUser(db, ws, "later");
    let clock = new Date("2024-06-01T15:00:00Z");
    const { service } = harness(db, { now: () => clock });
    const req = request(ws, { userId: "later" });
    const first = await service.sendMessage(req);
    clock = new Date(first.deferUntil!);
    const second = await service.sendMessage({ ...req });
    expect(second).toEqual({ status: "sent", messageId: first.messageId });
  });

  it("uses each user's zone: the same instant is quiet in Shanghai and daytime in Berlin; invalid zones use the workspace's", async () => {
    await createUser(db, ws, "sh", { timezone: "Asia/Shanghai" });
    await createUser(db, ws, "berlin", { timezone: "Europe/Berlin" });
    await createUser(db, ws, "bogus", { timezone: "Not/AZone" });
    const { service } = harness(db, { now: at("2024-06-01T13:30:00Z") }); // 21:30 Shanghai, 15:30 Berlin
    expect((await service.sendMessage(request(ws, { userId: "sh" }))).status).toBe("deferred");
    expect((await service.sendMessage(request(ws, { userId: "berlin" }))).status).toBe("sent");
    expect(await service.sendMessage(request(ws, { userId: "bogus" }))).toMatchObject({ status: "deferred", deferUntil: Date.parse("2024-06-02T00:00:00Z") });
    // By day the fallback user is sent to, and the fallback is recorded with the send.
    const day = await harness(db, { now: NOON_SH }).service.sendMessage(request(ws, { userId: "bogus" }));
    const [sent] = await query<{ detail: unknown }>(db.db, sql`select detail from message_state_history where message_id = ${day.messageId} and state = 'sent'`);
    expect(typeof sent!.detail === "string" ? JSON.parse(sent!.detail) : sent!.detail).toEqual({ zoneFallback: "Asia/Shanghai" });
  });
});

describe("frequency caps across journeys", () => {
  it("allows at most 2 marketing pushes per user per local day, whichever journey sends them", async () => {
    await createUser(db, ws, "freq");
    const { service } = harness(db, { now: NOON_SH });
    const a1 = await service.sendMessage(request(ws, { userId: "freq", journeyId: "journey-a" }));
    const b1 = await service.sendMessage(request(ws, { userId: "freq", journeyId: "journey-b" }));
    const a2 = await service.sendMessage(request(ws, { userId: "freq", journeyId: "journey-a" }));
    const notice = await service.sendMessage(request(ws, { userId: "freq", journeyId: "journey-b", category: "transactional" }));
    expect([a1.status, b1.status, a2.status, notice.status]).toEqual(["sent", "sent", "failed", "sent"]);
    expect(a2.reason).toBe("frequency_capped");
    // Next local day (00:30 Shanghai) the cap starts again.
    const tomorrow = harness(db, { now: at("2024-06-01T16:30:00Z"), policy: { quietHours: { enabled: false } } });
    expect((await tomorrow.service.sendMessage(request(ws, { userId: "freq" }))).status).toBe("sent");
  });

  it("holds under concurrency: 10 parallel sends from two journeys, exactly 2 go out", async () => {
    await createUser(db, ws, "burst");
    const { service } = harness(db, { now: NOON_SH });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => service.sendMessage(request(ws, { userId: "burst", journeyId: i % 2 ? "journey-a" : "journey-b" }))),
    );
    expect(results.filter((r) => r.status === "sent")).toHaveLength(2);
    expect(results.filter((r) => r.reason === "frequency_capped")).toHaveLength(8);
  });

  it("gives the slot back when the message does not reach the user", async () => {
    await createUser(db, ws, "giveback");
    const failing: ChannelProvider = { ...createSandboxProvider("push"), id: "failing", send: async () => ({ ok: false, reason: "provider_rejected", retryable: false }) };
    await harness(db, { now: NOON_SH, providers: { push: failing } }).service.sendMessage(request(ws, { userId: "giveback" }));
    const { service } = harness(db, { now: NOON_SH });
    expect((await service.sendMessage(request(ws, { userId: "giveback" }))).status).toBe("sent");
    expect((await service.sendMessage(request(ws, { userId: "giveback" }))).status).toBe("sent");
    expect((await service.sendMessage(request(ws, { userId: "giveback" }))).reason).toBe("frequency_capped");
    const [counter] = await query<{ count: number }>(db.db, sql`select count from frequency_counters where user_id = 'giveback'`);
    expect(Number(counter!.count)).toBe(2);
  });
});

describe("send-rate limit", () => {
  it("paces sends through a token bucket and defers what would wait too long", async () => {
    for (let i = 0; i < 4; i++) await createUser(db, ws, `rate${i}`);
    const waits: number[] = [];
    const { provider } = recording("push");
    const { service } = harness(db, {
      now: NOON_SH, // a frozen clock: tokens never refill, so the waits are exact
      providers: { push: provider },
      policy: { rateLimits: { sandbox: { perSecond: 10, burst: 2 } }, rateLimitMaxWaitMs: 150, frequencyCaps: [] },
      deps: { sleep: async (ms) => void waits.push(ms) },
    });
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await service.sendMessage(request(ws, { userId: `rate${i}` })));
    expect(results.map((r) => r.status)).toEqual(["sent", "sent", "sent", "deferred"]);
    expect(waits).toEqual([100]);
    expect(results[3]).toMatchObject({ reason: "rate_limited", deferUntil: NOON_SH().getTime() + 200 });
  });
});

describe("truncation", () => {
  it("truncates an over-long push title and records what was cut", async () => {
    await createUser(db, ws, "long");
    const { provider, sent } = recording("push");
    const { service } = harness(db, { now: NOON_SH, providers: { push: provider } });
    const res = await service.sendMessage(request(ws, { userId: "long", content: { title: "限".repeat(80), body: "b" } }));
    expect(res.status).toBe("sent");
    expect([...sent.at(-1)!.content.title!]).toHaveLength(50);
    const row = await messageRow(db, res.messageId!);
    expect(row.truncations).toEqual([{ field: "title", length: 80, limit: 50, truncated: true }]);
  });

  it("refuses an over-long SMS by default (it would lose 回TD退订) and when the node forbids cutting", async () => {
    await createUser(db, ws, "longsms");
    const { service } = harness(db, { now: NOON_SH, providerOptions: { smsMaxParts: 1 } });
    const body = "限时红包".repeat(20) + " 回TD退订";
    expect(await service.sendMessage(request(ws, { userId: "longsms", channel: "sms", content: { body } }))).toMatchObject({ status: "failed", reason: "too_long" });
    expect(await service.sendMessage(request(ws, { userId: "longsms", channel: "push", truncate: false, content: { title: "t".repeat(51), body: "b" } }))).toMatchObject({ status: "failed", reason: "too_long" });
    const cut = await service.sendMessage(request(ws, { userId: "longsms", channel: "sms", truncate: true, content: { body } }));
    expect(cut.status).toBe("sent");
  });
});

describe("channel fallback (短信补量)", () => {
  it("push fails → the journey's SMS goes out; analytics see one failed push and one delivered SMS", async () => {
    await createUser(db, ws, "fallback", { tokens: ["stale-token"] });
    const dead: ChannelProvider = {
      ...createSandboxProvider("push"),
      id: "fcm-like",
      send: async () => ({ ok: false, reason: "invalid_token", retryable: false, retireAddress: true, providerCode: "messaging/registration-token-not-registered" }),
    };
    const { service, nodeEvents, userEvents } = harness(db, { now: NOON_SH, providers: { push: dead } });
    const push = await service.sendMessage(request(ws, { userId: "fallback", nodeId: "push-1", instanceId: "i-fb" }));
    expect(push).toMatchObject({ status: "failed", reason: "invalid_token" });
    // The node's "failed" output leads to the SMS node.
    const sms = await service.sendMessage(request(ws, { userId: "fallback", nodeId: "sms-1", instanceId: "i-fb", channel: "sms", content: { body: "红包到账 回TD退订" } }));
    expect(sms.status).toBe("sent");
    const counts = nodeEvents.filter((e) => e.instanceId === "i-fb").map((e) => `${e.nodeId}:${e.state}${e.reason ? `:${e.reason}` : ""}`);
    expect(counts).toEqual(["push-1:failed:invalid_token", "sms-1:sent", "sms-1:delivered"]);
    expect(userEvents.filter((e) => e.properties.instanceId === "i-fb").map((e) => e.properties.nodeId)).toEqual(["sms-1"]);
  });
});
