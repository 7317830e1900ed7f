import { boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { operators, workspaces } from "./accounts";

export const journeyStatuses = ["draft", "live", "paused", "archived"] as const;
export type JourneyStatus = (typeof journeyStatuses)[number];

export const journeys = pgTable(
  "journeys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    status: text("status", { enum: journeyStatuses }).notNull().default("draft"),
    /** The version new users enter; null until first publish. */
    liveVersionId: uuid("live_version_id"),
    /**
     * Paused with "hold": users already inside stop where they are (no sends, due timers wait)
     * until the journey is resumed (docs/decisions/0515). False for "keep running" and when live.
     */
    held: boolean("held").notNull().default(false),
    createdBy: uuid("created_by").references(() => operators.id, { onDelete: "set null" }),
    updatedBy: uuid("updated_by").references(() => operators.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("journeys_workspace_idx").on(t.workspaceId, t.status)],
);

/**
 * One row per version. A journey has at most one draft (state 'draft', mutable, guarded by
 * `revision` for conflict-safe saves) and any number of published versions, which are immutable.
 */
export const journeyVersions = pgTable(
  "journey_versions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    journeyId: uuid("journey_id")
      .notNull()
      .references(() => journeys.id, { onDelete: "cascade" }),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    /** 1, 2, 3... for published versions; 0 for the draft. */
    version: integer("version").notNull(),
    state: text("state", { enum: ["draft", "published"] }).notNull(),
    document: jsonb("document").$type<Record<string, unknown>>().notNull(),
    /** Compiled program of a published version, so engines never recompile. */
    program: jsonb("program").$type<Record<string, unknown>>(),
    revision: integer("revision").notNull().default(1),
    createdBy: uuid("created_by").references(() => operators.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedBy: uuid("updated_by").references(() => operators.id, { onDelete: "set null" }),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    publishedAt: timestamp("published_at", { withTimezone: true }),
    publishedBy: uuid("published_by").references(() => operators.id, { onDelete: "set null" }),
  },
  (t) => [uniqueIndex("journey_versions_unique").on(t.journeyId, t.version)],
);
