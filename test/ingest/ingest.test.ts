import { gzipSync } from "node:zlib";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import { apiKeys } from "../../db/schema";
import { clearKeyCache } from "../../app/ingest/keys.server";
import { flushRouted, sweepUnrouted } from "../../app/ingest/routing.server";
import { createApiKey } from "../../app/lib/auth.server";
import { segmentRuntime } from "../../app/segments/membership.server";
import { startTestApp, type TestApp } from "../support/app";
import { basic, countEvents, eventsByMessageId, send, userRow, writeKey } from "./helpers";
import { RecordingEngine } from "./recording-engine";

// Segment-spec payloads (https://segment.com/docs/connections/spec/) through the ingestion
// handler, checked against what is stored. The HTTP routes are exercised in http.test.ts.

let app: TestApp;
let key: string;
let engine: RecordingEngine;
let seq = 0;
const mid = () => `msg-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

beforeAll(async () => {
  app = await startTestApp();
  key = await writeKey(app);
  engine = new RecordingEngine();
  app.services.engine = engine;
});
afterAll(() => app?.close());
beforeEach(() => {
  engine.events = [];
  engine.failEvents = false;
});

async function eventRow(messageId: string) {
  const [row] = await query<{ user_id: string; type: string; name: string; properties: Record<string, unknown>; timestamp: Date | string }>(
    app.services.db,
    sql`select user_id, type, name, properties, timestamp from events where message_id = ${messageId}`,
  );
  return row;
}

describe("identify", () => {
  it("stores traits and the indexed profile fields: email, phone, time zone, tags, consent, device tokens", async () => {
    const messageId = mid();
    const res = await send(
      app,
      "identify",
      {
        userId: "u-identify",
        messageId,
        traits: {
          name: "王芳",
          email: "fang@example.com",
          phone: "+8613800138000",
          timezone: "Asia/Shanghai",
          tags: ["美食爱好者", "高消费水平", "美食爱好者"],
          consent: { sms: { marketing: false, transactional: true }, push: { marketing: true } },
          lifetime_value: 1234.5,
          device_tokens: [{ token: "fcm-token-2", platform: "android" }],
          createdAt: "2025-01-15T08:00:00+08:00",
        },
        context: { device: { token: "apns-token-1", type: "ios" } },
      },
      { key },
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, messageId });
    const user = await userRow(app, "u-identify");
    expect(user.email).toBe("fang@example.com");
    expect(user.phone).toBe("+8613800138000");
    expect(user.timezone).toBe("Asia/Shanghai");
    expect(user.tags).toEqual(["美食爱好者", "高消费水平"]);
    expect(user.consent).toEqual({ sms: { marketing: false, transactional: true }, push: { marketing: true } });
    expect(user.traits).toMatchObject({ name: "王芳", lifetime_value: 1234.5, email: "fang@example.com" });
    expect(user.traits).not.toHaveProperty("consent");
    expect(user.traits).not.toHaveProperty("device_tokens");
    expect(new Date(user.first_seen_at).toISOString()).toBe("2025-01-15T00:00:00.000Z");
    const tokens = await query<{ token: string; platform: string; user_id: string }>(
      app.services.db,
      sql`select token, platform, user_id from device_tokens where user_id = 'u-identify' order by token`,
    );
    expect(tokens).toEqual([
      { token: "apns-token-1", platform: "ios", user_id: "u-identify" },
      { token: "fcm-token-2", platform: "android", user_id: "u-identify" },
    ]);
    expect(await eventRow(messageId)).toMatchObject({ type: "identify", name: "$identify", user_id: "u-identify" });
  });

  it("merges later traits, keeps absent fields, clears a field sent as null, and merges consent per channel", async () => {
    await send(app, "identify", { userId: "u-merge", messageId: mid(), traits: { email: "a@example.com", phone: "+8613900000000", plan: "free", consent: { sms: { marketing: true, transactional: true } } } }, { key });
    await send(app, "identify", { userId: "u-merge", messageId: mid(), traits: { plan: "pro", email: null, consent: { sms: { marketing: false } } } }, { key });
    const user = await userRow(app, "u-merge");
    expect(user.email).toBeNull();
    expect(user.phone).toBe("+8613900000000");
    expect(user.traits).toMatchObject({ plan: "pro", email: null, phone: "+8613900000000" });
    expect(user.consent).toEqual({ sms: { marketing: false, transactional: true } });
  });

  it("a device token moves to the user who sent it last", async () => {
    await send(app, "identify", { userId: "phone-owner-1", messageId: mid(), traits: { device_token: "shared-token" } }, { key });
    await send(app, "identify", { userId: "phone-owner-2", messageId: mid(), traits: { device_token: "shared-token" } }, { key });
    const [row] = await query<{ user_id: string }>(app.services.db, sql`select user_id from device_tokens where token = 'shared-token'`);
    expect(row.user_id).toBe("phone-owner-2");
  });

  it("an identify with userId and anonymousId merges the anonymous profile and its events", async () => {
    const anonEvent = mid();
    await send(app, "track", { anonymousId: "anon-42", messageId: anonEvent, event: "product_viewed", properties: { sku: "A1" } }, { key });
    await send(app, "identify", { anonymousId: "anon-42", messageId: mid(), traits: { device_token: "anon-token" } }, { key });
    expect((await userRow(app, "anon-42"))?.id).toBe("anon-42");
    await send(app, "identify", { userId: "known-42", anonymousId: "anon-42", messageId: mid(), traits: { email: "k42@example.com" } }, { key });
    expect(await userRow(app, "anon-42")).toBeUndefined();
    const known = await userRow(app, "known-42");
    expect(known.email).toBe("k42@example.com");
    expect(known.anonymous_id).toBe("anon-42");
    expect((await eventRow(anonEvent)).user_id).toBe("known-42");
    const [token] = await query<{ user_id: string }>(app.services.db, sql`select user_id from device_tokens where token = 'anon-token'`);
    expect(token.user_id).toBe("known-42");
    // Later calls under the anonymous id land on the identified profile.
    const later = mid();
    await send(app, "track", { anonymousId: "anon-42", messageId: later, event: "app_opened" }, { key });
    expect((await eventRow(later)).user_id).toBe("known-42");
    expect(await userRow(app, "anon-42")).toBeUndefined();
  });
});

describe("track calls from apps (the single-statement path)", () => {
  it("a track with userId and anonymousId absorbs the anonymous profile; context carries token and time zone", async () => {
    const first = mid();
    const batch = await send(
      app,
      "batch",
      {
        batch: [
          { type: "track", anonymousId: "anon-77", messageId: first, event: "product_viewed", context: { timezone: "Asia/Tokyo" } },
          { type: "screen", anonymousId: "anon-77", messageId: mid(), name: "Home" },
        ],
      },
      { key },
    );
    expect(batch.status).toBe(200);
    expect((await userRow(app, "anon-77")).timezone).toBe("Asia/Tokyo");
    const identified = mid();
    await send(
      app,
      "track",
      { userId: "known-77", anonymousId: "anon-77", messageId: identified, event: "signed_up", context: { device: { token: "tok-77", type: "android" }, timezone: "Asia/Tokyo" } },
      { key },
    );
    expect(await userRow(app, "anon-77")).toBeUndefined();
    const known = await userRow(app, "known-77");
    expect(known).toMatchObject({ anonymous_id: "anon-77", timezone: "Asia/Tokyo" });
    expect((await eventRow(first)).user_id).toBe("known-77");
    expect((await eventRow(identified)).user_id).toBe("known-77");
    const [token] = await query<{ user_id: string; platform: string }>(app.services.db, sql`select user_id, platform from device_tokens where token = 'tok-77'`);
    expect(token).toEqual({ user_id: "known-77", platform: "android" });
  });

  it("moves last_seen_at forward, in steps of at least a minute", async () => {
    const at = (s: number) => new Date(Date.UTC(2026, 4, 1, 10, 0, s)).toISOString();
    await send(app, "track", { userId: "seen-1", messageId: mid(), event: "a", timestamp: at(0) }, { key });
    await send(app, "track", { userId: "seen-1", messageId: mid(), event: "a", timestamp: at(30) }, { key });
    expect(new Date((await userRow(app, "seen-1")).last_seen_at).toISOString()).toBe(at(0));
    await send(app, "track", { userId: "seen-1", messageId: mid(), event: "a", timestamp: new Date(Date.UTC(2026, 4, 1, 10, 2)).toISOString() }, { key });
    expect(new Date((await userRow(app, "seen-1")).last_seen_at).toISOString()).toBe(new Date(Date.UTC(2026, 4, 1, 10, 2)).toISOString());
    // An older event moves first_seen back.
    await send(app, "track", { userId: "seen-1", messageId: mid(), event: "a", timestamp: "2026-01-01T00:00:00.000Z" }, { key });
    expect(new Date((await userRow(app, "seen-1")).first_seen_at).toISOString()).toBe("2026-01-01T00:00:00.000Z");
  });
});

describe("track, page, screen, group, alias", () => {
  it("track stores the event with its properties and reaches the journey engine", async () => {
    const messageId = mid();
    const res = await send(
      app,
      "track",
      { userId: "u-track", messageId, event: "order_completed", properties: { amount: 99.5, currency: "CNY", items: [{ sku: "A" }] }, timestamp: "2026-03-01T10:00:00.000Z" },
      { key },
    );
    expect(res.status).toBe(200);
    const row = await eventRow(messageId);
    expect(row).toMatchObject({ type: "track", name: "order_completed", user_id: "u-track", properties: { amount: 99.5, currency: "CNY", items: [{ sku: "A" }] } });
    expect(new Date(row.timestamp).toISOString()).toBe("2026-03-01T10:00:00.000Z");
    expect(engine.events).toEqual([
      expect.objectContaining({ workspaceId: app.workspaceId, userId: "u-track", messageId, name: "order_completed", timestamp: Date.parse("2026-03-01T10:00:00.000Z") }),
    ]);
    const user = await userRow(app, "u-track");
    expect(new Date(user.last_seen_at).toISOString()).toBe("2026-03-01T10:00:00.000Z");
  });

  it("corrects the client's clock with sentAt, as Segment does", async () => {
    const messageId = mid();
    const before = Date.now();
    // The client's clock is 1 hour behind: it says it sent at 09:00:05 an event from 09:00:00.
    await send(app, "track", { userId: "u-skew", messageId, event: "app_opened", timestamp: "2026-03-01T09:00:00.000Z", sentAt: "2026-03-01T09:00:05.000Z" }, { key });
    const at = new Date((await eventRow(messageId)).timestamp).getTime();
    expect(at).toBeGreaterThanOrEqual(before - 5000 - 1);
    expect(at).toBeLessThanOrEqual(Date.now() - 5000 + 1);
  });

  it("uses the batch's sentAt for its calls, and the receive time when there is no timestamp", async () => {
    const skewed = mid();
    const untimed = mid();
    const before = Date.now();
    await send(
      app,
      "batch",
      {
        sentAt: "2020-01-01T00:01:00.000Z",
        batch: [
          { type: "track", userId: "u-skew2", messageId: skewed, event: "a", timestamp: "2020-01-01T00:00:00.000Z" },
          { type: "track", userId: "u-skew2", messageId: untimed, event: "b" },
        ],
      },
      { key },
    );
    const skewedAt = new Date((await eventRow(skewed)).timestamp).getTime();
    expect(skewedAt).toBeGreaterThanOrEqual(before - 60_000 - 1);
    expect(skewedAt).toBeLessThanOrEqual(Date.now() - 60_000 + 1);
    const untimedAt = new Date((await eventRow(untimed)).timestamp).getTime();
    expect(untimedAt).toBeGreaterThanOrEqual(before - 1);
  });

  it("page, screen and group are stored as $page, $screen, $group", async () => {
    const [p, s, g] = [mid(), mid(), mid()];
    expect((await send(app, "page", { userId: "u-page", messageId: p, name: "Home", category: "Shop", properties: { path: "/" } }, { key })).status).toBe(200);
    expect((await send(app, "screen", { userId: "u-page", messageId: s, name: "Cart" }, { key })).status).toBe(200);
    expect((await send(app, "group", { userId: "u-page", messageId: g, groupId: "company-1", traits: { plan: "team" } }, { key })).status).toBe(200);
    expect(await eventRow(p)).toMatchObject({ type: "page", name: "$page", properties: { path: "/", name: "Home", category: "Shop" } });
    expect(await eventRow(s)).toMatchObject({ type: "screen", name: "$screen", properties: { name: "Cart" } });
    expect(await eventRow(g)).toMatchObject({ type: "group", name: "$group", properties: { groupId: "company-1", traits: { plan: "team" } } });
  });

  it("alias merges previousId's profile and history into userId", async () => {
    const old = mid();
    await send(app, "identify", { userId: "guest-7", messageId: mid(), traits: { city: "上海", tags: ["旅游人群"] } }, { key });
    await send(app, "track", { userId: "guest-7", messageId: old, event: "added_to_cart" }, { key });
    await send(app, "identify", { userId: "member-7", messageId: mid(), traits: { city: "北京", email: "m7@example.com", tags: ["国货品牌偏好"] } }, { key });
    const res = await send(app, "alias", { previousId: "guest-7", userId: "member-7", messageId: mid() }, { key });
    expect(res.status).toBe(200);
    expect(await userRow(app, "guest-7")).toBeUndefined();
    const merged = await userRow(app, "member-7");
    expect(merged.traits).toMatchObject({ city: "北京", email: "m7@example.com" });
    expect(merged.tags.sort()).toEqual(["国货品牌偏好", "旅游人群"].sort());
    expect((await eventRow(old)).user_id).toBe("member-7");
  });
});

describe("batch", () => {
  it("stores the valid calls, rejects the bad one (naming index and field), and stores nothing of it", async () => {
    const ids = [mid(), mid(), mid(), mid()];
    const res = await send(
      app,
      "batch",
      {
        batch: [
          { type: "identify", userId: "b-1", messageId: ids[0], traits: { email: "b1@example.com" } },
          { type: "track", userId: "b-1", messageId: ids[1], event: "signed_up" },
          { type: "track", userId: "b-2", messageId: ids[2], properties: { amount: 5 } },
          { type: "page", anonymousId: "anon-b", messageId: ids[3], name: "Home" },
        ],
      },
      { key },
    );
    expect(res.status).toBe(400);
    expect(res.body.success).toBe(false);
    expect(res.body.errors).toEqual([{ index: 2, field: "batch[2].event", code: "required", message: "is required" }]);
    expect(res.body.results!.map((r) => r.status)).toEqual(["stored", "stored", "rejected", "stored"]);
    expect(res.body.results![2]).toMatchObject({ index: 2, messageId: ids[2] });
    expect(await eventsByMessageId(app, ids)).toBe(3);
    expect(await eventsByMessageId(app, [ids[2]])).toBe(0);
    expect(await userRow(app, "b-2")).toBeUndefined();
    expect((await userRow(app, "b-1")).email).toBe("b1@example.com");
  });

  it("answers 200 with a result per call when every call is valid", async () => {
    const res = await send(app, "batch", { batch: [{ type: "track", userId: "b-3", messageId: mid(), event: "x" }, { type: "identify", userId: "b-3", messageId: mid() }] }, { key });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, results: [{ index: 0, status: "stored" }, { index: 1, status: "stored" }] });
  });
});

describe("idempotency by messageId", () => {
  it("a resent batch stores nothing twice and reports each call as a duplicate", async () => {
    const body = {
      batch: [
        { type: "identify", userId: "idem-1", messageId: "idem-a", traits: { plan: "a" } },
        { type: "track", userId: "idem-1", messageId: "idem-b", event: "order_completed", properties: { amount: 10 } },
      ],
    };
    const first = await send(app, "batch", body, { key });
    expect(first.body.results!.map((r) => r.status)).toEqual(["stored", "stored"]);
    const events = await countEvents(app);
    await send(app, "identify", { userId: "idem-1", messageId: "idem-c", traits: { plan: "b" } }, { key });
    const again = await send(app, "batch", body, { key });
    expect(again.status).toBe(200);
    expect(again.body.results!.map((r) => r.status)).toEqual(["duplicate", "duplicate"]);
    expect(await countEvents(app)).toBe(events + 1);
    // The resent identify did not overwrite the newer trait.
    expect((await userRow(app, "idem-1")).traits.plan).toBe("b");
    const single = await send(app, "track", { userId: "idem-1", messageId: "idem-b", event: "order_completed" }, { key });
    expect(single.body).toMatchObject({ success: true, duplicate: true });
  });

  it("the same messageId twice in one batch is stored once", async () => {
    const res = await send(
      app,
      "batch",
      { batch: [{ type: "track", userId: "idem-2", messageId: "twice", event: "x" }, { type: "track", userId: "idem-2", messageId: "twice", event: "x" }] },
      { key },
    );
    expect(res.body.results!.map((r) => r.status)).toEqual(["stored", "duplicate"]);
    expect(await eventsByMessageId(app, ["twice"])).toBe(1);
  });

  it("messageIds are per workspace", async () => {
    const [other] = await query<{ id: string }>(app.services.db, sql`insert into workspaces (name) values ('Other') returning id`);
    const otherKey = (await createApiKey(app.services.db, { workspaceId: other.id, kind: "write", name: "other" })).key;
    await send(app, "track", { userId: "w-1", messageId: "shared-id", event: "x" }, { key });
    const res = await send(app, "track", { userId: "w-1", messageId: "shared-id", event: "x" }, { key: otherKey });
    expect(res.body.duplicate).toBeUndefined();
    expect(await eventsByMessageId(app, ["shared-id"])).toBe(2);
  });

  it("duplicates still reach the engine (a client resending after a lost response); an engine failure leaves a marker the sweep routes (decision 1001)", async () => {
    const messageId = mid();
    engine.failEvents = true;
    const failed = await send(app, "track", { userId: "eng-1", messageId, event: "order_completed" }, { key });
    // Stored with its "not yet routed" marker: the client need not resend.
    expect(failed.status).toBe(200);
    expect(await eventsByMessageId(app, [messageId])).toBe(1);
    const markers = await query<{ message_ids: string[] }>(app.services.db, sql`select message_ids from event_routing_pending`);
    expect(markers.map((m) => m.message_ids)).toEqual([[messageId]]);
    engine.failEvents = false;
    const retried = await send(app, "track", { userId: "eng-1", messageId, event: "order_completed" }, { key });
    expect(retried.body).toMatchObject({ success: true, duplicate: true });
    expect(engine.events.map((e) => e.messageId)).toEqual([messageId]);
    // The sweep (a later time instead of waiting out not_before) offers it too; the engine is idempotent per messageId.
    expect(await sweepUnrouted(app.services, { realNow: Date.now() + 60_000 })).toBe(1);
    expect(engine.events.map((e) => e.messageId)).toEqual([messageId, messageId]);
    expect(await query(app.services.db, sql`select id from event_routing_pending`)).toEqual([]);
    // A request the engine took deletes its marker.
    await send(app, "track", { userId: "eng-1", messageId: mid(), event: "order_completed" }, { key });
    await flushRouted(app.services);
    expect(await query(app.services.db, sql`select id from event_routing_pending`)).toEqual([]);
  });
});

describe("validation: each bad field is a 400 that names it", () => {
  const cases: [string, "identify" | "track" | "page" | "alias" | "batch" | "group", unknown, string, string][] = [
    ["no user", "track", { event: "x" }, "userId", "required"],
    ["empty userId", "track", { userId: "", event: "x" }, "userId", "empty"],
    ["userId not a string", "track", { userId: { id: 1 }, event: "x" }, "userId", "invalid_type"],
    ["userId too long", "track", { userId: "u".repeat(256), event: "x" }, "userId", "too_long"],
    ["no event", "track", { userId: "v" }, "event", "required"],
    ["empty event", "track", { userId: "v", event: "  " }, "event", "empty"],
    ["event not a string", "track", { userId: "v", event: 42 }, "event", "invalid_type"],
    ["properties not an object", "track", { userId: "v", event: "x", properties: [1, 2] }, "properties", "invalid_type"],
    ["bad timestamp", "track", { userId: "v", event: "x", timestamp: "yesterday" }, "timestamp", "invalid_value"],
    ["impossible date", "track", { userId: "v", event: "x", timestamp: "2026-02-30T00:00:00Z" }, "timestamp", "invalid_value"],
    ["bad sentAt", "track", { userId: "v", event: "x", sentAt: 12345 }, "sentAt", "invalid_type"],
    ["messageId not a string", "track", { userId: "v", event: "x", messageId: 7 }, "messageId", "invalid_type"],
    ["context not an object", "track", { userId: "v", event: "x", context: "web" }, "context", "invalid_type"],
    ["NUL in a property", "track", { userId: "v", event: "x", properties: { note: "a\u0000b" } }, "properties.note", "invalid_value"],
    ["lone surrogate in a property", "track", { userId: "v", event: "x", properties: { s: "\ud800" } }, "properties.s", "invalid_value"],
    ["NUL in the event name", "track", { userId: "v", event: "a\u0000" }, "event", "invalid_value"],
    ["properties nested too deep", "track", { userId: "v", event: "x", properties: JSON.parse("[".repeat(40) + "]".repeat(40)) }, "properties", "invalid_type"],
    ["traits.email not a string", "identify", { userId: "v", traits: { email: 5 } }, "traits.email", "invalid_type"],
    ["traits.tags not a list", "identify", { userId: "v", traits: { tags: "a,b" } }, "traits.tags", "invalid_type"],
    ["a tag not a string", "identify", { userId: "v", traits: { tags: ["a", 3] } }, "traits.tags[1]", "invalid_type"],
    ["consent of an unknown channel", "identify", { userId: "v", traits: { consent: { fax: { marketing: true } } } }, "traits.consent", "unknown_field"],
    ["consent flag not a boolean", "identify", { userId: "v", traits: { consent: { sms: { marketing: "yes" } } } }, "traits.consent.sms.marketing", "invalid_type"],
    ["device token not a string", "identify", { userId: "v", context: { device: { token: 123 } } }, "context.device.token", "invalid_type"],
    ["traits not an object", "identify", { userId: "v", traits: "vip" }, "traits", "invalid_type"],
    ["alias without previousId", "alias", { userId: "v" }, "previousId", "required"],
    ["group without groupId", "group", { userId: "v" }, "groupId", "required"],
    ["batch missing", "batch", { calls: [] }, "batch", "required"],
    ["batch not a list", "batch", { batch: {} }, "batch", "invalid_type"],
    ["batch empty", "batch", { batch: [] }, "batch", "too_short"],
    ["batch call without type", "batch", { batch: [{ userId: "v", event: "x" }] }, "batch[0].type", "required"],
    ["batch call of unknown type", "batch", { batch: [{ type: "purchase", userId: "v" }] }, "batch[0].type", "invalid_value"],
    ["batch call not an object", "batch", { batch: ["track"] }, "batch[0]", "invalid_type"],
  ];

  it.each(cases)("%s", async (_name, endpoint, body, field, code) => {
    const before = await countEvents(app);
    const res = await send(app, endpoint, body, { key });
    expect(res.status).toBe(400);
    expect(res.body.success).toBe(false);
    const reported = res.body.errors ?? [];
    expect(reported.map((e) => e.field), JSON.stringify(res.body)).toContain(field);
    expect(reported.find((e) => e.field === field)?.code).toBe(code);
    expect(res.body.error?.message).toContain(reported[0].field);
    expect(await countEvents(app)).toBe(before);
  });

  it("a body that is not JSON, or not an object", async () => {
    const notJson = await send(app, "track", null, { key, raw: "{ not json" });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toMatchObject({ code: "invalid_json", field: "body" });
    const array = await send(app, "track", [1, 2], { key });
    expect(array.status).toBe(400);
    expect(array.body.error).toMatchObject({ code: "invalid_type", field: "body" });
  });

  it("GET is not allowed", async () => {
    const res = await send(app, "track", undefined, { key, method: "GET" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
  });
});

describe("size limits (Segment: 32 KB per call, 500 KB per batch)", () => {
  it("a call over 32 KB is a 413", async () => {
    const res = await send(app, "track", { userId: "big", event: "x", properties: { blob: "x".repeat(33 * 1024) } }, { key });
    expect(res.status).toBe(413);
    expect(res.body.error?.code).toBe("too_large");
  });

  it("a batch over 500 KB is a 413; a batch call over 32 KB is rejected alone", async () => {
    const huge = await send(app, "batch", { batch: [{ type: "track", userId: "big", event: "x", properties: { blob: "x".repeat(501 * 1024) } }] }, { key });
    expect(huge.status).toBe(413);
    const ok = mid();
    const mixed = await send(
      app,
      "batch",
      { batch: [{ type: "track", userId: "big", messageId: ok, event: "x" }, { type: "track", userId: "big", messageId: mid(), event: "x", properties: { blob: "x".repeat(40 * 1024) } }] },
      { key },
    );
    expect(mixed.status).toBe(400);
    expect(mixed.body.errors).toEqual([expect.objectContaining({ index: 1, field: "batch[1]", code: "too_large" })]);
    expect(await eventsByMessageId(app, [ok])).toBe(1);
  });

  it("accepts gzip bodies, and measures the limit after inflating", async () => {
    const messageId = mid();
    const zipped = gzipSync(Buffer.from(JSON.stringify({ userId: "gz", messageId, event: "zipped" })));
    const res = await send(app, "track", null, { key, raw: zipped, headers: { "content-encoding": "gzip" } });
    expect(res.status).toBe(200);
    expect(await eventsByMessageId(app, [messageId])).toBe(1);
    const bomb = gzipSync(Buffer.from(JSON.stringify({ userId: "gz", event: "x", properties: { blob: "0".repeat(200_000) } })));
    expect(bomb.length).toBeLessThan(32 * 1024);
    const refused = await send(app, "track", null, { key, raw: bomb, headers: { "content-encoding": "gzip" } });
    expect(refused.status).toBe(413);
  });
});

describe("write-key authentication", () => {
  it("HTTP Basic with the key as user name, or writeKey in the body", async () => {
    expect((await send(app, "track", { userId: "auth", event: "x" }, { key })).status).toBe(200);
    expect((await send(app, "track", { userId: "auth", event: "x", writeKey: key }, { key: null })).status).toBe(200);
    expect((await send(app, "track", { userId: "auth", event: "x" }, { key: null, headers: { authorization: `Basic ${Buffer.from(`:${key}`).toString("base64")}` } })).status).toBe(200);
  });

  it("refuses a missing, unknown, secret or revoked key with 401 and stores nothing", async () => {
    const before = await countEvents(app);
    const missing = await send(app, "track", { userId: "auth", event: "x" }, { key: null });
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toMatch(/^Basic/);
    expect((await send(app, "track", { userId: "auth", event: "x" }, { key: `${key}x` })).status).toBe(401);
    expect((await send(app, "track", { userId: "auth", event: "x" }, { key: "not-a-key" })).status).toBe(401);
    const secret = await createApiKey(app.services.db, { workspaceId: app.workspaceId, kind: "secret", name: "s" });
    expect((await send(app, "track", { userId: "auth", event: "x" }, { key: secret.key })).status).toBe(401);
    const revoked = await createApiKey(app.services.db, { workspaceId: app.workspaceId, kind: "write", name: "r" });
    expect((await send(app, "track", { userId: "auth", event: "x" }, { key: revoked.key })).status).toBe(200);
    await app.services.db.update(apiKeys).set({ revokedAt: new Date() }).where(sql`${apiKeys.id} = ${revoked.id}`);
    clearKeyCache(app.services);
    expect((await send(app, "track", { userId: "auth", event: "x" }, { key: revoked.key })).status).toBe(401);
    // A bad key is refused before the body is even judged.
    expect((await send(app, "track", null, { key: "nope", raw: "{" })).status).toBe(401);
    expect(await countEvents(app)).toBe(before + 1);
  });

  it("an unauthenticated request never reveals whether its body was valid", async () => {
    const res = await send(app, "track", { userId: "" }, { key: null });
    expect(res.status).toBe(401);
    expect(JSON.stringify(res.body)).not.toContain("userId");
  });

  it("authorization header formats", () => {
    expect(basic("k")).toBe(`Basic ${Buffer.from("k:").toString("base64")}`);
  });
});

describe("rate limiting per write key", () => {
  let limited: TestApp;
  let limitedKey: string;
  beforeAll(async () => {
    limited = await startTestApp({ env: { WAYPOST_INGEST_RATE_LIMIT: "2", WAYPOST_INGEST_BURST: "5" } });
    limitedKey = await writeKey(limited);
  });
  afterAll(() => limited?.close());

  it("answers 429 with Retry-After once the burst is used, counting batch calls", async () => {
    const ok = await send(limited, "batch", { batch: Array.from({ length: 4 }, (_, i) => ({ type: "track", userId: "r", messageId: `r-${i}`, event: "x" })) }, { key: limitedKey });
    expect(ok.status).toBe(200);
    expect((await send(limited, "track", { userId: "r", event: "x" }, { key: limitedKey })).status).toBe(200);
    const refused = await send(limited, "track", { userId: "r", messageId: "refused", event: "x" }, { key: limitedKey });
    expect(refused.status).toBe(429);
    expect(refused.body.error?.code).toBe("rate_limited");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await eventsByMessageId(limited, ["refused"])).toBe(0);
    // Another key of the same workspace has its own bucket.
    const other = await writeKey(limited, "other");
    expect((await send(limited, "track", { userId: "r", event: "x" }, { key: other })).status).toBe(200);
  });
});

describe("segment signals", () => {
  it("stored calls are queued for segment evaluation; the evaluator drains", async () => {
    await send(app, "track", { userId: "sig", messageId: mid(), event: "x" }, { key });
    await segmentRuntime(app.services).evaluator.whenIdle();
  });
});
