import { createHash, randomUUID } from "node:crypto";
import { Agent } from "node:https";
import { deleteApp, initializeApp, cert, type App, type Credential } from "firebase-admin/app";
import { getMessaging, type Message, type Messaging } from "firebase-admin/messaging";
import {
  TIMED_OUT,
  failure,
  withTimeout,
  type ChannelProvider,
  type OutboundMessage,
  type ProviderOutcome,
} from "../provider";

export interface FcmConfig {
  projectId: string;
  /** Service account key fields (from the workspace's encrypted settings). */
  serviceAccount?: { clientEmail: string; privateKey: string };
  /** Overrides the service-account credential (tests: a fixed access token). */
  credential?: Credential;
  /** Where requests go; tests route fcm.googleapis.com to a loopback fake with it. */
  httpAgent?: Agent;
  /** firebase-admin waits 15 s per request; a journey step should not. */
  timeoutMs?: number;
  android?: { priority?: "high" | "normal"; ttlSeconds?: number; channelId?: string };
  apns?: { sound?: string };
}

/** FCM's documented cap for one sendEach call. */
const MAX_BATCH = 500;

/**
 * Our key as a device-side de-duplication id: apns-collapse-id allows at most 64 bytes. Android has
 * no per-message equivalent (collapse_key is limited to 4 per device), so the app reads
 * data.wp_mid instead.
 */
export function collapseId(idempotencyKey: string): string {
  return createHash("sha256").update(idempotencyKey).digest("base64url").slice(0, 43);
}

export function toFcmMessage(message: OutboundMessage, config: FcmConfig): Message {
  const { title, body, data, imageUrl, deepLink } = message.content;
  const android = config.android ?? {};
  return {
    token: message.to,
    notification: title !== undefined || body !== undefined ? { title, body, ...(imageUrl ? { imageUrl } : {}) } : undefined,
    data: { ...(data ?? {}), ...(deepLink ? { deep_link: deepLink } : {}), wp_mid: message.messageId },
    android: {
      priority: android.priority ?? "high",
      ttl: (android.ttlSeconds ?? 86_400) * 1000,
      notification: android.channelId ? { channelId: android.channelId } : undefined,
    },
    apns: {
      headers: {
        "apns-collapse-id": collapseId(message.idempotencyKey),
        // Marketing may be coalesced by iOS to save power; notices go out at once.
        "apns-priority": message.category === "transactional" ? "10" : "5",
      },
      payload: { aps: { sound: config.apns?.sound ?? "default" } },
    },
  };
}

/** Maps firebase-admin's error codes (FCM v1 errors and transport errors) onto our taxonomy. */
export function mapFcmError(error: unknown): ProviderOutcome {
  const e = error as { code?: string; message?: string };
  const code = e?.code ?? "unknown";
  const detail = e?.message;
  switch (code) {
    case "messaging/registration-token-not-registered":
    case "messaging/invalid-registration-token":
      return failure("invalid_token", { providerCode: code, detail, retireAddress: true });
    case "messaging/invalid-argument":
      // FCM answers INVALID_ARGUMENT both for a malformed token and for a malformed message; only
      // its text tells them apart.
      if (/registration token/i.test(detail ?? "")) {
        return failure("invalid_token", { providerCode: code, detail, retireAddress: true });
      }
      return failure("provider_rejected", { providerCode: code, detail });
    case "messaging/payload-size-limit-exceeded":
      return failure("too_long", { providerCode: code, detail });
    case "messaging/message-rate-exceeded":
    case "messaging/device-message-rate-exceeded":
    case "messaging/topics-message-rate-exceeded":
      // FCM's QUOTA_EXCEEDED is a per-minute sending quota: it refills, so try again later.
      return failure("rate_limited", { providerCode: code, detail, retryable: true, retryAfterMs: 30_000 });
    case "messaging/server-unavailable":
    case "messaging/internal-error":
    case "app/network-error":
      return failure("provider_unavailable", { providerCode: code, detail, retryable: true });
    case "app/network-timeout":
      return failure("timeout", { providerCode: code, detail, retryable: true, maybeDelivered: true });
    default:
      return failure("provider_rejected", { providerCode: code, detail });
  }
}

export function createFcmProvider(config: FcmConfig): ChannelProvider {
  const credential: Credential | undefined =
    config.credential ??
    (config.serviceAccount
      ? cert({ projectId: config.projectId, clientEmail: config.serviceAccount.clientEmail, privateKey: config.serviceAccount.privateKey })
      : undefined);
  if (!credential) throw new Error("FCM needs a service account or a credential");
  // Each workspace gets its own named app so credentials never mix.
  const app: App = initializeApp(
    {
      projectId: config.projectId,
      credential,
      httpAgent: config.httpAgent ?? new Agent({ keepAlive: true, maxSockets: 32 }),
    },
    `waypost-fcm-${randomUUID()}`,
  );
  const messaging: Messaging = getMessaging(app);
  // sendEach defaults to HTTP/2, which ignores httpAgent. We always use HTTP/1.1 with a keep-alive
  // agent so production takes the same path the wire tests exercise (docs/decisions/0203).
  messaging.enableLegacyHttpTransport();
  const timeoutMs = config.timeoutMs ?? 10_000;

  return {
    id: "fcm",
    channel: "push",
    capabilities: { batch: true, maxBatchSize: MAX_BATCH, idempotency: "collapse", deliveryReports: "none" },
    async send(message) {
      try {
        const result = await withTimeout(messaging.send(toFcmMessage(message, config)), timeoutMs);
        if (result === TIMED_OUT) return failure("timeout", { retryable: true, maybeDelivered: true, detail: `no answer in ${timeoutMs} ms` });
        return { ok: true, providerMessageId: result, state: "sent" };
      } catch (error) {
        return mapFcmError(error);
      }
    },
    async sendBatch(messages) {
      const outcomes: ProviderOutcome[] = [];
      for (let i = 0; i < messages.length; i += MAX_BATCH) {
        const chunk = messages.slice(i, i + MAX_BATCH);
        try {
          const result = await withTimeout(messaging.sendEach(chunk.map((m) => toFcmMessage(m, config))), timeoutMs);
          if (result === TIMED_OUT) {
            outcomes.push(...chunk.map(() => failure("timeout", { retryable: true, maybeDelivered: true, detail: `no answer in ${timeoutMs} ms` })));
            continue;
          }
          for (const r of result.responses) {
            outcomes.push(r.success ? { ok: true, providerMessageId: r.messageId!, state: "sent" } : mapFcmError(r.error));
          }
        } catch (error) {
          const mapped = mapFcmError(error);
          outcomes.push(...chunk.map(() => mapped));
        }
      }
      return outcomes;
    },
    async close() {
      await deleteApp(app);
    },
  };
}
