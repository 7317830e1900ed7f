import { z } from "zod";
import { defineNode, truncate } from "../define";
import { templateSchema } from "../fields";
import { messageOutputs, messagePolicyFields, renderFields } from "../messages";

export const emailConfigSchema = z.object({
  subject: templateSchema({ required: true }),
  html: templateSchema({ required: true }),
  /** Plain-text part; derived from the HTML by the channel when absent. */
  text: templateSchema({ required: false }).optional(),
  fromName: z.string().optional(),
  ...messagePolicyFields,
});
export type EmailConfig = z.infer<typeof emailConfigSchema>;

export const emailNode = defineNode({
  type: "core.email",
  version: 1,
  kind: "action",
  category: "messages",
  channel: "email",
  label: { en: "Email", zh: "邮件" },
  description: { en: "Send an email.", zh: "发送邮件（EDM）。" },
  icon: "✉️",
  config: emailConfigSchema,
  defaults: { subject: "", html: "", category: "marketing" },
  outputs: () => messageOutputs,
  summary: (config, locale) => `${locale === "zh" ? "邮件" : "Email"} · ${truncate(config.subject)}`,
  preview(config, ctx) {
    const result = renderFields("email", { subject: config.subject, html: config.html, text: config.text }, ctx);
    if (config.fromName) result.fields.fromName = config.fromName;
    return result;
  },
});
