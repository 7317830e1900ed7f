import { z } from "zod";
import type { Rule, RuleGroup } from "./rules";

/**
 * Preset segments: lifecycle stages (新增 / 活跃 / 沉默 / 流失用户) and RFM value tiers. A preset is
 * an ordinary segment whose rules are generated from a few thresholds; editing the thresholds
 * regenerates the rules (and recomputes membership). Browser-safe: the UI shows the same rules.
 */

export const lifecycleParamsSchema = z
  .object({
    /** Users whose first activity is this recent are new. */
    newDays: z.number().int().min(1).max(365).default(7),
    /** Activity this recent makes a user active. */
    activeDays: z.number().int().min(1).max(365).default(7),
    /** No activity for this long makes a user churned; in between they are silent. */
    churnDays: z.number().int().min(2).max(3650).default(30),
  })
  .refine((p) => p.activeDays < p.churnDays, { path: ["churnDays"], message: "must be longer than the active window" });
export type LifecycleParams = z.infer<typeof lifecycleParamsSchema>;

export const rfmParamsSchema = z
  .object({
    /** The purchase event and its amount property. */
    orderEvent: z.string().trim().min(1).max(200).default("order_completed"),
    amountProperty: z.string().trim().min(1).max(200).default("amount"),
    /** Frequency and monetary value are counted over this window. */
    windowDays: z.number().int().min(1).max(3650).default(365),
    /** High value needs an order this recent (R)... */
    recencyDays: z.number().int().min(1).max(3650).default(30),
    /** ...at least this many orders (F)... */
    minOrders: z.number().int().min(1).max(100_000).default(3),
    /** ...and at least this much spent (M). */
    highValue: z.number().min(0).default(1000),
    /** Medium value: at least this much spent. Below it: low value. */
    mediumValue: z.number().min(0).default(300),
  })
  .refine((p) => p.mediumValue < p.highValue, { path: ["mediumValue"], message: "must be below the high-value threshold" });
export type RfmParams = z.infer<typeof rfmParamsSchema>;

export const lifecycleStages = ["new", "active", "silent", "churned"] as const;
export const rfmTiers = ["high", "medium", "low"] as const;
export type LifecycleStage = (typeof lifecycleStages)[number];
export type RfmTier = (typeof rfmTiers)[number];

const days = (amount: number) => ({ amount, unit: "days" as const });
const all = (...rules: Rule[]): RuleGroup => ({ kind: "group", match: "all", rules });

export function lifecycleDefinition(stage: LifecycleStage, input: Partial<LifecycleParams> = {}): RuleGroup {
  const p = lifecycleParamsSchema.parse(input);
  const notNew: Rule = { kind: "first_seen", op: "not_within", within: days(p.newDays) };
  switch (stage) {
    case "new":
      return all({ kind: "first_seen", op: "within", within: days(p.newDays) });
    case "active":
      return all(notNew, { kind: "last_seen", op: "within", within: days(p.activeDays) });
    case "silent":
      return all(
        notNew,
        { kind: "last_seen", op: "not_within", within: days(p.activeDays) },
        { kind: "last_seen", op: "within", within: days(p.churnDays) },
      );
    case "churned":
      return all(notNew, { kind: "last_seen", op: "not_within", within: days(p.churnDays) });
  }
}

export function rfmDefinition(tier: RfmTier, input: Partial<RfmParams> = {}): RuleGroup {
  const p = rfmParamsSchema.parse(input);
  const window = days(p.windowDays);
  const order = { event: p.orderEvent, filters: [] };
  const spent = (op: "gte" | "lt", value: number): Rule => ({
    kind: "event_value",
    ...order,
    property: p.amountProperty,
    aggregate: "sum",
    op,
    value,
    within: window,
  });
  const high = all(
    { kind: "last_event", ...order, op: "within", within: days(p.recencyDays) },
    { kind: "event_count", ...order, op: "gte", value: p.minOrders, within: window },
    spent("gte", p.highValue),
  );
  const bought: Rule = { kind: "event", ...order, check: "did", within: window };
  switch (tier) {
    case "high":
      return high;
    case "medium":
      return all(bought, spent("gte", p.mediumValue), { ...high, negate: true });
    case "low":
      return all(bought, spent("lt", p.mediumValue));
  }
}

export interface PresetSpec {
  family: "lifecycle" | "rfm";
  stage: string;
  /** Stable key journeys reference (`segment_entry` triggers), e.g. `lifecycle_churned`. */
  key: string;
  name: { en: string; zh: string };
}

export const presetSpecs: PresetSpec[] = [
  { family: "lifecycle", stage: "new", key: "lifecycle_new", name: { en: "New users", zh: "新增用户" } },
  { family: "lifecycle", stage: "active", key: "lifecycle_active", name: { en: "Active users", zh: "活跃用户" } },
  { family: "lifecycle", stage: "silent", key: "lifecycle_silent", name: { en: "Silent users", zh: "沉默用户" } },
  { family: "lifecycle", stage: "churned", key: "lifecycle_churned", name: { en: "Churned users", zh: "流失用户" } },
  { family: "rfm", stage: "high", key: "rfm_high", name: { en: "High-value customers", zh: "高价值用户" } },
  { family: "rfm", stage: "medium", key: "rfm_medium", name: { en: "Medium-value customers", zh: "中价值用户" } },
  { family: "rfm", stage: "low", key: "rfm_low", name: { en: "Low-value customers", zh: "低价值用户" } },
];

/** Parses thresholds for a family (defaults filled in) or throws a ZodError naming the field. */
export function presetParams(family: "lifecycle" | "rfm", input: Record<string, unknown>): LifecycleParams | RfmParams {
  return family === "lifecycle" ? lifecycleParamsSchema.parse(input) : rfmParamsSchema.parse(input);
}

export function presetDefinition(family: "lifecycle" | "rfm", stage: string, params: Record<string, unknown>): RuleGroup {
  if (family === "lifecycle") {
    if (!(lifecycleStages as readonly string[]).includes(stage)) throw new Error(`unknown lifecycle stage ${stage}`);
    return lifecycleDefinition(stage as LifecycleStage, params as Partial<LifecycleParams>);
  }
  if (!(rfmTiers as readonly string[]).includes(stage)) throw new Error(`unknown RFM tier ${stage}`);
  return rfmDefinition(stage as RfmTier, params as Partial<RfmParams>);
}
