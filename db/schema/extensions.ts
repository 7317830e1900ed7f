import { pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { workspaces } from "./accounts";

/**
 * Secrets of extension node types, per workspace (Settings › Extensions). One row per declared
 * secret; the value is sealed like channel secrets (AES-256-GCM, the workspace, node type and
 * name as associated data) and never sent back to the browser.
 */
export const extensionSecrets = pgTable(
  "extension_secrets",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    nodeType: text("node_type").notNull(),
    name: text("name").notNull(),
    /** `v1.<iv>.<tag>.<ciphertext>` (base64url). */
    sealed: text("sealed").notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    updatedBy: uuid("updated_by"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.nodeType, t.name] })],
);
