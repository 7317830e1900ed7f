import { z } from "zod";
import type { MessageChannel, PreviewContext, PreviewResult } from "./define";
import { renderTemplate, type TemplateContext } from "./channels/template";

/** Fields every message node (push, SMS, email) shares: policy, not copy. */
export const messagePolicyFields = {
  /** Consent and quiet hours apply to marketing only; transactional notices always go. */
  category: z.enum(["marketing", "transactional"]).default("marketing"),
  /** What to do when the send falls in the user's quiet hours (marketing only). */
  quietHours: z.enum(["defer", "skip"]).optional(),
  /**
   * If set, after a successful send the user waits up to this long for the delivery report;
   * without one they leave by `failed` (reason `not_delivered`): the 短信补量 pattern.
   */
  deliveryTimeoutMs: z.number().int().positive().optional(),
};

export const messageOutputs = [
  { id: "sent", label: { en: "Sent", zh: "已发送" } },
  { id: "failed", label: { en: "Failed", zh: "失败" } },
];

/** The Liquid context both the preview and the runtime render with, so they never disagree. */
export function templateContext(ctx: PreviewContext): TemplateContext {
  return {
    user: { ...ctx.user.traits, id: ctx.user.id },
    ...(ctx.event ? { event: { name: ctx.event.name, properties: ctx.event.properties } } : {}),
    ...(ctx.journey ? { journey: ctx.journey } : {}),
  };
}

/** Renders each present template field; errors are collected per field instead of thrown. */
export function renderFields(
  channel: MessageChannel | undefined,
  sources: Record<string, string | undefined>,
  ctx: PreviewContext,
): PreviewResult {
  const context = templateContext(ctx);
  const fields: Record<string, string> = {};
  const errors: Record<string, string> = {};
  const counts: Record<string, number> = {};
  for (const name in sources) {
    const source = sources[name];
    if (source === undefined || source === "") continue;
    try {
      const text = renderTemplate(source, context);
      fields[name] = text;
      counts[name] = characterCount(text);
    } catch (error) {
      errors[name] = error instanceof Error ? error.message : String(error);
    }
  }
  return channel ? { channel, fields, errors, counts } : { fields, errors, counts };
}

/** Character count as the user sees it (code points, so 中文 and emoji count once). */
function characterCount(text: string): number {
  let count = 0;
  // Iterating a string walks code points (no array of them, as Array.from built, per message).
  for (const _ of text) count++;
  return count;
}
