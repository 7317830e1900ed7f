import { z } from "zod";
import { durationSchema, formatDuration, type Duration } from "../../nodes/duration";
import { describeFilter, filterOps, filterValueSchema, propertyFilterSchema, refineFilterValue } from "../../nodes/filters";
import type { SegmentDependencies } from "../../db/schema/segments";
import { BAD_TEXT_MESSAGE, badTextPaths, storable } from "../lib/zod-text";

/**
 * The segment rule model (人群规则). Browser-safe: the rule builder, the API and the SQL compiler
 * (compile.server.ts) all use these schemas. Operators and property filters are the ones the
 * journey condition node uses (nodes/filters.ts), so an operator learns one vocabulary.
 */

const name = storable(z.string().trim().min(1).max(200));

/** The compiler turns each part of a property path into one `->` step: bounded so a rule stays a small query. */
export const MAX_PATH_PARTS = 16;
const segmentFilterSchema = propertyFilterSchema.superRefine((filter, ctx) => {
  if (typeof filter.property !== "string") return;
  if (filter.property.length > 200) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["property"], message: "must be at most 200 characters" });
  else if (filter.property.split(".").length > MAX_PATH_PARTS) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["property"], message: `a property path has at most ${MAX_PATH_PARTS} parts (a.b.c)` });
  }
});
const eventFields = { event: name, filters: z.array(segmentFilterSchema).max(20).default([]) };
const comparison = z.enum(["gt", "gte", "eq", "lte", "lt"]);
export type Comparison = z.infer<typeof comparison>;

export const messageChannels = ["push", "sms", "email"] as const;
export const messageStates = ["sent", "delivered", "opened", "clicked", "failed"] as const;

export const traitRuleSchema = z
  .object({ kind: z.literal("trait"), trait: name, op: z.enum(filterOps), value: filterValueSchema.optional() })
  .superRefine(refineFilterValue);

export const ruleSchemas = {
  trait: traitRuleSchema,
  /** A date/time trait (ISO-8601 string) relative to now or to a fixed date. */
  trait_date: z
    .object({
      kind: z.literal("trait_date"),
      trait: name,
      op: z.enum(["within_last", "within_next", "more_than_ago", "more_than_ahead", "before", "after"]),
      /** For the relative operators. */
      within: durationSchema.optional(),
      /** For before / after. */
      date: z.string().datetime({ offset: true }).optional(),
    })
    .superRefine((rule, ctx) => {
      const absolute = rule.op === "before" || rule.op === "after";
      if (absolute && !rule.date) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["date"], message: "Required for before/after" });
      if (!absolute && !rule.within) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["within"], message: "Required" });
    }),
  tag: z.object({ kind: z.literal("tag"), op: z.enum(["has", "has_not"]), tag: name }),
  /** Did / did not do X (optionally within the last window). */
  event: z.object({ kind: z.literal("event"), ...eventFields, check: z.enum(["did", "did_not"]), within: durationSchema.optional() }),
  /** How many times X happened (optionally within the last window), compared to a number. */
  event_count: z.object({
    kind: z.literal("event_count"),
    ...eventFields,
    op: comparison,
    value: z.number().int().min(0).max(1_000_000),
    within: durationSchema.optional(),
  }),
  /** Sum / average / min / max of a numeric event property (RFM's monetary value). */
  event_value: z.object({
    kind: z.literal("event_value"),
    ...eventFields,
    property: name,
    aggregate: z.enum(["sum", "avg", "min", "max"]),
    op: comparison,
    value: z.number().finite(),
    within: durationSchema.optional(),
  }),
  /** The last time X happened is within / not within the window ("never" is not within). */
  last_event: z.object({ kind: z.literal("last_event"), ...eventFields, op: z.enum(["within", "not_within"]), within: durationSchema }),
  /** Any activity (track, page, screen) within / not within the window. */
  last_seen: z.object({ kind: z.literal("last_seen"), op: z.enum(["within", "not_within"]), within: durationSchema }),
  /** The user's first activity (signup) within / not within the window. */
  first_seen: z.object({ kind: z.literal("first_seen"), op: z.enum(["within", "not_within"]), within: durationSchema }),
  /** Message engagement: received a message that reached a state (optionally per channel, window). */
  message: z.object({
    kind: z.literal("message"),
    check: z.enum(["did", "did_not"]),
    state: z.enum(messageStates),
    channel: z.enum(messageChannels).optional(),
    journeyId: z.string().min(1).max(100).optional(),
    within: durationSchema.optional(),
  }),
};

export type TraitRule = z.infer<typeof ruleSchemas.trait>;
export type TraitDateRule = z.infer<typeof ruleSchemas.trait_date>;
export type TagRule = z.infer<typeof ruleSchemas.tag>;
export type EventRule = z.infer<typeof ruleSchemas.event>;
export type EventCountRule = z.infer<typeof ruleSchemas.event_count>;
export type EventValueRule = z.infer<typeof ruleSchemas.event_value>;
export type LastEventRule = z.infer<typeof ruleSchemas.last_event>;
export type LastSeenRule = z.infer<typeof ruleSchemas.last_seen>;
export type FirstSeenRule = z.infer<typeof ruleSchemas.first_seen>;
export type MessageRule = z.infer<typeof ruleSchemas.message>;
export type LeafRule =
  | TraitRule
  | TraitDateRule
  | TagRule
  | EventRule
  | EventCountRule
  | EventValueRule
  | LastEventRule
  | LastSeenRule
  | FirstSeenRule
  | MessageRule;
export type RuleKind = LeafRule["kind"];
export const ruleKinds = Object.keys(ruleSchemas) as RuleKind[];

/** AND ("all") / OR ("any") of rules and nested groups; `negate` turns it into NOT (...). */
export interface RuleGroup {
  kind: "group";
  match: "all" | "any";
  negate?: boolean;
  rules: Rule[];
}
export type Rule = LeafRule | RuleGroup;

export const MAX_DEPTH = 5;
export const MAX_RULES = 100;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Dispatches on `kind` instead of a plain union so an error names the field of the rule the
 * operator wrote ("rules.2.within: Required"), not every alternative of the union.
 */
export const ruleSchema: z.ZodType<Rule, z.ZodTypeDef, unknown> = z.lazy(() =>
  z.unknown().transform((value, ctx): Rule => {
    const kind = isRecord(value) ? value.kind : undefined;
    const schema: z.ZodTypeAny | null =
      kind === "group" ? groupSchema : typeof kind === "string" && Object.hasOwn(ruleSchemas, kind) ? ruleSchemas[kind as RuleKind] : null;
    if (!schema) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["kind"], message: `expected one of group, ${ruleKinds.join(", ")}` });
      return z.NEVER;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue(issue as z.IssueData);
      return z.NEVER;
    }
    return parsed.data as Rule;
  }),
);

export const groupSchema: z.ZodType<RuleGroup, z.ZodTypeDef, unknown> = z.lazy(() =>
  z.object({
    kind: z.literal("group"),
    match: z.enum(["all", "any"]),
    negate: z.boolean().optional(),
    rules: z.array(ruleSchema).max(MAX_RULES),
  }),
);

/** The root of a segment: a group, limited in depth and size so compiled SQL stays small. */
export const segmentDefinitionSchema = groupSchema.superRefine((root, ctx) => {
  let count = 0;
  const walk = (group: RuleGroup, depth: number, path: (string | number)[]) => {
    if (depth > MAX_DEPTH) ctx.addIssue({ code: z.ZodIssueCode.custom, path, message: `groups nest at most ${MAX_DEPTH} deep` });
    group.rules.forEach((rule, i) => {
      count++;
      if (rule.kind === "group") walk(rule, depth + 1, [...path, "rules", i]);
    });
  };
  walk(root, 1, []);
  if (count > MAX_RULES) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["rules"], message: `at most ${MAX_RULES} rules in a segment` });
  // Values and names are compared in SQL: text PostgreSQL cannot hold is refused where it is.
  for (const path of badTextPaths(root)) ctx.addIssue({ code: z.ZodIssueCode.custom, path, message: BAD_TEXT_MESSAGE });
});

export function emptyDefinition(): RuleGroup {
  return { kind: "group", match: "all", rules: [] };
}

function* leaves(rule: Rule): Generator<LeafRule> {
  if (rule.kind === "group") for (const child of rule.rules) yield* leaves(child);
  else yield rule;
}

/** What the rules read, for routing events and identify calls to the segments they can change. */
export function dependenciesOf(root: Rule): SegmentDependencies {
  const events = new Set<string>();
  const traits = new Set<string>();
  let activity = false;
  let messages = false;
  for (const rule of leaves(root)) {
    switch (rule.kind) {
      case "trait":
      case "trait_date":
        traits.add(rule.trait.split(".")[0]);
        break;
      case "tag":
        traits.add("tags");
        break;
      case "event":
      case "event_count":
      case "event_value":
      case "last_event":
        events.add(rule.event);
        break;
      case "last_seen":
      case "first_seen":
        activity = true;
        break;
      case "message":
        messages = true;
        break;
    }
  }
  return { events: [...events].sort(), traits: [...traits].sort(), activity, messages };
}

/** True when membership can change while nothing happens: the sweep must recompute it. */
export function isTimeDependent(root: Rule): boolean {
  for (const rule of leaves(root)) {
    switch (rule.kind) {
      case "trait_date":
        if (rule.op !== "before" && rule.op !== "after") return true;
        break;
      case "last_event":
      case "last_seen":
      case "first_seen":
        return true;
      case "event":
      case "event_count":
      case "event_value":
      case "message":
        if (rule.within) return true;
        break;
      default:
        break;
    }
  }
  return false;
}

type Locale = "en" | "zh";

function windowText(within: Duration | undefined, locale: Locale): string {
  if (!within) return "";
  return locale === "zh" ? `（近 ${formatDuration(within, "zh")}）` : ` in the last ${formatDuration(within, "en")}`;
}

const comparisonWords: Record<Comparison, string> = { gt: ">", gte: "≥", eq: "=", lte: "≤", lt: "<" };

function filtersText(filters: EventRule["filters"], locale: Locale): string {
  if (!filters.length) return "";
  const parts = filters.map((f) => describeFilter(f.property, f.op, f.value, locale));
  return locale === "zh" ? `（${parts.join("，")}）` : ` (${parts.join(", ")})`;
}

/** One line per rule, for summaries, the API and audit entries. */
export function describeRule(rule: Rule, locale: Locale): string {
  const zh = locale === "zh";
  switch (rule.kind) {
    case "group": {
      const inner = rule.rules.map((r) => (r.kind === "group" ? `(${describeRule(r, locale)})` : describeRule(r, locale)));
      const joined = inner.join(rule.match === "all" ? (zh ? " 且 " : " and ") : zh ? " 或 " : " or ");
      const body = inner.length ? joined : zh ? "所有用户" : "everyone";
      return rule.negate ? (zh ? `非（${body}）` : `not (${body})`) : body;
    }
    case "trait":
      return describeFilter(rule.trait, rule.op, rule.value, locale);
    case "trait_date": {
      if (rule.op === "before" || rule.op === "after" || !rule.within) {
        return zh ? `${rule.trait} ${rule.op === "before" ? "早于" : "晚于"} ${rule.date}` : `${rule.trait} ${rule.op} ${rule.date}`;
      }
      const d = formatDuration(rule.within, locale);
      const words = {
        within_last: zh ? `在过去 ${d} 内` : `within the last ${d}`,
        within_next: zh ? `在未来 ${d} 内` : `within the next ${d}`,
        more_than_ago: zh ? `早于 ${d} 前` : `more than ${d} ago`,
        more_than_ahead: zh ? `晚于 ${d} 后` : `more than ${d} ahead`,
      } as const;
      return `${rule.trait} ${words[rule.op]}`;
    }
    case "tag":
      return zh ? `${rule.op === "has" ? "有" : "没有"}标签 ${rule.tag}` : `${rule.op === "has" ? "has" : "does not have"} tag ${rule.tag}`;
    case "event":
      return zh
        ? `${rule.check === "did" ? "做过" : "未做过"} ${rule.event}${filtersText(rule.filters, locale)}${windowText(rule.within, locale)}`
        : `${rule.check === "did" ? "did" : "did not do"} ${rule.event}${filtersText(rule.filters, locale)}${windowText(rule.within, locale)}`;
    case "event_count":
      return zh
        ? `${rule.event}${filtersText(rule.filters, locale)} 次数${windowText(rule.within, locale)} ${comparisonWords[rule.op]} ${rule.value}`
        : `count of ${rule.event}${filtersText(rule.filters, locale)}${windowText(rule.within, locale)} ${comparisonWords[rule.op]} ${rule.value}`;
    case "event_value": {
      const agg = zh ? { sum: "总和", avg: "平均", min: "最小", max: "最大" }[rule.aggregate] : rule.aggregate;
      return zh
        ? `${rule.event}.${rule.property} ${agg}${windowText(rule.within, locale)} ${comparisonWords[rule.op]} ${rule.value}`
        : `${agg} of ${rule.event}.${rule.property}${windowText(rule.within, locale)} ${comparisonWords[rule.op]} ${rule.value}`;
    }
    case "last_event":
      return zh
        ? `最近一次 ${rule.event}${filtersText(rule.filters, locale)} ${rule.op === "within" ? "在" : "不在"} ${formatDuration(rule.within, "zh")} 内`
        : `last ${rule.event}${filtersText(rule.filters, locale)} ${rule.op === "within" ? "within" : "not within"} ${formatDuration(rule.within, "en")}`;
    case "last_seen":
      return zh
        ? `最近活跃${rule.op === "within" ? "在" : "不在"} ${formatDuration(rule.within, "zh")} 内`
        : `last seen ${rule.op === "within" ? "within" : "not within"} ${formatDuration(rule.within, "en")}`;
    case "first_seen":
      return zh
        ? `首次访问${rule.op === "within" ? "在" : "不在"} ${formatDuration(rule.within, "zh")} 内`
        : `first seen ${rule.op === "within" ? "within" : "not within"} ${formatDuration(rule.within, "en")}`;
    case "message": {
      const states = zh ? { sent: "发送", delivered: "到达", opened: "打开", clicked: "点击", failed: "失败" } : null;
      const channel = rule.channel ? (zh ? { push: "推送", sms: "短信", email: "邮件" }[rule.channel] : rule.channel) : zh ? "消息" : "message";
      return zh
        ? `${rule.check === "did" ? "有" : "没有"}${channel}${states![rule.state]}${windowText(rule.within, locale)}`
        : `${rule.check === "did" ? "had" : "had no"} ${channel} ${rule.state}${windowText(rule.within, locale)}`;
    }
  }
}
