import { sql } from "drizzle-orm";
import { bigserial, boolean, date, index, integer, jsonb, pgTable, primaryKey, smallint, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { journeys } from "./journeys";

/**
 * The embedded journey engine's tables (workflows/embedded, docs/engines.md). Every column that
 * the worker changes on each step is kept out of as many indexes as possible: an instance row is
 * rewritten on every step, and each index it sits in costs a write.
 */

export const instanceStatuses = ["active", "completed"] as const;
export type InstanceStatus = (typeof instanceStatuses)[number];

/** One durable execution per user per journey entry. `state` is the interpreter's InstanceState. */
export const journeyInstances = pgTable(
  "journey_instances",
  {
    id: uuid("id").primaryKey(),
    // No foreign keys on the engine's per-user tables (docs/decisions/0161): each check
    // key-share-locks the one workspace/journey row that every concurrent batch also locks.
    workspaceId: uuid("workspace_id").notNull(),
    journeyId: uuid("journey_id").notNull(),
    /** The published version the user entered; they stay on it when the journey is edited. */
    versionId: uuid("version_id").notNull(),
    userId: text("user_id").notNull(),
    /**
     * What caused the entry (the event's messageId, a segment change, `once` for once-only
     * journeys): a redelivered event finds the key taken and starts nothing.
     */
    entryKey: text("entry_key").notNull(),
    status: text("status", { enum: instanceStatuses }).notNull(),
    /** Completion reason (exit_node, goal, exit_criteria, holdout, failed) once completed. */
    reason: text("reason"),
    /** The node the user is at: "waiting now" per node. */
    nodeId: text("node_id"),
    holdout: boolean("holdout").notNull().default(false),
    state: jsonb("state").$type<Record<string, unknown>>().notNull(),
    /**
     * When the instance next needs a timer input; null while it waits only for events or a side
     * effect. Shown to operators; the worker finds due instances through `journey_timers`, so this
     * column is in no index and most instance updates stay HOT (heap-only, no index writes).
     */
    wakeAt: timestamp("wake_at", { withTimezone: true, mode: "string" }),
    /** Event names the instance listens to now (node waits, delivery reports, goal, exit criteria). */
    awaiting: text("awaiting").array().notNull().default(sql`'{}'::text[]`),
    enteredAt: timestamp("entered_at", { withTimezone: true, mode: "string" }).notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "string" }).notNull(),
    completedAt: timestamp("completed_at", { withTimezone: true, mode: "string" }),
  },
  (t) => [
    uniqueIndex("journey_instances_entry_unique").on(t.journeyId, t.userId, t.entryKey),
    // Event routing: a user's active instances, then `awaiting && names` on the few rows found.
    // user_id leads so `user_id = any(…)` is always the index condition: led by workspace_id, a
    // planner with stale statistics scanned every active instance of the workspace per event batch.
    index("journey_instances_user_active_idx").on(t.userId, t.workspaceId).where(sql`${t.status} = 'active'`),
    // Entry caps (rolling hour/day) and journey-level analytics.
    index("journey_instances_journey_idx").on(t.journeyId, t.enteredAt),
  ],
);

/**
 * Due timers: one row per active instance with a `wake_at`, written in the same statement as the
 * instance (workflows/embedded/batch.server.ts). Narrow and keyed by time, so the due-timer claim
 * reads one small index, and moving a timer costs a delete and an insert here instead of a
 * non-HOT update of the wide instance row and its five indexes (docs/decisions/0160).
 */
export const journeyTimers = pgTable(
  "journey_timers",
  {
    wakeAt: timestamp("wake_at", { withTimezone: true, mode: "string" }).notNull(),
    instanceId: uuid("instance_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.wakeAt, t.instanceId] })],
);

/**
 * Node events for analytics, one per interpreter record. (instance_id, seq) is the primary key
 * and writes use ON CONFLICT DO NOTHING, so a retried batch can never count anything twice.
 */
export const journeyNodeEvents = pgTable(
  "journey_node_events",
  {
    instanceId: uuid("instance_id").notNull(),
    seq: integer("seq").notNull(),
    workspaceId: uuid("workspace_id").notNull(),
    journeyId: uuid("journey_id").notNull(),
    versionId: uuid("version_id").notNull(),
    userId: text("user_id").notNull(),
    /** Null only for a conversion/exit recorded before the first node (never in practice). */
    nodeId: text("node_id"),
    /** entered, left, message, retry, conversion, exit, holdout, tz_fallback */
    kind: text("kind").notNull(),
    /** left: the output taken. */
    output: text("output"),
    /** left/message/retry: failure reason; exit: completion reason; tz_fallback: missing/invalid. */
    reason: text("reason"),
    /** message: sent, failed, deferred, delivered, delivery_failed, not_delivered. */
    messageStatus: text("message_status"),
    channel: text("channel"),
    /** Everything else of the record (attempt, messageId, retryAt, conversion path...). */
    data: jsonb("data").$type<Record<string, unknown>>(),
    at: timestamp("at", { withTimezone: true, mode: "string" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.instanceId, t.seq] }), index("journey_node_events_journey_idx").on(t.journeyId, t.at)],
);

/**
 * Side effects to run (one row per interpreter `run` command). A claimed row is leased by
 * pushing `next_attempt_at` into the future; a worker that dies simply lets the lease run out.
 * Rows are deleted in the transaction that feeds their result back to the instance.
 */
export const journeyOutbox = pgTable(
  "journey_outbox",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    instanceId: uuid("instance_id").notNull(),
    workspaceId: uuid("workspace_id").notNull(),
    /**
     * The interpreter's run id (instance + dispatch counter): unique per dispatch. The provider
     * idempotency key below repeats across retry attempts of one visit by design, so it cannot
     * be the unique key here (docs/decisions/0152-outbox-keys-and-leases.md).
     */
    runId: text("run_id").notNull(),
    idempotencyKey: text("idempotency_key").notNull(),
    /** { nodeId, nodeType, attempt, event? } — the config is read from the stored program. */
    command: jsonb("command").$type<Record<string, unknown>>().notNull(),
    /** Executions started (a crash mid-execution shows up as attempts > 1). */
    attempts: integer("attempts").notNull().default(0),
    /** Real time, not journey time: when the row may be (re)claimed. */
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "string" }).notNull(),
    /** pending: waiting to run; running: leased by a worker until next_attempt_at. */
    status: text("status", { enum: ["pending", "running"] }).notNull().default("pending"),
    lastError: text("last_error"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("journey_outbox_run_unique").on(t.runId), index("journey_outbox_due_idx").on(t.nextAttemptAt)],
);

/**
 * Entry ledger for entry rules (once, cooldown): one row per journey and user. Admitting a user
 * upserts and so row-locks it, which serialises concurrent entries of the same user into the
 * same journey without advisory locks (a batch of 500 entries would need 500 of those, and the
 * shared lock table is small). Journeys with the `concurrent` rule need no row.
 */
export const journeyEntryLedger = pgTable(
  "journey_entry_ledger",
  {
    journeyId: uuid("journey_id").notNull(),
    userId: text("user_id").notNull(),
    entries: integer("entries").notNull().default(0),
    lastEnteredAt: timestamp("last_entered_at", { withTimezone: true, mode: "string" }),
  },
  (t) => [primaryKey({ columns: [t.journeyId, t.userId] })],
);

/** Events already applied to an instance: redelivery of the same messageId is a no-op. */
export const journeyInstanceEvents = pgTable(
  "journey_instance_events",
  {
    instanceId: uuid("instance_id").notNull(),
    messageId: text("message_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.instanceId, t.messageId] })],
);

/** Entries and refused entries per journey, version, day and outcome (entered or the rejection). */
export const journeyEntryStats = pgTable(
  "journey_entry_stats",
  {
    journeyId: uuid("journey_id")
      .notNull()
      .references(() => journeys.id, { onDelete: "cascade" }),
    versionId: uuid("version_id").notNull(),
    day: date("day", { mode: "string" }).notNull(),
    outcome: text("outcome").notNull(),
    /**
     * Concurrent entry batches add to different rows (the embedded engine picks one of 8 per
     * batch; readers sum them): one row per journey, day and outcome was a lock every entry
     * transaction held until its commit (docs/decisions/0161).
     */
    shard: smallint("shard").notNull().default(0),
    count: integer("count").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.journeyId, t.versionId, t.day, t.outcome, t.shard] })],
);

/**
 * Where a live version's schedule starts counting: the journey time the engine first saw it
 * live. Runs before that (a one-off time already past at publish) never fire.
 */
export const journeyScheduleCursors = pgTable("journey_schedule_cursors", {
  versionId: uuid("version_id").primaryKey(),
  journeyId: uuid("journey_id")
    .notNull()
    .references(() => journeys.id, { onDelete: "cascade" }),
  activeFrom: timestamp("active_from", { withTimezone: true, mode: "string" }).notNull(),
});

/**
 * Schedule-trigger runs, claimed by one worker. A run whose worker died before `finished_at`
 * is claimed again once its lease is over; entry keys make the repeated entries no-ops.
 */
export const journeyScheduleRuns = pgTable(
  "journey_schedule_runs",
  {
    journeyId: uuid("journey_id")
      .notNull()
      .references(() => journeys.id, { onDelete: "cascade" }),
    versionId: uuid("version_id").notNull(),
    runAt: timestamp("run_at", { withTimezone: true, mode: "string" }).notNull(),
    /** Real time until which the claiming worker owns the run. */
    leaseUntil: timestamp("lease_until", { withTimezone: true, mode: "string" }).notNull(),
    entered: integer("entered").notNull().default(0),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "string" }),
  },
  (t) => [primaryKey({ columns: [t.journeyId, t.runAt] })],
);

/** Side effects the engine applies itself (profile updates), by idempotency key: applied once. */
export const engineEffects = pgTable(
  "engine_effects",
  {
    workspaceId: uuid("workspace_id").notNull(),
    key: text("key").notNull(),
    at: timestamp("at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.key] })],
);
