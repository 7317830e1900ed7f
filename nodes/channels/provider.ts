/**
 * The contract between the send service and a channel provider (FCM, Alibaba Cloud SMS, SMTP,
 * sandbox). Providers only talk to their service and translate its answers into ONE failure
 * taxonomy; policies, persistence and retries live in the send service so every provider gets
 * them the same way.
 *
 * This module is imported by the browser bundle (reason labels, state names): no node:* here.
 */

export const channels = ["push", "sms", "email"] as const;
export type Channel = (typeof channels)[number];

export const categories = ["marketing", "transactional"] as const;
export type Category = (typeof categories)[number];

/** Delivery states in the order a message moves through them; `failed` can follow any but the last. */
export const deliveryStates = ["queued", "sent", "delivered", "opened", "clicked", "failed"] as const;
export type DeliveryState = (typeof deliveryStates)[number];

/** Rank of each forward state, so a late "delivered" receipt never moves an opened message back. */
export const stateRank: Record<DeliveryState, number> = {
  queued: 0,
  sent: 1,
  delivered: 2,
  opened: 3,
  clicked: 4,
  failed: 1,
};

/** True when `next` is a legal successor of `current` (forward moves only; failed is final). */
export function canTransition(current: DeliveryState, next: DeliveryState): boolean {
  if (current === "failed") return false;
  // A message that was sent can still fail later (bounce, undelivered receipt), but not once the
  // user has seen it: an open proves delivery whatever a late receipt says.
  if (next === "failed") return current === "queued" || current === "sent";
  return stateRank[next] > stateRank[current];
}

/**
 * Why a message did not get through. One list for every channel and provider so analytics can
 * break losses down per stage (折损原因分析). Labels live in app/i18n/locales/{en,zh}/channels.json.
 */
export const failureReasons = [
  // stopped before the provider by our policies
  "missing_address",
  "invalid_token",
  "invalid_address",
  "unsubscribed",
  "no_consent",
  "quiet_hours",
  "frequency_capped",
  "rate_limited",
  "template_error",
  "too_long",
  "not_configured",
  // answered by the provider
  "provider_rejected",
  "quota_exceeded",
  "provider_unavailable",
  "timeout",
  // reported after the send
  "not_delivered",
  "bounced",
  // a crash between handing the message to a provider without idempotency and recording the
  // answer: we cannot know whether it went out and will not risk sending it twice
  "outcome_unknown",
] as const;
export type FailureReason = (typeof failureReasons)[number];

/** Where in the pipeline a reason arises, for the loss-analysis breakdown. */
export const failureStage: Record<FailureReason, "policy" | "render" | "provider" | "delivery"> = {
  missing_address: "policy",
  invalid_token: "provider",
  invalid_address: "provider",
  unsubscribed: "policy",
  no_consent: "policy",
  quiet_hours: "policy",
  frequency_capped: "policy",
  rate_limited: "provider",
  template_error: "render",
  too_long: "render",
  not_configured: "policy",
  provider_rejected: "provider",
  quota_exceeded: "provider",
  provider_unavailable: "provider",
  timeout: "provider",
  not_delivered: "delivery",
  bounced: "delivery",
  outcome_unknown: "provider",
};

/** Copy as it leaves Waypost: rendered, length-checked, with per-channel extras. */
export interface RenderedContent {
  title?: string;
  body?: string;
  subject?: string;
  html?: string;
  text?: string;
  /** SMS: Alibaba Cloud template code (SMS_123456789); the body is the preview of what it renders. */
  templateCode?: string;
  /** SMS: template variables, already rendered from the user's data. */
  templateParams?: Record<string, string>;
  /** SMS: the signature (短信签名); it counts towards the SMS length. */
  signName?: string;
  /** Push: data payload delivered to the app (string values only, as FCM requires). */
  data?: Record<string, string>;
  /** Push: picture shown in the notification. */
  imageUrl?: string;
  /** Push: app link opened on tap (sent as data.deep_link). */
  deepLink?: string;
}

export interface OutboundMessage {
  /** Our message id; providers echo it where they can (FCM data, SMS OutId, email headers). */
  messageId: string;
  /** Stable per logical message; providers that support it deduplicate on it. */
  idempotencyKey: string;
  channel: Channel;
  category: Category;
  /** Device token, phone number (+86…) or email address. */
  to: string;
  /** Push: the platform of the token, for Android/iOS specific options. */
  platform?: "android" | "ios" | "web";
  content: RenderedContent;
  /** Email: extra headers (List-Unsubscribe etc.) prepared by the send service. */
  headers?: Record<string, string>;
}

export type ProviderOutcome = ProviderSuccess | ProviderFailure;

export interface ProviderSuccess {
  ok: true;
  /** The provider's id (FCM message name, SMS BizId, SMTP Message-ID). */
  providerMessageId: string;
  /** `delivered` only where the provider knows at once (sandbox). */
  state: "sent" | "delivered";
}

export interface ProviderFailure {
  ok: false;
  reason: FailureReason;
  /** Worth trying the same message again after a pause (throttling, 5xx, timeouts). */
  retryable: boolean;
  /** The provider's hint (Retry-After) or our estimate for per-number limits. */
  retryAfterMs?: number;
  /** The raw provider code (UNREGISTERED, isv.MOBILE_NUMBER_ILLEGAL, 550…), kept for support. */
  providerCode?: string;
  detail?: string;
  /** The address is dead (unregistered token, hard bounce): stop using it. */
  retireAddress?: boolean;
  /**
   * The request may have reached the provider (a timeout after sending). Retrying is only safe
   * where the provider de-duplicates (capabilities.idempotency is not `none`).
   */
  maybeDelivered?: boolean;
}

export interface ProviderCapabilities {
  /** Provider has a batch API (sendEach, SendBatchSms); the service groups sends when true. */
  batch: boolean;
  maxBatchSize: number;
  /**
   * What the provider does with our idempotency key:
   * - `native`: the provider deduplicates requests with the same key;
   * - `collapse`: delivery may repeat but the device keeps one notification (FCM collapse key,
   *   apns-collapse-id), so the user sees the message once;
   * - `message-id`: the key becomes the Message-ID, which mail clients de-duplicate on;
   * - `none`: a retry after an unknown outcome could deliver twice.
   */
  idempotency: "native" | "collapse" | "message-id" | "none";
  /** How we learn about delivery: immediately, by polling, by callback, or not at all. */
  deliveryReports: "immediate" | "poll-and-callback" | "callback" | "bounce-only" | "none";
}

/**
 * What a provider reports after the send (a receipt callback, a poll): one message reached a new
 * state. Matched to our message by `messageId` (when the provider echoes it) or by the provider's
 * id plus, where one provider id covers several addresses, the address.
 */
export interface ProviderReceipt {
  messageId?: string;
  providerMessageId?: string;
  address?: string;
  state: "delivered" | "opened" | "clicked" | "failed";
  /** For `failed`: one of our loss reasons (`not_delivered` when omitted). */
  reason?: FailureReason;
  providerCode?: string;
  detail?: string;
  at?: Date;
}

/**
 * A provider's sending allowance as it reports it (Getui's 查询推送量): `remaining` null when the
 * provider does not limit, `limited` once it refuses more today.
 */
export interface QuotaReading {
  remaining: number | null;
  limited: boolean;
  /** Raw figures per sub-channel, for the Settings page and logs. */
  detail?: Record<string, unknown>;
}

/** The raw HTTP request of a provider callback, as the app received it (body not parsed). */
export interface ProviderCallbackRequest {
  method: string;
  headers: Record<string, string>;
  /** The query string's parameters. */
  query: Record<string, string>;
  body: string;
}

/** What the provider makes of a callback: receipts to apply and the answer its service expects. */
export interface ProviderCallbackResult {
  receipts: ProviderReceipt[];
  response: { status: number; body: string; contentType?: string };
}

export interface ChannelProvider {
  /** Stable id stored with each message: fcm, aliyun-sms, smtp, sandbox. */
  readonly id: string;
  readonly channel: Channel;
  readonly capabilities: ProviderCapabilities;
  /** Never throws for provider answers: maps them onto the taxonomy. */
  send(message: OutboundMessage): Promise<ProviderOutcome>;
  /** Same as several `send` calls but in fewer requests; outcomes align with the input order. */
  sendBatch(messages: OutboundMessage[]): Promise<ProviderOutcome[]>;
  /** Today's allowance; the send service checks it before large sends (custom providers). */
  quota?(): Promise<QuotaReading>;
  /** Parses and authenticates a callback the provider's service posted to us (receipts). */
  handleCallback?(request: ProviderCallbackRequest): Promise<ProviderCallbackResult>;
  close?(): Promise<void>;
}

export function failure(
  reason: FailureReason,
  options: Omit<ProviderFailure, "ok" | "reason" | "retryable"> & { retryable?: boolean } = {},
): ProviderFailure {
  return { ok: false, reason, retryable: options.retryable ?? false, ...options };
}

/** A well-formed failure: `ok: false`, one of our reasons, a boolean `retryable`. */
export function isFailure(outcome: unknown): outcome is ProviderFailure {
  if (typeof outcome !== "object" || outcome === null) return false;
  const f = outcome as Partial<ProviderFailure>;
  return f.ok === false && typeof f.retryable === "boolean" && (failureReasons as readonly string[]).includes(f.reason as string);
}

/**
 * Runs `task` but gives up after `ms`. Client libraries such as firebase-admin have fixed,
 * long timeouts (15 s) that a journey cannot wait on; the abandoned request may still land,
 * which is why retries reuse the idempotency key.
 */
export async function withTimeout<T>(task: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      task,
      new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
export const TIMED_OUT: unique symbol = Symbol("timed out");

/** Default sendBatch for providers without a batch API: bounded parallel single sends. */
export async function sendEachInParallel(
  provider: Pick<ChannelProvider, "send">,
  messages: OutboundMessage[],
  concurrency = 8,
): Promise<ProviderOutcome[]> {
  const outcomes: ProviderOutcome[] = new Array(messages.length);
  let next = 0;
  const worker = async () => {
    while (next < messages.length) {
      const index = next++;
      outcomes[index] = await provider.send(messages[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, messages.length) }, worker));
  return outcomes;
}
