import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey, sha256 } from "../../app/lib/auth.server";
import type { Logger } from "../../app/lib/log.server";
import { createSegment } from "../../app/segments/store.server";
import { sessions } from "../../db/schema";
import { startTestApp, type TestApp } from "../support/app";
import { fingerprint } from "./state";

// The reproductions of issue 13 item 7, each over real HTTP against the built app: every one
// answered 500 before, some with the SQL text and its parameters in the message.

let app: TestApp;
let cookie: string;
let secretKey: string;
const logged: { msg: string; fields?: Record<string, unknown> }[] = [];

beforeAll(async () => {
  app = await startTestApp({ serve: true });
  const quiet = app.services.log;
  const capture: Logger = { ...quiet, error: (msg, fields) => logged.push({ msg, fields }) };
  app.services.log = capture;
  const admin = await app.addOperator("admin");
  const token = randomBytes(24).toString("base64url");
  await app.services.db.insert(sessions).values({ tokenHash: sha256(token), operatorId: admin.id, workspaceId: app.workspaceId, expiresAt: new Date(Date.now() + 3_600_000) });
  cookie = `waypost_session=${token}`;
  secretKey = (await createApiKey(app.services.db, { workspaceId: app.workspaceId, kind: "secret", name: "known cases" })).key;
  await createSegment(app.services, app.workspaceId, { name: "Known", key: "known", definition: { kind: "group", match: "all", rules: [] } });
});
afterAll(() => app?.close());

type TrpcError = { message: string; data: { code: string; httpStatus: number; issues?: { path: string; message: string }[] | null; requestId?: string | null } };

async function trpc(path: string, input: unknown, kind: "query" | "mutation" = "query"): Promise<{ status: number; error?: TrpcError; text: string }> {
  const body = JSON.stringify({ json: input });
  const res =
    kind === "query"
      ? await fetch(`${app.url}/api/trpc/${path}?input=${encodeURIComponent(body)}`, { headers: { cookie } })
      : await fetch(`${app.url}/api/trpc/${path}`, { method: "POST", headers: { cookie, "content-type": "application/json" }, body });
  const text = await res.text();
  const parsed = JSON.parse(text) as { error?: { json: TrpcError } };
  return { status: res.status, error: parsed.error?.json, text };
}

const NO_LEAK = /Failed query|params:|select |insert |\/work\/|node_modules|\n\s+at /i;

function expectField(res: Awaited<ReturnType<typeof trpc>>, path: string | RegExp) {
  expect(res.status, res.text).toBe(400);
  expect(res.text).not.toMatch(NO_LEAK);
  const paths = (res.error?.data.issues ?? []).map((i) => i.path);
  expect(paths.some((p) => (typeof path === "string" ? p === path : path.test(p))), `${paths.join(", ")} in ${res.text.slice(0, 300)}`).toBe(true);
}

describe("issue 13 item 7 reproductions answer 4xx naming the field", () => {
  it("a segment validation error is a 400 with its issues (was: i.path.join is not a function)", async () => {
    const res = await trpc("segments.create", { name: "Bad", definition: { kind: "group", match: "all", rules: [{ kind: "trait", trait: "plan", op: "between" }] } }, "mutation");
    expectField(res, "definition.rules.0.op");
    const preview = await trpc("segments.preview", { definition: { kind: "nope" } });
    expectField(preview, /^definition/);
  });

  it("NUL in rule fields and search fields", async () => {
    expectField(await trpc("segments.preview", { definition: { kind: "group", match: "all", rules: [{ kind: "trait", trait: "plan", op: "eq", value: "a\u0000b" }] } }), "definition.rules.0.value");
    expectField(await trpc("segments.preview", { definition: { kind: "group", match: "all", rules: [{ kind: "tag", op: "has", tag: "\u0000" }] } }), "definition.rules.0.tag");
    expectField(await trpc("users.list", { search: "x\u0000" }), "search");
    expectField(await trpc("journeys.list", { search: "\u0000" }), "search");
    expectField(await trpc("users.get", { userId: "\u0000" }), "userId");
  });

  it("free-text paging cursors", async () => {
    for (const [path, input] of [
      ["users.list", { after: "not a cursor \u00e9" }],
      ["users.events", { userId: "u", before: { timestamp: "yesterday-ish", id: 1 } }],
      ["segments.members", { id: "known", after: { enteredAt: "not a date", userId: "u" } }],
      ["operations.list", { after: "garbage" }],
    ] as const) {
      // A cursor that matches nothing may page to nothing (200) or be refused (4xx); never a 500.
      const res = await trpc(path, input);
      expect(res.status, `${path} ${res.text.slice(0, 300)}`).toBeLessThan(500);
      expect(res.text).not.toMatch(NO_LEAK);
    }
  });

  it("a 5,000-part property path", async () => {
    const property = Array.from({ length: 5000 }, () => "a").join(".");
    const res = await trpc("segments.preview", { definition: { kind: "group", match: "all", rules: [{ kind: "event", event: "bought", check: "did", filters: [{ property, op: "exists" }] }] } });
    expectField(res, "definition.rules.0.filters.0.property");
  });

  it("GET /api/v1/users/%00 and friends answer 400 naming the parameter, without SQL", async () => {
    for (const path of ["/api/v1/users/%00", "/api/v1/users/a%00b/messages", "/api/v1/users/%00/journeys", "/api/v1/segments/%00", "/api/v1/segments/%00/count"]) {
      const res = await fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${secretKey}` } });
      const text = await res.text();
      expect(res.status, `${path} ${text}`).toBe(400);
      expect(text).not.toMatch(NO_LEAK);
      const body = JSON.parse(text) as { error: { code: string; issues?: { path: string }[] } };
      expect(body.error.issues?.[0]?.path).toMatch(/^(userId|segment)$/);
    }
    const del = await fetch(`${app.url}/api/v1/users/%00`, { method: "DELETE", headers: { authorization: `Bearer ${secretKey}` } });
    expect(del.status).toBe(400);
  });

  it("a URL whose escapes do not decode answers 400 JSON, not Express's stack page", async () => {
    for (const path of ["/api/v1/users/%", "/api/v1/journeys/%zz/stats", "/api/v1/users/%C0%80"]) {
      const res = await fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${secretKey}` } });
      const text = await res.text();
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
      expect(text, path).not.toMatch(NO_LEAK);
    }
  });

  it("a page address with %00 answers 400, not a loader's database error", async () => {
    for (const path of ["/users/%00", "/segments/a%00b", "/journeys/%00", "/users?q=%00&by=user", "/journeys?q=%00"]) {
      const res = await fetch(`${app.url}${path}`, { headers: { cookie }, redirect: "manual" });
      expect(res.status, path).toBe(400);
      expect(await res.text()).toMatch(/NUL/);
    }
    // An id that is not a uuid names no journey (it was a 500 unless the text happened to contain "uuid").
    const long = await fetch(`${app.url}/journeys/${"x".repeat(300)}`, { headers: { cookie }, redirect: "manual" });
    expect(long.status).toBe(404);
  });

  it("refused input stored nothing", async () => {
    const before = await fingerprint(app.services.db);
    // Was: the key row was written, then the audit record failed on the lone surrogate (400, key kept).
    expectField(await trpc("settings.createApiKey", { kind: "write", name: "k\udd92" }, "mutation"), "name");
    await trpc("segments.create", { name: "N\u0000UL", definition: { kind: "group", match: "all", rules: [] } }, "mutation");
    await trpc("segments.create", { name: "Deep", definition: { kind: "group", match: "all", rules: [{ kind: "trait", trait: "x", op: "eq", value: "\ud800" }] } }, "mutation");
    expect(await fingerprint(app.services.db)).toEqual(before);
  });
});

describe("an unexpected failure", () => {
  it("answers 500 with a generic message and a request id; the details are in the log under that id", async () => {
    // A real server-side fault: the table the procedure reads is gone.
    await app.services.db.execute(sql`alter table segments rename to segments_elsewhere`);
    try {
      const res = await trpc("segments.list", undefined);
      expect(res.status).toBe(500);
      expect(res.text).not.toMatch(NO_LEAK);
      expect(res.text).not.toMatch(/segments_elsewhere|relation/);
      const requestId = res.error?.data.requestId;
      expect(requestId).toMatch(/^[0-9a-f]{12}$/);
      expect(res.error?.message).toContain(requestId!);
      const entry = logged.find((l) => l.fields?.requestId === requestId);
      expect(entry?.fields?.error).toMatch(/segments/);
      expect(entry?.fields?.where).toBe("trpc segments.list");

      const rest = await fetch(`${app.url}/api/v1/segments`, { headers: { authorization: `Bearer ${secretKey}` } });
      const body = (await rest.json()) as { error: { code: string; message: string; requestId: string } };
      expect(rest.status).toBe(500);
      expect(body.error.code).toBe("internal");
      expect(body.error.message).toContain(body.error.requestId);
      expect(JSON.stringify(body)).not.toMatch(/segments_elsewhere|select/);
      expect(logged.some((l) => l.fields?.requestId === body.error.requestId)).toBe(true);
    } finally {
      await app.services.db.execute(sql`alter table segments_elsewhere rename to segments`);
    }
  });
});
