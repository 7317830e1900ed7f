import { sql } from "drizzle-orm";
import { bigserial, date, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { workspaces } from "./accounts";

// Kept in step with nodes/channels/provider.ts (that module is browser-safe; the schema must not
// import app code, so drizzle-kit can load it alone).
const channelValues = ["push", "sms", "email"] as const;
const categoryValues = ["marketing", "transactional"] as const;
const stateValues = ["queued", "sent", "delivered", "opened", "clicked", "failed"] as const;

/**
 * Every message Waypost tried to send, one row per logical message. The idempotency key is unique
 * per workspace: a retried side effect finds its row and never reaches the provider a second time.
 */
export const messages = pgTable(
  "messages",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    // No foreign key: the check key-share-locks the workspace row on every insert, and concurrent
    // senders then share that lock through multixacts (docs/decisions/0161).
    workspaceId: uuid("workspace_id").notNull(),
    idempotencyKey: text("idempotency_key").notNull(),
    userId: text("user_id").notNull(),
    // Plain text, not foreign keys: the message log outlives edited and archived journeys, and
    // "send test message" has no journey at all.
    journeyId: text("journey_id"),
    instanceId: text("instance_id"),
    nodeId: text("node_id"),
    channel: text("channel", { enum: channelValues }).notNull(),
    category: text("category", { enum: categoryValues }).notNull(),
    /** fcm | aliyun-sms | smtp | sandbox; null while the message never got that far. */
    provider: text("provider"),
    /** Device token, phone number or email address the message went to. */
    address: text("address"),
    /** The copy as the user sees it, after rendering and length rules. */
    content: jsonb("content").$type<Record<string, unknown>>().notNull().default({}),
    /** What the length rules cut, for the Messages page and analytics. */
    truncations: jsonb("truncations").$type<unknown[]>(),
    state: text("state", { enum: stateValues }).notNull().default("queued"),
    failureReason: text("failure_reason"),
    failureDetail: text("failure_detail"),
    providerCode: text("provider_code"),
    providerMessageId: text("provider_message_id"),
    attempts: integer("attempts").notNull().default(0),
    /** Deferred (quiet hours, rate limits): not before this time. */
    deferUntil: timestamp("defer_until", { withTimezone: true }),
    /** A sender holds the row until then; a crashed sender's lease simply expires. */
    leaseUntil: timestamp("lease_until", { withTimezone: true }),
    /** Set just before the provider call: a row still queued with this set had an unknown outcome. */
    providerCallAt: timestamp("provider_call_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    sentAt: timestamp("sent_at", { withTimezone: true }),
    deliveredAt: timestamp("delivered_at", { withTimezone: true }),
    openedAt: timestamp("opened_at", { withTimezone: true }),
    clickedAt: timestamp("clicked_at", { withTimezone: true }),
    failedAt: timestamp("failed_at", { withTimezone: true }),
  },
  (t) => [
    uniqueIndex("messages_idempotency_unique").on(t.workspaceId, t.idempotencyKey),
    index("messages_user_idx").on(t.workspaceId, t.userId, t.createdAt),
    index("messages_journey_idx").on(t.workspaceId, t.journeyId, t.createdAt),
    index("messages_address_idx").on(t.workspaceId, t.address),
    index("messages_provider_id_idx").on(t.provider, t.providerMessageId),
    // Receipt polling looks only at sent-but-unconfirmed messages.
    index("messages_awaiting_receipt_idx").on(t.provider, t.sentAt).where(sql`${t.state} = 'sent'`),
  ],
);

/** Every state change of a message, in order: what support reads when a notice "never came". */
export const messageStateHistory = pgTable(
  "message_state_history",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    messageId: uuid("message_id")
      .notNull()
      .references(() => messages.id, { onDelete: "cascade" }),
    workspaceId: uuid("workspace_id").notNull(),
    state: text("state").notNull(),
    /** Failure reason, or why the message was held (deferred: quiet_hours, rate_limited). */
    reason: text("reason"),
    detail: jsonb("detail").$type<Record<string, unknown>>(),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("message_state_history_message_idx").on(t.messageId, t.id)],
);

/** Push tokens per user. Retired tokens are kept (with why) so support can see what happened. */
export const deviceTokens = pgTable(
  "device_tokens",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    token: text("token").notNull(),
    userId: text("user_id").notNull(),
    platform: text("platform", { enum: ["android", "ios", "web"] }).notNull().default("android"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }).notNull().defaultNow(),
    retiredAt: timestamp("retired_at", { withTimezone: true }),
    retiredReason: text("retired_reason"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.token] }), index("device_tokens_user_idx").on(t.workspaceId, t.userId)],
);

/**
 * Provider configuration per workspace and channel, plus one `policy` row. Secrets (keys,
 * passwords) are AES-256-GCM ciphertext and never leave the server once saved.
 */
export const channelSettings = pgTable(
  "channel_settings",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    /** push | sms | email | policy */
    kind: text("kind").notNull(),
    /** fcm | aliyun-sms | smtp | sandbox; null for the policy row. */
    provider: text("provider"),
    /** Non-secret settings (project id, sign name, host, tracking base URL, policy JSON). */
    config: jsonb("config").$type<Record<string, unknown>>().notNull().default({}),
    /** `v1.<iv>.<tag>.<ciphertext>` (base64url) of the JSON secrets. */
    secrets: text("secrets"),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    updatedBy: uuid("updated_by"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.kind] })],
);

/** Frequency-cap counters: one row per user, cap and local calendar period. */
export const frequencyCounters = pgTable(
  "frequency_counters",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    capKey: text("cap_key").notNull(),
    windowStart: date("window_start").notNull(),
    count: integer("count").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.userId, t.capKey, t.windowStart] })],
);

/**
 * Addresses that must not receive (some) messages: 回TD退订 replies, one-click unsubscribes, hard
 * bounces, complaints. Keyed by address, because that is what the opt-out came from.
 */
export const suppressions = pgTable(
  "suppressions",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    channel: text("channel", { enum: channelValues }).notNull(),
    address: text("address").notNull(),
    userId: text("user_id"),
    /** marketing: promotions stop, notices still go. all: nothing goes. */
    scope: text("scope", { enum: ["marketing", "all"] }).notNull(),
    reason: text("reason", { enum: ["unsubscribed", "complaint", "bounced", "manual"] }).notNull(),
    /** sms_reply, list_unsubscribe, smtp_bounce, operator… */
    source: text("source").notNull(),
    messageId: uuid("message_id"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.channel, t.address] }), index("suppressions_user_idx").on(t.workspaceId, t.userId)],
);
