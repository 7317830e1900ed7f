import { parseConfig } from "../define";
import type { ActionContext, ActionResult } from "../runtime";
import { updateUserConfigSchema } from "./definition";

export async function run(ctx: ActionContext, rawConfig: unknown): Promise<ActionResult> {
  const config = parseConfig(updateUserConfigSchema, rawConfig);
  try {
    await ctx.services.updateUser({ userId: ctx.user.id, operations: config.operations, idempotencyKey: ctx.idempotencyKey });
  } catch (error) {
    // Profile writes are idempotent by key, so retrying a failed one is always safe.
    return { retry: { reason: error instanceof Error ? error.message : String(error) } };
  }
  return { output: "next" };
}
