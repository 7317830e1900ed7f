/**
 * The public face of custom channel providers: what an extension writes to add a message provider
 * (a push aggregator, an SMS gateway, a mail API) that Waypost's message nodes send through with all
 * of Waypost's policies — consent, quiet hours, frequency caps, send-rate limits, length rules,
 * fallback on non-delivery, delivery states and loss reasons (docs/extensions.md, "Channel
 * providers"; decision 0930).
 *
 * A provider only talks to its service. It turns its service's answers into our outcomes
 * (`ok`, or one of `failureReasons` with retry hints), its receipts into our delivery states, and
 * may say how long copy may be on its service and how much it may still send today. Everything
 * else happens in the send service, identically for every provider.
 *
 * Client-safe (no node:*): the Settings page reads labels and schemas from definitions.
 */
import type { z } from "zod";
import type { LengthIssue } from "./limits";
import {
  failureReasons,
  type Channel,
  type OutboundMessage,
  type ProviderCallbackRequest,
  type ProviderCallbackResult,
  type ProviderCapabilities,
  type ProviderOutcome,
  type QuotaReading,
  type RenderedContent,
} from "./provider";

export interface ProviderLabel {
  en: string;
  zh: string;
}

export interface ProviderFetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** The part of a fetch Response a provider may rely on. */
export interface ProviderResponse {
  status: number;
  ok: boolean;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** The `fetch` a provider gets: Waypost's outbound-request guard, with a timeout. */
export type ProviderFetch = (url: string | URL, init?: ProviderFetchInit) => Promise<ProviderResponse>;

export interface ProviderLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What `create` receives: one workspace's settings, already validated and decrypted. */
export interface ProviderContext<Config, Secrets> {
  workspaceId: string;
  config: Config;
  secrets: Secrets;
  /** Outbound HTTP goes through this (private addresses refused, timeout applied). */
  fetch: ProviderFetch;
  log: ProviderLogger;
  /** How long one request to the service may take before it counts as `timeout`. */
  timeoutMs: number;
  now(): Date;
}

/** The live provider `create` returns; id, channel and capabilities come from the definition. */
export interface ProviderInstance {
  /** Must not throw for the service's answers: map them onto `failureReasons`. */
  send(message: OutboundMessage): Promise<ProviderOutcome>;
  /** Outcomes align with the input order. Omitted: bounded parallel `send` calls. */
  sendBatch?(messages: OutboundMessage[]): Promise<ProviderOutcome[]>;
  /** Today's remaining allowance (checked before large sends, see `quotaCheck`). */
  quota?(): Promise<QuotaReading>;
  /** A callback the service posted to `/callbacks/provider/<id>/<token>`: verify it, parse it. */
  handleCallback?(request: ProviderCallbackRequest): Promise<ProviderCallbackResult>;
  close?(): Promise<void>;
}

export type ProviderLimitResult =
  | { ok: true; content: RenderedContent; truncations: LengthIssue[] }
  | { ok: false; issue: LengthIssue };

export interface ChannelProviderDefinitionInput<C extends z.ZodTypeAny, S extends z.ZodTypeAny> {
  /** Permanent namespaced id, stored with every message: `getui.push`, `acme.sms`. Never rename it. */
  id: string;
  /** Semver of the extension's provider code, shown on the Settings page. */
  version?: string;
  channel: Channel;
  label: ProviderLabel;
  description?: ProviderLabel;
  /** Settings stored in clear (app ids, endpoints, options). */
  config: C;
  /** Settings stored encrypted and never sent back to the browser (keys, master secrets). */
  secrets: S;
  capabilities: ProviderCapabilities;
  /**
   * The service's own length rules, applied after the channel's (push title 50, body 240…):
   * cut (and report) when the node allows truncation, otherwise refuse as `too_long`.
   */
  limits?(content: RenderedContent, options: { truncate: boolean; config: z.output<C>; platform?: OutboundMessage["platform"] }): ProviderLimitResult;
  /**
   * When the send service asks `quota()`: at most once per `ttlMs` (default 60 s), and before any
   * batch of at least `largeSend` messages (default 100). Sends stop with `quota_exceeded` once
   * the reading (less what was sent since) cannot cover the send.
   */
  quotaCheck?: { ttlMs?: number; largeSend?: number };
  create(ctx: ProviderContext<z.output<C>, z.output<S>>): ProviderInstance;
}

export interface ChannelProviderDefinition<C extends z.ZodTypeAny = z.ZodTypeAny, S extends z.ZodTypeAny = z.ZodTypeAny>
  extends ChannelProviderDefinitionInput<C, S> {
  readonly __provider: true;
}
export type AnyChannelProviderDefinition = ChannelProviderDefinition<z.ZodTypeAny, z.ZodTypeAny>;

/** Built-in provider ids; a custom provider cannot take them. */
export const builtInProviderIds = ["fcm", "aliyun-sms", "smtp", "sandbox"] as const;

const PROVIDER_ID = /^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$/;

/** Checks a definition's shape at load time, so a broken extension is refused with a clear error. */
export function defineChannelProvider<C extends z.ZodTypeAny, S extends z.ZodTypeAny>(
  input: ChannelProviderDefinitionInput<C, S>,
): ChannelProviderDefinition<C, S> {
  const where = `channel provider "${String(input.id)}"`;
  if (typeof input.id !== "string" || !PROVIDER_ID.test(input.id)) {
    throw new Error(`${where}: id must look like "namespace.name" (lowercase, e.g. getui.push)`);
  }
  if (!["push", "sms", "email"].includes(input.channel)) throw new Error(`${where}: channel must be push, sms or email`);
  if (!input.label?.en || !input.label?.zh) throw new Error(`${where}: label needs en and zh`);
  for (const key of ["config", "secrets"] as const) {
    const schema = input[key] as { safeParse?: unknown } | undefined;
    if (!schema || typeof schema.safeParse !== "function") throw new Error(`${where}: ${key} must be a zod schema`);
  }
  const c = input.capabilities;
  if (!c || typeof c.batch !== "boolean" || !Number.isInteger(c.maxBatchSize) || c.maxBatchSize < 1) {
    throw new Error(`${where}: capabilities need batch (boolean) and maxBatchSize (a positive integer)`);
  }
  if (!["native", "collapse", "message-id", "none"].includes(c.idempotency)) throw new Error(`${where}: capabilities.idempotency is ${String(c.idempotency)}`);
  if (typeof input.create !== "function") throw new Error(`${where}: create(ctx) is missing`);
  return Object.freeze({ ...input, __provider: true as const });
}

export function isChannelProviderDefinition(value: unknown): value is AnyChannelProviderDefinition {
  return typeof value === "object" && value !== null && (value as { __provider?: unknown }).__provider === true;
}

/** True when `reason` is one of ours (a provider's mapping table is checked against it in tests). */
export function isFailureReason(reason: unknown): reason is (typeof failureReasons)[number] {
  return typeof reason === "string" && (failureReasons as readonly string[]).includes(reason);
}

// What a provider author needs from the channels contract, re-exported so `waypost/extension` is
// the only import: the taxonomy, the outcome helpers and the length-counting helpers.
export {
  failure,
  failureReasons,
  failureStage,
  deliveryStates,
  sendEachInParallel,
  type Channel,
  type Category,
  type DeliveryState,
  type FailureReason,
  type OutboundMessage,
  type ProviderCapabilities,
  type ProviderCallbackRequest,
  type ProviderCallbackResult,
  type ProviderFailure,
  type ProviderOutcome,
  type ProviderReceipt,
  type ProviderSuccess,
  type QuotaReading,
  type RenderedContent,
} from "./provider";
export { charCount, truncateText, type LengthIssue } from "./limits";
