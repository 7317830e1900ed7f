import { canonicalJson } from "../../workflows/hash";
import { durationMs } from "../duration";
import { matchesValue, type PropertyFilter } from "../filters";
import type { ConditionConfig, ConditionRule, MessageStateName } from "./definition";

/**
 * Pure rule evaluation. The data comes through `Facts`, which each driver implements over its
 * own store (Postgres tables, the simulator's in-memory timeline). Drivers that prefer one
 * batched query can call `factQueries` first and answer them with `factsFromAnswers`.
 */

export interface EventQuery {
  event: string;
  filters: PropertyFilter[];
  /** Inclusive lower bound (epoch ms); absent = all history. */
  since?: number;
  /** Inclusive upper bound: the evaluation time. */
  until: number;
}

export type MessageStateFlags = Record<MessageStateName, boolean>;

export interface Facts {
  /** Evaluation time (epoch ms): windows are measured back from here. */
  now: number;
  trait(name: string): unknown;
  eventCount(query: EventQuery): number;
  /** Time of the latest matching event at or before `query.until`, or null if never. */
  lastSeen(query: Omit<EventQuery, "since">): number | null;
  /** States reached by the message the given node sent in THIS instance (latest visit). */
  messageState(nodeId: string): MessageStateFlags;
}

export const noMessage: MessageStateFlags = { sent: false, delivered: false, opened: false, clicked: false, failed: false };

function evalRule(rule: ConditionRule, facts: Facts): boolean {
  switch (rule.kind) {
    case "trait":
      return matchesValue(facts.trait(rule.trait), rule.op, rule.value);
    case "event": {
      const n = facts.eventCount(query(rule, facts.now, rule.within));
      return rule.check === "did" ? n > 0 : n === 0;
    }
    case "event_count": {
      const n = facts.eventCount(query(rule, facts.now, rule.within));
      return matchesValue(n, rule.op, rule.value);
    }
    case "last_seen": {
      const last = facts.lastSeen({ event: rule.event, filters: rule.filters, until: facts.now });
      const within = last !== null && last >= facts.now - durationMs(rule.within);
      return rule.op === "within" ? within : !within;
    }
    case "message": {
      const reached = facts.messageState(rule.nodeId)[rule.state];
      return rule.check === "is" ? reached : !reached;
    }
  }
}

function query(
  rule: { event: string; filters: PropertyFilter[] },
  now: number,
  within?: { amount: number; unit: "minutes" | "hours" | "days" | "weeks" },
): EventQuery {
  return { event: rule.event, filters: rule.filters, until: now, ...(within ? { since: now - durationMs(within) } : {}) };
}

function evalGroup(group: { match: "all" | "any"; rules: ConditionRule[] }, facts: Facts): boolean {
  return group.match === "all" ? group.rules.every((r) => evalRule(r, facts)) : group.rules.some((r) => evalRule(r, facts));
}

/** The output id to leave by: yes/no, or the first matching branch id, else "else". */
export function evaluateCondition(config: ConditionConfig, facts: Facts): string {
  if (config.mode === "yes_no") return evalGroup(config, facts) ? "yes" : "no";
  return config.branches.find((b) => evalGroup(b, facts))?.id ?? "else";
}

function rulesOf(config: ConditionConfig): ConditionRule[] {
  return config.mode === "yes_no" ? config.rules : config.branches.flatMap((b) => b.rules);
}

/** Trait-only conditions are decided inside the interpreter from the input's user snapshot. */
export function conditionNeedsFacts(config: ConditionConfig): boolean {
  return rulesOf(config).some((r) => r.kind !== "trait");
}

/** Facts that only know traits (for trait-only conditions). */
export function traitFacts(traits: Record<string, unknown>, now: number): Facts {
  return {
    now,
    trait: (name) => traits[name],
    eventCount: () => 0,
    lastSeen: () => null,
    messageState: () => noMessage,
  };
}

export type FactQuery =
  | { kind: "eventCount"; key: string; query: EventQuery }
  | { kind: "lastSeen"; key: string; query: Omit<EventQuery, "since"> }
  | { kind: "messageState"; key: string; nodeId: string };

function keyOf(kind: string, value: unknown): string {
  return `${kind}:${canonicalJson(value)}`;
}

/** Every non-trait fact the config needs at `now`, deduplicated, so a driver can batch them. */
export function factQueries(config: ConditionConfig, now: number): FactQuery[] {
  const out = new Map<string, FactQuery>();
  for (const rule of rulesOf(config)) {
    if (rule.kind === "event" || rule.kind === "event_count") {
      const q = query(rule, now, rule.within);
      out.set(keyOf("eventCount", q), { kind: "eventCount", key: keyOf("eventCount", q), query: q });
    } else if (rule.kind === "last_seen") {
      const q = { event: rule.event, filters: rule.filters, until: now };
      out.set(keyOf("lastSeen", q), { kind: "lastSeen", key: keyOf("lastSeen", q), query: q });
    } else if (rule.kind === "message") {
      out.set(keyOf("messageState", rule.nodeId), { kind: "messageState", key: keyOf("messageState", rule.nodeId), nodeId: rule.nodeId });
    }
  }
  return [...out.values()];
}

/** Facts backed by answers to `factQueries` (keyed by FactQuery.key). */
export function factsFromAnswers(
  traits: Record<string, unknown>,
  now: number,
  answers: ReadonlyMap<string, number | null | MessageStateFlags>,
): Facts {
  const get = (key: string) => {
    if (!answers.has(key)) throw new Error(`fact not answered: ${key}`);
    return answers.get(key);
  };
  return {
    now,
    trait: (name) => traits[name],
    eventCount: (q) => get(keyOf("eventCount", q)) as number,
    lastSeen: (q) => get(keyOf("lastSeen", q)) as number | null,
    messageState: (nodeId) => get(keyOf("messageState", nodeId)) as MessageStateFlags,
  };
}
