/**
 * The send service: every message of every journey goes through `sendMessage`. In order:
 * idempotency (one row per key) → recipient and address → consent/suppression → quiet hours →
 * length rules → frequency caps → send-rate limit → provider (with bounded retries) → recorded
 * state, node event and, for immediate delivery, the `$message.delivered` user event.
 */
import { randomUUID } from "node:crypto";
import { v7 as uuidv7 } from "uuid";
import type { Db } from "../../db/client";
import type { SendMessageRequest, SendMessageResponse } from "../runtime";
import { applyLengthRules, type LengthIssue } from "./limits";
import { decideMessage, normaliseContent, TRUNCATE_BY_DEFAULT } from "./policies/decide";
import { RateLimiter } from "./policies/rate-limit";
import type { PolicySettings } from "./policies/settings";
import {
  canTransition,
  deliveryStates,
  type Channel,
  type ChannelProvider,
  type DeliveryState,
  type FailureReason,
  type OutboundMessage,
  type ProviderFailure,
  type ProviderOutcome,
  type RenderedContent,
} from "./provider";
import { loadPolicySettings, type ProviderResolver, type ResolvedProvider } from "./settings.server";
import { addTracking, unsubscribeHeaders } from "./smtp/tracking.server";
import { normalisePhone } from "./phone";
import * as store from "./store.server";
import { createWriteBatcher, type WriteBatcher } from "./batcher.server";
import { createGatherer } from "../../db/gather";

/** What a message node asks for. Same fields as the runtime's SendMessageRequest plus the workspace. */
export interface MessageRequest extends Omit<SendMessageRequest, "content"> {
  workspaceId: string;
  /** Rendered copy: the structured form, or the node runtime's flat fields (param.x, data.x…). */
  content: RenderedContent | Record<string, unknown>;
  /** Over-length copy may be cut (reported) instead of refused; per-channel default otherwise. */
  truncate?: boolean;
}
export type MessageResponse = SendMessageResponse;

/** Analytics hook: one call per state a message reaches. `eventId` is stable for de-duplication. */
export interface MessageNodeEvent {
  eventId: string;
  workspaceId: string;
  journeyId: string | null;
  nodeId: string | null;
  instanceId: string | null;
  userId: string;
  messageId: string;
  channel: Channel;
  state: Exclude<DeliveryState, "queued">;
  reason?: FailureReason;
  /** A failure reported after the message was sent (receipt, bounce), not a send failure. */
  afterSent?: boolean;
  at: Date;
}

/**
 * Internal user events that wake instances waiting for delivery (短信补量 after a push, see
 * docs/decisions/0110): `$message.delivered`, and `$message.failed` (with `reason`) when a message
 * that was sent is reported undelivered or bounces.
 */
export interface InternalUserEvent {
  /** Stable id so ingestion stores it once however often it is emitted. */
  messageId: string;
  workspaceId: string;
  userId: string;
  name: "$message.delivered" | "$message.failed";
  properties: { messageId: string; instanceId: string | null; nodeId: string | null; journeyId: string | null; channel: Channel; reason?: FailureReason };
  timestamp: Date;
}

export interface MessagingDeps {
  db: Db;
  /** Provider for a workspace and channel (settings registry, or fixed providers in tests). */
  providers: ProviderResolver;
  recordNodeEvent?: (event: MessageNodeEvent) => Promise<void> | void;
  emitEvent?: (event: InternalUserEvent) => Promise<void> | void;
  /**
   * HMAC key of tracking links (derive it from the secret key); tracking is off without it. A
   * function is read at the first email, so building the service touches no key file.
   */
  trackingSecret?: string | (() => string | undefined);
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /** Policy settings per workspace; default reads channel_settings (cached briefly). */
  policies?: (workspaceId: string) => Promise<PolicySettings>;
  retry?: {
    /** Provider attempts within one call. */
    inlineAttempts?: number;
    /** Backoff before the second attempt; doubles each time. */
    baseDelayMs?: number;
    /** Longer waits are not slept through: the message is deferred instead. */
    maxInlineWaitMs?: number;
    /** Calls (including deferred ones) after which a retryable failure becomes final. */
    maxAttempts?: number;
  };
  /** How long a sender owns a message before another may take over (crash recovery). */
  leaseMs?: number;
  /** Group commit of the send path's writes; one per process is plenty. */
  writes?: WriteBatcher;
}

export interface MessagingService {
  sendMessage(request: MessageRequest): Promise<MessageResponse>;
  sendTestMessage(
    workspaceId: string,
    channel: Channel,
    to: string,
    content: RenderedContent | Record<string, unknown>,
  ): Promise<MessageResponse & { providerCode?: string; detail?: string }>;
  recordDelivery(
    messageId: string,
    state: Exclude<DeliveryState, "queued" | "sent">,
    at?: Date,
    failure?: { reason: FailureReason; detail?: string; providerCode?: string },
  ): Promise<store.MessageRow | null>;
  optOut(workspaceId: string, channel: Channel, address: string, source: string, extra?: { userId?: string | null; messageId?: string | null }): Promise<void>;
  /** The runtime's ActionServices.sendMessage for one workspace. */
  forWorkspace(workspaceId: string): (request: SendMessageRequest) => Promise<SendMessageResponse>;
  rateLimiter: RateLimiter;
}


export function createMessagingService(deps: MessagingDeps): MessagingService {
  const db = deps.db;
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const leaseMs = deps.leaseMs ?? 60_000;
  const inlineAttempts = deps.retry?.inlineAttempts ?? 3;
  const baseDelayMs = deps.retry?.baseDelayMs ?? 250;
  const maxInlineWaitMs = deps.retry?.maxInlineWaitMs ?? 2_000;
  const maxAttempts = deps.retry?.maxAttempts ?? 5;
  const rateLimiter = new RateLimiter(() => now().getTime());
  const batcher = deps.writes ?? createWriteBatcher(db);
  const w: store.Exec = (statement) => batcher.run(statement);
  // The engine sends hundreds of messages at once: their reads, first writes and sent marks each go
  // together in one statement (db/gather.ts) instead of one round trip per message.
  const contexts = createGatherer((keys: store.SendContextKey[]) => store.loadSendContexts(db, keys), {
    alone: (k) => store.loadSendContext(db, k.workspaceId, k.userId, k.channel, k.idempotencyKey),
  });
  const settledInserts = createGatherer((items: store.SettledMessage[]) => store.insertSettledMany(db, items), {
    alone: (i) => store.insertSettled(w, i.message, i.now, i.outcome),
  });
  const leasedInserts = createGatherer((items: store.LeasedMessage[]) => store.insertForSendMany(db, items), {
    alone: (i) => store.insertForSend(w, i.message, i.now, i.leaseUntil, i.caps, i.data),
  });
  const sentMarks = createGatherer(
    async (items: store.SentRecord[]) => {
      await store.recordSentMany(db, items);
      return items.map(() => undefined);
    },
    { alone: (i) => store.recordSent(w, i.id, i.now, i.data) },
  );

  const policyCache = new Map<string, { at: number; value: Promise<PolicySettings> }>();
  const policies =
    deps.policies ??
    ((workspaceId: string) => {
      const hit = policyCache.get(workspaceId);
      if (hit && Date.now() - hit.at < 5_000) return hit.value;
      const value = loadPolicySettings(db, workspaceId);
      policyCache.set(workspaceId, { at: Date.now(), value });
      value.catch(() => policyCache.delete(workspaceId));
      return value;
    });

  const trackingSecret = () => (typeof deps.trackingSecret === "function" ? deps.trackingSecret() : deps.trackingSecret);
  const nodeEvent = async (
    row: { id: string; workspaceId: string; request: MessageRequest | store.MessageRow },
    state: MessageNodeEvent["state"],
    at: Date,
    reason?: FailureReason,
    afterSent?: boolean,
  ) => {
    if (!deps.recordNodeEvent) return;
    const r = row.request;
    const ids =
      "idempotencyKey" in r
        ? { journeyId: r.journeyId, nodeId: r.nodeId, instanceId: r.instanceId, userId: r.userId, channel: r.channel }
        : { journeyId: r.journey_id, nodeId: r.node_id, instanceId: r.instance_id, userId: r.user_id, channel: r.channel };
    await deps.recordNodeEvent({
      eventId: `${row.id}:${state}`,
      workspaceId: row.workspaceId,
      messageId: row.id,
      state,
      at,
      ...(reason ? { reason } : {}),
      ...(afterSent ? { afterSent } : {}),
      ...ids,
    });
  };

  const delivered = async (
    workspaceId: string,
    messageId: string,
    r: { userId: string; instanceId: string | null; nodeId: string | null; journeyId: string | null; channel: Channel },
    at: Date,
    failedReason?: FailureReason,
  ) => {
    const name = failedReason ? "$message.failed" : "$message.delivered";
    await deps.emitEvent?.({
      messageId: `${name}:${messageId}`,
      workspaceId,
      userId: r.userId,
      name,
      properties: { messageId, instanceId: r.instanceId, nodeId: r.nodeId, journeyId: r.journeyId, channel: r.channel, ...(failedReason ? { reason: failedReason } : {}) },
      timestamp: at,
    });
  };

  /** The answer for a message that already has a final state (retried call). */
  const storedOutcome = (row: store.MessageRow): MessageResponse | null => {
    if (row.state === "failed") return { status: "failed", messageId: row.id, reason: row.failure_reason ?? undefined };
    if (row.state !== "queued") return { status: "sent", messageId: row.id };
    return null;
  };

  /**
   * What to answer for a key that already has a row we cannot take: its final outcome, or
   * "come back later" while it is deferred or another sender holds it.
   */
  async function answerExisting(row: store.MessageRow, at: Date): Promise<MessageResponse | null> {
    const stored = storedOutcome(row);
    if (stored) {
      // Re-announce the final state: the first caller may have crashed before its node event was
      // recorded; receivers de-duplicate on eventId.
      const ctx = { id: row.id, workspaceId: row.workspace_id, request: row };
      if (row.state === "failed") await nodeEvent(ctx, "failed", at, row.failure_reason ?? undefined);
      else await nodeEvent(ctx, "sent", at);
      // A crash between storing "delivered" and emitting its report would leave a journey waiting
      // for a delivery it never hears of (and falling back to SMS): the report is re-sent too.
      if (row.state === "delivered" || row.state === "opened" || row.state === "clicked") {
        await delivered(row.workspace_id, row.id, { userId: row.user_id, instanceId: row.instance_id, nodeId: row.node_id, journeyId: row.journey_id, channel: row.channel }, at);
      }
      return stored;
    }
    if (row.defer_until && row.defer_until > at) {
      return { status: "deferred", messageId: row.id, deferUntil: row.defer_until.getTime(), reason: "deferred" };
    }
    if (row.lease_until && row.lease_until > at) {
      return { status: "deferred", messageId: row.id, deferUntil: row.lease_until.getTime(), reason: "in_flight" };
    }
    return null;
  }

  async function sendMessage(req: MessageRequest): Promise<MessageResponse> {
    const started = now();
    const leaseUntil = new Date(started.getTime() + leaseMs);
    const base: store.NewMessage = {
      workspaceId: req.workspaceId,
      idempotencyKey: req.idempotencyKey,
      userId: req.userId,
      journeyId: req.journeyId || null,
      instanceId: req.instanceId || null,
      nodeId: req.nodeId || null,
      channel: req.channel,
      category: req.category,
    };

    // 1. One read round: an existing row for the key, the recipient, the policy and provider.
    const [{ existing, recipient }, settings, resolved] = await Promise.all([
      contexts.run({ workspaceId: req.workspaceId, userId: req.userId, channel: req.channel, idempotencyKey: req.idempotencyKey }),
      policies(req.workspaceId),
      deps.providers(req.workspaceId, req.channel),
    ]);
    const provider = resolved.provider;

    // 2. Idempotency: exactly one row per key; whoever holds its lease may send. A new message's
    // row is written together with its first decision below (one commit instead of two).
    let id: string | null = null;
    let resend = false;
    if (existing) {
      const answer = await answerExisting(existing, started);
      if (answer) return answer;
      if (!(await store.claimMessage(w, existing.id, started, leaseUntil))) {
        return { status: "deferred", messageId: existing.id, deferUntil: leaseUntil.getTime(), reason: "in_flight" };
      }
      id = existing.id;
      // A previous sender crashed between handing the message over and recording the answer.
      resend = existing.provider_call_at !== null;
      if (resend && provider.capabilities.idempotency === "none") {
        return fail(id, req, started, { reason: "outcome_unknown", detail: "a previous attempt may have been sent; not sending twice" });
      }
      if (existing.failure_reason && existing.attempts + 1 > maxAttempts) {
        return fail(id, req, started, { reason: existing.failure_reason, detail: `gave up after ${existing.attempts} attempts` });
      }
    }

    /** A concurrent call inserted the same key first: answer as for a retry. */
    const lostRace = async (): Promise<MessageResponse> => {
      const row = await store.findByKey(db, req.workspaceId, req.idempotencyKey);
      const answer = row ? await answerExisting(row, started) : null;
      return answer ?? { status: "deferred", messageId: row?.id, deferUntil: leaseUntil.getTime(), reason: "in_flight" };
    };
    const stop = async (f: { reason: FailureReason; detail?: string; content?: RenderedContent }): Promise<MessageResponse> => {
      if (id) return fail(id, req, started, f);
      const inserted = await settledInserts.run({ message: base, now: started, outcome: { state: "failed", ...f } });
      if (!inserted) return lostRace();
      await nodeEvent({ id: inserted, workspaceId: req.workspaceId, request: req }, "failed", started, f.reason);
      return { status: "failed", messageId: inserted, reason: f.reason };
    };
    const defer = async (until: Date, reason: "quiet_hours" | "rate_limited"): Promise<MessageResponse> => {
      if (id) await store.recordDeferred(w, id, started, until, reason);
      else {
        const inserted = await settledInserts.run({ message: base, now: started, outcome: { state: "queued", deferUntil: until, deferReason: reason } });
        if (!inserted) return lostRace();
        id = inserted;
      }
      return { status: "deferred", messageId: id, deferUntil: until.getTime(), reason };
    };

    // 3–6. Address, consent and suppressions, quiet hours in the user's zone, length rules: the
    // same pure decision the test run and the simulator take (policies/decide.ts).
    const addresses = recipient ? addressesOf(req.channel, recipient) : [];
    const decision = decideMessage(
      { channel: req.channel, category: req.category, quietHours: req.quietHours, content: normaliseContent(req.content), truncate: req.truncate },
      recipient ? { addresses: addresses.length, consent: recipient.consent, suppressions: recipient.suppressions, timezone: recipient.timezone } : null,
      { settings, workspaceZone: recipient?.workspaceZone ?? "UTC", smsMaxParts: resolved.options.smsMaxParts, signName: resolved.options.signName },
      started,
    );
    if (decision.kind === "fail") return stop({ reason: decision.reason, detail: decision.detail, content: decision.content });
    if (decision.kind === "defer") return defer(decision.until, decision.reason);
    const zone = decision.zone;
    let content = decision.content;
    const truncations: LengthIssue[] = decision.truncations;
    // 6b. The provider's own length rules (a custom provider's vendor limits), after the channel's.
    if (resolved.options.limits) {
      const own = resolved.options.limits(content, { truncate: req.truncate ?? TRUNCATE_BY_DEFAULT[req.channel], platform: addresses.length === 1 ? addresses[0]!.platform : undefined });
      if (!own.ok) return stop({ reason: "too_long", detail: `${own.issue.field}: ${own.issue.length} > ${own.issue.limit}${own.issue.rule ? ` (${own.issue.rule})` : ""}`, content });
      content = own.content;
      truncations.push(...own.truncations);
    }

    // 7. Send-rate limit of the provider.
    const bucketKey = `${req.workspaceId}/${provider.id}`;
    const wait = rateLimiter.take(bucketKey, settings.rateLimits[provider.id]);
    if (wait > settings.rateLimitMaxWaitMs) {
      rateLimiter.refund(bucketKey);
      return defer(new Date(started.getTime() + wait), "rate_limited");
    }
    if (wait > 0) await sleep(wait);

    // 8. Frequency caps across journeys, reserved in the same write that marks the provider call
    // (given back below if nothing reaches the user).
    const outbound = addresses.map<OutboundMessage>((a) => ({
      messageId: "",
      idempotencyKey: req.idempotencyKey,
      channel: req.channel,
      category: req.category,
      to: a.address,
      platform: a.platform,
      content,
    }));
    const caps = resend ? [] : decision.caps;
    const reservations = caps.map((c) => ({ capKey: c.capKey, windowStart: c.windowStart, limit: c.cap.limit }));
    const markData = () => ({ provider: provider.id, address: addresses.map((a) => a.address).join(","), content: outbound[0]!.content, truncations });
    let reserved: string[];
    if (id) {
      outbound.forEach((m) => (m.messageId = id!));
      if (req.channel === "email") prepareEmail(outbound[0]!, resolved, trackingSecret());
      reserved = await store.reserveAndMark(w, id, now(), reservations.map((r) => ({ ...r, workspaceId: req.workspaceId, userId: req.userId })), markData());
    } else {
      // Email tracking links carry the message id, which only exists once the row does: use a
      // client-generated id for the row instead.
      const newId = uuidv7();
      outbound.forEach((m) => (m.messageId = newId));
      if (req.channel === "email") prepareEmail(outbound[0]!, resolved, trackingSecret());
      const inserted = await leasedInserts.run({ message: { ...base, id: newId }, now: now(), leaseUntil, caps: reservations, data: markData() });
      reserved = inserted.caps;
      if (!inserted.id) {
        await Promise.all(reserved.map((capKey) => store.releaseFrequency(w, req.workspaceId, req.userId, capKey, caps.find((c) => c.capKey === capKey)!.windowStart)));
        rateLimiter.refund(bucketKey);
        return lostRace();
      }
      id = inserted.id;
      if (inserted.state === "failed") {
        rateLimiter.refund(bucketKey);
        await Promise.all(reserved.map((capKey) => store.releaseFrequency(w, req.workspaceId, req.userId, capKey, caps.find((c) => c.capKey === capKey)!.windowStart)));
        await nodeEvent({ id, workspaceId: req.workspaceId, request: req }, "failed", started, "frequency_capped");
        return { status: "failed", messageId: id, reason: "frequency_capped" };
      }
    }
    const release = () =>
      Promise.all(reserved.map((capKey) => store.releaseFrequency(w, req.workspaceId, req.userId, capKey, caps.find((c) => c.capKey === capKey)!.windowStart)));
    if (reserved.length < caps.length) {
      rateLimiter.refund(bucketKey);
      await release();
      const full = caps.find((c) => !reserved.includes(c.capKey))!;
      return fail(id, req, started, { reason: "frequency_capped", detail: `${full.cap.limit} per ${full.cap.period} (${full.capKey})` });
    }
    const ctx = { id, workspaceId: req.workspaceId, request: req };

    // 9. The provider.
    const outcomes = await sendWithRetries(provider, outbound);

    // 10. Record what happened.
    const at = now();
    const retire = outbound.filter((_, i) => !outcomes[i]!.ok && (outcomes[i] as ProviderFailure).retireAddress);
    await Promise.all(retire.map((m) => retireAddress(req, m.to, (outcomes[outbound.indexOf(m)] as ProviderFailure).reason, id!, at)));
    const okIndex = outcomes.findIndex((o) => o.ok);
    if (okIndex >= 0) {
      const ok = outcomes[okIndex] as Extract<ProviderOutcome, { ok: true }>;
      const isDelivered = ok.state === "delivered";
      const detail = truncations.length || zone.fellBack ? { ...(truncations.length ? { truncations } : {}), ...(zone.fellBack ? { zoneFallback: zone.zone } : {}) } : undefined;
      // The detail records fallbacks so analytics can count users whose zone was missing or invalid (never dropped).
      await sentMarks.run({ id, now: at, data: { provider: provider.id, address: outbound[okIndex]!.to, providerMessageId: ok.providerMessageId, delivered: isDelivered, detail } });
      // Together, so that the engine's concurrent sends put them in the same gathered statements.
      await Promise.all([
        nodeEvent(ctx, "sent", at),
        ...(isDelivered
          ? [nodeEvent(ctx, "delivered", at), delivered(req.workspaceId, id, { ...req, journeyId: base.journeyId, nodeId: base.nodeId, instanceId: base.instanceId }, at)]
          : []),
      ]);
      return { status: "sent", messageId: id };
    }

    await release();
    const failures = outcomes as ProviderFailure[];
    const retryable = failures.find((f) => f.retryable && !(f.maybeDelivered && provider.capabilities.idempotency === "none"));
    if (retryable) {
      const attempts = existing ? existing.attempts + 1 : 1;
      if (attempts < maxAttempts) {
        const delay = Math.max(retryable.retryAfterMs ?? 0, baseDelayMs * 2 ** inlineAttempts * attempts);
        const until = new Date(at.getTime() + delay);
        await store.recordDeferred(w, id, at, until, retryable.reason, { reason: retryable.reason, detail: retryable.detail, providerCode: retryable.providerCode });
        return { status: "deferred", messageId: id, deferUntil: until.getTime(), reason: retryable.reason };
      }
    }
    const first = retryable ?? failures[0]!;
    return fail(id, req, at, { reason: first.reason, detail: first.detail, providerCode: first.providerCode, provider: provider.id });
  }

  /** Tries the provider up to `inlineAttempts` times for retryable answers that are safe to repeat. */
  async function sendWithRetries(provider: ChannelProvider, messages: OutboundMessage[]): Promise<ProviderOutcome[]> {
    const outcomes: ProviderOutcome[] = new Array(messages.length);
    let pending = messages.map((_, i) => i);
    for (let attempt = 1; pending.length > 0; attempt++) {
      const batch = pending.map((i) => messages[i]!);
      const answers = batch.length === 1 ? [await provider.send(batch[0]!)] : await provider.sendBatch(batch);
      const again: number[] = [];
      let delay = baseDelayMs * 2 ** (attempt - 1);
      answers.forEach((answer, j) => {
        const index = pending[j]!;
        outcomes[index] = answer;
        if (answer.ok || !answer.retryable) return;
        // Repeating a request that may have gone out is only safe where the provider de-duplicates.
        if (answer.maybeDelivered && provider.capabilities.idempotency === "none") return;
        again.push(index);
        delay = Math.max(delay, answer.retryAfterMs ?? 0);
      });
      if (again.length === 0 || attempt >= inlineAttempts || delay > maxInlineWaitMs) break;
      await sleep(delay);
      pending = again;
    }
    return outcomes;
  }

  async function retireAddress(req: MessageRequest, address: string, reason: FailureReason, messageId: string, at: Date) {
    if (req.channel === "push") return store.retireToken(w, req.workspaceId, address, reason, at);
    if (req.channel === "email" && reason === "bounced") {
      return store.addSuppression(w, { workspaceId: req.workspaceId, channel: "email", address: address.toLowerCase(), userId: req.userId, scope: "all", reason: "bounced", source: "smtp_bounce", messageId });
    }
  }

  async function fail(
    id: string,
    req: MessageRequest,
    at: Date,
    f: { reason: FailureReason; detail?: string; providerCode?: string; provider?: string; content?: RenderedContent },
  ): Promise<MessageResponse> {
    await store.recordFailed(w, id, at, f);
    await nodeEvent({ id, workspaceId: req.workspaceId, request: req }, "failed", at, f.reason);
    return { status: "failed", messageId: id, reason: f.reason };
  }

  /**
   * Applies a delivery report, open, click or late failure. Idempotent and monotonic: a repeated or
   * late report that would move the message backwards is ignored (returns null).
   */
  async function recordDelivery(
    messageId: string,
    state: Exclude<DeliveryState, "queued" | "sent">,
    at: Date = now(),
    failure?: { reason: FailureReason; detail?: string; providerCode?: string },
  ): Promise<store.MessageRow | null> {
    const allowedFrom = deliveryStates.filter((s) => s !== "queued" && canTransition(s, state));
    // An open or click proves delivery even when no receipt came (email has none): when the
    // message jumps straight from sent, count the implied delivery too, once.
    const before = state === "opened" || state === "clicked" ? await store.findById(db, messageId) : null;
    const row = await store.advanceState(w, messageId, state, at, allowedFrom, failure);
    if (!row) return null;
    const ctx = { id: row.id, workspaceId: row.workspace_id, request: row };
    if (before?.state === "sent") {
      await nodeEvent(ctx, "delivered", at);
      await delivered(row.workspace_id, row.id, { userId: row.user_id, instanceId: row.instance_id, nodeId: row.node_id, journeyId: row.journey_id, channel: row.channel }, at);
    }
    // recordDelivery never starts from queued, so a failure here always follows a send.
    await nodeEvent(ctx, state, at, failure?.reason, state === "failed");
    if (state === "delivered" || state === "failed") {
      const ids = { userId: row.user_id, instanceId: row.instance_id, nodeId: row.node_id, journeyId: row.journey_id, channel: row.channel };
      await delivered(row.workspace_id, row.id, ids, at, state === "failed" ? (failure?.reason ?? "not_delivered") : undefined);
    }
    if (state === "failed" && failure?.reason === "bounced" && row.channel === "email" && row.address) {
      await store.addSuppression(db, { workspaceId: row.workspace_id, channel: "email", address: row.address.toLowerCase(), userId: row.user_id, scope: "all", reason: "bounced", source: "smtp_bounce", messageId: row.id });
    }
    return row;
  }

  /** Opt-out from a channel's own mechanism (回TD退订, one-click unsubscribe): marketing stops. */
  async function optOut(workspaceId: string, channel: Channel, address: string, source: string, extra: { userId?: string | null; messageId?: string | null } = {}) {
    const normalised = channel === "sms" ? normalisePhone(address) : channel === "email" ? address.trim().toLowerCase() : address;
    await store.addSuppression(db, { workspaceId, channel, address: normalised, scope: "marketing", reason: "unsubscribed", source, ...extra });
  }

  /**
   * Settings' "send test message": straight to the configured provider, no policies, logged as a
   * transactional message of the pseudo-user `$test` so it shows on the Messages page. Answers
   * with the provider's own code and text, which is what an operator needs to fix a setup.
   */
  async function sendTestMessage(
    workspaceId: string,
    channel: Channel,
    to: string,
    input: RenderedContent | Record<string, unknown>,
  ): Promise<MessageResponse & { providerCode?: string; detail?: string }> {
    const at = now();
    const resolved = await deps.providers(workspaceId, channel);
    const content = normaliseContent(input);
    if (channel === "sms" && !content.signName && resolved.options.signName) content.signName = resolved.options.signName;
    const channelLength = applyLengthRules(channel, content, { truncate: true, smsMaxParts: resolved.options.smsMaxParts });
    const own = channelLength.ok && resolved.options.limits ? resolved.options.limits(channelLength.content, { truncate: true }) : null;
    const length = own ? (own.ok ? { ...own, truncations: [...(channelLength.ok ? channelLength.truncations : []), ...own.truncations] } : own) : channelLength;
    const base: store.NewMessage = {
      id: randomUUID(),
      workspaceId,
      idempotencyKey: `test:${randomUUID()}`,
      userId: "$test",
      journeyId: null,
      instanceId: null,
      nodeId: null,
      channel,
      category: "transactional",
    };
    if (!length.ok) {
      const id = await store.insertSettled(w, base, at, { state: "failed", reason: "too_long", detail: `${length.issue.field}: ${length.issue.length} > ${length.issue.limit}`, content });
      return { status: "failed", messageId: id ?? undefined, reason: "too_long" };
    }
    const address = channel === "sms" ? normalisePhone(to) : to.trim();
    const message: OutboundMessage = { messageId: base.id!, idempotencyKey: base.idempotencyKey, channel, category: "transactional", to: address, content: length.content };
    if (channel === "email") prepareEmail(message, resolved, trackingSecret());
    await store.insertForSend(w, base, at, new Date(at.getTime() + leaseMs), [], { provider: resolved.provider.id, address, content: message.content, truncations: length.truncations });
    const [outcome] = await sendWithRetries(resolved.provider, [message]);
    const done = now();
    if (outcome!.ok) {
      await store.recordSent(w, base.id!, done, { provider: resolved.provider.id, address, providerMessageId: outcome!.providerMessageId, delivered: outcome!.state === "delivered" });
      return { status: "sent", messageId: base.id };
    }
    await store.recordFailed(w, base.id!, done, { reason: outcome!.reason, detail: outcome!.detail, providerCode: outcome!.providerCode, provider: resolved.provider.id });
    return { status: "failed", messageId: base.id, reason: outcome!.reason, providerCode: outcome!.providerCode, detail: outcome!.detail };
  }

  return {
    sendMessage,
    sendTestMessage,
    forWorkspace: (workspaceId) => (request) => sendMessage({ ...request, workspaceId }),
    recordDelivery,
    optOut,
    rateLimiter,
  };
}

function addressesOf(channel: Channel, r: store.Recipient): Array<{ address: string; platform?: "android" | "ios" | "web" }> {
  if (channel === "push") return r.tokens.map((t) => ({ address: t.token, platform: t.platform }));
  if (channel === "sms") return r.phone ? [{ address: normalisePhone(r.phone) }] : [];
  return r.email ? [{ address: r.email.trim() }] : [];
}

function prepareEmail(message: OutboundMessage, resolved: ResolvedProvider, secret: string | undefined): void {
  const baseUrl = resolved.options.trackingBaseUrl;
  if (!baseUrl || !secret) return;
  const options = { baseUrl, secret, messageId: message.messageId };
  if (message.content.html) message.content = { ...message.content, html: addTracking(message.content.html, options) };
  // One-click unsubscribe belongs on promotions; a receipt has nothing to unsubscribe from.
  if (message.category === "marketing") {
    message.headers = unsubscribeHeaders({ ...options, mailto: resolved.options.unsubscribeMailto });
  }
}
