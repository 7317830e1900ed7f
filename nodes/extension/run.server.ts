import type { ActionContext, ActionResult, NodeRun, RuntimeLogger } from "../runtime";
import { isOutboundRefusal, OutboundLimitError } from "../net/outbound.server";
import { PermanentError, type ExtensionLogger, type ExtensionNode, type ExtensionResponse, type NodeContext, type NodeOutcome } from "./index";

/**
 * Runs a public-API node inside the engines' one action path (`executeNode`): parses the config
 * with the node's schema, builds its context (guarded fetch with the node's timeout, logger,
 * secrets, idempotency key) and maps its outcome onto the interpreter's results — an output,
 * a permanent failure (the `failed` output), or a retry until `execution.maxAttempts`.
 */

const silent: RuntimeLogger = { error() {}, warn() {}, info() {}, debug() {} };

class AttemptTimeout extends Error {}

function scopedLogger(base: RuntimeLogger, fields: Record<string, unknown>): ExtensionLogger {
  return {
    debug: (msg, more) => base.debug(msg, { ...fields, ...more }),
    info: (msg, more) => base.info(msg, { ...fields, ...more }),
    warn: (msg, more) => base.warn(msg, { ...fields, ...more }),
    error: (msg, more) => base.error(msg, { ...fields, ...more }),
  };
}

/** An error from the extension's own copy of the API counts too (matched by name, not identity). */
function isPermanent(error: unknown): error is Error & { reason: string; detail?: Record<string, unknown> } {
  return error instanceof Error && error.name === "PermanentError" && typeof (error as { reason?: unknown }).reason === "string";
}

export function toNodeRun(node: ExtensionNode): NodeRun<unknown> {
  const outputs = new Set(node.outputs.map((o) => o.id));
  const { timeoutMs, maxAttempts } = node.execution;

  const failed = (reason: string, detail?: Record<string, unknown>): ActionResult => ({ output: "failed", detail: { ...detail, reason } });
  const again = (ctx: ActionContext, reason: string): ActionResult =>
    ctx.attempt >= maxAttempts ? failed("retries_exhausted", { lastReason: reason, attempts: ctx.attempt }) : { retry: { reason } };

  function toResult(ctx: ActionContext, outcome: NodeOutcome | undefined): ActionResult {
    if (outcome && "output" in outcome && typeof outcome.output === "string") {
      if (!outputs.has(outcome.output)) return failed("unknown_output", { output: outcome.output });
      return { output: outcome.output, ...(outcome.detail ? { detail: outcome.detail } : {}) };
    }
    if (outcome && "fail" in outcome && typeof outcome.fail === "string") return failed(outcome.fail, outcome.detail);
    if (outcome && "retry" in outcome && typeof outcome.retry === "string") return again(ctx, outcome.retry);
    return failed("invalid_outcome", { returned: outcome === undefined ? "undefined" : JSON.stringify(outcome).slice(0, 200) });
  }

  return async (ctx, rawConfig) => {
    const parsed = node.config.safeParse(rawConfig);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return failed("config_invalid", { path: issue?.path.join(".") ?? "", message: issue?.message ?? "invalid config" });
    }
    const controller = new AbortController();
    const log = scopedLogger(ctx.services.log ?? silent, { nodeType: node.id, journeyId: ctx.journeyId, instanceId: ctx.instanceId, nodeId: ctx.nodeId, attempt: ctx.attempt });
    const secrets = ctx.services.secrets?.(node.id) ?? { get: async () => undefined };
    const context: NodeContext<unknown> = {
      config: parsed.data,
      user: { id: ctx.user.id, traits: ctx.user.traits, timezone: ctx.user.timezone ?? null },
      journey: { id: ctx.journeyId, name: ctx.journey?.name ?? "", versionId: ctx.versionId },
      ...(ctx.event ? { event: { name: ctx.event.name, properties: ctx.event.properties } } : {}),
      workspaceId: ctx.workspaceId,
      instanceId: ctx.instanceId,
      nodeId: ctx.nodeId,
      attempt: ctx.attempt,
      idempotencyKey: ctx.idempotencyKey,
      now: new Date(ctx.now),
      signal: controller.signal,
      log,
      secrets: { get: (name) => secrets.get(name) },
      async fetch(url, init = {}): Promise<ExtensionResponse> {
        const signal = init.timeoutMs !== undefined ? AbortSignal.any([controller.signal, AbortSignal.timeout(Math.min(init.timeoutMs, timeoutMs))]) : controller.signal;
        let response;
        try {
          response = await ctx.services.fetch(url, { method: init.method ?? "GET", headers: init.headers ?? {}, ...(init.body !== undefined ? { body: init.body } : {}), signal });
        } catch (error) {
          // The guard refuses the same destination on every try: a permanent failure, naming only
          // what the operator typed (no status, no address beyond the host).
          if (isOutboundRefusal(error)) throw new PermanentError("destination_refused", { host: error.host, why: error.address?.range ?? error.reason });
          if (error instanceof OutboundLimitError && error.code === "response_too_large") throw new PermanentError("response_too_large");
          throw error;
        }
        return { status: response.status, ok: response.ok, text: () => response.text() };
      },
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort(new AttemptTimeout(`timeout after ${timeoutMs} ms`));
        reject(new AttemptTimeout(`timeout after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return toResult(ctx, await Promise.race([node.run(context), timeout]));
    } catch (error) {
      if (isPermanent(error)) return failed(error.reason, error.detail);
      const reason = error instanceof AttemptTimeout ? "timeout" : error instanceof Error ? error.message : String(error);
      log.warn("extension node attempt failed", { reason });
      return again(ctx, reason);
    } finally {
      clearTimeout(timer);
    }
  };
}
