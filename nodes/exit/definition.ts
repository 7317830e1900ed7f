import { z } from "zod";
import { defineNode } from "../define";

export const exitConfigSchema = z.object({}).strict();

export const exitNode = defineNode({
  type: "core.exit",
  version: 1,
  kind: "control",
  category: "flow",
  label: { en: "Exit", zh: "退出" },
  description: { en: "Ends the user's journey.", zh: "结束用户的旅程。" },
  icon: "🏁",
  config: exitConfigSchema,
  defaults: {},
  outputs: () => [],
  summary: (_config, locale) => (locale === "zh" ? "退出旅程" : "Exit journey"),
});
