import { z } from "zod";
import { defineNode } from "../define";
import { durationSchema, formatDuration } from "../duration";
import { propertyFilterSchema } from "../filters";

export const waitForEventConfigSchema = z.object({
  event: z.string().min(1),
  filters: z.array(propertyFilterSchema).default([]),
  timeout: durationSchema,
});
export type WaitForEventConfig = z.infer<typeof waitForEventConfigSchema>;

export const waitForEventNode = defineNode({
  type: "core.wait-for-event",
  version: 1,
  kind: "control",
  category: "flow",
  label: { en: "Wait for event", zh: "等待事件" },
  description: {
    en: "Wait until the user does something, or give up after a timeout.",
    zh: "等待用户完成某个行为，超时后走另一条分支。",
  },
  icon: "👂",
  config: waitForEventConfigSchema,
  defaults: { event: "", filters: [], timeout: { amount: 1, unit: "days" } },
  outputs: () => [
    { id: "happened", label: { en: "Happened", zh: "已发生" } },
    { id: "timed_out", label: { en: "Timed out", zh: "超时" } },
  ],
  summary: (config, locale) =>
    locale === "zh"
      ? `等待 ${config.event}，最多 ${formatDuration(config.timeout, "zh")}`
      : `Wait for ${config.event}, up to ${formatDuration(config.timeout, "en")}`,
});
