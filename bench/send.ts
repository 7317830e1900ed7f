/**
 * Send throughput: messages/s through the sandbox and each loopback fake (FCM over HTTPS, Alibaba
 * Cloud SMS over signed HTTP, SMTP), measured three ways in the same run, interleaved:
 *   (a) raw: straight to the provider, nothing else;
 *   (b) the send service with its policies switched off (no quiet hours, no frequency caps, no
 *       rate limits; same message log, same provider) — what the message log itself costs;
 *   (c) the send service with every policy on and passing (consent, quiet hours, a frequency cap
 *       whose counter is written, a rate limit, length rules).
 * The target is the POLICY layer: (b → c) must cost < 20%. The total against raw (a → c)
 * is printed too, with what it is made of (docs/benchmarks/send.md).
 *
 *   npm run bench:send                       # PGlite, or DATABASE_URL's PostgreSQL
 *   BENCH_MESSAGES=5000 BENCH_CONCURRENCY=64 npm run bench:send
 */
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { users, workspaces, deviceTokens } from "../db/schema";
import { createAliyunSmsProvider } from "../nodes/channels/aliyun-sms/provider.server";
import { createFcmProvider } from "../nodes/channels/fcm/provider.server";
import { policySettingsSchema } from "../nodes/channels/policies/settings";
import { checkConsent } from "../nodes/channels/policies/consent";
import { capsFor, counterKey } from "../nodes/channels/policies/frequency";
import { quietHours, resolveZone } from "../nodes/channels/policies/quiet-hours";
import { RateLimiter } from "../nodes/channels/policies/rate-limit";
import { applyLengthRules } from "../nodes/channels/limits";
import type { Channel, ChannelProvider, OutboundMessage } from "../nodes/channels/provider";
import { createSandboxProvider } from "../nodes/channels/sandbox/provider";
import { createMessagingService, type MessageRequest } from "../nodes/channels/send.server";
import { createSmtpProvider } from "../nodes/channels/smtp/provider.server";
import { startAliyunSmsFake } from "../test/fakes/aliyun-sms-server";
import { startFcmFake } from "../test/fakes/fcm-server";
import { startSmtpFake } from "../test/fakes/smtp-server";
import { openDatabase, type Database } from "../db/client";
import { createTestDb } from "../test/support/db";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const WARMUP = Math.min(200, MESSAGES);

async function pool(count: number, concurrency: number, task: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

async function main() {
  const testDb = await createTestDb();
  // The app's pool (10 connections), not the test helper's small one.
  const db: Database = testDb.url ? await openDatabase({ url: testDb.url, maxConnections: 10 }) : testDb;
  console.log(`database: ${db.kind}; ${MESSAGES} messages per run, concurrency ${CONCURRENCY}`);
  const [w] = await db.db.insert(workspaces).values({ name: "bench", timezone: "Asia/Shanghai" }).returning({ id: workspaces.id });
  const ws = w!.id;
  const userCount = MESSAGES + WARMUP;
  for (let i = 0; i < userCount; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, userCount - i) }, (_, j) => `u${i + j}`);
    await db.db.insert(users).values(
      batch.map((id, j) => ({
        workspaceId: ws,
        id,
        email: `${id}@example.com`,
        phone: `+86138${String(i + j).padStart(8, "0")}`,
        timezone: "Asia/Shanghai",
        consent: { push: { marketing: true }, sms: { marketing: true }, email: { marketing: true } },
      })),
    );
    await db.db.insert(deviceTokens).values(batch.map((id) => ({ workspaceId: ws, userId: id, token: `tok-${id}`, platform: "android" as const })));
  }
  await db.db.execute(sql`analyze`);

  const AK = { accessKeyId: "LTAI5tBench", accessKeySecret: "bench-secret" };
  const [fcmFake, smsFake, smtpFake] = await Promise.all([startFcmFake(), startAliyunSmsFake(AK), startSmtpFake()]);
  smsFake.signNames.add("路标商城");
  smsFake.templates.set("SMS_1", "${name}，红包${amount}元已到账，回TD退订");

  const providers: Record<string, { channel: Channel; provider: ChannelProvider; content: MessageRequest["content"] }> = {
    sandbox: { channel: "push", provider: createSandboxProvider("push"), content: { title: "我们想你了", body: "送你一张 ¥10 优惠券" } },
    fcm: {
      channel: "push",
      provider: createFcmProvider({
        projectId: "bench",
        credential: { getAccessToken: async () => ({ access_token: "ya29.bench", expires_in: 3600 }) },
        httpAgent: fcmFake.agent(),
      }),
      content: { title: "我们想你了", body: "送你一张 ¥10 优惠券" },
    },
    "aliyun-sms": {
      channel: "sms",
      provider: createAliyunSmsProvider({ ...AK, signName: "路标商城", endpoint: smsFake.endpoint, protocol: "http" }),
      content: { body: "${name}，红包${amount}元已到账，回TD退订", templateCode: "SMS_1", templateParams: { name: "林", amount: "10" } },
    },
    smtp: {
      channel: "email",
      provider: createSmtpProvider({ host: "127.0.0.1", port: smtpFake.port, from: "bench <b@example.com>", maxConnections: 8 }),
      content: { subject: "本周好物", html: "<p>你好</p><a href=\"https://shop.example.com/p/1\">看看</a>" },
    },
  };

  // Every policy runs and passes: consent given, noon in the users' zone, a frequency cap high
  // enough not to bite (its counter is still written), a rate limit far above the measured rate.
  const policy = policySettingsSchema.parse({
    frequencyCaps: [{ channel: "any", category: "marketing", limit: 1_000_000, period: "day" }],
    rateLimits: Object.fromEntries(Object.keys(providers).map((p) => [p, { perSecond: 1_000_000, burst: 1_000_000 }])),
  });
  const noonShanghai = new Date("2024-06-01T04:00:00Z");

  // (b): the same service with nothing to enforce. Consent is still evaluated (in memory, on the
  // recipient row that is read anyway to find the address).
  const noPolicy = policySettingsSchema.parse({ quietHours: { enabled: false }, frequencyCaps: [], rateLimits: {}, marketingConsent: { push: "opt-out", sms: "opt-out", email: "opt-out" } });

  const rows: Array<{ name: string; raw: number; log: number; policy: number }> = [];
  for (const [name, { channel, provider, content }] of Object.entries(providers)) {
    const make = (settings: typeof policy) =>
      createMessagingService({
        db: db.db,
        providers: async () => ({ provider, options: {} }),
        policies: async () => settings,
        now: () => noonShanghai,
        recordNodeEvent: () => {},
        emitEvent: () => {},
      });
    const service = make(policy);
    const bare = make(noPolicy);
    const address = (i: number) => (channel === "push" ? `tok-u${i}` : channel === "sms" ? `138${String(i).padStart(8, "0")}` : `u${i}@example.com`);
    const outbound = (i: number): OutboundMessage => ({
      messageId: randomUUID(),
      idempotencyKey: `raw-${name}-${i}-${randomUUID()}`,
      channel,
      category: "marketing",
      to: address(i),
      content: channel === "sms" ? { templateCode: "SMS_1", templateParams: { name: "林", amount: "10" }, signName: "路标商城" } : (content as OutboundMessage["content"]),
    });
    const viaService = (i: number, via = service) =>
      via.sendMessage({
        workspaceId: ws,
        channel,
        category: "marketing",
        content,
        nodeId: "bench-node",
        instanceId: `inst-${i}`,
        journeyId: `bench-${name}`,
        userId: `u${i}`,
        idempotencyKey: `${name}-${i}-${randomUUID()}`,
      }).then((r) => {
        if (r.status !== "sent") throw new Error(`${name}: ${r.status} ${r.reason}`);
      });
    const rawSend = (i: number) =>
      provider.send(outbound(i)).then((r) => {
        if (!r.ok) throw new Error(`${name} raw: ${r.reason} ${r.detail}`);
      });

    await pool(WARMUP, CONCURRENCY, rawSend);
    await pool(WARMUP, CONCURRENCY, (i) => viaService(MESSAGES + i));
    await pool(WARMUP, CONCURRENCY, (i) => viaService(MESSAGES + i, bare));
    // Interleave the three runs so drift (GC, JIT, page cache, table growth) hits all alike; each
    // user gets one message per mode (distinct idempotency keys).
    const half = MESSAGES / 2;
    const raw1 = await pool(half, CONCURRENCY, rawSend);
    const log1 = await pool(half, CONCURRENCY, (i) => viaService(i, bare));
    const pol1 = await pool(half, CONCURRENCY, (i) => viaService(i));
    const raw2 = await pool(half, CONCURRENCY, rawSend);
    const pol2 = await pool(half, CONCURRENCY, (i) => viaService(half + i));
    const log2 = await pool(half, CONCURRENCY, (i) => viaService(half + i, bare));
    rows.push({ name, raw: (raw1 + raw2) / 2, log: (log1 + log2) / 2, policy: (pol1 + pol2) / 2 });
    await db.db.execute(sql`delete from messages`);
    await db.db.execute(sql`delete from frequency_counters`);
  }

  // The policy decisions alone (no database): what the checks themselves cost per message.
  const limiter = new RateLimiter();
  const checks = 50_000;
  const t = performance.now();
  for (let i = 0; i < checks; i++) {
    const zone = resolveZone(i % 7 ? "Asia/Shanghai" : "Bad/Zone", "Asia/Shanghai");
    checkConsent({ channel: "sms", category: "marketing", consent: { sms: { marketing: true } }, suppressions: [], settings: policy });
    quietHours(noonShanghai, zone.zone, "marketing", policy.quietHours);
    for (const cap of capsFor(policy.frequencyCaps, "sms", "marketing")) counterKey(cap, noonShanghai, zone.zone);
    applyLengthRules("sms", { body: "${name}，红包${amount}元已到账，回TD退订", templateCode: "SMS_1", templateParams: { name: "林", amount: "10" }, signName: "路标商城" }, { truncate: false });
    limiter.take("ws/aliyun-sms", { perSecond: 1_000_000, burst: 1_000_000 });
  }
  const checkMicros = ((performance.now() - t) * 1000) / checks;

  console.log("");
  console.log(`policy decisions alone (consent, zone, quiet hours, caps, SMS length, rate bucket): ${checkMicros.toFixed(1)} µs/message`);
  console.log("the rest of the policy layer's cost is the message log: 1 read + 2 group-committed writes per message");
  console.log("");
  console.log("provider      (a) raw msg/s   (b) log, no policies   (c) policies on   policy layer b→c   total a→c");
  for (const r of rows) {
    const policyCost = (1 - r.policy / r.log) * 100;
    const total = (1 - r.policy / r.raw) * 100;
    console.log(
      `${r.name.padEnd(12)} ${r.raw.toFixed(0).padStart(14)}   ${r.log.toFixed(0).padStart(20)}   ${r.policy.toFixed(0).padStart(15)}   ${policyCost.toFixed(1).padStart(15)}%   ${total.toFixed(1).padStart(8)}%${r.name === "sandbox" ? "  (raw sandbox does no I/O at all)" : ""}`,
    );
  }
  const worst = Math.max(...rows.filter((r) => r.name !== "sandbox").map((r) => (1 - r.policy / r.log) * 100));
  console.log("");
  console.log(`policy layer (b→c), worst real provider: ${worst.toFixed(1)}% — target < 20%: ${worst < 20 ? "met" : "NOT met"}`);

  await Promise.all(Object.values(providers).map((p) => p.provider.close?.()));
  await Promise.all([fcmFake.close(), smsFake.close(), smtpFake.close()]);
  if (db !== testDb) await db.close();
  await testDb.drop();
}

await main();
