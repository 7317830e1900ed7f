/**
 * The channels as the running app uses them: one provider registry, one messaging service for the
 * HTTP side (tracking hits, SMS callbacks, bounces, "send test message"), the delivery handlers,
 * the receipt poller, and the two hooks the engines' own messaging services need
 * (`recordMessageNodeEvent`, a lazy tracking secret). Kept on `services.channels` so the Remix
 * build and code outside it (CLI, tests) share one instance per process.
 */
import { createHmac, createHash, timingSafeEqual } from "node:crypto";
import { sql } from "drizzle-orm";
import { query, type Db } from "../../db/client";
import { createGatherer } from "../../db/gather";
import type { RuntimeLogger } from "../runtime";
import type { OutboundAllowlist } from "../net/outbound.server";
import { createDeliveryHandlers } from "./delivery.server";
import { deriveTrackingSecret, loadSecretKey, type SecretKey } from "./secrets.server";
import { createMessagingService, type InternalUserEvent, type MessageNodeEvent, type MessagingService } from "./send.server";
import { createProviderRegistry, type ProviderRegistry, type RegistryOptions } from "./settings.server";

export interface ChannelsRuntime {
  key(): SecretKey;
  trackingSecret(): string;
  registry: ProviderRegistry;
  messaging: MessagingService;
  delivery: ReturnType<typeof createDeliveryHandlers>;
  /** Signed path segment for a workspace's provider callbacks (SMS report/replies, bounces). */
  callbackToken(workspaceId: string, purpose: CallbackPurpose): Promise<string>;
  /** The workspace a callback token belongs to; null when forged or from before the last rotation. */
  verifyCallbackToken(token: string, purpose: CallbackPurpose): Promise<string | null>;
  /** New callback tokens for the workspace; the old ones stop working at once (decision 0704). */
  rotateCallbackTokens(workspaceId: string, operatorId?: string | null): Promise<{ generation: number }>;
  close(): Promise<void>;
}

/** `provider:<id>`: a custom provider's callbacks (/callbacks/provider/<id>/<token>, decision 0931). */
export type CallbackPurpose = "sms-report" | "sms-up" | "email-bounce" | `provider:${string}`;

/**
 * What the channels runtime needs from the app, defined here so the runtime never imports app/
 * (decision 0902); the app's services satisfy it.
 */
export interface ChannelsHost {
  config: { WAYPOST_SECRET_KEY?: string; WAYPOST_DATA_DIR: string; WAYPOST_OUTBOUND_ALLOW: OutboundAllowlist };
  db: Db;
  log: RuntimeLogger;
  now(): Date;
  /** The journey engine: delivery reports wake the journeys waiting for them. */
  engine?: { handleEvents(events: Array<{ workspaceId: string; userId: string; messageId: string; name: string; properties: Record<string, unknown>; timestamp: number }>): Promise<void> };
  channels?: ChannelsRuntime;
  /** "These users' profiles changed": the app re-evaluates their segments (message rules). */
  profileChanged?(workspaceId: string, userIds: string[], signals: { messages: true }): void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The key is read on first use, so commands that never send (migrate) touch no key file. */
export function lazySecrets(config: Pick<ChannelsHost["config"], "WAYPOST_SECRET_KEY" | "WAYPOST_DATA_DIR">) {
  let key: SecretKey | null = null;
  let tracking: string | null = null;
  const getKey = () => (key ??= loadSecretKey({ env: config.WAYPOST_SECRET_KEY, dataDir: config.WAYPOST_DATA_DIR }));
  return { key: getKey, trackingSecret: () => (tracking ??= deriveTrackingSecret(getKey())) };
}

/**
 * One node event per message state (sent, delivered, opened, clicked, failed) for analytics, in
 * `journey_node_events` with kind `delivery`. Its seq is negative and derived from the event id,
 * so it never collides with the interpreter's own (positive, ordered) records and a repeated
 * report of the same state is stored once (ON CONFLICT DO NOTHING). Test messages (no instance)
 * are not journey analytics. See docs/decisions/0250-delivery-node-events.md.
 */
export async function recordMessageNodeEvent(db: Db, event: MessageNodeEvent): Promise<void> {
  await recordMessageNodeEvents(db, [event]);
}

/** Many message states in one statement: the rollup trigger runs once for all of them. */
export async function recordMessageNodeEvents(db: Db, events: readonly MessageNodeEvent[]): Promise<void> {
  const rows = events
    .filter((e) => e.instanceId && UUID.test(e.instanceId))
    .map((e) => ({
      i: e.instanceId,
      q: deliverySeq(e.eventId),
      u: e.userId,
      nd: e.nodeId,
      r: e.reason ?? null,
      ms: e.state === "failed" && e.afterSent ? "delivery_failed" : e.state,
      ch: e.channel,
      dt: { messageId: e.messageId, eventId: e.eventId },
      t: e.at.toISOString(),
    }));
  if (rows.length === 0) return;
  await query(
    db,
    sql`insert into journey_node_events (instance_id, seq, workspace_id, journey_id, version_id, user_id, node_id, kind, output, reason,
                                         message_status, channel, data, at)
        select i.id, d.q, i.workspace_id, i.journey_id, i.version_id, d.u, d.nd, 'delivery', null, d.r, d.ms, d.ch, d.dt, d.t
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as d(i uuid, q int, u text, nd text, r text, ms text, ch text, dt jsonb, t timestamptz)
        cross join lateral (select * from journey_instances i where i.id = d.i limit 1) i
        on conflict (instance_id, seq) do nothing`,
  );
}

/**
 * What happens when a message changes state (sent, delivered, opened, clicked, failed): the node
 * event for journey analytics, and segments with message rules are re-evaluated for the user (as
 * an event would re-evaluate event rules) instead of waiting for the sweep. The engine sends many
 * messages at once: their node events are gathered into one statement (db/gather.ts).
 */
export function messageStateRecorder(services: ChannelsHost): (event: MessageNodeEvent) => Promise<void> {
  const gather = createGatherer<MessageNodeEvent, void>(
    async (events) => {
      await recordMessageNodeEvents(services.db, events);
      return events.map(() => undefined);
    },
    { alone: (event) => recordMessageNodeEvent(services.db, event) },
  );
  return async (event) => {
    await gather.run(event);
    services.profileChanged?.(event.workspaceId, [event.userId], { messages: true });
  };
}

/** A negative int4 from the event id (31 bits of SHA-256). */
export function deliverySeq(eventId: string): number {
  return -(1 + (createHash("sha256").update(eventId).digest().readUInt32BE(0) % 0x7ffffffe));
}

/** Stores a delivery event in the user's history and hands it to the engine (wakes waiting journeys). */
export async function emitMessageEvent(services: Pick<ChannelsHost, "db" | "engine">, event: InternalUserEvent): Promise<void> {
  await emitMessageEvents(services, [event]);
}

/** Many delivery events: one insert and one hand-over to the engine. */
export async function emitMessageEvents(services: Pick<ChannelsHost, "db" | "engine">, events: readonly InternalUserEvent[]): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map((e) => ({ w: e.workspaceId, m: e.messageId, u: e.userId, n: e.name, p: e.properties, t: e.timestamp.toISOString() }));
  await query(
    services.db,
    sql`insert into events (workspace_id, message_id, user_id, type, name, properties, timestamp)
        select d.w, d.m, d.u, 'track', d.n, d.p, d.t
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as d(w uuid, m text, u text, n text, p jsonb, t timestamptz)
        on conflict do nothing`,
  );
  await services.engine?.handleEvents(
    events.map((event) => ({
      workspaceId: event.workspaceId,
      userId: event.userId,
      messageId: event.messageId,
      name: event.name,
      properties: { ...event.properties },
      timestamp: event.timestamp.getTime(),
    })),
  );
}

/** emitMessageEvent for a messaging service: concurrent sends' events gathered into one call. */
export function messageEventEmitter(services: Pick<ChannelsHost, "db" | "engine">): (event: InternalUserEvent) => Promise<void> {
  const gather = createGatherer<InternalUserEvent, void>(
    async (events) => {
      await emitMessageEvents(services, events);
      return events.map(() => undefined);
    },
    { alone: (event) => emitMessageEvent(services, event) },
  );
  return (event) => gather.run(event);
}

export function createChannelsRuntime(services: ChannelsHost, options: Partial<Omit<RegistryOptions, "db" | "key">> = {}): ChannelsRuntime {
  const secrets = lazySecrets(services.config);
  let registry: ProviderRegistry | null = null;
  // Provider endpoints go through the outbound-request guard with the deployment's allowlist.
  const reg = () => (registry ??= createProviderRegistry({ db: services.db, key: secrets.key(), outboundAllow: services.config.WAYPOST_OUTBOUND_ALLOW, ...options }));
  const lazyRegistry: ProviderRegistry = {
    resolve: (workspaceId, channel) => reg().resolve(workspaceId, channel),
    invalidate: (workspaceId) => (registry ? registry.invalidate(workspaceId) : Promise.resolve()),
    close: () => (registry ? registry.close() : Promise.resolve()),
  };
  const messaging = createMessagingService({
    db: services.db,
    providers: lazyRegistry.resolve,
    now: () => services.now(),
    recordNodeEvent: messageStateRecorder(services),
    emitEvent: messageEventEmitter(services),
    trackingSecret: secrets.trackingSecret,
  });
  const delivery = createDeliveryHandlers({ db: services.db, messaging, providers: lazyRegistry.resolve, trackingSecret: secrets.trackingSecret, now: () => services.now() });
  // Generation 0 keeps the formula of the tokens issued before rotation existed (their URLs stay valid).
  const mac = (workspaceId: string, purpose: CallbackPurpose, generation: number) =>
    createHmac("sha256", secrets.trackingSecret())
      .update(generation === 0 ? `callback:${purpose}:${workspaceId}` : `callback:${purpose}:${workspaceId}:${generation}`)
      .digest("base64url")
      .slice(0, 32);
  const generationOf = async (workspaceId: string): Promise<number> => {
    const [row] = await query<{ generation: number }>(services.db, sql`select generation from callback_tokens where workspace_id = ${workspaceId}::uuid`);
    return row?.generation ?? 0;
  };
  return {
    key: secrets.key,
    trackingSecret: secrets.trackingSecret,
    registry: lazyRegistry,
    messaging,
    delivery,
    callbackToken: async (workspaceId, purpose) => `${workspaceId}.${mac(workspaceId, purpose, await generationOf(workspaceId))}`,
    async verifyCallbackToken(token, purpose) {
      const [workspaceId, given, extra] = token.split(".");
      if (!workspaceId || !given || extra !== undefined || !UUID.test(workspaceId)) return null;
      const expected = Buffer.from(mac(workspaceId, purpose, await generationOf(workspaceId)));
      const actual = Buffer.from(given);
      return expected.length === actual.length && timingSafeEqual(expected, actual) ? workspaceId : null;
    },
    async rotateCallbackTokens(workspaceId, operatorId) {
      const [row] = await query<{ generation: number }>(
        services.db,
        sql`insert into callback_tokens (workspace_id, generation, rotated_at, rotated_by)
            values (${workspaceId}::uuid, 1, now(), ${operatorId ?? null})
            on conflict (workspace_id) do update set generation = callback_tokens.generation + 1, rotated_at = now(), rotated_by = excluded.rotated_by
            returning generation`,
      );
      return { generation: row!.generation };
    },
    close: () => lazyRegistry.close(),
  };
}

/** The process's channels runtime (built on first use). */
export function channelsOf(services: ChannelsHost): ChannelsRuntime {
  return (services.channels ??= createChannelsRuntime(services));
}

/**
 * Polls Alibaba Cloud's QuerySendDetails for every workspace with SMS configured, every
 * `intervalMs` (receipts the callback missed, or workspaces without the callback). One pass at a
 * time; errors are logged and the next pass runs anyway.
 */
export function startReceiptPoller(services: ChannelsHost, intervalMs = 60_000): { stop(): Promise<void> } {
  const runtime = channelsOf(services);
  let stopped = false;
  let current: Promise<void> = Promise.resolve();
  const pass = async () => {
    const workspaces = await query<{ workspace_id: string }>(
      services.db,
      sql`select workspace_id from channel_settings where kind = 'sms' and provider = 'aliyun-sms'`,
    );
    for (const { workspace_id } of workspaces) {
      if (stopped) return;
      try {
        const changed = await runtime.delivery.pollSmsReceipts(workspace_id);
        if (changed) services.log.info("sms receipts polled", { workspaceId: workspace_id, changed });
      } catch (error) {
        services.log.warn("sms receipt polling failed", { workspaceId: workspace_id, error: error instanceof Error ? error.message : String(error) });
      }
    }
  };
  const timer = setInterval(() => {
    current = current.then(() => (stopped ? undefined : pass())).catch((error: unknown) => {
      services.log.warn("sms receipt polling failed", { error: error instanceof Error ? error.message : String(error) });
    });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await current;
    },
  };
}
