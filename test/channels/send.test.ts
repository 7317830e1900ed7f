import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import type { ChannelProvider, OutboundMessage, ProviderOutcome } from "../../nodes/channels/provider";
import type { ActionServices } from "../../nodes/runtime";
import { createTestDb, type TestDb } from "../support/db";
import { createUser, createWorkspace, harness, historyStates, messageRow, request } from "./support";

let db: TestDb;
let ws: string;

beforeAll(async () => {
  db = await createTestDb();
  ws = await createWorkspace(db);
});
afterAll(() => db.drop());

/**
 * A provider that records calls and answers from a script. The unit under test is the service's
 * handling of answer sequences (timeout then success, a crash mid-call) that the wire fakes cannot
 * produce on cue; the real clients against the fakes are covered in fcm/aliyun-sms/smtp and
 * providers-e2e tests.
 */
function scripted(channel: "push" | "sms" | "email", answers: Array<ProviderOutcome | ((m: OutboundMessage) => ProviderOutcome)>, idempotency: ChannelProvider["capabilities"]["idempotency"] = "none") {
  const calls: OutboundMessage[] = [];
  const provider: ChannelProvider = {
    id: `scripted-${channel}`,
    channel,
    capabilities: { batch: false, maxBatchSize: 1, idempotency, deliveryReports: "none" },
    async send(m) {
      calls.push(m);
      const next = answers.length > 1 ? answers.shift()! : answers[0]!;
      return typeof next === "function" ? next(m) : next;
    },
    async sendBatch(ms) {
      return Promise.all(ms.map((m) => provider.send(m)));
    },
  };
  return { provider, calls };
}

const noon = () => new Date("2024-06-01T04:00:00Z"); // 12:00 in Shanghai

describe("sendMessage through the sandbox", () => {
  it("plugs into the node runtime as ActionServices.sendMessage", async () => {
    await createUser(db, ws, "runtime-user");
    const { service } = harness(db, { now: noon });
    // Type-level contract with nodes/runtime.ts: this line stops compiling if the shapes drift.
    const send: ActionServices["sendMessage"] = service.forWorkspace(ws);
    const res = await send({
      channel: "sms",
      category: "transactional",
      content: { body: "${name}，您的车费 3 元已扣除", templateCode: "SMS_9", "param.name": "林" },
      nodeId: "n",
      instanceId: "i-rt",
      journeyId: "j",
      userId: "runtime-user",
      idempotencyKey: "i-rt:n:1",
    });
    expect(res.status).toBe("sent");
    expect((await messageRow(db, res.messageId!)).content).toMatchObject({ body: "林，您的车费 3 元已扣除", templateParams: { name: "林" } });
  });

  it("stores the copy, records sent + delivered, and emits $message.delivered", async () => {
    await createUser(db, ws, "u1");
    const { service, nodeEvents, userEvents } = harness(db, { now: noon });
    const req = request(ws, { content: { title: "Hi {{x}}", body: "送你 ¥10", "data.coupon": "WB10" } });
    const res = await service.sendMessage(req);
    expect(res).toEqual({ status: "sent", messageId: expect.any(String) });
    const row = await messageRow(db, res.messageId!);
    expect(row).toMatchObject({ state: "delivered", provider: "sandbox", address: "token-u1", channel: "push", journey_id: "journey-a" });
    expect(row.content).toEqual({ title: "Hi {{x}}", body: "送你 ¥10", data: { coupon: "WB10" } });
    expect(await historyStates(db, res.messageId!)).toEqual(["queued", "sent", "delivered"]);
    expect(nodeEvents.map((e) => e.state)).toEqual(["sent", "delivered"]);
    expect(nodeEvents[0]).toMatchObject({ eventId: `${res.messageId}:sent`, nodeId: "node-push", instanceId: req.instanceId, journeyId: "journey-a", userId: "u1" });
    expect(userEvents).toEqual([
      expect.objectContaining({
        name: "$message.delivered",
        userId: "u1",
        messageId: `$message.delivered:${res.messageId}`,
        properties: { messageId: res.messageId, instanceId: req.instanceId, nodeId: "node-push", journeyId: "journey-a", channel: "push" },
      }),
    ]);
  });

  it("fails with missing_address when the user has no token / phone / email or does not exist", async () => {
    await createUser(db, ws, "no-token", { tokens: [] });
    const { service } = harness(db, { now: noon });
    expect(await service.sendMessage(request(ws, { userId: "no-token" }))).toMatchObject({ status: "failed", reason: "missing_address" });
    expect(await service.sendMessage(request(ws, { userId: "nobody" }))).toMatchObject({ status: "failed", reason: "missing_address" });
  });
});

describe("idempotency", () => {
  it("never reaches the provider twice for one key and returns the stored outcome", async () => {
    await createUser(db, ws, "idem");
    const { provider, calls } = scripted("push", [{ ok: true, providerMessageId: "p-1", state: "sent" }]);
    const { service, nodeEvents } = harness(db, { now: noon, providers: { push: provider } });
    const req = request(ws, { userId: "idem" });
    const first = await service.sendMessage(req);
    const second = await service.sendMessage({ ...req });
    const concurrent = await Promise.all([service.sendMessage({ ...req }), service.sendMessage({ ...req })]);
    expect(first.status).toBe("sent");
    expect(second).toEqual(first);
    expect(concurrent).toEqual([first, first]);
    expect(calls).toHaveLength(1);
    // The stored outcome is re-announced with the same eventId so analytics can de-duplicate.
    expect(new Set(nodeEvents.map((e) => e.eventId))).toEqual(new Set([`${first.messageId}:sent`]));
  });

  it("re-sends the delivery report of a delivered message to a retried call (the first caller may have crashed before it went out)", async () => {
    await createUser(db, ws, "idem-delivered");
    const { service, userEvents } = harness(db, { now: noon });
    const req = request(ws, { userId: "idem-delivered" });
    const first = await service.sendMessage(req);
    expect((await messageRow(db, first.messageId!)).state).toBe("delivered");
    userEvents.length = 0; // as if the first caller died before its report reached the journey
    expect(await service.sendMessage({ ...req })).toEqual(first);
    expect(userEvents).toEqual([expect.objectContaining({ name: "$message.delivered", messageId: `$message.delivered:${first.messageId}` })]);
  });

  it("concurrent first calls with one key: one sends, the other is told it is in flight", async () => {
    await createUser(db, ws, "race");
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const calls: string[] = [];
    const slow: ChannelProvider = {
      id: "slow",
      channel: "push",
      capabilities: { batch: false, maxBatchSize: 1, idempotency: "none", deliveryReports: "none" },
      async send(m) {
        calls.push(m.to);
        await gate;
        return { ok: true, providerMessageId: "slow-1", state: "sent" };
      },
      sendBatch: async () => [],
    };
    const { service } = harness(db, { now: noon, providers: { push: slow } });
    const req = request(ws, { userId: "race" });
    const a = service.sendMessage(req);
    while (calls.length === 0) await new Promise((r) => setTimeout(r, 5)); // a is inside the provider
    const b = await service.sendMessage({ ...req });
    expect(b).toMatchObject({ status: "deferred", reason: "in_flight" });
    release();
    expect(await a).toMatchObject({ status: "sent" });
    expect(calls).toHaveLength(1);
  });

  it("after a crash mid-call: resends only where the provider de-duplicates, otherwise outcome_unknown", async () => {
    await createUser(db, ws, "crash");
    const t0 = noon();
    let clock = t0;
    const crashing: ChannelProvider = {
      id: "crashing",
      channel: "push",
      capabilities: { batch: false, maxBatchSize: 1, idempotency: "none", deliveryReports: "none" },
      send: async () => {
        throw new Error("process died");
      },
      sendBatch: async () => [],
    };
    const req = request(ws, { userId: "crash" });
    await expect(harness(db, { now: () => clock, providers: { push: crashing } }).service.sendMessage(req)).rejects.toThrow("process died");
    clock = new Date(t0.getTime() + 120_000); // the lease has expired
    const none = scripted("push", [{ ok: true, providerMessageId: "x", state: "sent" }], "none");
    const res = await harness(db, { now: () => clock, providers: { push: none.provider } }).service.sendMessage({ ...req });
    expect(res).toMatchObject({ status: "failed", reason: "outcome_unknown" });
    expect(none.calls).toHaveLength(0);

    const req2 = request(ws, { userId: "crash" });
    clock = t0;
    await expect(harness(db, { now: () => clock, providers: { push: crashing } }).service.sendMessage(req2)).rejects.toThrow();
    clock = new Date(t0.getTime() + 120_000);
    const collapse = scripted("push", [{ ok: true, providerMessageId: "y", state: "sent" }], "collapse");
    expect(await harness(db, { now: () => clock, providers: { push: collapse.provider } }).service.sendMessage({ ...req2 })).toMatchObject({ status: "sent" });
    expect(collapse.calls).toHaveLength(1);
    expect(collapse.calls[0]!.idempotencyKey).toBe(req2.idempotencyKey);
  });
});

describe("provider failures", () => {
  it("retires an invalid token and fails with invalid_token; other devices still get it", async () => {
    await createUser(db, ws, "tokens", { tokens: ["dead-token", "live-token"] });
    const { provider } = scripted("push", [
      (m) => (m.to === "dead-token" ? { ok: false, reason: "invalid_token", retryable: false, retireAddress: true } : { ok: true, providerMessageId: "ok", state: "sent" }),
    ]);
    const { service } = harness(db, { now: noon, providers: { push: provider } });
    expect(await service.sendMessage(request(ws, { userId: "tokens" }))).toMatchObject({ status: "sent" });
    const tokens = await query<{ token: string; retired_reason: string | null }>(db.db, sql`select token, retired_reason from device_tokens where user_id = 'tokens' order by token`);
    expect(tokens).toEqual([
      { token: "dead-token", retired_reason: "invalid_token" },
      { token: "live-token", retired_reason: null },
    ]);
    const { provider: allDead } = scripted("push", [{ ok: false, reason: "invalid_token", retryable: false, retireAddress: true }]);
    const res = await harness(db, { now: noon, providers: { push: allDead } }).service.sendMessage(request(ws, { userId: "tokens" }));
    expect(res).toMatchObject({ status: "failed", reason: "invalid_token" });
    // Now no live token is left at all.
    expect(await harness(db, { now: noon }).service.sendMessage(request(ws, { userId: "tokens" }))).toMatchObject({ reason: "missing_address" });
  });

  it("retries a timeout inline when the provider de-duplicates, and records one send", async () => {
    await createUser(db, ws, "retry");
    const { provider, calls } = scripted("push", [
      { ok: false, reason: "timeout", retryable: true, maybeDelivered: true },
      { ok: true, providerMessageId: "after-retry", state: "sent" },
    ], "collapse");
    const { service } = harness(db, { now: noon, providers: { push: provider } });
    const res = await service.sendMessage(request(ws, { userId: "retry" }));
    expect(res.status).toBe("sent");
    expect(calls).toHaveLength(2);
    expect((await messageRow(db, res.messageId!)).provider_message_id).toBe("after-retry");
  });

  it("does not repeat a timed-out SMS (no de-duplication at Alibaba): fails with timeout", async () => {
    await createUser(db, ws, "sms-timeout");
    const { provider, calls } = scripted("sms", [{ ok: false, reason: "timeout", retryable: true, maybeDelivered: true }], "none");
    const { service } = harness(db, { now: noon, providers: { sms: provider } });
    const res = await service.sendMessage(request(ws, { userId: "sms-timeout", channel: "sms", content: { body: "你好", templateCode: "SMS_1" } }));
    expect(res).toMatchObject({ status: "failed", reason: "timeout" });
    expect(calls).toHaveLength(1);
  });

  it("defers on throttling with a long Retry-After, and gives up after maxAttempts", async () => {
    await createUser(db, ws, "throttled");
    let clock = noon();
    const { provider, calls } = scripted("push", [{ ok: false, reason: "rate_limited", retryable: true, retryAfterMs: 30_000 }]);
    const { service } = harness(db, { now: () => clock, providers: { push: provider }, deps: { retry: { maxAttempts: 2 } } });
    const req = request(ws, { userId: "throttled" });
    const first = await service.sendMessage(req);
    expect(first).toMatchObject({ status: "deferred", reason: "rate_limited" });
    expect(first.deferUntil).toBeGreaterThanOrEqual(clock.getTime() + 30_000);
    expect(await service.sendMessage({ ...req })).toMatchObject({ status: "deferred", reason: "deferred" });
    clock = new Date(first.deferUntil!);
    // Second provider attempt of two: the failure is final now.
    expect(await service.sendMessage({ ...req })).toMatchObject({ status: "failed", reason: "rate_limited" });
    expect(await service.sendMessage({ ...req })).toMatchObject({ status: "failed", reason: "rate_limited" });
    expect(calls).toHaveLength(2);
  });
});

describe("many messages at once (the engine's gatherings)", () => {
  it("gives each message of a concurrent burst its own answer, row, history and cap slot", async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `burst-${i}`);
    for (const id of ids) await createUser(db, ws, id, { tokens: [`tok-${id}`] });
    await createUser(db, ws, "burst-twice", { tokens: ["tok-twice"] });
    // Marketing pushes: the default caps (2 per local day) apply, so every send reserves slots.
    const { service, nodeEvents } = harness(db, { now: noon });
    const requests = [
      ...ids.map((userId) => request(ws, { userId })),
      ...Array.from({ length: 3 }, () => request(ws, { userId: "burst-twice" })),
      request(ws, { userId: "burst-nobody" }),
    ];
    const answers = await Promise.all(requests.map((r) => service.sendMessage(r)));

    expect(answers.slice(0, 40).map((a) => a.status)).toEqual(ids.map(() => "sent"));
    // Three at once for one user with a cap of 2: two go out, the third is capped.
    expect(answers.slice(40, 43).map((a) => a.status).sort()).toEqual(["failed", "sent", "sent"]);
    expect(answers.slice(40, 43).find((a) => a.status === "failed")!.reason).toBe("frequency_capped");
    expect(answers[43]).toMatchObject({ status: "failed", reason: "missing_address" });

    for (const [i, answer] of answers.slice(0, 40).entries()) {
      const row = await messageRow(db, answer.messageId!);
      expect(row).toMatchObject({ user_id: ids[i], state: "delivered", address: `tok-${ids[i]}`, idempotency_key: requests[i]!.idempotencyKey });
      expect(await historyStates(db, answer.messageId!)).toEqual(["queued", "sent", "delivered"]);
    }
    const capped = answers.slice(40, 43).find((a) => a.status === "failed")!;
    expect(await historyStates(db, capped.messageId!)).toEqual(["queued", "failed:frequency_capped"]);
    expect(await historyStates(db, answers[43]!.messageId!)).toEqual(["queued", "failed:missing_address"]);
    const counters = await query<{ user_id: string; count: number }>(
      db.db,
      sql`select user_id, sum(count)::int as count from frequency_counters where workspace_id = ${ws} and user_id like 'burst-%' group by user_id`,
    );
    const byUser = new Map(counters.map((c) => [c.user_id, Number(c.count)]));
    const capsPerMessage = byUser.get("burst-0")!;
    expect(capsPerMessage).toBeGreaterThan(0);
    for (const id of ids) expect(byUser.get(id)).toBe(capsPerMessage);
    expect(byUser.get("burst-twice")).toBe(2 * capsPerMessage);
    // Every message announced its states once.
    const sentEvents = nodeEvents.filter((e) => e.state === "sent" && e.userId.startsWith("burst-"));
    expect(new Set(sentEvents.map((e) => e.messageId)).size).toBe(42);
  });
});
