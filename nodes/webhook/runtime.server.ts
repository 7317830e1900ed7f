import { parseConfig } from "../define";
import { isOutboundRefusal, OutboundLimitError } from "../net/outbound.server";
import type { ActionContext, ActionResult } from "../runtime";
import { webhookConfigSchema, webhookNode } from "./definition";

export async function run(ctx: ActionContext, rawConfig: unknown): Promise<ActionResult> {
  // Parse again at run time: the config schema is the contract, even for stored programs.
  const config = parseConfig(webhookConfigSchema, rawConfig);
  const rendered = webhookNode.preview!(config, { user: ctx.user, event: ctx.event, journey: ctx.journey });
  const [badField, message] = Object.entries(rendered.errors)[0] ?? [];
  if (badField) return { output: "failed", detail: { reason: "template_error", field: badField, message } };

  const url = rendered.fields.url;
  if (!/^https?:\/\//i.test(url)) return { output: "failed", detail: { reason: "invalid_url", url } };

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

  let response;
  try {
    // services.fetch is the outbound-request guard (nodes/net/outbound.server.ts): the rendered
    // host (it may come from a user trait) is resolved and checked, and so is every redirect hop.
    response = await ctx.services.fetch(url, {
      method: config.method,
      headers,
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(config.timeoutMs),
    });
  } catch (error) {
    // A refused destination is refused again on every try: fail for good, and say nothing of
    // what answered there (no status, no address beyond what the operator typed).
    if (isOutboundRefusal(error)) return { output: "failed", detail: { reason: "destination_refused", host: error.host, why: error.address?.range ?? error.reason } };
    if (error instanceof OutboundLimitError && error.code === "response_too_large") return { output: "failed", detail: { reason: "response_too_large" } };
    return { retry: { reason: error instanceof Error ? error.message : String(error) } };
  }
  if (response.ok) return { output: "success", detail: { status: response.status } };
  // Throttling and server errors are worth another try; other 4xx will fail the same way again.
  if (response.status === 429 || response.status >= 500) return { retry: { reason: `http_${response.status}` } };
  return { output: "failed", detail: { reason: `http_${response.status}`, status: response.status } };
}
