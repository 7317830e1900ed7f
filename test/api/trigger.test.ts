import { randomUUID } from "node:crypto";
import { bundleWorkflowCode } from "@temporalio/worker";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { query } from "../../db/client";
import { apiErrorSchema } from "../../app/api/schemas";
import { triggerBatchResponseSchema, triggerOutcomeSchema, userEventsResponseSchema } from "../../app/api/trigger-schemas";
import { createApiKey } from "../../app/lib/auth.server";
import { createJourney, publishJourney, setJourneyStatus } from "../../app/lib/journeys.server";
import { embeddedAppEngine, temporalAppEngine } from "../../cli/engine-services";
import { buildJourney } from "../../workflows/builder";
import type { JourneyEngine } from "../../workflows/engine";
import { WORKFLOWS_PATH } from "../../workflows/temporal/worker";
import { startTestApp, type TestApp } from "../support/app";
import { untilNoActiveInstance } from "../support/instances";

// POST /api/v1/journeys/{id}/trigger and GET /api/v1/users/{id}/events over real HTTP (the built
// app), with the app's own engine: embedded always, Temporal on a real server when
// TEMPORAL_ADDRESS is set (npm test starts one). Every answer is checked against the zod schema
// the OpenAPI document is generated from.

const temporalAddress = process.env.TEMPORAL_ADDRESS;

interface Harness {
  app: TestApp;
  engine: JourneyEngine;
  /** Until every instance has finished (what the journeys below do takes no time). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

describe("API trigger (embedded engine)", () => {
  triggerSuite(async () => {
    const app = await startTestApp({ serve: true });
    const engine = embeddedAppEngine(app.services);
    app.services.engine = engine;
    return {
      app,
      engine,
      settle: async () => {
        await engine.runUntilIdle();
      },
      close: () => app.close(),
    };
  });
});

describe.skipIf(!temporalAddress)("API trigger (Temporal engine, real server and worker)", () => {
  triggerSuite(async () => {
    const temporalEnv = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith("TEMPORAL_") && e[1] !== undefined));
    const app = await startTestApp({ serve: true, env: { ...temporalEnv, WAYPOST_ENGINE: "temporal", TEMPORAL_TASK_QUEUE: `waypost-trigger-${randomUUID()}` } });
    const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH });
    const engine = temporalAppEngine(app.services, { workflowBundle: { code: bundle.code } });
    app.services.engine = engine;
    await engine.start();
    return {
      app,
      engine,
      settle: () => untilNoActiveInstance(app.services.db),
      close: async () => {
        await engine.stop();
        await app.close();
      },
    };
  });
});

function valid<T extends z.ZodTypeAny>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new Error(`response does not match its schema: ${JSON.stringify(parsed.error.issues)}\n${JSON.stringify(body)}`);
  return parsed.data;
}

function triggerSuite(setup: () => Promise<Harness>): void {
  let h: Harness;
  let secret: string;
  let write: string;
  let couponJourney: string;

  const ctx = () => ({ workspaceId: h.app.workspaceId });

  async function call(method: string, path: string, options: { body?: unknown; raw?: string; auth?: string | null; headers?: Record<string, string> } = {}) {
    const res = await fetch(`${h.app.url}${path}`, {
      method,
      headers: {
        ...(options.auth === null ? {} : { authorization: options.auth ?? `Bearer ${secret}` }),
        ...(options.body !== undefined || options.raw !== undefined ? { "content-type": "application/json" } : {}),
        ...options.headers,
      },
      body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
    });
    return { status: res.status, body: (await res.json()) as unknown };
  }

  async function publish(name: string, trigger: Record<string, unknown>, entry: "once" | "concurrent" = "concurrent"): Promise<string> {
    const document = buildJourney({
      name,
      settings: { entry: { rule: entry }, holdoutPercent: 0, exitEvents: [] },
      nodes: [
        { id: "trigger", type: "core.trigger", config: trigger },
        { id: "sms", type: "core.sms", config: { body: "您的优惠码 {{ event.properties.coupon }}", category: "transactional" } },
        { id: "exit", type: "core.exit", config: {} },
      ],
      edges: [
        ["trigger", "next", "sms"],
        ["sms", "sent", "exit"],
        ["sms", "failed", "exit"],
      ],
    });
    const journey = await createJourney(h.app.services.db, ctx(), { name, document });
    expect((await publishJourney(h.app.services.db, ctx(), { journeyId: journey.id })).ok).toBe(true);
    return journey.id;
  }

  const instancesOf = (journeyId: string) =>
    query<{ id: string; user_id: string }>(h.app.services.db, sql`select id, user_id from journey_instances where journey_id = ${journeyId}::uuid order by user_id`);

  beforeAll(async () => {
    h = await setup();
    secret = (await createApiKey(h.app.services.db, { workspaceId: h.app.workspaceId, kind: "secret", name: "crm" })).key;
    write = (await createApiKey(h.app.services.db, { workspaceId: h.app.workspaceId, kind: "write", name: "app" })).key;
    couponJourney = await publish("coupon by API", { source: "api" });
  });
  afterAll(() => h?.close());

  it("needs a secret key: none, a wrong one and a write key are refused", async () => {
    for (const auth of [null, "Bearer sk_nope", `Bearer ${write}`]) {
      const res = await call("POST", `/api/v1/journeys/${couponJourney}/trigger`, { body: { userId: "u" }, auth });
      expect(res.status).toBe(401);
      valid(apiErrorSchema, res.body);
    }
    expect(await instancesOf(couponJourney)).toEqual([]);
  });

  it("enters one user, and the properties reach the copy", async () => {
    await query(h.app.services.db, sql`insert into users (workspace_id, id, phone, traits) values (${h.app.workspaceId}::uuid, 'ada', '+8613800001234', '{}'::jsonb)`);
    const res = await call("POST", `/api/v1/journeys/${couponJourney}/trigger`, { body: { userId: "ada", properties: { coupon: "WIN10" } } });
    expect(res.status).toBe(200);
    const out = valid(triggerOutcomeSchema, res.body);
    expect(out).toMatchObject({ userId: "ada", entered: true, replayed: false, reason: null });
    await h.settle();
    const [instance] = await instancesOf(couponJourney);
    expect(instance).toMatchObject({ id: out.instanceId, user_id: "ada" });
    const messages = await query<{ content: { body?: string } }>(h.app.services.db, sql`select content from messages where user_id = 'ada' and journey_id = ${couponJourney}`);
    expect(messages.map((m) => m.content.body)).toEqual(["您的优惠码 WIN10"]);
  });

  it("an idempotency key (body or header) enters at most once and the repeat answers with the same instance", async () => {
    const first = valid(triggerOutcomeSchema, (await call("POST", `/api/v1/journeys/${couponJourney}/trigger`, { body: { userId: "bo", idempotencyKey: "order-77" } })).body);
    const again = valid(triggerOutcomeSchema, (await call("POST", `/api/v1/journeys/${couponJourney}/trigger`, { body: { userId: "bo", idempotencyKey: "order-77" } })).body);
    expect(first).toMatchObject({ entered: true, replayed: false });
    expect(again).toEqual({ ...first, replayed: true });

    const viaHeader = valid(triggerOutcomeSchema, (await call("POST", `/api/v1/journeys/${couponJourney}/trigger`, { body: { userId: "bo" }, headers: { "idempotency-key": "order-78" } })).body);
    const headerAgain = valid(triggerOutcomeSchema, (await call("POST", `/api/v1/journeys/${couponJourney}/trigger`, { body: { userId: "bo" }, headers: { "idempotency-key": "order-78" } })).body);
    expect(headerAgain).toEqual({ ...viaHeader, replayed: true });
    expect(viaHeader.instanceId).not.toBe(first.instanceId);
    // The same key for another user is another entry.
    const other = valid(triggerOutcomeSchema, (await call("POST", `/api/v1/journeys/${couponJourney}/trigger`, { body: { userId: "cy", idempotencyKey: "order-77" } })).body);
    expect(other).toMatchObject({ entered: true, replayed: false });
    await h.settle();
    expect((await instancesOf(couponJourney)).filter((i) => i.user_id === "bo")).toHaveLength(2);
  });

  it("the batch form enters each user and reports each result", async () => {
    const res = await call("POST", `/api/v1/journeys/${couponJourney}/trigger`, {
      body: { users: [{ userId: "b1", properties: { coupon: "A" } }, { userId: "b2", idempotencyKey: "k" }, { userId: "b2", idempotencyKey: "k" }] },
    });
    expect(res.status).toBe(200);
    const out = valid(triggerBatchResponseSchema, res.body);
    expect(out.entered).toBe(3);
    expect(out.results.map((r) => [r.userId, r.entered, r.replayed])).toEqual([
      ["b1", true, false],
      ["b2", true, false],
      ["b2", true, true],
    ]);
    expect(out.results[2]!.instanceId).toBe(out.results[1]!.instanceId);
  });

  it("entry rules apply: a second entry into a once-only journey is refused with its reason", async () => {
    const once = await publish("once by API", { source: "api" }, "once");
    expect(valid(triggerOutcomeSchema, (await call("POST", `/api/v1/journeys/${once}/trigger`, { body: { userId: "dee" } })).body).entered).toBe(true);
    await h.settle();
    const second = valid(triggerOutcomeSchema, (await call("POST", `/api/v1/journeys/${once}/trigger`, { body: { userId: "dee" } })).body);
    expect(second).toMatchObject({ entered: false, instanceId: null, replayed: false });
    expect(second.reason).toBeTruthy();
  });

  it("bad input answers 400 naming the field, and nothing enters", async () => {
    const before = (await instancesOf(couponJourney)).length;
    const cases: Array<{ body?: unknown; raw?: string; headers?: Record<string, string>; path: string }> = [
      { raw: "{not json", path: "body" },
      { body: {}, path: "userId" },
      { body: { userId: "" }, path: "userId" },
      { body: { userId: "a\u0000b" }, path: "userId" },
      { body: { userId: "x".repeat(256) }, path: "userId" },
      { body: { userId: "u", properties: "nope" }, path: "properties" },
      { body: { userId: "u", properties: { big: "x".repeat(40_000) } }, path: "properties" },
      { body: { userId: "u", extra: 1 }, path: "body" },
      { body: { users: [] }, path: "users" },
      { body: { users: [{ userId: "ok" }, { userId: 5 }] }, path: "users.1.userId" },
      { body: { users: Array.from({ length: 1001 }, (_, i) => ({ userId: `u${i}` })) }, path: "users" },
      { body: { users: [{ userId: "u" }] }, headers: { "idempotency-key": "k" }, path: "Idempotency-Key" },
      { body: { userId: "u" }, headers: { "idempotency-key": "k".repeat(300) }, path: "Idempotency-Key" },
    ];
    for (const c of cases) {
      const res = await call("POST", `/api/v1/journeys/${couponJourney}/trigger`, c);
      expect(res.status, JSON.stringify(c).slice(0, 80)).toBe(400);
      const error = valid(apiErrorSchema, res.body).error;
      expect(error.issues?.map((i) => i.path) ?? [], JSON.stringify(c).slice(0, 80)).toContain(c.path);
    }
    await h.settle();
    expect((await instancesOf(couponJourney)).length).toBe(before);
  });

  it("a journey that cannot be entered by API is refused with what to do", async () => {
    const byEvent = await publish("by event", { source: "event", event: "signed_up" });
    const draft = await createJourney(h.app.services.db, ctx(), { name: "draft", document: buildJourney({ name: "draft", settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] }, nodes: [{ id: "trigger", type: "core.trigger", config: { source: "api" } }, { id: "exit", type: "core.exit", config: {} }], edges: [["trigger", "next", "exit"]] }) });
    const paused = await publish("paused", { source: "api" });
    await setJourneyStatus(h.app.services.db, ctx(), paused, "paused", { engine: h.engine });

    const expectations: Array<[string, number, string]> = [
      [randomUUID(), 404, "not_found"],
      ["not-a-uuid", 404, "not_found"],
      [byEvent, 409, "not_api_trigger"],
      [draft.id, 409, "not_published"],
      [paused, 409, "paused"],
    ];
    for (const [id, status, code] of expectations) {
      const res = await call("POST", `/api/v1/journeys/${id}/trigger`, { body: { userId: "eve" } });
      expect(res.status, code).toBe(status);
      const error = valid(apiErrorSchema, res.body).error;
      expect(error.code).toBe(code);
      expect(error.message.length).toBeGreaterThan(20);
    }
    expect((await call("GET", `/api/v1/journeys/${couponJourney}/trigger`)).status).toBe(405);
  });

  it("GET /users/{id}/events pages through a user's events, filters by name, and refuses bad parameters", async () => {
    for (let i = 0; i < 3; i++) {
      const timestamp = new Date(Date.UTC(2026, 0, 1, 8, i)).toISOString();
      expect((await call("POST", "/api/v1/track", { body: { userId: "fay", event: "app_opened", timestamp, properties: { i } }, auth: `Bearer ${write}` })).status).toBe(200);
    }
    const page1 = valid(userEventsResponseSchema, (await call("GET", "/api/v1/users/fay/events?limit=2")).body);
    expect(page1.events).toHaveLength(2);
    // Newest first.
    expect(page1.events.map((e) => [e.name, e.properties.i])).toEqual([
      ["app_opened", 2],
      ["app_opened", 1],
    ]);
    expect(page1.nextBefore).not.toBeNull();
    const page2 = valid(userEventsResponseSchema, (await call("GET", `/api/v1/users/fay/events?limit=2&before=${encodeURIComponent(page1.nextBefore!)}`)).body);
    expect(page2.events).toHaveLength(1);
    expect(page2.nextBefore).toBeNull();
    expect(new Set([...page1.events, ...page2.events].map((e) => e.id)).size).toBe(3);
    expect(valid(userEventsResponseSchema, (await call("GET", "/api/v1/users/fay/events?name=order_completed")).body).events).toEqual([]);

    for (const [q, path] of [
      ["limit=0", "limit"],
      ["limit=abc", "limit"],
      ["before=yesterday", "before"],
      [`name=${encodeURIComponent("a\u0000")}`, "name"],
    ] as const) {
      const res = await call("GET", `/api/v1/users/fay/events?${q}`);
      expect(res.status, q).toBe(400);
      expect(valid(apiErrorSchema, res.body).error.issues?.map((i) => i.path)).toContain(path);
    }
    expect((await call("GET", "/api/v1/users/fay/events", { auth: `Bearer ${write}` })).status).toBe(401);
  });
}
