import { and, asc, eq, gt, isNull, max, ne, sql } from "drizzle-orm";
import type { Db, Tx } from "../../db/client";
import { auditLog, operators, sessions, workspaceMembers, workspaces, type Role } from "../../db/schema";
import { insertAuditEntry, type AuditEntry } from "../../db/audit";
import {
  accountKey,
  activeLock,
  clearThrottle,
  endSessions,
  generatePassword,
  hashPassword,
  login,
  MAX_EMAIL_LENGTH,
  MAX_PASSWORD_LENGTH,
  PasswordHashBusyError,
  recordFailure,
  verifyPassword,
  type LoginResult,
  type PasswordHasher,
} from "./auth.server";

export const DEFAULT_WORKSPACE_NAME = "Default workspace";
export const MIN_PASSWORD_LENGTH = 8;

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

export type AccountErrorCode =
  | "email_taken"
  | "invalid_email"
  | "weak_password"
  | "wrong_password"
  | "same_password"
  | "not_found"
  | "last_admin"
  | "self"
  | "locked"
  | "busy";

/**
 * A refused account change. `field` names the form field at fault (the tRPC layer turns it into a
 * field issue); `retryAfterSeconds` is set for "locked" and "busy".
 */
export class AccountError extends Error {
  constructor(
    readonly code: AccountErrorCode,
    message: string,
    readonly field?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "AccountError";
  }
}

/** The password rules, in one place for the CLI, the Team page and My account. */
export function passwordProblem(password: string, email?: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `Passwords need at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (password.length > MAX_PASSWORD_LENGTH) return `Passwords can have at most ${MAX_PASSWORD_LENGTH} characters.`;
  if (email && password.trim().toLowerCase() === email.trim().toLowerCase()) return "The password cannot be your email address.";
  return null;
}

export interface CreateOperatorInput {
  workspaceId: string;
  email: string;
  name?: string;
  role: Role;
  password?: string;
  /** Defaults to true when the password is generated here (it is printed or shown to someone else). */
  mustChangePassword?: boolean;
  /** Who did it, for the audit log (none for the CLI and first start). */
  actorId?: string | null;
  hasher?: PasswordHasher;
}

/** Creates an operator in a workspace; generates a password when none is given and returns it. */
export async function createOperator(db: Db, input: CreateOperatorInput): Promise<{ id: string; email: string; password: string }> {
  const email = input.email.trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > MAX_EMAIL_LENGTH) throw new AccountError("invalid_email", `"${input.email.slice(0, 300)}" is not an email address`, "email");
  const password = input.password ?? generatePassword();
  const problem = passwordProblem(password);
  if (problem) throw new AccountError("weak_password", problem, "password");
  const [taken] = await db.select({ id: operators.id }).from(operators).where(eq(operators.email, email)).limit(1);
  if (taken) throw new AccountError("email_taken", `an operator with email ${email} already exists`, "email");
  const passwordHash = await hashPassword(password, input.hasher);
  const mustChangePassword = input.mustChangePassword ?? input.password === undefined;
  const id = await db.transaction(async (tx) => {
    const [row] = await tx
      .insert(operators)
      .values({ email, name: input.name?.trim() || email.split("@")[0], passwordHash, mustChangePassword })
      .returning({ id: operators.id });
    await tx.insert(workspaceMembers).values({ workspaceId: input.workspaceId, operatorId: row.id, role: input.role });
    await tx.insert(auditLog).values({
      workspaceId: input.workspaceId,
      operatorId: input.actorId ?? null,
      action: "operator.created",
      target: email,
      details: { role: input.role, oneTimePassword: mustChangePassword },
    });
    return row.id;
  });
  return { id, email, password };
}

/** One audit-log row (the db layer writes it, so the engines record theirs the same way). */
export const recordAudit: (db: Db | Tx, entry: AuditEntry) => Promise<void> = insertAuditEntry;

// ---------------------------------------------------------------------------------------------
// Signing in, with every failure and lock in the audit log.

export interface AccountServices {
  db: Db;
  now(): Date;
  hasher?: PasswordHasher;
}

/**
 * `login` plus the audit trail: each failed attempt, each lock that starts and each refused
 * deactivated account is recorded (in the account's workspace, or the first one for unknown emails).
 * Attempts refused while a lock holds are not recorded one by one, so a flood cannot fill the log.
 */
export async function signIn(
  services: AccountServices,
  input: { email: string; password: string; address?: string; ttlHours: number },
): Promise<LoginResult> {
  const now = services.now();
  const result = await login(services.db, { ...input, now, hasher: services.hasher });
  const email = input.email.trim().toLowerCase();
  const address = input.address ?? null;
  if (result.ok) {
    await recordAudit(services.db, { workspaceId: result.session.workspaceId, operatorId: result.session.operatorId, action: "login.succeeded", target: email, details: { address } });
    return result;
  }
  if (result.reason === "invalid" || result.reason === "deactivated") {
    const workspaceId = result.workspaceId ?? (await firstWorkspaceId(services.db));
    if (!workspaceId) return result;
    if (result.reason === "deactivated") {
      await recordAudit(services.db, { workspaceId, operatorId: result.operatorId, action: "login.deactivated", target: email, details: { address } });
      return result;
    }
    await recordAudit(services.db, { workspaceId, operatorId: result.operatorId, action: "login.failed", target: email, details: { address, knownAccount: result.operatorId !== null } });
    if (result.lock) {
      await recordAudit(services.db, {
        workspaceId,
        operatorId: result.operatorId,
        action: "login.locked",
        target: result.lock.scope === "account" ? email : (address ?? email),
        details: { scope: result.lock.scope, until: result.lock.until.toISOString(), seconds: result.lock.retryAfterSeconds, address },
      });
    }
  }
  return result;
}

async function firstWorkspaceId(db: Db): Promise<string | null> {
  const [row] = await db.select({ id: workspaces.id }).from(workspaces).orderBy(workspaces.createdAt).limit(1);
  return row?.id ?? null;
}

// ---------------------------------------------------------------------------------------------
// My account

export interface Actor {
  operatorId: string;
  workspaceId: string;
}

export async function accountOf(db: Db, actor: Actor, now: Date) {
  const [row] = await db
    .select({
      id: operators.id,
      email: operators.email,
      name: operators.name,
      role: workspaceMembers.role,
      mustChangePassword: operators.mustChangePassword,
      passwordChangedAt: operators.passwordChangedAt,
      createdAt: operators.createdAt,
    })
    .from(operators)
    .innerJoin(workspaceMembers, and(eq(workspaceMembers.operatorId, operators.id), eq(workspaceMembers.workspaceId, actor.workspaceId)))
    .where(eq(operators.id, actor.operatorId));
  if (!row) throw new AccountError("not_found", "No such operator in this workspace.");
  const [open] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(sessions)
    .where(and(eq(sessions.operatorId, actor.operatorId), gt(sessions.expiresAt, now)));
  return { ...row, openSessions: open.n };
}

/**
 * Changes one's own password after checking the current one (throttled like a sign-in, since it
 * is one). Every other session of the operator ends; the one in use (`keepSessionId`) stays.
 */
export async function changeOwnPassword(
  services: AccountServices,
  actor: Actor,
  input: { currentPassword: string; newPassword: string; keepSessionId?: string },
): Promise<{ endedSessions: number }> {
  const { db } = services;
  const now = services.now();
  const [me] = await db
    .select({ email: operators.email, passwordHash: operators.passwordHash })
    .from(operators)
    .where(eq(operators.id, actor.operatorId));
  if (!me) throw new AccountError("not_found", "No such operator.");
  const key = accountKey(me.email);
  const lock = await activeLock(db, [{ scope: "account", key }], now);
  if (lock) {
    throw new AccountError("locked", `Too many wrong passwords. Try again in ${lock.retryAfterSeconds} s.`, "currentPassword", lock.retryAfterSeconds);
  }
  const problem = passwordProblem(input.newPassword, me.email);
  if (problem) throw new AccountError("weak_password", problem, "newPassword");
  if (input.newPassword === input.currentPassword) throw new AccountError("same_password", "Choose a password different from the current one.", "newPassword");
  const right = await guardBusy(() => verifyPassword(me.passwordHash, input.currentPassword.slice(0, MAX_PASSWORD_LENGTH + 1), services.hasher));
  if (!right) {
    const { lock: set } = await recordFailure(db, "account", key, now);
    await recordAudit(db, { workspaceId: actor.workspaceId, operatorId: actor.operatorId, action: "operator.password_change_failed", target: me.email });
    if (set) await recordAudit(db, { workspaceId: actor.workspaceId, operatorId: actor.operatorId, action: "login.locked", target: me.email, details: { scope: "account", until: set.until.toISOString(), seconds: set.retryAfterSeconds } });
    throw new AccountError("wrong_password", "The current password is not correct.", "currentPassword");
  }
  const passwordHash = await guardBusy(() => hashPassword(input.newPassword, services.hasher));
  const endedSessions = await db.transaction(async (tx) => {
    await tx.update(operators).set({ passwordHash, mustChangePassword: false, passwordChangedAt: now }).where(eq(operators.id, actor.operatorId));
    const ended = await endSessions(tx, actor.operatorId, input.keepSessionId);
    await recordAudit(tx, { workspaceId: actor.workspaceId, operatorId: actor.operatorId, action: "operator.password_changed", target: me.email, details: { endedSessions: ended } });
    return ended;
  });
  await clearThrottle(db, key);
  return { endedSessions };
}

/** "Sign out everywhere": every session of the operator ends, the one in use too. */
export async function signOutEverywhere(db: Db, actor: Actor): Promise<{ endedSessions: number }> {
  const ended = await endSessions(db, actor.operatorId);
  await recordAudit(db, { workspaceId: actor.workspaceId, operatorId: actor.operatorId, action: "operator.signed_out_everywhere", details: { endedSessions: ended } });
  return { endedSessions: ended };
}

async function guardBusy<T>(task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (error) {
    if (error instanceof PasswordHashBusyError) throw new AccountError("busy", error.message, undefined, error.retryAfterSeconds);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Team (admins)

export async function listTeam(db: Db, workspaceId: string) {
  const lastSignIn = db
    .select({ operatorId: sessions.operatorId, at: max(sessions.createdAt).as("last_sign_in") })
    .from(sessions)
    .groupBy(sessions.operatorId)
    .as("last_sign_in");
  return db
    .select({
      id: operators.id,
      email: operators.email,
      name: operators.name,
      role: workspaceMembers.role,
      deactivatedAt: operators.disabledAt,
      mustChangePassword: operators.mustChangePassword,
      createdAt: operators.createdAt,
      lastSignInAt: lastSignIn.at,
    })
    .from(workspaceMembers)
    .innerJoin(operators, eq(operators.id, workspaceMembers.operatorId))
    .leftJoin(lastSignIn, eq(lastSignIn.operatorId, operators.id))
    .where(eq(workspaceMembers.workspaceId, workspaceId))
    .orderBy(asc(operators.createdAt));
}

/**
 * Runs a team change with the workspace row locked, so two admins demoting each other at once
 * cannot both pass the last-admin check. Returns the target as it was before the change.
 */
async function withTarget<T>(
  db: Db,
  actor: Actor,
  operatorId: string,
  change: (tx: Tx, target: { email: string; role: Role; deactivatedAt: Date | null; otherActiveAdmins: number }) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select id from ${workspaces} where ${workspaces.id} = ${actor.workspaceId} for update`);
    const [target] = await tx
      .select({ email: operators.email, role: workspaceMembers.role, deactivatedAt: operators.disabledAt })
      .from(workspaceMembers)
      .innerJoin(operators, eq(operators.id, workspaceMembers.operatorId))
      .where(and(eq(workspaceMembers.workspaceId, actor.workspaceId), eq(workspaceMembers.operatorId, operatorId)));
    if (!target) throw new AccountError("not_found", "No operator with that id in this workspace.", "operatorId");
    const [admins] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(workspaceMembers)
      .innerJoin(operators, eq(operators.id, workspaceMembers.operatorId))
      .where(and(eq(workspaceMembers.workspaceId, actor.workspaceId), eq(workspaceMembers.role, "admin"), isNull(operators.disabledAt), ne(operators.id, operatorId)));
    return change(tx, { ...target, otherActiveAdmins: admins.n });
  });
}

export async function changeRole(db: Db, actor: Actor, operatorId: string, role: Role): Promise<{ changed: boolean }> {
  return withTarget(db, actor, operatorId, async (tx, target) => {
    if (target.role === role) return { changed: false };
    if (target.role === "admin" && !target.deactivatedAt && target.otherActiveAdmins === 0) {
      throw new AccountError(
        "last_admin",
        operatorId === actor.operatorId
          ? "You are the only active admin: make someone else an admin before changing your own role."
          : "This is the only active admin: make someone else an admin first.",
        "role",
      );
    }
    await tx.update(workspaceMembers).set({ role }).where(and(eq(workspaceMembers.workspaceId, actor.workspaceId), eq(workspaceMembers.operatorId, operatorId)));
    await recordAudit(tx, { workspaceId: actor.workspaceId, operatorId: actor.operatorId, action: "operator.role_changed", target: target.email, details: { from: target.role, to: role } });
    return { changed: true };
  });
}

/** Deactivating ends every session of the operator at once; reactivating lets them sign in again. */
export async function setActive(db: Db, actor: Actor, operatorId: string, active: boolean, now: Date): Promise<{ changed: boolean; endedSessions: number }> {
  return withTarget(db, actor, operatorId, async (tx, target) => {
    if (active === !target.deactivatedAt) return { changed: false, endedSessions: 0 };
    if (!active) {
      if (operatorId === actor.operatorId) throw new AccountError("self", "You cannot deactivate yourself; ask another admin.", "operatorId");
      if (target.role === "admin" && target.otherActiveAdmins === 0) throw new AccountError("last_admin", "This is the only active admin: make someone else an admin first.", "operatorId");
    }
    await tx.update(operators).set({ disabledAt: active ? null : now }).where(eq(operators.id, operatorId));
    const ended = active ? 0 : await endSessions(tx, operatorId);
    await recordAudit(tx, {
      workspaceId: actor.workspaceId,
      operatorId: actor.operatorId,
      action: active ? "operator.reactivated" : "operator.deactivated",
      target: target.email,
      details: active ? {} : { endedSessions: ended },
    });
    return { changed: true, endedSessions: ended };
  });
}

/**
 * An admin gives someone a new one-time password: their sessions end, any sign-in lock on the
 * account is lifted, and the next sign-in must choose a new password.
 */
export async function resetPassword(services: AccountServices, actor: Actor, operatorId: string): Promise<{ email: string; password: string; endedSessions: number }> {
  const password = generatePassword();
  const passwordHash = await guardBusy(() => hashPassword(password, services.hasher));
  const result = await withTarget(services.db, actor, operatorId, async (tx, target) => {
    await tx.update(operators).set({ passwordHash, mustChangePassword: true, passwordChangedAt: services.now() }).where(eq(operators.id, operatorId));
    const ended = await endSessions(tx, operatorId);
    await recordAudit(tx, { workspaceId: actor.workspaceId, operatorId: actor.operatorId, action: "operator.password_reset", target: target.email, details: { endedSessions: ended } });
    return { email: target.email, endedSessions: ended };
  });
  await clearThrottle(services.db, accountKey(result.email));
  return { ...result, password };
}

/** An admin signs someone out of every device (e.g. a lost laptop) without changing anything else. */
export async function endSessionsOf(db: Db, actor: Actor, operatorId: string): Promise<{ endedSessions: number }> {
  return withTarget(db, actor, operatorId, async (tx, target) => {
    const ended = await endSessions(tx, operatorId);
    await recordAudit(tx, { workspaceId: actor.workspaceId, operatorId: actor.operatorId, action: "operator.sessions_ended", target: target.email, details: { endedSessions: ended } });
    return { endedSessions: ended };
  });
}

/**
 * For the CLI: a new one-time password by email, in whichever workspaces the operator belongs to
 * (audited in the first). Sessions end and sign-in locks are lifted.
 */
export async function resetPasswordByEmail(db: Db, email: string, now: Date, password = generatePassword()): Promise<{ email: string; password: string; endedSessions: number }> {
  const normalised = email.trim().toLowerCase();
  const problem = passwordProblem(password, normalised);
  if (problem) throw new AccountError("weak_password", problem, "password");
  const [operator] = await db.select({ id: operators.id }).from(operators).where(eq(operators.email, normalised));
  if (!operator) throw new AccountError("not_found", `no operator with email ${normalised}`, "email");
  const passwordHash = await hashPassword(password);
  const [membership] = await db
    .select({ workspaceId: workspaceMembers.workspaceId })
    .from(workspaceMembers)
    .where(eq(workspaceMembers.operatorId, operator.id))
    .orderBy(workspaceMembers.createdAt)
    .limit(1);
  const ended = await db.transaction(async (tx) => {
    await tx.update(operators).set({ passwordHash, mustChangePassword: true, passwordChangedAt: now }).where(eq(operators.id, operator.id));
    const n = await endSessions(tx, operator.id);
    if (membership) await recordAudit(tx, { workspaceId: membership.workspaceId, action: "operator.password_reset", target: normalised, details: { endedSessions: n, by: "cli" } });
    return n;
  });
  await clearThrottle(db, accountKey(normalised));
  return { email: normalised, password, endedSessions: ended };
}
