import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { callSchemas, parseTimestamp } from "../../app/ingest/payloads";
import { correctedTime, fastParse } from "../../app/ingest/validate.server";

// The ingestion hot path (fastParse) must accept only what the zod schemas (the documented
// contract, source of the OpenAPI document) accept, and read it the same way.

const value = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.string({ maxLength: 6 }),
  fc.constantFrom("", " ", "  x  ", "u".repeat(255), "u".repeat(256), "2026-01-01T00:00:00Z", "2026-02-30", "2026-01-01T10:00:00+0800"),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
);
// Mostly plausible values, sometimes anything: so both paths are exercised often.
const field = (plausible: fc.Arbitrary<unknown>) => fc.oneof({ weight: 12, arbitrary: plausible }, { weight: 1, arbitrary: value });
const id = fc.oneof(fc.constant(undefined), fc.string({ minLength: 1, maxLength: 8 }), fc.integer());
const text = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 8 }));
const object = fc.oneof(fc.constant(undefined), fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }));
const time = fc.oneof(fc.constant(undefined), fc.date({ min: new Date("1990-01-01"), max: new Date("2090-01-01"), noInvalidDate: true }).map((d) => d.toISOString()));
const call = fc.record(
  {
    messageId: field(fc.oneof(fc.constant(undefined), fc.string({ minLength: 1, maxLength: 8 }))),
    userId: field(id),
    anonymousId: field(id),
    event: field(fc.string({ minLength: 1, maxLength: 8 })),
    name: field(text),
    category: field(text),
    properties: field(object),
    context: field(object),
    integrations: field(object),
    timestamp: field(time),
    originalTimestamp: field(time),
    sentAt: field(time),
    extra: value,
  },
  { requiredKeys: [] },
);

const keys = ["messageId", "userId", "anonymousId", "event", "name", "category", "properties", "context", "timestamp", "originalTimestamp", "sentAt"] as const;

describe("fast validation agrees with the zod schemas", () => {
  it.each(["track", "page", "screen"] as const)("%s", (type) => {
    let accepted = 0;
    fc.assert(
      fc.property(call, (raw) => {
        const fast = fastParse(type, raw as Record<string, unknown>);
        const slow = callSchemas[type].safeParse(raw);
        if (fast === null) return;
        accepted++;
        expect(slow.success, JSON.stringify(raw)).toBe(true);
        const data = slow.data as Record<string, unknown>;
        for (const key of keys) expect((fast as Record<string, unknown>)[key], key).toEqual(data[key]);
      }),
      { numRuns: 3000 },
    );
    // The property is not vacuous: the fast path accepted a fair share of the inputs.
    expect(accepted).toBeGreaterThan(30);
  });

  it("takes the fast path for ordinary calls", () => {
    expect(fastParse("track", { userId: 42, event: " order_completed ", properties: { amount: 1 }, timestamp: "2026-01-01T00:00:00Z" })).toEqual({
      userId: "42",
      event: "order_completed",
      properties: { amount: 1 },
      timestamp: "2026-01-01T00:00:00Z",
    });
    expect(fastParse("identify", { userId: "u" })).toBeNull();
  });
});

describe("timestamps", () => {
  it("parses ISO-8601 with and without offsets, and refuses impossible dates", () => {
    expect(parseTimestamp("2026-01-31T09:30:00.123Z")).toBe(Date.UTC(2026, 0, 31, 9, 30, 0, 123));
    expect(parseTimestamp("2026-01-31T09:30:00+08:00")).toBe(Date.UTC(2026, 0, 31, 1, 30));
    expect(parseTimestamp("2026-01-31T09:30:00-0530")).toBe(Date.UTC(2026, 0, 31, 15, 0));
    expect(parseTimestamp("2026-01-31")).toBe(Date.UTC(2026, 0, 31));
    expect(parseTimestamp("2026-01-31 09:30")).toBe(Date.UTC(2026, 0, 31, 9, 30));
    expect(parseTimestamp("2026-06-01T00:00:00.000Z")).toBe(Date.UTC(2026, 5, 1));
    for (const bad of ["2026-02-30T00:00:00.000Z", "2026-01-01T24:00:00.000Z", "0999-01-01T00:00:00.000Z", "2026-01-01T00:00:60.000Z", "2026-02-29", "2026-13-01", "2026-01-01T24:00:00Z", "0999-01-01", "yesterday", "1700000000", "2026-01-01T10:00:00+25:00"]) expect(parseTimestamp(bad), bad).toBeNull();
    expect(parseTimestamp("2024-02-29")).not.toBeNull();
  });

  it("reads the canonical form exactly as the general parser does", () => {
    fc.assert(
      fc.property(fc.date({ min: new Date("1000-01-01"), max: new Date("9999-12-31"), noInvalidDate: true }), (d) => {
        expect(parseTimestamp(d.toISOString())).toBe(d.getTime());
        expect(parseTimestamp(d.toISOString().replace(".", ","))).toBe(d.getTime());
      }),
    );
  });

  it("corrects skew as Segment does: receivedAt - (sentAt - timestamp)", () => {
    const received = Date.UTC(2026, 5, 1, 12);
    expect(correctedTime("2026-06-01T10:00:00Z", "2026-06-01T10:00:30Z", received)).toBe(received - 30_000);
    expect(correctedTime("2026-06-01T10:00:00Z", undefined, received)).toBe(Date.UTC(2026, 5, 1, 10));
    expect(correctedTime(undefined, "2026-06-01T10:00:30Z", received)).toBe(received);
  });
});
