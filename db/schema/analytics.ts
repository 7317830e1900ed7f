import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, pgTable, primaryKey, smallint, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * Journey analytics rollups (docs/analytics.md, decision 0800). Database triggers keep them
 * current from every write to `journey_node_events` and `messages`, whichever engine or layer
 * wrote it: inserts add, deletes (a Temporal rewind, an erasure) subtract, updates do both. The
 * trigger only appends to `journey_node_rollup_pending` (no key, so concurrent engine batches
 * never wait on each other); readers sum both tables and fold the pending rows of the journey
 * they read into `journey_node_rollup`.
 *
 * Every row counts node events of one cohort: users who entered the journey in that hour
 * (`cohort`, the instance's `entered_at` truncated to the hour). Counting by entry cohort is what
 * makes entered = Σ outputs + waiting + exits hold on every node for any period.
 * Absent values are '' (not null) so the key is a plain primary key.
 */
const rollupColumns = () => ({
  journeyId: uuid("journey_id").notNull(),
  versionId: uuid("version_id").notNull(),
  cohort: timestamp("cohort", { withTimezone: true, mode: "string" }).notNull(),
  nodeId: text("node_id").notNull(),
  /** The node event kind, or one the trigger derives: journey_entered, conversion_holdout, conversion_path, message_row. */
  kind: text("kind").notNull(),
  output: text("output").notNull(),
  reason: text("reason").notNull(),
  status: text("status").notNull(),
  channel: text("channel").notNull(),
  /** conversion / conversion_holdout: the node the conversion is attributed to. */
  extra: text("extra").notNull(),
  n: bigint("n", { mode: "number" }).notNull(),
});

export const journeyNodeRollup = pgTable("journey_node_rollup", rollupColumns(), (t) => [
  primaryKey({ columns: [t.journeyId, t.versionId, t.cohort, t.nodeId, t.kind, t.output, t.reason, t.status, t.channel, t.extra] }),
]);

export const journeyNodeRollupPending = pgTable("journey_node_rollup_pending", rollupColumns(), (t) => [index("journey_node_rollup_pending_journey_idx").on(t.journeyId)]);

/**
 * Every successful send (a `message` node event with status `sent`), one row each, written by a
 * trigger on `journey_node_events` (migration 0022, decision 0860) with what the report needs
 * that the node events do not carry:
 * - `local_hour`: the hour on the user's clock when the message was sent (the profile's zone,
 *   else the journey's, else the workspace's, as the engine resolves it; DST applied at the send
 *   instant). Recorded once, so a later change of the user's zone does not move history.
 * - `first`: the instance's first send (return rates count users once, from their first message).
 * - `converted`: the instance converted (outside the holdout) at or after this send.
 * - `returned_at`: the user's first tracked event (not `$…`) within 7 days after this send,
 *   kept current by a trigger on `events`.
 * A trigger on this table keeps `journey_message_rollup` current, so the report reads a few
 * hundred rollup rows instead of the sends. Has workspace_id + user_id, so erasing a user
 * deletes its rows (and the trigger subtracts them).
 */
export const journeyMessageSends = pgTable(
  "journey_message_sends",
  {
    instanceId: uuid("instance_id").notNull(),
    seq: integer("seq").notNull(),
    workspaceId: uuid("workspace_id").notNull(),
    userId: text("user_id").notNull(),
    journeyId: uuid("journey_id").notNull(),
    versionId: uuid("version_id").notNull(),
    /** The instance's entry hour (the report's periods select users by entry, like the rollups). */
    cohort: timestamp("cohort", { withTimezone: true, mode: "string" }).notNull(),
    nodeId: text("node_id").notNull(),
    at: timestamp("at", { withTimezone: true, mode: "string" }).notNull(),
    localHour: smallint("local_hour").notNull(),
    first: boolean("first").notNull(),
    converted: boolean("converted").notNull(),
    returnedAt: timestamp("returned_at", { withTimezone: true, mode: "string" }),
  },
  (t) => [
    primaryKey({ columns: [t.instanceId, t.seq] }),
    // The events trigger: "sends to this user in the 7 days before this event".
    index("journey_message_sends_user_idx").on(t.workspaceId, t.userId, t.at),
    // Return rates for a chosen event read the period's first sends of one journey.
    index("journey_message_sends_journey_idx").on(t.journeyId, t.cohort).where(sql`${t.first}`),
  ],
);

/**
 * Counts of `journey_message_sends` per journey, version, entry hour and node, by measure:
 * `sent` / `converted` per local send hour (bucket 0–23), `messaged` (first sends) per return day
 * (bucket 1–7: the user's first tracked event came within that many days; 0: not within 7).
 * Folded + pending, like `journey_node_rollup`.
 */
const messageRollupColumns = () => ({
  journeyId: uuid("journey_id").notNull(),
  versionId: uuid("version_id").notNull(),
  cohort: timestamp("cohort", { withTimezone: true, mode: "string" }).notNull(),
  nodeId: text("node_id").notNull(),
  measure: text("measure").notNull(),
  bucket: smallint("bucket").notNull(),
  n: bigint("n", { mode: "number" }).notNull(),
});

export const journeyMessageRollup = pgTable("journey_message_rollup", messageRollupColumns(), (t) => [
  primaryKey({ columns: [t.journeyId, t.versionId, t.cohort, t.nodeId, t.measure, t.bucket] }),
]);

export const journeyMessageRollupPending = pgTable("journey_message_rollup_pending", messageRollupColumns(), (t) => [index("journey_message_rollup_pending_journey_idx").on(t.journeyId)]);

/**
 * The IANA zone names this PostgreSQL knows (`pg_timezone_names`, copied by migration 0022): the
 * send trigger checks a user's zone here before `AT TIME ZONE`, which would fail the engine's
 * write on an unknown name (and reading `pg_timezone_names` parses the zone files every time).
 */
export const analyticsTimeZones = pgTable("analytics_time_zones", { name: text("name").primaryKey() });
