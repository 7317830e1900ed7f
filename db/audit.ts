import { auditLog } from "./schema";
import type { Db, Tx } from "./client";

export interface AuditEntry {
  workspaceId: string;
  operatorId?: string | null;
  action: string;
  target?: string;
  details?: Record<string, unknown>;
}

/**
 * One audit-log row, in the caller's transaction when given one. In the db layer so the engines'
 * operator actions (workflows/) record them without importing the app (ARCHITECTURE: layers).
 */
export async function insertAuditEntry(db: Db | Tx, entry: AuditEntry): Promise<void> {
  await db.insert(auditLog).values({
    workspaceId: entry.workspaceId,
    operatorId: entry.operatorId ?? null,
    action: entry.action,
    target: entry.target ?? null,
    details: entry.details ?? {},
  });
}
