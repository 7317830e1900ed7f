import { describe, expect, it } from "vitest";
import { matchesFilters } from "../filters";
import { conditionConfigSchema, conditionNode } from "./definition";
import {
  conditionNeedsFacts,
  evaluateCondition,
  factQueries,
  factsFromAnswers,
  noMessage,
  type Facts,
  type MessageStateFlags,
} from "./evaluate";

const DAY = 86_400_000;
const now = Date.parse("2024-05-10T00:00:00Z");
const parse = (c: unknown) => conditionConfigSchema.parse(c);

/** In-memory facts over a small event list, like the simulator's. */
function facts(traits: Record<string, unknown>, events: Array<{ name: string; at: number; properties?: Record<string, unknown> }>, messages: Record<string, Partial<MessageStateFlags>> = {}): Facts {
  const matching = (q: { event: string; filters: Parameters<typeof matchesFilters>[1]; since?: number; until: number }) =>
    events.filter((e) => e.name === q.event && e.at <= q.until && (q.since === undefined || e.at >= q.since) && matchesFilters(e.properties ?? {}, q.filters));
  return {
    now,
    trait: (n) => traits[n],
    eventCount: (q) => matching(q).length,
    lastSeen: (q) => matching(q).reduce<number | null>((max, e) => (max === null || e.at > max ? e.at : max), null),
    messageState: (id) => ({ ...noMessage, ...messages[id] }),
  };
}

describe("core.condition definition", () => {
  it("starts unconfigured (no rules) and offers yes/no or named branches plus else", () => {
    expect(conditionConfigSchema.safeParse(conditionNode.defaults).success).toBe(false);
    const yesNo = parse({ mode: "yes_no", rules: [{ kind: "trait", trait: "city", op: "eq", value: "上海" }] });
    expect(conditionNode.outputs(yesNo).map((o) => o.label.zh)).toEqual(["是", "否"]);
    expect(conditionNode.summary(yesNo, "en")).toBe("city = 上海");
    const branches = parse({
      mode: "branches",
      branches: [
        { id: "high", label: "高消费", rules: [{ kind: "trait", trait: "lifetime_value", op: "gte", value: 5000 }] },
        { id: "mid", label: "中消费", rules: [{ kind: "trait", trait: "lifetime_value", op: "gte", value: 500 }] },
      ],
    });
    expect(conditionNode.outputs(branches).map((o) => o.id)).toEqual(["high", "mid", "else"]);
    expect(conditionNode.summary(branches, "zh")).toBe("高消费 / 中消费 / 其他");
  });

  it("rejects a branch named else and duplicate branch ids", () => {
    const rule = { kind: "trait", trait: "x", op: "exists" };
    expect(conditionConfigSchema.safeParse({ mode: "branches", branches: [{ id: "else", label: "E", rules: [rule] }] }).success).toBe(false);
    expect(conditionConfigSchema.safeParse({ mode: "branches", branches: [{ id: "a", label: "A", rules: [rule] }, { id: "a", label: "B", rules: [rule] }] }).success).toBe(false);
  });

  it("describes history and message rules", () => {
    const config = parse({
      mode: "yes_no",
      match: "any",
      rules: [
        { kind: "event", event: "order_completed", check: "did_not", within: { amount: 30, unit: "days" } },
        { kind: "message", nodeId: "push_winback", state: "opened", check: "is" },
      ],
    });
    expect(conditionNode.summary(config, "en")).toBe("did not do order_completed in 30 days or push_winback message was opened");
    expect(conditionNode.summary(config, "zh")).toBe("未做过 order_completed（近 30 天） 或 push_winback 消息已打开");
  });
});

describe("evaluateCondition", () => {
  const history = [
    { name: "order_completed", at: now - 40 * DAY, properties: { amount: 300 } },
    { name: "order_completed", at: now - 5 * DAY, properties: { amount: 80 } },
    { name: "order_completed", at: now - 2 * DAY, properties: { amount: 120 } },
    { name: "app_opened", at: now - 10 * DAY },
  ];

  it("trait rules", () => {
    const config = parse({ mode: "yes_no", match: "all", rules: [{ kind: "trait", trait: "tags", op: "contains", value: "美食爱好者" }, { kind: "trait", trait: "age", op: "lt", value: 30 }] });
    expect(evaluateCondition(config, facts({ tags: ["美食爱好者"], age: 25 }, []))).toBe("yes");
    expect(evaluateCondition(config, facts({ tags: ["旅游人群"], age: 25 }, []))).toBe("no");
    expect(conditionNeedsFacts(config)).toBe(false);
  });

  it("did / did not, with windows and property filters", () => {
    const did = (within?: number, filters: unknown[] = []) =>
      parse({ mode: "yes_no", rules: [{ kind: "event", event: "order_completed", check: "did", filters, ...(within ? { within: { amount: within, unit: "days" } } : {}) }] });
    expect(evaluateCondition(did(), facts({}, history))).toBe("yes");
    expect(evaluateCondition(did(1), facts({}, history))).toBe("no");
    expect(evaluateCondition(did(3, [{ property: "amount", op: "gt", value: 100 }]), facts({}, history))).toBe("yes");
    expect(evaluateCondition(did(3, [{ property: "amount", op: "gt", value: 200 }]), facts({}, history))).toBe("no");
    const didNot = parse({ mode: "yes_no", rules: [{ kind: "event", event: "coupon_redeemed", check: "did_not" }] });
    expect(evaluateCondition(didNot, facts({}, history))).toBe("yes");
    expect(conditionNeedsFacts(didNot)).toBe(true);
  });

  it("counts and last seen", () => {
    const count = (op: string, value: number, days?: number) =>
      parse({ mode: "yes_no", rules: [{ kind: "event_count", event: "order_completed", op, value, ...(days ? { within: { amount: days, unit: "days" } } : {}) }] });
    expect(evaluateCondition(count("eq", 3), facts({}, history))).toBe("yes");
    expect(evaluateCondition(count("gte", 3, 30), facts({}, history))).toBe("no");
    expect(evaluateCondition(count("eq", 2, 30), facts({}, history))).toBe("yes");
    const lastSeen = (op: string, days: number, event = "app_opened") => parse({ mode: "yes_no", rules: [{ kind: "last_seen", event, op, within: { amount: days, unit: "days" } }] });
    expect(evaluateCondition(lastSeen("within", 14), facts({}, history))).toBe("yes");
    expect(evaluateCondition(lastSeen("within", 7), facts({}, history))).toBe("no");
    expect(evaluateCondition(lastSeen("not_within", 7), facts({}, history))).toBe("yes");
    // Never seen is "not within" any window.
    expect(evaluateCondition(lastSeen("not_within", 7, "push_opened"), facts({}, history))).toBe("yes");
  });

  it("message state of a node in this journey", () => {
    const opened = parse({ mode: "yes_no", rules: [{ kind: "message", nodeId: "push", state: "opened", check: "is" }] });
    expect(evaluateCondition(opened, facts({}, [], { push: { sent: true, delivered: true, opened: true } }))).toBe("yes");
    expect(evaluateCondition(opened, facts({}, [], { push: { sent: true, delivered: true } }))).toBe("no");
    const notDelivered = parse({ mode: "yes_no", rules: [{ kind: "message", nodeId: "push", state: "delivered", check: "is_not" }] });
    expect(evaluateCondition(notDelivered, facts({}, []))).toBe("yes");
  });

  it("ordered branches: first match wins, otherwise else", () => {
    const tiers = parse({
      mode: "branches",
      branches: [
        { id: "high", label: "High", rules: [{ kind: "trait", trait: "ltv", op: "gte", value: 5000 }] },
        { id: "mid", label: "Mid", rules: [{ kind: "trait", trait: "ltv", op: "gte", value: 500 }] },
      ],
    });
    expect(evaluateCondition(tiers, facts({ ltv: 9000 }, []))).toBe("high");
    expect(evaluateCondition(tiers, facts({ ltv: "800" }, []))).toBe("mid");
    expect(evaluateCondition(tiers, facts({ ltv: 10 }, []))).toBe("else");
    expect(evaluateCondition(tiers, facts({}, []))).toBe("else");
  });

  it("factQueries + factsFromAnswers give the same answer as live facts", () => {
    const config = parse({
      mode: "yes_no",
      match: "all",
      rules: [
        { kind: "event_count", event: "order_completed", op: "gte", value: 2, within: { amount: 30, unit: "days" } },
        { kind: "event", event: "order_completed", check: "did", within: { amount: 30, unit: "days" } },
        { kind: "last_seen", event: "app_opened", op: "within", within: { amount: 14, unit: "days" } },
        { kind: "message", nodeId: "push", state: "delivered", check: "is" },
        { kind: "trait", trait: "vip", op: "eq", value: true },
      ],
    });
    const queries = factQueries(config, now);
    // The two order rules share one query.
    expect(queries.map((q) => q.kind)).toEqual(["eventCount", "lastSeen", "messageState"]);
    const live = facts({ vip: true }, history, { push: { sent: true, delivered: true } });
    const answers = new Map(
      queries.map((q) => [q.key, q.kind === "eventCount" ? live.eventCount(q.query) : q.kind === "lastSeen" ? live.lastSeen(q.query) : live.messageState(q.nodeId)] as const),
    );
    expect(evaluateCondition(config, factsFromAnswers({ vip: true }, now, answers))).toBe("yes");
    expect(evaluateCondition(config, live)).toBe("yes");
    expect(() => factsFromAnswers({}, now, new Map()).eventCount(queries[0].kind === "eventCount" ? queries[0].query : ({} as never))).toThrow(/not answered/);
  });
});
