import type { MessageChannel, PreviewResult } from "./define";
import type { ActionContext, ActionResult, MessageCategory, QuietHoursBehaviour } from "./runtime";

interface MessagePolicy {
  category: MessageCategory;
  quietHours?: QuietHoursBehaviour;
}

/**
 * The one send path of push, SMS and email runtimes: hand rendered copy to the channels
 * service and translate its answer into the interpreter's vocabulary.
 */
export async function sendRendered(
  ctx: ActionContext,
  channel: MessageChannel,
  policy: MessagePolicy,
  rendered: PreviewResult,
): Promise<ActionResult> {
  const failedFields = Object.entries(rendered.errors);
  if (failedFields.length > 0) {
    // A template that cannot render will not render on retry either: fail now, with the reason.
    const [field, message] = failedFields[0];
    return { output: "failed", detail: { reason: "template_error", field, message } };
  }
  let response;
  try {
    response = await ctx.services.sendMessage({
      channel,
      category: policy.category,
      content: rendered.fields,
      nodeId: ctx.nodeId,
      instanceId: ctx.instanceId,
      journeyId: ctx.journeyId,
      userId: ctx.user.id,
      idempotencyKey: ctx.idempotencyKey,
      ...(policy.quietHours ? { quietHours: policy.quietHours } : {}),
    });
  } catch (error) {
    return { retry: { reason: error instanceof Error ? error.message : String(error) } };
  }
  switch (response.status) {
    case "sent":
      return { output: "sent", detail: { ...(response.messageId ? { messageId: response.messageId } : {}) } };
    case "failed":
      return {
        output: "failed",
        detail: { reason: response.reason ?? "unknown", ...(response.messageId ? { messageId: response.messageId } : {}) },
      };
    case "deferred":
      if (response.deferUntil === undefined) return { retry: { reason: "deferred without a time" } };
      return { deferUntil: response.deferUntil, reason: response.reason ?? "quiet_hours" };
  }
}
