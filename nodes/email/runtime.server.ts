import { parseConfig } from "../define";
import type { ActionContext, ActionResult } from "../runtime";
import { sendRendered } from "../messages.server";
import { emailConfigSchema, emailNode } from "./definition";

export async function run(ctx: ActionContext, rawConfig: unknown): Promise<ActionResult> {
  const config = parseConfig(emailConfigSchema, rawConfig);
  const rendered = emailNode.preview!(config, { user: ctx.user, event: ctx.event, journey: ctx.journey });
  return sendRendered(ctx, "email", config, rendered);
}
