import { bigint, index, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";

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
