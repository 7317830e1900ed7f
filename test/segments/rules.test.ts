import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import { segmentDefinitionSchema, type Rule } from "../../app/segments/rules";
import { startTestApp, type TestApp } from "../support/app";
import { addEvent, addMessage, addUser, compiledText, daysAgo, group, matching, NOW } from "./helpers";

// Every rule kind of the segment builder, compiled to SQL and run against the test database
// (PGlite, or PostgreSQL when DATABASE_URL is set). Value semantics follow nodes/filters.ts.

let app: TestApp;
const days = (amount: number) => ({ amount, unit: "days" as const });
const HOSTILE_KEY = `it's "quoted"; drop table users;--`;
const HOSTILE_VALUE = `x'); delete from users where ('1'='1`;

beforeAll(async () => {
  app = await startTestApp();
  await addUser(app, "alice", {
    traits: {
      plan: "pro",
      age: 30,
      score: "42",
      vip: true,
      city: "上海",
      interests: ["food", "travel"],
      replenish_at: "2026-06-03T00:00:00Z",
      last_order_at: "2026-05-25T08:00:00+08:00",
      nested: { level: 3 },
    },
    tags: ["美食爱好者", "高消费水平"],
    firstSeen: daysAgo(150),
    lastSeen: daysAgo(1),
  });
  await addUser(app, "bob", {
    traits: { plan: "free", age: "25", score: 7, vip: false, city: "北京", interests: "food lover", replenish_at: "2026-02-31" },
    tags: ["旅游人群"],
    firstSeen: daysAgo(4),
    lastSeen: daysAgo(2),
  });
  await addUser(app, "carol", { firstSeen: daysAgo(500), lastSeen: daysAgo(61) });
  await addUser(app, "dave", {
    traits: { plan: null, age: "abc", [HOSTILE_KEY]: HOSTILE_VALUE, "100%_off": "yes" },
    tags: ["{a,b}", "it's"],
    firstSeen: daysAgo(120),
    lastSeen: daysAgo(12),
  });

  await addEvent(app, "alice", "order_completed", daysAgo(7), { amount: 100, category: "food" });
  await addEvent(app, "alice", "order_completed", daysAgo(92), { amount: 250, category: "travel" });
  await addEvent(app, "alice", "order_completed", daysAgo(182), { amount: "50", category: "food" });
  for (let i = 0; i < 5; i++) await addEvent(app, "alice", "app_opened", daysAgo(i + 1));
  await addEvent(app, "bob", "order_completed", daysAgo(3), { amount: 30, category: "food", items: [{ sku: "A1" }] });
  await addEvent(app, "carol", "order_completed", daysAgo(78), { amount: 2000, category: "electronics" });
  await addEvent(app, "dave", "signed_up", daysAgo(120), { [HOSTILE_KEY]: HOSTILE_VALUE, "a'); drop table events; --": 5 });
  await addEvent(app, "dave", "order%_completed", daysAgo(5), {});

  await addMessage(app, "alice", "push", "opened", daysAgo(2), "j-winback");
  await addMessage(app, "bob", "sms", "failed", daysAgo(1));
  await addMessage(app, "carol", "email", "delivered", daysAgo(40));
});
afterAll(() => app?.close());

describe("trait rules", () => {
  it("eq compares strings exactly and numbers numerically, numeric strings included", async () => {
    expect(await matching(app, { kind: "trait", trait: "plan", op: "eq", value: "pro" })).toEqual(["alice"]);
    expect(await matching(app, { kind: "trait", trait: "age", op: "eq", value: 25 })).toEqual(["bob"]);
    expect(await matching(app, { kind: "trait", trait: "score", op: "eq", value: 42 })).toEqual(["alice"]);
    expect(await matching(app, { kind: "trait", trait: "score", op: "eq", value: "7.0" })).toEqual(["bob"]);
    expect(await matching(app, { kind: "trait", trait: "vip", op: "eq", value: true })).toEqual(["alice"]);
    expect(await matching(app, { kind: "trait", trait: "vip", op: "eq", value: false })).toEqual(["bob"]);
  });

  it("neq matches users without the trait (and with null)", async () => {
    expect(await matching(app, { kind: "trait", trait: "plan", op: "neq", value: "pro" })).toEqual(["bob", "carol", "dave"]);
  });

  it("gt/gte/lt/lte: numeric when both sides are numbers, never for non-numbers", async () => {
    expect(await matching(app, { kind: "trait", trait: "score", op: "gt", value: 10 })).toEqual(["alice"]);
    expect(await matching(app, { kind: "trait", trait: "age", op: "lte", value: 25 })).toEqual(["bob"]);
    expect(await matching(app, { kind: "trait", trait: "age", op: "gte", value: 0 })).toEqual(["alice", "bob"]);
    // ISO timestamps as strings order lexicographically (same as the condition node).
    expect(await matching(app, { kind: "trait", trait: "last_order_at", op: "gt", value: "2026-05-01" })).toEqual(["alice"]);
  });

  it("contains works on lists and on strings; not_contains is its negation", async () => {
    expect(await matching(app, { kind: "trait", trait: "interests", op: "contains", value: "food" })).toEqual(["alice", "bob"]);
    expect(await matching(app, { kind: "trait", trait: "interests", op: "contains", value: "travel" })).toEqual(["alice"]);
    expect(await matching(app, { kind: "trait", trait: "interests", op: "not_contains", value: "travel" })).toEqual(["bob", "carol", "dave"]);
  });

  it("in / not_in / exists / not_exists", async () => {
    expect(await matching(app, { kind: "trait", trait: "plan", op: "in", value: ["pro", "free"] })).toEqual(["alice", "bob"]);
    expect(await matching(app, { kind: "trait", trait: "plan", op: "not_in", value: ["pro", "free"] })).toEqual(["carol", "dave"]);
    expect(await matching(app, { kind: "trait", trait: "plan", op: "exists" })).toEqual(["alice", "bob"]);
    expect(await matching(app, { kind: "trait", trait: "plan", op: "not_exists" })).toEqual(["carol", "dave"]);
  });

  it("reads nested traits by dot path", async () => {
    expect(await matching(app, { kind: "trait", trait: "nested.level", op: "gte", value: 3 })).toEqual(["alice"]);
    expect(await matching(app, { kind: "trait", trait: "nested.missing.deeper", op: "exists" })).toEqual([]);
  });

  it("date traits: relative windows, absolute bounds; an impossible date never matches and never fails", async () => {
    expect(await matching(app, { kind: "trait_date", trait: "replenish_at", op: "within_next", within: days(5) })).toEqual(["alice"]);
    expect(await matching(app, { kind: "trait_date", trait: "last_order_at", op: "within_last", within: days(7) })).toEqual(["alice"]);
    expect(await matching(app, { kind: "trait_date", trait: "last_order_at", op: "more_than_ago", within: days(3) })).toEqual(["alice"]);
    expect(await matching(app, { kind: "trait_date", trait: "replenish_at", op: "after", date: "2026-06-02T00:00:00Z" })).toEqual(["alice"]);
    expect(await matching(app, { kind: "trait_date", trait: "replenish_at", op: "before", date: "2030-01-01T00:00:00Z" })).toEqual(["alice"]);
  });
});

describe("tags", () => {
  it("has / has not", async () => {
    expect(await matching(app, { kind: "tag", op: "has", tag: "美食爱好者" })).toEqual(["alice"]);
    expect(await matching(app, { kind: "tag", op: "has_not", tag: "美食爱好者" })).toEqual(["bob", "carol", "dave"]);
  });
});

describe("event rules", () => {
  const order = { event: "order_completed", filters: [] };

  it("did / did not, optionally within a window", async () => {
    expect(await matching(app, { kind: "event", ...order, check: "did" })).toEqual(["alice", "bob", "carol"]);
    expect(await matching(app, { kind: "event", ...order, check: "did_not" })).toEqual(["dave"]);
    expect(await matching(app, { kind: "event", ...order, check: "did", within: days(7) })).toEqual(["alice", "bob"]);
    expect(await matching(app, { kind: "event", ...order, check: "did_not", within: days(7) })).toEqual(["carol", "dave"]);
  });

  it("property filters, including numeric strings and nested paths", async () => {
    const bigOrder: Rule = { kind: "event", event: "order_completed", filters: [{ property: "amount", op: "gte", value: 100 }], check: "did" };
    expect(await matching(app, bigOrder)).toEqual(["alice", "carol"]);
    expect(
      await matching(app, { kind: "event", event: "order_completed", filters: [{ property: "amount", op: "eq", value: 50 }], check: "did" }),
    ).toEqual(["alice"]);
    expect(
      await matching(app, {
        kind: "event",
        event: "order_completed",
        filters: [
          { property: "category", op: "eq", value: "food" },
          { property: "amount", op: "lt", value: 100 },
        ],
        check: "did",
        within: days(30),
      }),
    ).toEqual(["bob"]);
  });

  it("count within a window", async () => {
    expect(await matching(app, { kind: "event_count", ...order, op: "gte", value: 3 })).toEqual(["alice"]);
    expect(await matching(app, { kind: "event_count", ...order, op: "eq", value: 0 })).toEqual(["dave"]);
    expect(await matching(app, { kind: "event_count", ...order, op: "eq", value: 1 })).toEqual(["bob", "carol"]);
    expect(await matching(app, { kind: "event_count", ...order, op: "gt", value: 1, within: days(100) })).toEqual(["alice"]);
    expect(await matching(app, { kind: "event_count", ...order, op: "lt", value: 2, within: days(100) })).toEqual(["bob", "carol", "dave"]);
    expect(await matching(app, { kind: "event_count", event: "app_opened", filters: [], op: "eq", value: 5 })).toEqual(["alice"]);
  });

  it("sum / avg / min / max of a property", async () => {
    const value = (aggregate: "sum" | "avg" | "min" | "max", op: "gte" | "lt" | "gt", v: number, within?: number): Rule => ({
      kind: "event_value",
      ...order,
      property: "amount",
      aggregate,
      op,
      value: v,
      ...(within ? { within: days(within) } : {}),
    });
    expect(await matching(app, value("sum", "gte", 400))).toEqual(["alice", "carol"]);
    expect(await matching(app, value("sum", "gte", 400, 100))).toEqual(["carol"]);
    expect(await matching(app, value("sum", "lt", 50))).toEqual(["bob", "dave"]);
    expect(await matching(app, value("avg", "gt", 1000))).toEqual(["carol"]);
    expect(await matching(app, value("min", "lt", 60))).toEqual(["alice", "bob"]);
    expect(await matching(app, value("max", "gte", 250))).toEqual(["alice", "carol"]);
  });

  it("last time an event happened, within / not within (never counts as not within)", async () => {
    expect(await matching(app, { kind: "last_event", ...order, op: "within", within: days(30) })).toEqual(["alice", "bob"]);
    expect(await matching(app, { kind: "last_event", ...order, op: "not_within", within: days(30) })).toEqual(["carol", "dave"]);
  });

  it("event names are matched exactly (no LIKE wildcards)", async () => {
    expect(await matching(app, { kind: "event", event: "order%_completed", filters: [], check: "did" })).toEqual(["dave"]);
  });
});

describe("activity and lifecycle fields", () => {
  it("last seen and first seen", async () => {
    expect(await matching(app, { kind: "last_seen", op: "within", within: days(7) })).toEqual(["alice", "bob"]);
    expect(await matching(app, { kind: "last_seen", op: "not_within", within: days(30) })).toEqual(["carol"]);
    expect(await matching(app, { kind: "first_seen", op: "within", within: days(7) })).toEqual(["bob"]);
  });
});

describe("message engagement (channels' messages table)", () => {
  it("state reached, per channel, per journey, within a window", async () => {
    expect(await matching(app, { kind: "message", check: "did", state: "opened" })).toEqual(["alice"]);
    // An opened message was delivered even without a delivery receipt.
    expect(await matching(app, { kind: "message", check: "did", state: "delivered" })).toEqual(["alice", "carol"]);
    expect(await matching(app, { kind: "message", check: "did", state: "delivered", within: days(30) })).toEqual(["alice"]);
    expect(await matching(app, { kind: "message", check: "did", state: "failed", channel: "sms" })).toEqual(["bob"]);
    expect(await matching(app, { kind: "message", check: "did_not", state: "clicked" })).toEqual(["alice", "bob", "carol", "dave"]);
    expect(await matching(app, { kind: "message", check: "did", state: "sent", journeyId: "j-winback" })).toEqual(["alice"]);
  });
});

describe("AND / OR groups", () => {
  const pro: Rule = { kind: "trait", trait: "plan", op: "eq", value: "pro" };
  const traveller: Rule = { kind: "tag", op: "has", tag: "旅游人群" };
  const recent: Rule = { kind: "last_seen", op: "within", within: days(7) };

  it("all, any, NOT, nesting, and the empty groups", async () => {
    expect(await matching(app, group("any", pro, traveller))).toEqual(["alice", "bob"]);
    expect(await matching(app, group("all", pro, traveller))).toEqual([]);
    expect(await matching(app, { ...group("any", pro, traveller), negate: true })).toEqual(["carol", "dave"]);
    expect(await matching(app, group("all", recent, group("any", pro, { kind: "trait", trait: "city", op: "eq", value: "北京" })))).toEqual(["alice", "bob"]);
    expect(await matching(app, group("all"))).toEqual(["alice", "bob", "carol", "dave"]);
    expect(await matching(app, group("any"))).toEqual([]);
  });

  it("rejects trees that are too deep or too large, naming the place", () => {
    let deep: Rule = { kind: "tag", op: "has", tag: "x" };
    for (let i = 0; i < 6; i++) deep = group("all", deep);
    expect(segmentDefinitionSchema.safeParse(deep).success).toBe(false);
    const bad = segmentDefinitionSchema.safeParse(group("all", { kind: "event", event: "x", filters: [], check: "maybe" } as unknown as Rule));
    expect(bad.success).toBe(false);
    if (!bad.success) expect(bad.error.issues[0].path.join(".")).toBe("rules.0.check");
    const unknownKind = segmentDefinitionSchema.safeParse(group("all", { kind: "sql", text: "1=1" } as unknown as Rule));
    expect(unknownKind.success).toBe(false);
    if (!unknownKind.success) expect(unknownKind.error.issues[0].path.join(".")).toBe("rules.0.kind");
  });
});

describe("hostile trait names and values", () => {
  const hostile: Rule[] = [
    { kind: "trait", trait: HOSTILE_KEY, op: "eq", value: HOSTILE_VALUE },
    { kind: "trait", trait: HOSTILE_KEY, op: "contains", value: "delete from" },
    { kind: "trait", trait: HOSTILE_KEY, op: "in", value: [HOSTILE_VALUE, "'", '"', "\\"] },
    { kind: "trait", trait: "100%_off", op: "eq", value: "yes" },
    { kind: "tag", op: "has", tag: "{a,b}" },
    { kind: "tag", op: "has", tag: "it's" },
    { kind: "event", event: "signed_up", filters: [{ property: HOSTILE_KEY, op: "eq", value: HOSTILE_VALUE }], check: "did" },
    {
      kind: "event_value",
      event: "signed_up",
      filters: [],
      property: "a'); drop table events; --",
      aggregate: "sum",
      op: "gte",
      value: 1,
    },
  ];

  it("match exactly the user who has them, and change nothing", async () => {
    for (const rule of hostile) expect(await matching(app, rule), JSON.stringify(rule)).toEqual(["dave"]);
    const [count] = await query<{ n: number | string }>(app.services.db, sql`select count(*) as n from users`);
    expect(Number(count.n)).toBe(4);
  });

  it("never put an operator-supplied string into the SQL text", () => {
    for (const rule of hostile) {
      const { sql: text, params } = compiledText(rule);
      for (const fragment of [HOSTILE_KEY, HOSTILE_VALUE, "drop table", "{a,b}", "it's", "100%_off"]) expect(text).not.toContain(fragment);
      expect(params.length).toBeGreaterThan(0);
    }
  });

  it("survive NUL-free unicode, emoji and very long values", async () => {
    const rules: Rule[] = [
      { kind: "trait", trait: "名字🙂", op: "eq", value: "🙂".repeat(500) },
      { kind: "trait", trait: "a.b.c.d.e.f", op: "gt", value: "z".repeat(5000) },
      { kind: "event", event: "事件 😀", filters: [{ property: "😀", op: "in", value: ["a", 1, true] }], check: "did_not" },
    ];
    for (const rule of rules) await expect(matching(app, rule)).resolves.toBeInstanceOf(Array);
  });
});

describe("evaluation time", () => {
  it("windows are measured back from the evaluation time, not the wall clock", async () => {
    const later = new Date(NOW.getTime() + 10 * 86_400_000);
    expect(await matching(app, { kind: "event", event: "order_completed", filters: [], check: "did", within: days(7) }, later)).toEqual([]);
  });
});
