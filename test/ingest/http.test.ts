import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app";
import { basic, eventsByMessageId, userRow, writeKey } from "./helpers";

// The ingestion routes over real HTTP on the built app: what a Segment library sees.

let app: TestApp;
let key: string;

beforeAll(async () => {
  app = await startTestApp({ serve: true });
  key = await writeKey(app);
});
afterAll(() => app?.close());

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${app.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: basic(key), ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe("ingestion over HTTP", () => {
  it("every endpoint is routed and answers like Segment ({ success: true })", async () => {
    const calls: [string, Record<string, unknown>][] = [
      ["identify", { userId: "h-1", messageId: "h-identify", traits: { email: "h1@example.com" } }],
      ["track", { userId: "h-1", messageId: "h-track", event: "app_opened" }],
      ["page", { userId: "h-1", messageId: "h-page", name: "Home" }],
      ["screen", { userId: "h-1", messageId: "h-screen", name: "Cart" }],
      ["group", { userId: "h-1", messageId: "h-group", groupId: "g-1" }],
      ["alias", { userId: "h-1", previousId: "h-0", messageId: "h-alias" }],
      ["batch", { batch: [{ type: "track", userId: "h-1", messageId: "h-batch", event: "x" }] }],
    ];
    for (const [endpoint, body] of calls) {
      const res = await post(`/api/v1/${endpoint}`, body);
      expect(res.status, endpoint).toBe(200);
      expect(res.body.success, endpoint).toBe(true);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    }
    expect(await eventsByMessageId(app, calls.map(([e]) => `h-${e}`))).toBe(7);
    expect((await userRow(app, "h-1")).email).toBe("h1@example.com");
  });

  it("refuses a missing key with 401, a bad body with 400, an oversized body with 413, GET with 405", async () => {
    const noKey = await fetch(`${app.url}/api/v1/track`, { method: "POST", body: JSON.stringify({ userId: "x", event: "y" }) });
    expect(noKey.status).toBe(401);
    expect(noKey.headers.get("www-authenticate")).toMatch(/^Basic/);
    expect((await post("/api/v1/track", "{oops")).status).toBe(400);
    expect((await post("/api/v1/track", { userId: "x", event: "y", properties: { blob: "x".repeat(40_000) } })).status).toBe(413);
    expect((await fetch(`${app.url}/api/v1/batch`)).status).toBe(405);
  });

  it("serves the OpenAPI 3.1 document with every endpoint", async () => {
    const res = await fetch(`${app.url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe("3.1.0");
    for (const path of ["identify", "track", "page", "alias", "batch"]) expect(doc.paths[`/api/v1/${path}`]).toHaveProperty("post");
    const track = doc.paths["/api/v1/track"].post as { requestBody: { content: { "application/json": { schema: { properties: Record<string, unknown>; required: string[] } } } } };
    const schema = track.requestBody.content["application/json"].schema;
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(["event", "userId", "anonymousId", "messageId", "properties", "timestamp", "sentAt", "context"]));
    expect(schema.required).toContain("event");
    for (const path of ["/api/v1/users/{userId}", "/api/v1/segments", "/api/v1/journeys", "/api/v1/journeys/{journeyId}/stats"]) expect(doc.paths).toHaveProperty([path]);
  });
});
