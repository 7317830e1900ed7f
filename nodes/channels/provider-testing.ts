/**
 * `runProviderForTest` — the harness for authors of channel providers (exported from
 * `waypost/extension/testing`). It builds the provider exactly as a workspace's settings would
 * (same schema validation, guarded fetch with a timeout, quota check) and lets a test send,
 * read the quota, post a callback and apply length rules, without a database or a journey.
 * Unlike production it is strict: a provider that throws or answers outside the contract fails
 * the test instead of being mapped to `provider_unavailable`.
 */
import { guardedFetch, parseAllowlist } from "../net/outbound.server";
import { buildCustomProvider } from "./custom-providers.server";
import { applyLengthRules } from "./limits";
import {
  canTransition,
  failureReasons,
  type OutboundMessage,
  type ProviderCallbackResult,
  type ProviderOutcome,
  type QuotaReading,
  type RenderedContent,
} from "./provider";
import type { AnyChannelProviderDefinition, ProviderFetch, ProviderLimitResult } from "./provider-api";

export interface RunProviderOptions {
  config: unknown;
  secrets?: unknown;
  /**
   * Destinations the guard may call although they are private (your loopback fake): host names,
   * IPs or CIDRs, as in WAYPOST_OUTBOUND_ALLOW. Default `127.0.0.1` and `::1`.
   */
  allow?: string[];
  /** Replaces the guarded fetch entirely (rarely needed). */
  fetch?: ProviderFetch;
  timeoutMs?: number;
  now?: () => Date;
  workspaceId?: string;
}

export interface RecordedRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

export interface ProviderTestHandle {
  /** Sends one message; fields you omit get test defaults (ids, category marketing, platform android). */
  send(message: Partial<OutboundMessage> & { to: string }): Promise<ProviderOutcome>;
  sendBatch(messages: Array<Partial<OutboundMessage> & { to: string }>): Promise<ProviderOutcome[]>;
  /** The quota reading (undefined when the provider has no quota). */
  quota(): Promise<QuotaReading | undefined>;
  /** Posts a callback as the app's route would hand it over; receipts are checked against the contract. */
  callback(request: { body: string; method?: string; headers?: Record<string, string>; query?: Record<string, string> }): Promise<ProviderCallbackResult>;
  /** The channel's length rules, then the provider's own — what the send service would send or refuse. */
  limits(content: RenderedContent, options?: { truncate?: boolean; platform?: OutboundMessage["platform"] }): ProviderLimitResult;
  /** Every request the provider made. */
  requests: RecordedRequest[];
  logs: Array<{ level: string; message: string; fields?: Record<string, unknown> }>;
  close(): Promise<void>;
}

let sequence = 0;

export function runProviderForTest(definition: AnyChannelProviderDefinition, options: RunProviderOptions): ProviderTestHandle {
  const requests: RecordedRequest[] = [];
  const logs: ProviderTestHandle["logs"] = [];
  const allow = parseAllowlist(options.allow ?? ["127.0.0.1", "::1"]);
  const base: ProviderFetch = options.fetch ?? ((url, init) => guardedFetch(url, init ?? {}, { allow, timeoutMs: options.timeoutMs ?? 5_000 }));
  const fetch: ProviderFetch = (url, init) => {
    requests.push({ url: String(url), method: init?.method ?? "GET", headers: { ...(init?.headers ?? {}) }, ...(init?.body !== undefined ? { body: init.body } : {}) });
    return base(url, init);
  };
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) => void logs.push({ level, message, ...(fields ? { fields } : {}) });
  const built = buildCustomProvider(definition, {
    workspaceId: options.workspaceId ?? "00000000-0000-4000-8000-000000000000",
    config: options.config,
    secrets: options.secrets ?? {},
    fetch,
    log: { info: log("info"), warn: log("warn"), error: log("error") },
    timeoutMs: options.timeoutMs ?? 5_000,
    now: options.now,
    strict: true,
  });
  const complete = (m: Partial<OutboundMessage> & { to: string }): OutboundMessage => {
    const n = ++sequence;
    return {
      messageId: m.messageId ?? `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
      idempotencyKey: m.idempotencyKey ?? `test-key-${n}`,
      channel: definition.channel,
      category: m.category ?? "marketing",
      content: m.content ?? {},
      ...(definition.channel === "push" ? { platform: m.platform ?? "android" } : {}),
      ...m,
    };
  };
  return {
    requests,
    logs,
    send: (message) => built.provider.send(complete(message)),
    sendBatch: (messages) => built.provider.sendBatch(messages.map(complete)),
    quota: async () => (built.provider.quota ? built.provider.quota() : undefined),
    async callback(request) {
      if (!built.provider.handleCallback) throw new Error(`${definition.id} has no handleCallback`);
      const result = await built.provider.handleCallback({ method: request.method ?? "POST", headers: request.headers ?? {}, query: request.query ?? {}, body: request.body });
      result.receipts.forEach((r, i) => {
        if (!canTransition("sent", r.state)) throw new Error(`receipts[${i}].state "${String(r.state)}" is not a delivery state a sent message can reach`);
        if (r.reason !== undefined && !(failureReasons as readonly string[]).includes(r.reason)) throw new Error(`receipts[${i}].reason "${r.reason}" is not one of failureReasons`);
        if (!r.messageId && !r.providerMessageId) throw new Error(`receipts[${i}] names neither messageId nor providerMessageId`);
      });
      if (!Number.isInteger(result.response?.status)) throw new Error("handleCallback must answer with response.status");
      return result;
    },
    limits(content, o = {}) {
      const truncate = o.truncate ?? true;
      const channel = applyLengthRules(definition.channel, content, { truncate });
      if (!channel.ok || !built.limits) return channel.ok ? { ok: true, content: channel.content, truncations: channel.truncations } : channel;
      const own = built.limits(channel.content, { truncate, platform: o.platform });
      return own.ok ? { ...own, truncations: [...channel.truncations, ...own.truncations] } : own;
    },
    close: async () => built.provider.close?.(),
  };
}
