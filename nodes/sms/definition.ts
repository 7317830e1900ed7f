import { z } from "zod";
import { defineNode, truncate } from "../define";
import { templateSchema } from "../fields";
import { messageOutputs, messagePolicyFields, renderFields } from "../messages";

export const smsConfigSchema = z.object({
  /** The text as the user reads it (also what the sandbox provider stores). */
  body: templateSchema({ required: true }),
  /** 短信签名, e.g. 【Waypost】; the provider's default when absent. */
  signName: z.string().optional(),
  /** 短信模板 code for providers that send by template (Alibaba Cloud SMS). */
  templateCode: z.string().optional(),
  /** Template parameters, each a Liquid template rendered for the user. */
  templateParams: z.record(z.string(), templateSchema({ required: false })).default({}),
  ...messagePolicyFields,
});
export type SmsConfig = z.infer<typeof smsConfigSchema>;

export const smsNode = defineNode({
  type: "core.sms",
  version: 1,
  kind: "action",
  category: "messages",
  channel: "sms",
  label: { en: "SMS", zh: "短信" },
  description: { en: "Send a text message.", zh: "发送短信。" },
  icon: "💬",
  config: smsConfigSchema,
  defaults: { body: "", templateParams: {}, category: "marketing", quietHours: "defer" },
  outputs: () => messageOutputs,
  summary: (config, locale) => `${locale === "zh" ? "短信" : "SMS"} · ${truncate(config.body)}`,
  preview(config, ctx) {
    const params = Object.fromEntries(Object.entries(config.templateParams).map(([k, v]) => [`param.${k}`, v]));
    const result = renderFields("sms", { body: config.body, ...params }, ctx);
    if (config.signName) result.fields.signName = config.signName;
    if (config.templateCode) result.fields.templateCode = config.templateCode;
    return result;
  },
});
