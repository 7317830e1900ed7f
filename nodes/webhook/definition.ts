import { z } from "zod";
import type { AnyNodeDefinition, PreviewContext } from "../define";
import { toNodeDefinition } from "../extension/adapt";
import { defineNode, fail, output, retry } from "../extension/index";
import { renderFields } from "../messages";
import { templateSchema } from "../fields";

/**
 * The webhook, written on the public extension API (`waypost/extension`) exactly as a
 * third-party node is, and shipped with Waypost: a permanent namespaced id, a zod config,
 * outputs, palette text, a card summary, a config migration from version 1, and `run`. Its
 * outbound request is `ctx.fetch`, i.e. the outbound-request guard (nodes/net): a refused
 * destination fails for good as `destination_refused` (mapped in nodes/extension/run.server.ts).
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

/** The request as the user would get it: the inspector preview and `run` render the same way. */
function render(config: WebhookConfig, ctx: PreviewContext) {
  const headers = Object.fromEntries(Object.entries(config.headers).map(([name, value]) => [`header.${name}`, value]));
  return renderFields(undefined, { url: config.url, body: config.body, ...headers }, ctx);
}

export const webhook = defineNode({
  id: "example.webhook",
  version: 2,
  category: "custom",
  title: { en: "Webhook", zh: "Webhook 回调" },
  description: { en: "Call an HTTP endpoint with the user's data.", zh: "携带用户数据调用一个 HTTP 接口。" },
  icon: "🪝",
  config: webhookConfigSchema,
  defaults: { url: "", method: "POST", headers: {}, timeoutMs: 10_000 },
  outputs: [
    { id: "success", label: { en: "Success", zh: "成功" } },
    { id: "failed", label: { en: "Failed", zh: "失败" } },
  ],
  summary: (config) => `${config.method} ${config.url}`,
  // The request's own timeout (config.timeoutMs) is at most 30 s.
  execution: { timeoutMs: 30_000 },
  /** Version 1 stored headers as a list of { name, value } pairs. */
  migrate(oldConfig, fromVersion) {
    if (fromVersion !== 1 || typeof oldConfig !== "object" || oldConfig === null) return oldConfig;
    const { headers, ...rest } = oldConfig as { headers?: Array<{ name: string; value: string }> };
    return { ...rest, headers: Object.fromEntries((headers ?? []).map((h) => [h.name, h.value])) };
  },
  async run(ctx) {
    const { config } = ctx;
    const rendered = render(config, { user: ctx.user, event: ctx.event, journey: ctx.journey });
    const [badField, message] = Object.entries(rendered.errors)[0] ?? [];
    if (badField) return fail("template_error", { field: badField, message });

    const url = rendered.fields.url;
    if (!/^https?:\/\//i.test(url)) return fail("invalid_url", { url });

    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(rendered.fields)) {
      if (key.startsWith("header.")) headers[key.slice("header.".length)] = value;
    }
    // Same key on every attempt of this visit, so the receiver can drop our retries.
    headers["Idempotency-Key"] = ctx.idempotencyKey;
    const body = config.method === "GET" ? undefined : rendered.fields.body;
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
      headers["Content-Type"] = "application/json";
    }
    // A thrown network error is retried; a destination the guard refuses fails for good.
    const response = await ctx.fetch(url, { method: config.method, headers, ...(body !== undefined ? { body } : {}), timeoutMs: config.timeoutMs });
    if (response.ok) return output("success", { status: response.status });
    // Throttling and server errors are worth another try; other 4xx will fail the same way again.
    if (response.status === 429 || response.status >= 500) return retry(`http_${response.status}`);
    return fail(`http_${response.status}`, { status: response.status });
  },
});

/** The canvas's and compiler's view of it, with the rendered-request preview of the inspector. */
export const webhookNode: AnyNodeDefinition = toNodeDefinition(webhook, { preview: (config, ctx) => render(config as WebhookConfig, ctx) });
