import { z } from "zod";
import { defineNode } from "../define";
import { portIdSchema } from "../fields";

export const splitConfigSchema = z
  .object({
    branches: z
      .array(z.object({ id: portIdSchema, label: z.string().min(1), percent: z.number().min(0).max(100) }))
      .min(2),
  })
  .superRefine((config, ctx) => {
    const total = config.branches.reduce((sum, b) => sum + b.percent, 0);
    // Tolerance for decimal percentages such as 33.33 + 33.33 + 33.34.
    if (Math.abs(total - 100) > 1e-6) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["branches"], message: `percentages must add up to 100 (got ${total})` });
    }
    const seen = new Set<string>();
    config.branches.forEach((b, i) => {
      if (seen.has(b.id)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["branches", i, "id"], message: "duplicate branch id" });
      seen.add(b.id);
    });
  });
export type SplitConfig = z.infer<typeof splitConfigSchema>;

export { chooseSplitBranch } from "./choose";

export const splitNode = defineNode({
  type: "core.split",
  version: 1,
  kind: "control",
  category: "flow",
  label: { en: "Split", zh: "随机分流" },
  description: {
    en: "Send users down random percentage branches (the same user always gets the same branch): the basis of A/B tests.",
    zh: "按百分比随机分流（同一用户总是进入同一分支），用于 A/B 测试。",
  },
  icon: "🎲",
  config: splitConfigSchema,
  defaults: {
    branches: [
      { id: "a", label: "A", percent: 50 },
      { id: "b", label: "B", percent: 50 },
    ],
  },
  outputs: (config) => config.branches.map((b) => ({ id: b.id, label: { en: b.label, zh: b.label } })),
  summary: (config) => config.branches.map((b) => `${b.label} ${b.percent}%`).join(" · "),
});
