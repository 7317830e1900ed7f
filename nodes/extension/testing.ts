/**
 * `waypost/extension/testing` — the test harness for extension authors (part of the public
 * contract, same semver rules as `waypost/extension`). It runs a node exactly as the engines do
 * (same config parsing, context, timeout and outcome mapping) without a database or a journey.
 */
import type { ActionResult, FetchLike, RuntimeLogger } from "../runtime";
import type { ExtensionNode, ExtensionUser } from "./index";
import { toNodeRun } from "./run.server";

export interface RunNodeOptions {
  /** Secrets the node reads with `ctx.secrets.get` (default none). */
  secrets?: Record<string, string>;
  /** Replaces outbound HTTP; default: the real `fetch` (point the node at a loopback server). */
  fetch?: FetchLike;
  /** 1 for the first try. */
  attempt?: number;
  idempotencyKey?: string;
  journey?: { id: string; name: string };
  event?: { name: string; properties: Record<string, unknown> };
  now?: Date;
  /** Config stored by an older version: migrated with the node's `migrate` first, as the engines do. */
  fromVersion?: number;
}

export interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields: Record<string, unknown>;
}

export interface NodeTestResult {
  /** The output the user leaves by (`failed` for permanent failures and exhausted retries). */
  output?: string;
  detail?: Record<string, unknown>;
  /** Set when the engine would try again later, with the reason. */
  retry?: string;
  /** Everything the node logged. */
  logs: LogLine[];
  /** Every request the node made through `ctx.fetch`. */
  requests: Array<{ url: string; method: string; headers: Record<string, string>; body?: string }>;
}

const defaultUser: ExtensionUser = { id: "u1", traits: { name: "小王" }, timezone: "Asia/Shanghai" };

/** Runs `definition` once with `config` for `user`, as a journey would. */
export async function runNodeForTest(definition: ExtensionNode, config: unknown, user: Partial<ExtensionUser> = {}, options: RunNodeOptions = {}): Promise<NodeTestResult> {
  const logs: LogLine[] = [];
  const requests: NodeTestResult["requests"] = [];
  const line = (level: LogLine["level"]) => (message: string, fields: Record<string, unknown> = {}) => logs.push({ level, message, fields });
  const log: RuntimeLogger = { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
  const realFetch: FetchLike = (url, init) => fetch(url, init);
  const fetchLike = options.fetch ?? realFetch;
  const migrated = options.fromVersion !== undefined && options.fromVersion < definition.version && definition.migrate ? definition.migrate(config, options.fromVersion) : config;
  const now = options.now ?? new Date();
  const result: ActionResult = await toNodeRun(definition)(
    {
      workspaceId: "test",
      journeyId: options.journey?.id ?? "test-journey",
      versionId: "test-version",
      instanceId: "test-instance",
      nodeId: "node",
      user: { ...defaultUser, ...user, traits: user.traits ?? defaultUser.traits },
      ...(options.event ? { event: options.event } : {}),
      journey: options.journey ?? { id: "test-journey", name: "Test journey" },
      idempotencyKey: options.idempotencyKey ?? "test-instance:node:1",
      attempt: options.attempt ?? 1,
      now: now.getTime(),
      services: {
        sendMessage: async () => ({ status: "failed", reason: "not_available_in_tests" }),
        updateUser: async () => {},
        fetch: async (url, init) => {
          requests.push({ url, method: init.method, headers: init.headers, ...(init.body !== undefined ? { body: init.body } : {}) });
          return fetchLike(url, init);
        },
        log,
        secrets: () => ({ get: async (name) => options.secrets?.[name] }),
      },
    },
    migrated,
  );
  if ("retry" in result) return { retry: result.retry.reason, logs, requests };
  if ("output" in result) return { output: result.output, ...(result.detail ? { detail: result.detail } : {}), logs, requests };
  return { retry: result.reason, logs, requests };
}

// Channel providers' harness (runProviderForTest) is exported from here too, next to this one.
export { runProviderForTest, type RunProviderOptions, type ProviderTestHandle, type RecordedRequest } from "../channels/provider-testing";
