import { ZodError } from "zod";
import type { ActionContext, ActionResult, NodeRun } from "./runtime";
import type { AnyNodeDefinition } from "./define";
import { getNodeDefinition } from "./registry";
import { processShared } from "./shared-state";
import { run as runPush } from "./push/runtime.server";
import { run as runSms } from "./sms/runtime.server";
import { run as runEmail } from "./email/runtime.server";
import { run as runUpdateUser } from "./update-user/runtime.server";
import { run as runWebhook } from "./webhook/runtime.server";

/** Server-only map of node type → side-effect runtime. */
const runtimes = new Map<string, NodeRun<unknown>>([
  ["core.push", runPush],
  ["core.sms", runSms],
  ["core.email", runEmail],
  ["core.update-user", runUpdateUser],
  ["example.webhook", runWebhook],
]);

/** Runtimes added at run time (extensions): one map per process, shared by every copy of this module. */
const added = processShared("node-runtimes", () => new Map<string, NodeRun<unknown>>());

export function registerNodeRuntime(type: string, run: NodeRun<unknown>): void {
  const existing = getNodeRuntime(type);
  if (existing && existing !== run) throw new Error(`runtime for "${type}" is already registered`);
  added.set(type, run);
}

export function unregisterNodeRuntime(type: string): void {
  added.delete(type);
}

export function getNodeRuntime(type: string): NodeRun<unknown> | undefined {
  return runtimes.get(type) ?? added.get(type);
}

const migratedConfigs = new WeakMap<object, Map<string, unknown>>();

/**
 * A config stored by an older version of its node type, brought to the current version with the
 * definition's `migrate`: users who entered a published journey before the node's package was
 * upgraded keep going with the config the new code understands. Cached per stored object.
 */
export function currentConfig(def: AnyNodeDefinition, config: unknown, typeVersion: number | undefined): unknown {
  if (typeVersion === undefined || typeVersion >= def.version || !def.migrate) return config;
  const key = `${def.type}@${typeVersion}>${def.version}`;
  const cached = typeof config === "object" && config !== null ? migratedConfigs.get(config) : undefined;
  if (cached?.has(key)) return cached.get(key);
  const migrated = def.migrate(config, typeVersion);
  if (typeof config === "object" && config !== null) {
    const perConfig = cached ?? new Map<string, unknown>();
    perConfig.set(key, migrated);
    migratedConfigs.set(config, perConfig);
  }
  return migrated;
}

/**
 * The single path every driver uses to run an action node (an activity on Temporal, an outbox
 * job on the embedded engine). Errors thrown by a runtime become retries, so a bug or an outage
 * is retried with backoff and finally leaves by `failed` instead of losing the user.
 */
export async function executeNode(type: string, ctx: ActionContext, config: unknown, typeVersion?: number): Promise<ActionResult> {
  const run = getNodeRuntime(type);
  const def = getNodeDefinition(type);
  if (!run || !def) return { output: "failed", detail: { reason: "unknown_node_type", type } };
  try {
    return await run(ctx, currentConfig(def, config, typeVersion));
  } catch (error) {
    // A config that does not parse will not parse on the next attempt either.
    if (error instanceof ZodError) return { output: "failed", detail: { reason: "config_invalid", message: error.message } };
    return { retry: { reason: error instanceof Error ? error.message : String(error) } };
  }
}
