import { request as httpRequest } from "node:http";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_BATCH_BYTES, MAX_CALL_BYTES } from "../../app/ingest/payloads";
import { startTestApp, type TestApp } from "../support/app";
import { fingerprint } from "../fuzz/state";
import { basic, countEvents, eventsByMessageId, send, writeKey } from "./helpers";

// Ingestion refuses what it cannot read with a 4xx that tells the client not to resend:
// bodies that are not gzip, nesting deeper than anyone sends, internal `$` event names; and
// answers 413 to every oversized body, declared or chunked, without resetting the connection.

let app: TestApp;
let key: string;

beforeAll(async () => {
  app = await startTestApp({ serve: true });
  key = await writeKey(app);
});
afterAll(() => app?.close());

const nested = (depth: number, arrays = true) => (arrays ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth));

describe("bad encodings and nesting answer 400, never 503", () => {
  it("a body that is not valid gzip", async () => {
    const before = await fingerprint(app.services.db);
    for (const raw of [new Uint8Array([1, 2, 3]), gzipSync(JSON.stringify({ userId: "u", event: "e" })).subarray(0, 12)]) {
      const res = await send(app, "track", null, { key, raw, headers: { "content-encoding": "gzip" } });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: "invalid_encoding", field: "body" });
      expect(res.body.error?.message).toMatch(/gzip/);
      expect(res.headers.get("retry-after")).toBeNull();
    }
    expect(await fingerprint(app.services.db)).toEqual(before);
  });

  it("a content coding other than gzip is 415, naming what is accepted", async () => {
    const res = await send(app, "track", { userId: "u", event: "e" }, { key, headers: { "content-encoding": "br" } });
    expect(res.status).toBe(415);
    expect(res.body.error).toMatchObject({ code: "unsupported_encoding", field: "content-encoding" });
    expect(res.headers.get("accept-encoding")).toBe("gzip");
  });

  it("very deep nesting anywhere in a call or a batch", async () => {
    const before = await fingerprint(app.services.db);
    const cases: [string, string, string][] = [
      ["track", `{"userId":"d","event":"e","properties":{"x":${nested(10_000)}}}`, "properties.x"],
      ["track", `{"userId":"d","event":"e","context":{"x":${nested(5_000, false)}}}`, "context.x"],
      ["track", `{"userId":"d","event":"e","integrations":{"x":${nested(10_000)}}}`, "integrations.x"],
      ["identify", `{"userId":"d","traits":{"x":${nested(50, false)}}}`, "traits.x"],
      ["batch", `{"batch":[{"type":"track","userId":"d","event":"e","properties":{"x":${nested(100_000)}}}]}`, "batch[0].properties.x"],
      ["batch", `{"context":${nested(30_000, false)},"batch":[{"type":"track","userId":"d","event":"e"}]}`, "context.a"],
      ["batch", nested(200_000), "body"],
    ];
    for (const [endpoint, raw, field] of cases) {
      const res = await send(app, endpoint as "track", null, { key, raw });
      expect(res.status, `${endpoint} ${field}`).toBe(400);
      expect(res.body.error?.code, `${endpoint} ${field}`).toMatch(/too_deep|invalid_type/);
      expect(res.body.error?.field, `${endpoint} ${field}`).toBe(field);
    }
    expect(await fingerprint(app.services.db)).toEqual(before);
  });
});

describe("internal `$` event names are refused", () => {
  it("track and batch items named like Waypost's own events answer 400 and store nothing of them", async () => {
    const before = await countEvents(app);
    for (const event of ["$segment.entered", "$segment.exited", "$api.trigger", "$message.delivered", "$anything", " $segment.entered"]) {
      const res = await send(app, "track", { userId: "forger", messageId: `forged-${event}`, event }, { key });
      expect(res.status, event).toBe(400);
      expect(res.body.error).toMatchObject({ code: "reserved_name", field: "event" });
      expect(res.body.error?.message).toMatch(/\$/);
    }
    const batch = await send(
      app,
      "batch",
      {
        batch: [
          { type: "track", userId: "forger", messageId: "ok-1", event: "signed_up" },
          { type: "track", userId: "forger", messageId: "forged-b", event: "$segment.entered", properties: { segment: "vip" } },
        ],
      },
      { key },
    );
    expect(batch.status).toBe(400);
    expect(batch.body.errors).toEqual([expect.objectContaining({ index: 1, field: "batch[1].event", code: "reserved_name" })]);
    expect(batch.body.results?.map((r) => r.status)).toEqual(["stored", "rejected"]);
    expect(await eventsByMessageId(app, ["forged-b", "forged-$segment.entered", "forged-$api.trigger"])).toBe(0);
    expect(await countEvents(app)).toBe(before + 1);
    // Names with a `$` later on are the customer's own and stay accepted.
    expect((await send(app, "track", { userId: "forger", event: "price$changed" }, { key })).status).toBe(200);
  });
});

/** Raw HTTP, so the test sees exactly what a client would: a response, or a reset. */
function rawPost(path: string, headers: Record<string, string | number>, write: (req: ReturnType<typeof httpRequest>) => void): Promise<{ status: number; body: string } | { error: string }> {
  const url = new URL(app.url);
  return new Promise((resolve) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: "POST", headers: { authorization: basic(key), "content-type": "application/json", ...headers } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", (e) => resolve({ error: e.message }));
    });
    req.on("error", (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    write(req);
  });
}

describe("oversized bodies always get a 413 response", () => {
  const big = (bytes: number) => JSON.stringify({ userId: "big", event: "e", properties: { blob: "x".repeat(bytes) } });

  it("declared with content-length, for a call and for a batch", async () => {
    for (const [path, size] of [["/api/v1/track", MAX_CALL_BYTES + 1], ["/api/v1/batch", MAX_BATCH_BYTES + 1], ["/api/v1/track", 8 * 1024 * 1024]] as const) {
      const body = Buffer.from(big(size));
      const res = await rawPost(path, { "content-length": body.byteLength }, (req) => req.end(body));
      expect(res, `${path} ${size}`).toMatchObject({ status: 413 });
      if ("body" in res) expect(JSON.parse(res.body).error.code).toBe("too_large");
    }
  });

  it("chunked, without a length, in many writes", async () => {
    for (const size of [MAX_CALL_BYTES * 2, 4 * 1024 * 1024]) {
      const body = Buffer.from(big(size));
      const res = await rawPost("/api/v1/track", { "transfer-encoding": "chunked" }, (req) => {
        for (let i = 0; i < body.byteLength; i += 16 * 1024) req.write(body.subarray(i, i + 16 * 1024));
        req.end();
      });
      expect(res, `chunked ${size}`).toMatchObject({ status: 413 });
    }
  });

  it("gzip that inflates past the limit", async () => {
    const body = gzipSync(big(MAX_BATCH_BYTES * 4));
    expect(body.byteLength).toBeLessThan(MAX_CALL_BYTES);
    const res = await rawPost("/api/v1/batch", { "content-encoding": "gzip", "content-length": body.byteLength }, (req) => req.end(body));
    expect(res).toMatchObject({ status: 413 });
  });

  it("the connection stays usable after a 413 (keep-alive)", async () => {
    const first = await fetch(`${app.url}/api/v1/track`, { method: "POST", headers: { authorization: basic(key) }, body: big(MAX_CALL_BYTES * 3) });
    expect(first.status).toBe(413);
    await first.text();
    const second = await fetch(`${app.url}/api/v1/track`, { method: "POST", headers: { authorization: basic(key), "content-type": "application/json" }, body: JSON.stringify({ userId: "after", event: "e" }) });
    expect(second.status).toBe(200);
  });
});
