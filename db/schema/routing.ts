import { sql } from "drizzle-orm";
import { bigserial, index, integer, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * Stored events not yet offered to the journey engine (decision 1001). Ingestion writes one row
 * per request, in the transaction that stores the events, and deletes it once the engine has
 * taken them; a row left behind (the process died, the engine refused, the answer was lost) is
 * picked up by the routing sweep of any worker process. No foreign key: the row lives for
 * milliseconds on the hot path, and a deleted workspace's rows are dropped by the sweep.
 */
export const eventRoutingPending = pgTable(
  "event_routing_pending",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    workspaceId: uuid("workspace_id").notNull(),
    /** The events' messageIds (activity calls only: the ones journeys see). */
    messageIds: text("message_ids").array().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().default(sql`now()`),
    /** Before this time no sweep takes the row (the request is still routing it, or a sweep holds it). */
    notBefore: timestamp("not_before", { withTimezone: true, mode: "string" }).notNull().default(sql`now() + interval '30 seconds'`),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
  },
  (t) => [index("event_routing_pending_due_idx").on(t.notBefore)],
);
