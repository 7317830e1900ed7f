import { integer, pgTable, timestamp, uuid } from "drizzle-orm/pg-core";
import { workspaces } from "./accounts";

/**
 * Which generation of provider callback tokens a workspace uses (decision 0704). Tokens are
 * HMACs of (purpose, workspace, generation); rotating bumps the generation and every older
 * token stops working at once. No row: generation 0 (the tokens issued before rotation existed).
 */
export const callbackTokens = pgTable("callback_tokens", {
  workspaceId: uuid("workspace_id")
    .primaryKey()
    .references(() => workspaces.id, { onDelete: "cascade" }),
  generation: integer("generation").notNull().default(0),
  rotatedAt: timestamp("rotated_at", { withTimezone: true }).notNull().defaultNow(),
  rotatedBy: uuid("rotated_by"),
});
