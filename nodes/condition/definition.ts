import { z } from "zod";
import { defineNode, type Localized, type OutputPort } from "../define";
import { durationSchema, formatDuration } from "../duration";
import { portIdSchema } from "../fields";
import { describeFilter, filterOps, filterValueSchema, propertyFilterSchema, refineFilterValue } from "../filters";

const eventFields = { event: z.string().min(1), filters: z.array(propertyFilterSchema).default([]) };

export const messageStates = ["sent", "delivered", "opened", "clicked", "failed"] as const;
export type MessageStateName = (typeof messageStates)[number];

export const conditionRuleSchema = z
  .discriminatedUnion("kind", [
    /** A trait of the user's profile. */
    z.object({ kind: z.literal("trait"), trait: z.string().min(1), op: z.enum(filterOps), value: filterValueSchema.optional() }),
    /** Did / did not do X (optionally within the last window). */
    z.object({ kind: z.literal("event"), ...eventFields, check: z.enum(["did", "did_not"]), within: durationSchema.optional() }),
    /** Count of X (optionally within the last window) compared to a number. */
    z.object({
      kind: z.literal("event_count"),
      ...eventFields,
      op: z.enum(["gt", "gte", "eq", "lte", "lt"]),
      value: z.number().int().min(0),
      within: durationSchema.optional(),
    }),
    /** Last time X happened is within / not within the window ("never" is not within). */
    z.object({ kind: z.literal("last_seen"), ...eventFields, op: z.enum(["within", "not_within"]), within: durationSchema }),
    /** State of a message sent by a message node of this journey, for this instance. */
    z.object({
      kind: z.literal("message"),
      nodeId: z.string().min(1),
      state: z.enum(messageStates),
      check: z.enum(["is", "is_not"]),
    }),
  ])
  .superRefine((rule, ctx) => {
    if (rule.kind === "trait") refineFilterValue(rule, ctx);
  });
export type ConditionRule = z.infer<typeof conditionRuleSchema>;

const ruleGroup = {
  match: z.enum(["all", "any"]).default("all"),
  rules: z.array(conditionRuleSchema).min(1),
};

export const conditionConfigSchema = z
  .discriminatedUnion("mode", [
    z.object({ mode: z.literal("yes_no"), ...ruleGroup }),
    /** Ordered branches: the first that matches wins, otherwise `else`. */
    z.object({
      mode: z.literal("branches"),
      branches: z.array(z.object({ id: portIdSchema, label: z.string().min(1), ...ruleGroup })).min(1),
    }),
  ])
  .superRefine((config, ctx) => {
    if (config.mode !== "branches") return;
    const seen = new Set<string>();
    config.branches.forEach((b, i) => {
      if (b.id === "else") ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["branches", i, "id"], message: '"else" is reserved' });
      if (seen.has(b.id)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["branches", i, "id"], message: "duplicate branch id" });
      seen.add(b.id);
    });
  });
export type ConditionConfig = z.infer<typeof conditionConfigSchema>;

const yes: Localized = { en: "Yes", zh: "是" };
const no: Localized = { en: "No", zh: "否" };
const otherwise: Localized = { en: "Else", zh: "其他" };

export function conditionOutputs(config: ConditionConfig): OutputPort[] {
  if (config.mode === "yes_no") return [{ id: "yes", label: yes }, { id: "no", label: no }];
  return [
    // Operator-named branches show the operator's own words in both languages.
    ...config.branches.map((b) => ({ id: b.id, label: { en: b.label, zh: b.label } })),
    { id: "else", label: otherwise },
  ];
}

export function describeRule(rule: ConditionRule, locale: "en" | "zh"): string {
  const zh = locale === "zh";
  const window = (w?: { amount: number; unit: "minutes" | "hours" | "days" | "weeks" }) =>
    w ? (zh ? `（近 ${formatDuration(w, "zh")}）` : ` in ${formatDuration(w, "en")}`) : "";
  switch (rule.kind) {
    case "trait":
      return describeFilter(rule.trait, rule.op, rule.value, locale);
    case "event":
      return zh
        ? `${rule.check === "did" ? "做过" : "未做过"} ${rule.event}${window(rule.within)}`
        : `${rule.check === "did" ? "did" : "did not do"} ${rule.event}${window(rule.within)}`;
    case "event_count":
      return zh
        ? `${rule.event} 次数${window(rule.within)} ${describeFilter("", rule.op, rule.value, "zh").trim()}`
        : `count of ${rule.event}${window(rule.within)} ${describeFilter("", rule.op, rule.value, "en").trim()}`;
    case "last_seen":
      return zh
        ? `${rule.event} 最近一次${rule.op === "within" ? "在" : "不在"}${formatDuration(rule.within, "zh")}内`
        : `last ${rule.event} ${rule.op === "within" ? "within" : "not within"} ${formatDuration(rule.within, "en")}`;
    case "message":
      return zh
        ? `${rule.nodeId} 消息${rule.check === "is" ? "已" : "未"}${stateZh[rule.state]}`
        : `${rule.nodeId} message ${rule.check === "is" ? "was" : "was not"} ${rule.state}`;
  }
}

const stateZh: Record<MessageStateName, string> = {
  sent: "发送",
  delivered: "到达",
  opened: "打开",
  clicked: "点击",
  failed: "失败",
};

export const conditionNode = defineNode({
  type: "core.condition",
  version: 1,
  kind: "control",
  category: "flow",
  label: { en: "Condition", zh: "条件分支" },
  description: {
    en: "Branch on traits, event history and message state: yes/no, or ordered branches plus else.",
    zh: "按用户属性、行为历史和消息状态分支：是/否，或多个有序分支加“其他”。",
  },
  icon: "🔀",
  config: conditionConfigSchema,
  defaults: { mode: "yes_no", match: "all", rules: [] },
  outputs: conditionOutputs,
  summary(config, locale) {
    const joiner = (match: "all" | "any") => (match === "all" ? (locale === "zh" ? " 且 " : " and ") : locale === "zh" ? " 或 " : " or ");
    if (config.mode === "yes_no") return config.rules.map((r) => describeRule(r, locale)).join(joiner(config.match));
    const names = config.branches.map((b) => b.label).join(" / ");
    return locale === "zh" ? `${names} / 其他` : `${names} / else`;
  },
});
