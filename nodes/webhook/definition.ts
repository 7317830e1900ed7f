import { z } from "zod";
import { defineNode } from "../define";
import { renderFields } from "../messages";
import { templateSchema } from "../fields";

/**
 * The custom-node example (docs/nodes.md walks through it). Everything a third-party node needs
 * is here: a permanent namespaced type id, a zod config, outputs, palette text, a card summary,
 * a preview, and a config migration from version 1.
 */
export const webhookConfigSchema = z.object({
  /** Liquid allowed: https://api.example.com/users/{{ user.id }}/coupons */
  url: templateSchema({ required: true }),
  method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]).default("POST"),
  /** Header values are Liquid templates too. */
  headers: z.record(z.string().min(1), templateSchema({ required: false })).default({}),
  body: templateSchema({ required: false }).optional(),
  timeoutMs: z.number().int().min(100).max(30_000).default(10_000),
});
export type WebhookConfig = z.infer<typeof webhookConfigSchema>;

export const webhookNode = defineNode({
  type: "example.webhook",
  version: 2,
  kind: "action",
  category: "custom",
  label: { en: "Webhook", zh: "Webhook 回调" },
  description: { en: "Call an HTTP endpoint with the user's data.", zh: "携带用户数据调用一个 HTTP 接口。" },
  icon: "🪝",
  config: webhookConfigSchema,
  defaults: { url: "", method: "POST", headers: {}, timeoutMs: 10_000 },
  outputs: () => [
    { id: "success", label: { en: "Success", zh: "成功" } },
    { id: "failed", label: { en: "Failed", zh: "失败" } },
  ],
  summary: (config) => `${config.method} ${config.url}`,
  preview(config, ctx) {
    const headers = Object.fromEntries(Object.entries(config.headers).map(([name, value]) => [`header.${name}`, value]));
    return renderFields(undefined, { url: config.url, body: config.body, ...headers }, ctx);
  },
  /** Version 1 stored headers as a list of { name, value } pairs. */
  migrate(oldConfig, fromVersion) {
    if (fromVersion !== 1 || typeof oldConfig !== "object" || oldConfig === null) return oldConfig;
    const { headers, ...rest } = oldConfig as { headers?: Array<{ name: string; value: string }> };
    return { ...rest, headers: Object.fromEntries((headers ?? []).map((h) => [h.name, h.value])) };
  },
});
