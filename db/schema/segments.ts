import { sql } from "drizzle-orm";
import { bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { operators, workspaces } from "./accounts";

/** What a segment's rules read; ingestion uses it to re-evaluate only the segments an event can change. */
export interface SegmentDependencies {
  /** Event names used by event rules. */
  events: string[];
  /** Top-level trait keys used by trait rules (`tags` for tag rules). */
  traits: string[];
  /** first_seen / last_seen rules: any stored call may change them. */
  activity: boolean;
  /** Message engagement rules: changed by the channels, picked up by the sweep. */
  messages: boolean;
}

/** A preset segment remembers which preset and thresholds produced its rules. */
export interface SegmentPreset {
  family: "lifecycle" | "rfm";
  stage: string;
  params: Record<string, number | string>;
}

/** 人群: a rule-defined set of users. The rules (`definition`) are an AND/OR tree, see app/segments/rules.ts. */
export const segments = pgTable(
  "segments",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    /**
     * Stable, workspace-unique handle that journeys use to reference the segment
     * (`segment_entry` triggers, exported journey documents), e.g. `churned_buyers`.
     */
    key: text("key").notNull(),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    definition: jsonb("definition").$type<Record<string, unknown>>().notNull(),
    preset: jsonb("preset").$type<SegmentPreset>(),
    /** True when membership can change with time alone ("no order in 30 days"): the sweep recomputes it. */
    timeDependent: boolean("time_dependent").notNull().default(false),
    dependencies: jsonb("dependencies").$type<SegmentDependencies>().notNull(),
    /** Kept current by every membership change, so lists never count members. */
    memberCount: integer("member_count").notNull().default(0),
    computedAt: timestamp("computed_at", { withTimezone: true }),
    archivedAt: timestamp("archived_at", { withTimezone: true }),
    createdBy: uuid("created_by").references(() => operators.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("segments_key_unique").on(t.workspaceId, t.key)],
);

/** Current members. No foreign key to users: a 1M-row recompute would pay a lookup per row. */
export const segmentMembers = pgTable(
  "segment_members",
  {
    segmentId: uuid("segment_id")
      .notNull()
      .references(() => segments.id, { onDelete: "cascade" }),
    workspaceId: uuid("workspace_id").notNull(),
    userId: text("user_id").notNull(),
    enteredAt: timestamp("entered_at", { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.segmentId, t.userId] }), index("segment_members_user_idx").on(t.workspaceId, t.userId)],
);

/**
 * Every entry and exit, in order. `notifiedAt` is set once the journey engine accepted the
 * change; the sweep re-sends the ones it never accepted (at-least-once, engine is idempotent).
 */
export const segmentMembershipEvents = pgTable(
  "segment_membership_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    workspaceId: uuid("workspace_id").notNull(),
    segmentId: uuid("segment_id")
      .notNull()
      .references(() => segments.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    change: text("change", { enum: ["entered", "exited"] }).notNull(),
    at: timestamp("at", { withTimezone: true }).notNull(),
    notifiedAt: timestamp("notified_at", { withTimezone: true }),
  },
  (t) => [
    index("segment_membership_events_segment_idx").on(t.segmentId, t.at),
    index("segment_membership_events_user_idx").on(t.workspaceId, t.userId, t.at),
    index("segment_membership_events_pending_idx").on(t.id).where(sql`${t.notifiedAt} is null`),
  ],
);
