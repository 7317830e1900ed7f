import { z } from "zod";
import { defineNode } from "../define";
import type { UserOperation } from "../runtime";

export const userOperationSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("set"), trait: z.string().min(1), value: z.union([z.string(), z.number(), z.boolean(), z.null()]) }),
  z.object({ op: z.literal("increment"), trait: z.string().min(1), by: z.number().finite() }),
  z.object({ op: z.literal("add_tag"), tag: z.string().min(1) }),
  z.object({ op: z.literal("remove_tag"), tag: z.string().min(1) }),
]);

export const updateUserConfigSchema = z.object({ operations: z.array(userOperationSchema).min(1) });
export type UpdateUserConfig = z.infer<typeof updateUserConfigSchema>;

function describe(op: UserOperation, locale: "en" | "zh"): string {
  const zh = locale === "zh";
  switch (op.op) {
    case "set":
      return zh ? `设置 ${op.trait} = ${String(op.value)}` : `set ${op.trait} = ${String(op.value)}`;
    case "increment":
      return zh ? `${op.trait} 增加 ${op.by}` : `${op.trait} + ${op.by}`;
    case "add_tag":
      return zh ? `添加标签 ${op.tag}` : `add tag ${op.tag}`;
    case "remove_tag":
      return zh ? `移除标签 ${op.tag}` : `remove tag ${op.tag}`;
  }
}

/**
 * Pure application of the operations to a trait map (tags live in `traits.tags`). The simulator
 * uses it directly; the real service must give the same result.
 */
export function applyUserOperations(traits: Record<string, unknown>, operations: readonly UserOperation[]): Record<string, unknown> {
  const next: Record<string, unknown> = { ...traits };
  for (const op of operations) {
    const tags = Array.isArray(next.tags) ? (next.tags as unknown[]).filter((t): t is string => typeof t === "string") : [];
    switch (op.op) {
      case "set":
        next[op.trait] = op.value;
        break;
      case "increment": {
        const current = Number(next[op.trait]);
        next[op.trait] = (Number.isFinite(current) ? current : 0) + op.by;
        break;
      }
      case "add_tag":
        next.tags = tags.includes(op.tag) ? tags : [...tags, op.tag];
        break;
      case "remove_tag":
        next.tags = tags.filter((t) => t !== op.tag);
        break;
    }
  }
  return next;
}

export const updateUserNode = defineNode({
  type: "core.update-user",
  version: 1,
  kind: "action",
  category: "data",
  label: { en: "Update user", zh: "更新用户" },
  description: { en: "Set or increment a trait, add or remove a tag.", zh: "设置或累加用户属性，添加或移除标签。" },
  icon: "✏️",
  config: updateUserConfigSchema,
  defaults: { operations: [] },
  outputs: () => [
    { id: "next", label: { en: "Next", zh: "下一步" } },
    { id: "failed", label: { en: "Failed", zh: "失败" } },
  ],
  summary: (config, locale) => config.operations.map((op) => describe(op, locale)).join(locale === "zh" ? "；" : "; "),
});
