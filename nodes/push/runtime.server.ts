import { parseConfig } from "../define";
import type { ActionContext, ActionResult } from "../runtime";
import { sendRendered } from "../messages.server";
import { pushConfigSchema, pushNode } from "./definition";

export async function run(ctx: ActionContext, rawConfig: unknown): Promise<ActionResult> {
  const config = parseConfig(pushConfigSchema, rawConfig);
  const rendered = pushNode.preview!(config, { user: ctx.user, event: ctx.event, journey: ctx.journey });
  return sendRendered(ctx, "push", config, rendered);
}
