import { eq, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { auditLog, operators, workspaceMembers, workspaces, type Role } from "../../db/schema";
import { generatePassword, hashPassword } from "./auth.server";

export const DEFAULT_WORKSPACE_NAME = "Default workspace";

/** The first workspace, created on first start. */
export async function ensureDefaultWorkspace(db: Db, timezone = "Asia/Shanghai"): Promise<{ id: string; created: boolean }> {
  const [existing] = await db.select({ id: workspaces.id }).from(workspaces).orderBy(workspaces.createdAt).limit(1);
  if (existing) return { id: existing.id, created: false };
  const [row] = await db.insert(workspaces).values({ name: DEFAULT_WORKSPACE_NAME, timezone }).returning({ id: workspaces.id });
  return { id: row.id, created: true };
}

export async function countOperators(db: Db): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(operators);
  return row.n;
}

export class AccountError extends Error {
  constructor(
    readonly code: "email_taken" | "invalid_email" | "weak_password",
    message: string,
  ) {
    super(message);
  }
}

/** Creates an operator in a workspace; generates a password when none is given and returns it. */
export async function createOperator(
  db: Db,
  input: { workspaceId: string; email: string; name?: string; role: Role; password?: string },
): Promise<{ id: string; email: string; password: string }> {
  const email = input.email.trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new AccountError("invalid_email", `"${input.email}" is not an email address`);
  const password = input.password ?? generatePassword();
  if (password.length < 8) throw new AccountError("weak_password", "password must be at least 8 characters");
  const [taken] = await db.select({ id: operators.id }).from(operators).where(eq(operators.email, email)).limit(1);
  if (taken) throw new AccountError("email_taken", `an operator with email ${email} already exists`);
  const passwordHash = await hashPassword(password);
  const id = await db.transaction(async (tx) => {
    const [row] = await tx
      .insert(operators)
      .values({ email, name: input.name ?? email.split("@")[0], passwordHash })
      .returning({ id: operators.id });
    await tx.insert(workspaceMembers).values({ workspaceId: input.workspaceId, operatorId: row.id, role: input.role });
    await tx.insert(auditLog).values({ workspaceId: input.workspaceId, action: "operator.created", target: email, details: { role: input.role } });
    return row.id;
  });
  return { id, email, password };
}

export async function recordAudit(
  db: Db,
  entry: { workspaceId: string; operatorId?: string | null; action: string; target?: string; details?: Record<string, unknown> },
): Promise<void> {
  await db.insert(auditLog).values({
    workspaceId: entry.workspaceId,
    operatorId: entry.operatorId ?? null,
    action: entry.action,
    target: entry.target ?? null,
    details: entry.details ?? {},
  });
}
