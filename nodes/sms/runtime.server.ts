import { parseConfig } from "../define";
import type { ActionContext, ActionResult } from "../runtime";
import { sendRendered } from "../messages.server";
import { smsConfigSchema, smsNode } from "./definition";

export async function run(ctx: ActionContext, rawConfig: unknown): Promise<ActionResult> {
  const config = parseConfig(smsConfigSchema, rawConfig);
  const rendered = smsNode.preview!(config, { user: ctx.user, event: ctx.event, journey: ctx.journey });
  return sendRendered(ctx, "sms", config, rendered);
}
