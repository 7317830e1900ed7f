import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app";
import { basic, countEvents, eventsByMessageId, writeKey } from "./helpers";

// Property: whatever the body, every ingestion endpoint answers 2xx or 4xx (never 5xx), and a
// call that was rejected stored nothing. Bodies are random bytes, random JSON, and valid calls
// with fields replaced by hostile values (NUL, lone surrogates, deep nesting, huge numbers,
// prototype keys, wrong types). Runs over HTTP against the built app.

let app: TestApp;
let key: string;
let counter = 0;
let storedReported = 0;
const statuses = new Map<number, number>();

beforeAll(async () => {
  app = await startTestApp({ serve: true });
  key = await writeKey(app);
});
afterAll(() => app?.close());

const endpoints = ["identify", "track", "page", "screen", "group", "alias", "batch"] as const;

const nasty = fc.oneof(
  fc.constantFrom("\u0000", "a\u0000b", "\ud800", "x\udfff", "", " ", "__proto__", "constructor", "'; drop table events; --", "🙂".repeat(50), "9".repeat(400)),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 12 }),
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  nasty,
  fc.double(),
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 0, -0, true, false, null),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 20, max: 60 }).map((depth) => JSON.parse("[".repeat(depth) + "]".repeat(depth))),
  fc.dictionary(nasty, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  fc.constantFrom("2026-02-30T00:00:00Z", "0000-01-01T00:00:00Z", "+275760-09-13T00:00:00Z", "9999-12-31T23:59:59Z", "2026-01-01T25:00:00Z"),
);

const fields = ["type", "userId", "anonymousId", "messageId", "event", "properties", "traits", "timestamp", "sentAt", "originalTimestamp", "context", "name", "category", "groupId", "previousId", "integrations"];

function validCall(type: string): Record<string, unknown> {
  return {
    type,
    userId: "fuzz-user",
    event: "fuzz_event",
    properties: { amount: 1 },
    traits: { email: "f@example.com", tags: ["a"] },
    groupId: "g",
    previousId: "fuzz-old",
    timestamp: "2026-01-01T00:00:00Z",
    context: { device: { token: "tok" } },
  };
}

const mutatedCall = fc
  .record({
    type: fc.constantFrom("identify", "track", "page", "screen", "group", "alias"),
    changes: fc.array(fc.tuple(fc.constantFrom(...fields, "traits.email", "traits.tags", "traits.consent", "context.device.token", "properties.__proto__"), hostileValue), { maxLength: 4 }),
    drop: fc.subarray(fields, { maxLength: 3 }),
  })
  .map(({ type, changes, drop }) => {
    const call = validCall(type);
    for (const field of drop) delete call[field];
    for (const [path, value] of changes) {
      const [head, tail] = path.split(".");
      if (tail) {
        const holder = typeof call[head] === "object" && call[head] !== null ? (call[head] as Record<string, unknown>) : {};
        Object.defineProperty(holder, tail, { value, enumerable: true, configurable: true, writable: true });
        call[head] = holder;
      } else call[head] = value;
    }
    return call as unknown;
  });

const body = fc.oneof(
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }).map((text) => ({ raw: text })) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((json) => ({ json: json as unknown })) },
  { weight: 4, arbitrary: mutatedCall.map((json) => ({ json })) },
  { weight: 3, arbitrary: fc.array(fc.oneof(mutatedCall, hostileValue), { minLength: 0, maxLength: 6 }).map((batch) => ({ json: { batch } as unknown })) },
);

/** Unique messageIds, so "was it stored?" has one answer per call. */
function tagIds(json: unknown): string[] {
  const ids: string[] = [];
  const tag = (call: unknown) => {
    if (typeof call === "object" && call !== null && !Array.isArray(call)) {
      const id = `fz-${++counter}`;
      (call as Record<string, unknown>).messageId = id;
      ids.push(id);
    } else ids.push("");
  };
  if (typeof json === "object" && json !== null && Array.isArray((json as { batch?: unknown }).batch)) (json as { batch: unknown[] }).batch.forEach(tag);
  else tag(json);
  return ids;
}

describe("ingestion fuzz", () => {
  it("answers every malformed body with 2xx or 4xx, and stores nothing of a rejected call", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...endpoints), body, fc.boolean(), async (endpoint, input, keepIds) => {
        const ids = "json" in input && !keepIds ? tagIds(input.json) : [];
        const text = "raw" in input ? input.raw : JSON.stringify(input.json);
        const res = await fetch(`${app.url}/api/v1/${endpoint}`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: basic(key) },
          body: text,
        });
        expect(res.status, `${endpoint} ${text.slice(0, 300)}`).toBeGreaterThanOrEqual(200);
        expect(res.status, `${endpoint} ${text.slice(0, 300)}`).toBeLessThan(500);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const answer = (await res.json()) as { success: boolean; results?: { index: number; status: string }[]; duplicate?: boolean };
        if (endpoint === "batch") {
          for (const r of answer.results ?? []) {
            if (r.status === "stored") storedReported++;
            if (r.status === "rejected" && ids[r.index]) expect(await eventsByMessageId(app, [ids[r.index]])).toBe(0);
          }
        } else if (res.status === 200) {
          if (!answer.duplicate) storedReported++;
        } else if (ids[0]) {
          expect(await eventsByMessageId(app, [ids[0]])).toBe(0);
        }
      }),
      { numRuns: 400 },
    );
    // Everything stored was reported as stored, and nothing else.
    expect(await countEvents(app)).toBe(storedReported);
    // The generators reach both sides: accepted calls and rejected ones.
    console.log("fuzz statuses:", Object.fromEntries(statuses), "stored calls:", storedReported);
    expect(statuses.get(200)).toBeGreaterThan(0);
    expect(statuses.get(400)).toBeGreaterThan(0);
  });
});
