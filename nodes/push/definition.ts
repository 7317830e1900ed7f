import { z } from "zod";
import { defineNode, truncate } from "../define";
import { templateSchema } from "../fields";
import { messageOutputs, messagePolicyFields, renderFields } from "../messages";

export const pushConfigSchema = z.object({
  title: templateSchema({ required: false }).default(""),
  body: templateSchema({ required: true }),
  /** App link opened on tap, e.g. myapp://coupons/10. */
  deepLink: templateSchema({ required: false }).optional(),
  imageUrl: z.string().url().optional(),
  ...messagePolicyFields,
});
export type PushConfig = z.infer<typeof pushConfigSchema>;

export const pushNode = defineNode({
  type: "core.push",
  version: 1,
  kind: "action",
  category: "messages",
  channel: "push",
  label: { en: "Push", zh: "推送" },
  description: { en: "Send a mobile push notification.", zh: "发送移动端推送通知。" },
  icon: "🔔",
  config: pushConfigSchema,
  defaults: { title: "", body: "", category: "marketing", quietHours: "defer" },
  outputs: () => messageOutputs,
  summary: (config, locale) => `${locale === "zh" ? "推送" : "Push"} · ${truncate(config.title || config.body)}`,
  preview(config, ctx) {
    const result = renderFields("push", { title: config.title, body: config.body, deepLink: config.deepLink }, ctx);
    if (config.imageUrl) result.fields.imageUrl = config.imageUrl;
    return result;
  },
});
