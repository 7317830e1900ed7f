import { createHash, randomBytes } from "node:crypto";
import { hash as argon2Hash, verify as argon2Verify } from "@node-rs/argon2";
import { and, eq, gt, isNull } from "drizzle-orm";
import type { Db } from "../../db/client";
import { apiKeys, operators, sessions, workspaceMembers, type ApiKeyKind, type Role } from "../../db/schema";

export const SESSION_COOKIE = "waypost_session";

/** Argon2id with OWASP's recommended minimums (19 MiB, 2 passes). */
export function hashPassword(password: string): Promise<string> {
  return argon2Hash(password, { memoryCost: 19_456, timeCost: 2, parallelism: 1 });
}

export function verifyPassword(hash: string, password: string): Promise<boolean> {
  return argon2Verify(hash, password).catch(() => false);
}

/** Session tokens and API keys carry 256 random bits, so a fast hash is enough to store them. */
export function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

export function generatePassword(): string {
  return randomBytes(12).toString("base64url");
}

export interface SessionInfo {
  operatorId: string;
  workspaceId: string;
  email: string;
  name: string;
  role: Role;
  locale: string | null;
}

export type LoginResult = { ok: true; token: string; expiresAt: Date; session: SessionInfo } | { ok: false };

/** Checks email + password and opens a session in the operator's first workspace. */
export async function login(db: Db, email: string, password: string, ttlHours: number, now = new Date()): Promise<LoginResult> {
  const [operator] = await db
    .select({ id: operators.id, passwordHash: operators.passwordHash, disabledAt: operators.disabledAt })
    .from(operators)
    .where(eq(operators.email, email.trim().toLowerCase()))
    .limit(1);
  // Verify against a dummy hash when the account is unknown so timing does not reveal which emails exist.
  const ok = await verifyPassword(operator?.passwordHash ?? DUMMY_HASH, password);
  if (!operator || !ok || operator.disabledAt) return { ok: false };
  const [membership] = await db
    .select({ workspaceId: workspaceMembers.workspaceId })
    .from(workspaceMembers)
    .where(eq(workspaceMembers.operatorId, operator.id))
    .orderBy(workspaceMembers.createdAt)
    .limit(1);
  if (!membership) return { ok: false };
  const token = randomBytes(32).toString("base64url");
  const expiresAt = new Date(now.getTime() + ttlHours * 3_600_000);
  await db.insert(sessions).values({ tokenHash: sha256(token), operatorId: operator.id, workspaceId: membership.workspaceId, expiresAt });
  const session = await readSession(db, token, now);
  if (!session) return { ok: false };
  return { ok: true, token, expiresAt, session };
}

const DUMMY_HASH =
  "$argon2id$v=19$m=19456,t=2,p=1$N4p95jlni+4vYlMZ0UwOZA$moAxMA38eDVPn5UgEZyobVEDG9JjTbQes5BzyBTTuGg";

/** Resolves a session token to its operator and role; expired or unknown tokens give null. */
export async function readSession(db: Db, token: string | undefined, now = new Date()): Promise<SessionInfo | null> {
  if (!token) return null;
  const [row] = await db
    .select({
      operatorId: operators.id,
      workspaceId: sessions.workspaceId,
      email: operators.email,
      name: operators.name,
      locale: operators.locale,
      role: workspaceMembers.role,
    })
    .from(sessions)
    .innerJoin(operators, eq(operators.id, sessions.operatorId))
    .innerJoin(
      workspaceMembers,
      and(eq(workspaceMembers.operatorId, sessions.operatorId), eq(workspaceMembers.workspaceId, sessions.workspaceId)),
    )
    .where(and(eq(sessions.tokenHash, sha256(token)), gt(sessions.expiresAt, now), isNull(operators.disabledAt)))
    .limit(1);
  return row ?? null;
}

export async function logout(db: Db, token: string | undefined): Promise<void> {
  if (token) await db.delete(sessions).where(eq(sessions.tokenHash, sha256(token)));
}

export interface CreatedApiKey {
  id: string;
  kind: ApiKeyKind;
  name: string;
  prefix: string;
  /** The full key. Returned once, never stored. */
  key: string;
}

export async function createApiKey(
  db: Db,
  input: { workspaceId: string; kind: ApiKeyKind; name: string; createdBy?: string | null },
): Promise<CreatedApiKey> {
  const key = `wp_${input.kind}_${randomBytes(32).toString("base64url")}`;
  const prefix = key.slice(0, input.kind.length + 8);
  const [row] = await db
    .insert(apiKeys)
    .values({ workspaceId: input.workspaceId, kind: input.kind, name: input.name, prefix, keyHash: sha256(key), createdBy: input.createdBy ?? null })
    .returning({ id: apiKeys.id });
  return { id: row.id, kind: input.kind, name: input.name, prefix, key };
}

/** Returns the workspace of a live key of the given kind, or null. */
export async function verifyApiKey(db: Db, key: string, kind: ApiKeyKind): Promise<{ workspaceId: string; keyId: string } | null> {
  if (!key.startsWith(`wp_${kind}_`)) return null;
  const [row] = await db
    .select({ workspaceId: apiKeys.workspaceId, keyId: apiKeys.id })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, sha256(key)), eq(apiKeys.kind, kind), isNull(apiKeys.revokedAt)))
    .limit(1);
  return row ?? null;
}
