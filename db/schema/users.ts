import { sql } from "drizzle-orm";
import { bigserial, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { operators, workspaces } from "./accounts";

export type Consent = Partial<Record<"push" | "sms" | "email", { marketing?: boolean; transactional?: boolean }>>;

/**
 * End users of the operator's app, keyed by the app's own userId (Segment's `userId`), or by
 * the anonymousId for users who were never identified. `email`, `phone`, `timezone` and `tags`
 * are indexed projections of the traits of the same name (see decision 0302).
 */
export const users = pgTable(
  "users",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    anonymousId: text("anonymous_id"),
    traits: jsonb("traits").$type<Record<string, unknown>>().notNull().default({}),
    email: text("email"),
    phone: text("phone"),
    timezone: text("timezone"),
    tags: text("tags").array().notNull().default(sql`'{}'::text[]`),
    consent: jsonb("consent").$type<Consent>().notNull().default({}),
    firstSeenAt: timestamp("first_seen_at", { withTimezone: true }).notNull().defaultNow(),
    /** Time of the latest track/page/screen event: what "last seen" and the lifecycle stages use. */
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    // text_pattern_ops so the Users page's prefix search (`like 'abc%'`) uses the index in any
    // collation. No index on last_seen_at: every event moves it, and leaving it unindexed keeps
    // those updates HOT (decision 0303).
    // Partial indexes: most profiles created by track calls have no email, phone or tags, and
    // then cost no entry in those indexes.
    index("users_id_prefix_idx").on(t.workspaceId, t.id.op("text_pattern_ops")),
    index("users_email_idx").on(t.workspaceId, t.email.op("text_pattern_ops")).where(sql`${t.email} is not null`),
    index("users_phone_idx").on(t.workspaceId, t.phone.op("text_pattern_ops")).where(sql`${t.phone} is not null`),
    index("users_tags_idx").using("gin", t.tags).where(sql`cardinality(${t.tags}) > 0`),
  ],
);

/**
 * Every stored call. `type` is track, identify, page, screen, group or alias; non-track calls are
 * named `$identify`, `$page`, ... so one index serves all. `messageId` makes ingestion idempotent.
 */
export const events = pgTable(
  "events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    messageId: text("message_id").notNull(),
    userId: text("user_id").notNull(),
    type: text("type").notNull().default("track"),
    name: text("name").notNull(),
    properties: jsonb("properties").$type<Record<string, unknown>>().notNull().default({}),
    timestamp: timestamp("timestamp", { withTimezone: true }).notNull(),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("events_message_id_unique").on(t.workspaceId, t.messageId),
    // Per-user lookups: segment rules and journey conditions ask "did this user do X (since T)",
    // an exact range here; the user's timeline reads the same index and sorts one user's events.
    index("events_user_name_time_idx").on(t.workspaceId, t.userId, t.name, t.timestamp),
    // Per-event-name scans: "everyone who did X since T", distinct event names.
    index("events_name_time_idx").on(t.workspaceId, t.name, t.timestamp),
  ],
);

/** `alias` calls and merged anonymous profiles: events sent under `alias` are stored under `userId`. */
export const userAliases = pgTable(
  "user_aliases",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    alias: text("alias").notNull(),
    userId: text("user_id").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.alias] }), index("user_aliases_user_idx").on(t.workspaceId, t.userId)],
);

export interface ImportRowError {
  line: number;
  column: string | null;
  message: string;
}

/** CSV imports of users and tags, with their progress (UI polls this row). */
export const userImports = pgTable(
  "user_imports",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    filename: text("filename").notNull(),
    status: text("status", { enum: ["running", "done", "failed"] }).notNull().default("running"),
    totalRows: integer("total_rows"),
    processedRows: integer("processed_rows").notNull().default(0),
    importedRows: integer("imported_rows").notNull().default(0),
    failedRows: integer("failed_rows").notNull().default(0),
    /** The first bad rows (line + column + why); `failedRows` counts them all. */
    errors: jsonb("errors").$type<ImportRowError[]>().notNull().default([]),
    message: text("message"),
    createdBy: uuid("created_by").references(() => operators.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [index("user_imports_workspace_idx").on(t.workspaceId, t.createdAt)],
);
