import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { query } from "../../db/client";
import { apiKeys, messages } from "../../db/schema";
import {
  apiErrorSchema,
  eraseResponseSchema,
  journeyImportResponseSchema,
  journeyPublishResponseSchema,
  journeyResponseSchema,
  journeysResponseSchema,
  journeyStatsResponseSchema,
  journeyStatusResponseSchema,
  segmentCountResponseSchema,
  segmentResponseSchema,
  segmentsResponseSchema,
  userJourneysResponseSchema,
  userMessagesResponseSchema,
  userResponseSchema,
} from "../../app/api/schemas";
import { clearKeyCache } from "../../app/ingest/keys.server";
import { createApiKey } from "../../app/lib/auth.server";
import { segmentRuntime } from "../../app/segments/membership.server";
import { createSegment } from "../../app/segments/store.server";
import { registeredNoOrderJourney } from "../../workflows/demo-journeys";
import { startTestApp, type TestApp } from "../support/app";
import { basic } from "../ingest/helpers";

// The management REST API over HTTP with a secret key. Every response is validated against the
// zod schema the OpenAPI document is generated from.

let app: TestApp;
let secret: string;
let write: string;

beforeAll(async () => {
  app = await startTestApp({ serve: true });
  secret = (await createApiKey(app.services.db, { workspaceId: app.workspaceId, kind: "secret", name: "scripts" })).key;
  write = (await createApiKey(app.services.db, { workspaceId: app.workspaceId, kind: "write", name: "app" })).key;
});
afterAll(() => app?.close());

async function call(method: string, path: string, options: { body?: unknown; auth?: string | null } = {}) {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: {
      ...(options.auth === null ? {} : { authorization: options.auth ?? `Bearer ${secret}` }),
      ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as unknown };
}

function valid<T extends z.ZodTypeAny>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new Error(`response does not match its schema: ${JSON.stringify(parsed.error.issues)}\n${JSON.stringify(body)}`);
  return parsed.data;
}

async function ingest(path: string, body: unknown) {
  const res = await fetch(`${app.url}/api/v1/${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: basic(write) }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
}

describe("secret-key authentication", () => {
  it("refuses no key, a write key, an unknown key and a revoked key with 401", async () => {
    const paths = ["/api/v1/segments", "/api/v1/users/someone", "/api/v1/journeys"];
    for (const path of paths) {
      const none = await call("GET", path, { auth: null });
      expect(none.status, path).toBe(401);
      expect(valid(apiErrorSchema, none.body).error.code).toBe("unauthorized");
      expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect((await call("GET", path, { auth: `Bearer ${write}` })).status).toBe(401);
      expect((await call("GET", path, { auth: `Bearer ${secret}x` })).status).toBe(401);
    }
    expect((await call("GET", "/api/v1/segments", { auth: basic(secret) })).status).toBe(200);
    const revoked = await createApiKey(app.services.db, { workspaceId: app.workspaceId, kind: "secret", name: "old" });
    expect((await call("GET", "/api/v1/segments", { auth: `Bearer ${revoked.key}` })).status).toBe(200);
    await app.services.db.update(apiKeys).set({ revokedAt: new Date() }).where(sql`${apiKeys.id} = ${revoked.id}`);
    // The server process caches verified keys for a few seconds; this clears that process's cache.
    clearKeyCache(app.services);
    expect((await call("GET", "/api/v1/segments", { auth: `Bearer ${revoked.key}` })).status).toBe(401);
  });

  it("answers 405 for a method an endpoint does not take", async () => {
    const res = await call("POST", "/api/v1/segments", { body: {} });
    expect(res.status).toBe(405);
  });
});

describe("users", () => {
  it("get: profile, segments and device tokens; 404 for an unknown user", async () => {
    await createSegment(app.services, app.workspaceId, { name: "Beijing", key: "beijing", definition: { kind: "group", match: "all", rules: [{ kind: "trait", trait: "city", op: "eq", value: "北京" }] } });
    await ingest("identify", { userId: "api-user", traits: { email: "api@example.com", city: "北京", tags: ["vip"] }, context: { device: { token: "a-very-long-device-token-123456" } } });
    await segmentRuntime(app.services).evaluator.whenIdle();
    const res = await call("GET", "/api/v1/users/api-user");
    expect(res.status).toBe(200);
    const { user } = valid(userResponseSchema, res.body);
    expect(user).toMatchObject({ id: "api-user", email: "api@example.com", tags: ["vip"], traits: { city: "北京" } });
    expect(user.segments.map((s) => s.key)).toEqual(["beijing"]);
    expect(user.deviceTokens[0].token).toBe("a-very-l…123456");
    const missing = await call("GET", "/api/v1/users/nobody");
    expect(missing.status).toBe(404);
    expect(valid(apiErrorSchema, missing.body).error.code).toBe("not_found");
  });

  it("ids with URL-special characters round-trip", async () => {
    await ingest("identify", { userId: "a/b c?d#", traits: { plan: "x" } });
    const res = await call("GET", `/api/v1/users/${encodeURIComponent("a/b c?d#")}`);
    expect(res.status).toBe(200);
    expect(valid(userResponseSchema, res.body).user.id).toBe("a/b c?d#");
  });

  it("messages and journeys of a user", async () => {
    await app.services.db.insert(messages).values({
      workspaceId: app.workspaceId,
      idempotencyKey: "api-msg-1",
      userId: "api-user",
      channel: "sms",
      category: "transactional",
      state: "failed",
      failureReason: "invalid_address",
      content: { body: "车费已扣除 ¥3" },
    });
    const list = valid(userMessagesResponseSchema, (await call("GET", "/api/v1/users/api-user/messages")).body);
    expect(list.messages).toEqual([expect.objectContaining({ channel: "sms", state: "failed", failureReason: "invalid_address", body: "车费已扣除 ¥3" })]);
    const journeys = valid(userJourneysResponseSchema, (await call("GET", "/api/v1/users/api-user/journeys")).body);
    expect(journeys.journeys).toEqual([]);
    expect((await call("GET", "/api/v1/users/api-user/messages?limit=0")).status).toBe(400);
  });

  it("delete erases everything about the user", async () => {
    await ingest("identify", { userId: "gone", traits: { city: "北京" }, context: { device: { token: "gone-token" } } });
    await ingest("track", { userId: "gone", event: "order_completed" });
    await segmentRuntime(app.services).evaluator.whenIdle();
    await app.services.db.insert(messages).values({ workspaceId: app.workspaceId, idempotencyKey: "gone-msg", userId: "gone", channel: "push", category: "marketing" });
    const res = await call("DELETE", "/api/v1/users/gone");
    expect(res.status).toBe(200);
    const { deleted } = valid(eraseResponseSchema, res.body);
    expect(deleted).toMatchObject({ users: 1, events: 2, device_tokens: 1, messages: 1, segment_members: 1 });
    for (const table of ["users", "events", "device_tokens", "messages", "segment_members", "segment_membership_events"]) {
      const column = table === "users" ? "id" : "user_id";
      const [row] = await query<{ n: number | string }>(app.services.db, sql`select count(*) as n from ${sql.identifier(table)} where ${sql.identifier(column)} = 'gone'`);
      expect(Number(row.n), table).toBe(0);
    }
    const [audit] = await query<{ action: string }>(app.services.db, sql`select action from audit_log where target = 'gone'`);
    expect(audit.action).toBe("user.erased");
    expect((await call("DELETE", "/api/v1/users/gone")).status).toBe(404);
  });
});

describe("segments", () => {
  it("list, get by id or key, count", async () => {
    const list = valid(segmentsResponseSchema, (await call("GET", "/api/v1/segments")).body);
    const beijing = list.segments.find((s) => s.key === "beijing")!;
    expect(beijing).toMatchObject({ name: "Beijing", rules: "city = 北京", timeDependent: false, memberCount: 1 });
    const byKey = valid(segmentResponseSchema, (await call("GET", "/api/v1/segments/beijing")).body);
    const byId = valid(segmentResponseSchema, (await call("GET", `/api/v1/segments/${beijing.id}`)).body);
    expect(byKey.segment.id).toBe(byId.segment.id);
    const count = valid(segmentCountResponseSchema, (await call("GET", "/api/v1/segments/beijing/count")).body);
    expect(count).toMatchObject({ key: "beijing", count: 1 });
    expect((await call("GET", "/api/v1/segments/nope/count")).status).toBe(404);
  });
});

describe("journeys", () => {
  it("import, get, export, publish, pause, resume, stats, list", async () => {
    const imported = await call("POST", "/api/v1/journeys", { body: { document: registeredNoOrderJourney(), name: "API import" } });
    expect(imported.status).toBe(201);
    const { id } = valid(journeyImportResponseSchema, imported.body);

    const detail = valid(journeyResponseSchema, (await call("GET", `/api/v1/journeys/${id}`)).body);
    expect(detail.journey).toMatchObject({ id, name: "API import", status: "draft", liveVersion: null, hasDraft: true });

    const exported = await call("GET", `/api/v1/journeys/${id}/export`);
    expect(exported.status).toBe(200);
    expect(exported.headers.get("content-disposition")).toContain(`journey-${id}.json`);
    expect(exported.body).toMatchObject({ schemaVersion: 1, name: "API import" });

    const published = valid(journeyPublishResponseSchema, (await call("POST", `/api/v1/journeys/${id}/publish`)).body);
    expect(published.version).toBe(1);
    expect((await call("POST", `/api/v1/journeys/${id}/publish`)).status).toBe(409);
    expect((await call("GET", `/api/v1/journeys/${id}/export?version=1`)).body).toMatchObject({ schemaVersion: 1 });
    expect((await call("GET", `/api/v1/journeys/${id}/export?version=9`)).status).toBe(404);
    expect((await call("GET", `/api/v1/journeys/${id}/export?version=abc`)).status).toBe(400);

    expect(valid(journeyStatusResponseSchema, (await call("POST", `/api/v1/journeys/${id}/pause`)).body)).toEqual({ id, status: "paused", held: false });
    expect(valid(journeyStatusResponseSchema, (await call("POST", `/api/v1/journeys/${id}/resume`)).body)).toEqual({ id, status: "live", held: false });
    // Pausing may hold the users inside; a wrong choice is refused, naming the field, and changes nothing.
    const wrong = await call("POST", `/api/v1/journeys/${id}/pause`, { body: { inside: "freeze" } });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({ error: { code: "invalid_value", issues: [expect.objectContaining({ path: "inside" })] } });
    expect(valid(journeysResponseSchema, (await call("GET", "/api/v1/journeys")).body).journeys.find((j) => j.id === id)?.status).toBe("live");
    expect(valid(journeyStatusResponseSchema, (await call("POST", `/api/v1/journeys/${id}/pause`, { body: { inside: "hold" } })).body)).toEqual({ id, status: "paused", held: true });
    expect(valid(journeyStatusResponseSchema, (await call("POST", `/api/v1/journeys/${id}/resume`)).body)).toEqual({ id, status: "live", held: false });

    const stats = valid(journeyStatsResponseSchema, (await call("GET", `/api/v1/journeys/${id}/stats`)).body);
    expect(stats).toMatchObject({ id, instances: { active: 0, completed: 0 }, conversions: 0 });

    const list = valid(journeysResponseSchema, (await call("GET", "/api/v1/journeys")).body);
    expect(list.journeys.find((j) => j.id === id)).toMatchObject({ status: "live", liveVersion: 1, hasDraft: false });
    expect(valid(journeysResponseSchema, (await call("GET", "/api/v1/journeys?status=draft")).body).journeys.find((j) => j.id === id)).toBeUndefined();
  });

  it("refuses invalid documents with the fields named, unknown ids with 404, bad JSON with 400", async () => {
    const bad = await call("POST", "/api/v1/journeys", { body: { schemaVersion: 1, name: "", settings: {}, nodes: "x", edges: [] } });
    expect(bad.status).toBe(400);
    const error = valid(apiErrorSchema, bad.body).error;
    expect(error.code).toBe("invalid_document");
    expect(error.issues!.map((i) => i.path)).toEqual(expect.arrayContaining(["nodes"]));
    expect((await call("GET", "/api/v1/journeys/00000000-0000-0000-0000-000000000000")).status).toBe(404);
    expect((await call("GET", "/api/v1/journeys/not-a-uuid/stats")).status).toBe(404);
    const res = await fetch(`${app.url}/api/v1/journeys`, { method: "POST", headers: { authorization: `Bearer ${secret}` }, body: "{nope" });
    expect(res.status).toBe(400);
  });

  it("a journey of another workspace is not found", async () => {
    const [other] = await query<{ id: string }>(app.services.db, sql`insert into workspaces (name) values ('Other') returning id`);
    const otherSecret = (await createApiKey(app.services.db, { workspaceId: other.id, kind: "secret", name: "x" })).key;
    const { id } = valid(journeyImportResponseSchema, (await call("POST", "/api/v1/journeys", { body: registeredNoOrderJourney() })).body);
    expect((await call("GET", `/api/v1/journeys/${id}`, { auth: `Bearer ${otherSecret}` })).status).toBe(404);
    expect((await call("GET", "/api/v1/users/api-user", { auth: `Bearer ${otherSecret}` })).status).toBe(404);
  });
});
