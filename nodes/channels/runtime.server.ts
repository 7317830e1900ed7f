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
  if (!event.instanceId || !UUID.test(event.instanceId)) return;
  const status = event.state === "failed" && event.afterSent ? "delivery_failed" : event.state;
  await query(
    db,
    sql`insert into journey_node_events (instance_id, seq, workspace_id, journey_id, version_id, user_id, node_id, kind, output, reason,
                                         message_status, channel, data, at)
        select i.id, ${deliverySeq(event.eventId)}, i.workspace_id, i.journey_id, i.version_id, ${event.userId}, ${event.nodeId}, 'delivery', null,
               ${event.reason ?? null}, ${status}, ${event.channel}, ${JSON.stringify({ messageId: event.messageId, eventId: event.eventId })}::jsonb,
               ${event.at.toISOString()}::timestamptz
        from journey_instances i where i.id = ${event.instanceId}::uuid
        on conflict (instance_id, seq) do nothing`,
  );
}

/**
 * What happens when a message changes state (sent, delivered, opened, clicked, failed): the node
 * event for journey analytics, and segments with message rules are re-evaluated for the user (as
 * an event would re-evaluate event rules) instead of waiting for the sweep.
 */
export function messageStateRecorder(services: ChannelsHost): (event: MessageNodeEvent) => Promise<void> {
  return async (event) => {
    await recordMessageNodeEvent(services.db, event);
    services.profileChanged?.(event.workspaceId, [event.userId], { messages: true });
  };
}

/** A negative int4 from the event id (31 bits of SHA-256). */
export function deliverySeq(eventId: string): number {
  return -(1 + (createHash("sha256").update(eventId).digest().readUInt32BE(0) % 0x7ffffffe));
}

/** Stores a delivery event in the user's history and hands it to the engine (wakes waiting journeys). */
export async function emitMessageEvent(services: Pick<ChannelsHost, "db" | "engine">, event: InternalUserEvent): Promise<void> {
  await query(
    services.db,
    sql`insert into events (workspace_id, message_id, user_id, type, name, properties, timestamp)
        values (${event.workspaceId}::uuid, ${event.messageId}, ${event.userId}, 'track', ${event.name},
                ${JSON.stringify(event.properties)}::jsonb, ${event.timestamp.toISOString()}::timestamptz)
        on conflict do nothing`,
  );
  await services.engine?.handleEvents([
    {
      workspaceId: event.workspaceId,
      userId: event.userId,
      messageId: event.messageId,
      name: event.name,
      properties: { ...event.properties },
      timestamp: event.timestamp.getTime(),
    },
  ]);
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
    emitEvent: (e) => emitMessageEvent(services, e),
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
