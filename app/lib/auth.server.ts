import { createHash, randomBytes } from "node:crypto";
import { hash as argon2Hash, verify as argon2Verify } from "@node-rs/argon2";
import ipaddr from "ipaddr.js";
import pLimit from "p-limit";
import { and, eq, gt, isNull, lt, ne, or, sql } from "drizzle-orm";
import type { Db, Tx } from "../../db/client";
import { apiKeys, loginThrottles, operators, sessions, workspaceMembers, type ApiKeyKind, type Role } from "../../db/schema";

export const SESSION_COOKIE = "waypost_session";

export const MAX_EMAIL_LENGTH = 254;

/** Longest password accepted: argon2 hashes any length, so a megabyte "password" would be free CPU for an attacker. */
export const MAX_PASSWORD_LENGTH = 256;

/** Argon2id with OWASP's recommended minimums (19 MiB, 2 passes). */
const ARGON2 = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Too many password hashes are already running or waiting: answer 503 with this Retry-After. */
export class PasswordHashBusyError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many sign-ins are being checked right now; try again in ${retryAfterSeconds} s.`);
    this.name = "PasswordHashBusyError";
  }
}

/**
 * Every argon2 call goes through one of these: at most `concurrency` hashes at once (each holds
 * 19 MiB and a CPU core) and at most `maxQueue` waiting; the next one is refused at once with an
 * estimate of when there will be room (decision 0721).
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** Runs any task under the same bound (tests hold a slot with it). */
  run<T>(task: () => Promise<T>): Promise<T>;
  readonly active: number;
  readonly queued: number;
  readonly concurrency: number;
  readonly maxQueue: number;
}

export function createPasswordHasher(options: { concurrency: number; maxQueue: number }): PasswordHasher {
  const limit = pLimit(options.concurrency);
  // Running mean of one hash's duration, for an honest Retry-After; starts at a typical argon2 cost.
  let averageMs = 80;
  const run = <T>(task: () => Promise<T>): Promise<T> => {
    if (limit.activeCount + limit.pendingCount >= options.concurrency + options.maxQueue) {
      const waves = Math.ceil((limit.pendingCount + 1) / options.concurrency) + 1;
      return Promise.reject(new PasswordHashBusyError(Math.max(1, Math.ceil((waves * averageMs) / 1000))));
    }
    return limit(task);
  };
  const timed = async <T>(task: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await task();
    } finally {
      averageMs = averageMs * 0.8 + (performance.now() - started) * 0.2;
    }
  };
  return {
    hash: (password) => run(() => timed(() => argon2Hash(password, ARGON2))),
    verify: (hash, password) => run(() => timed(() => argon2Verify(hash, password).catch(() => false))),
    run,
    get active() {
      return limit.activeCount;
    },
    get queued() {
      return limit.pendingCount;
    },
    concurrency: options.concurrency,
    maxQueue: options.maxQueue,
  };
}

/** For callers without services (the CLI): one per process with the default bound. */
const processHasher = createPasswordHasher({ concurrency: 2, maxQueue: 32 });

/** The server's hasher lives on its services, so the Remix bundle and the CLI's modules share one bound. */
export function passwordsOf(services: {
  passwords?: PasswordHasher;
  config: { WAYPOST_PASSWORD_HASH_CONCURRENCY?: number; WAYPOST_PASSWORD_HASH_QUEUE?: number };
}): PasswordHasher {
  services.passwords ??= createPasswordHasher({
    concurrency: services.config.WAYPOST_PASSWORD_HASH_CONCURRENCY ?? 2,
    maxQueue: services.config.WAYPOST_PASSWORD_HASH_QUEUE ?? 32,
  });
  return services.passwords;
}

export function hashPassword(password: string, hasher: PasswordHasher = processHasher): Promise<string> {
  return hasher.hash(password);
}

export function verifyPassword(hash: string, password: string, hasher: PasswordHasher = processHasher): Promise<boolean> {
  return hasher.verify(hash, password);
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
  /** A printed or handed-over password is still in use: only the password change is open (decision 0724). */
  mustChangePassword?: boolean;
  /** The stored hash of this session's token: names the session to keep when the others end. */
  sessionId?: string;
}

/** tRPC procedures open to an operator who must still replace a printed password (decision 0724). */
export const OPEN_BEFORE_PASSWORD_CHANGE: ReadonlySet<string> = new Set(["accounts.me", "accounts.changePassword", "accounts.signOutEverywhere", "settings.me"]);

// ---------------------------------------------------------------------------------------------
// Sign-in throttling (decision 0720): failures counted per account and per client address in the
// database; past a threshold each further failure locks the key for twice as long as the last.

export interface ThrottlePolicy {
  /** Failures (within `forgetAfterSeconds` of each other) before the first lock. */
  threshold: number;
  baseLockSeconds: number;
  maxLockSeconds: number;
  /** A key whose last failure is older than this starts again from zero. */
  forgetAfterSeconds: number;
}

export const THROTTLE = {
  account: { threshold: 5, baseLockSeconds: 60, maxLockSeconds: 3_600, forgetAfterSeconds: 86_400 },
  // Higher threshold: a whole office may sign in from one address.
  address: { threshold: 20, baseLockSeconds: 60, maxLockSeconds: 3_600, forgetAfterSeconds: 3_600 },
} as const satisfies Record<string, ThrottlePolicy>;

export type ThrottleScope = keyof typeof THROTTLE;

/** 1 min at the threshold, then 2, 4, 8 … up to the cap. */
export function lockSeconds(policy: ThrottlePolicy, failures: number): number {
  if (failures < policy.threshold) return 0;
  return Math.min(policy.maxLockSeconds, policy.baseLockSeconds * 2 ** Math.min(30, failures - policy.threshold));
}

export function accountKey(email: string): string {
  return `account:${email.trim().toLowerCase()}`;
}

/** IPv6 clients are counted per /64: one host usually owns the whole prefix and can rotate inside it. */
export function addressKey(address: string): string {
  if (!ipaddr.isValid(address)) return `ip:${address}`;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  if (parsed.kind() === "ipv4") return `ip:${parsed.toString()}`;
  const prefix = (parsed as ipaddr.IPv6).toByteArray().slice(0, 8);
  return `ip:${ipaddr.fromByteArray([...prefix, 0, 0, 0, 0, 0, 0, 0, 0]).toString()}/64`;
}

export interface Lock {
  scope: ThrottleScope;
  until: Date;
  retryAfterSeconds: number;
}

/** The longest lock in force on any of the keys, or null. */
export async function activeLock(db: Db, keys: { scope: ThrottleScope; key: string }[], now: Date): Promise<Lock | null> {
  if (keys.length === 0) return null;
  const rows = await db
    .select({ key: loginThrottles.key, lockedUntil: loginThrottles.lockedUntil })
    .from(loginThrottles)
    .where(and(or(...keys.map((k) => eq(loginThrottles.key, k.key))), gt(loginThrottles.lockedUntil, now)));
  let lock: Lock | null = null;
  for (const row of rows) {
    const scope = keys.find((k) => k.key === row.key)!.scope;
    const until = row.lockedUntil!;
    if (!lock || until > lock.until) lock = { scope, until, retryAfterSeconds: Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000)) };
  }
  return lock;
}

/**
 * Counts one failure on a key in a single atomic upsert, then sets its lock when the count has
 * reached the threshold. Returns the lock it set, if any.
 */
export async function recordFailure(db: Db, scope: ThrottleScope, key: string, now: Date): Promise<{ failures: number; lock: Lock | null }> {
  const policy: ThrottlePolicy = THROTTLE[scope];
  const forgetBefore = new Date(now.getTime() - policy.forgetAfterSeconds * 1000);
  const [row] = await db
    .insert(loginThrottles)
    .values({ key, failures: 1, lastFailureAt: now })
    .onConflictDoUpdate({
      target: loginThrottles.key,
      set: {
        failures: sql`case when ${loginThrottles.lastFailureAt} < ${forgetBefore.toISOString()}::timestamptz then 1 else ${loginThrottles.failures} + 1 end`,
        lastFailureAt: now,
      },
    })
    .returning({ failures: loginThrottles.failures });
  const seconds = lockSeconds(policy, row.failures);
  if (seconds === 0) return { failures: row.failures, lock: null };
  const until = new Date(now.getTime() + seconds * 1000);
  await db
    .update(loginThrottles)
    .set({ lockedUntil: sql`greatest(${loginThrottles.lockedUntil}, ${until.toISOString()}::timestamptz)` })
    .where(eq(loginThrottles.key, key));
  // Forgotten keys are removed now and then (when a lock starts), so a flood of names leaves no lasting rows.
  await db
    .delete(loginThrottles)
    .where(and(lt(loginThrottles.lastFailureAt, new Date(now.getTime() - 86_400_000)), or(isNull(loginThrottles.lockedUntil), lt(loginThrottles.lockedUntil, now))));
  return { failures: row.failures, lock: { scope, until, retryAfterSeconds: seconds } };
}

export async function clearThrottle(db: Db, key: string): Promise<void> {
  await db.delete(loginThrottles).where(eq(loginThrottles.key, key));
}

// ---------------------------------------------------------------------------------------------

export type LoginResult =
  | { ok: true; token: string; expiresAt: Date; session: SessionInfo }
  | { ok: false; reason: "invalid"; operatorId: string | null; workspaceId: string | null; lock: Lock | null }
  | { ok: false; reason: "deactivated"; operatorId: string; workspaceId: string | null }
  | { ok: false; reason: "locked"; lock: Lock }
  | { ok: false; reason: "busy"; retryAfterSeconds: number };

export interface LoginInput {
  email: string;
  password: string;
  /** The client's address as seen by the server (see clientAddress in session.server.ts); absent in tests and the CLI. */
  address?: string;
  ttlHours: number;
  now: Date;
  hasher?: PasswordHasher;
}

/** Attempts for one account run one after another in this process, so a burst cannot slip past the count. */
const inFlight = new Map<string, Promise<unknown>>();

function oneAtATime<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = inFlight.get(key) ?? Promise.resolve();
  const next = previous.then(task, task);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  inFlight.set(key, settled);
  void settled.then(() => {
    if (inFlight.get(key) === settled) inFlight.delete(key);
  });
  return next;
}

/**
 * Checks email + password and opens a session in the operator's first workspace. A lock on the
 * account or the address refuses before any hash is computed; a busy hasher refuses with a wait.
 */
export function login(db: Db, input: LoginInput): Promise<LoginResult> {
  const email = input.email.trim().toLowerCase();
  return oneAtATime(accountKey(email), () => attemptLogin(db, { ...input, email }));
}

async function attemptLogin(db: Db, input: LoginInput): Promise<LoginResult> {
  const { email, now } = input;
  const keys: { scope: ThrottleScope; key: string }[] = [];
  // No account has a longer email (RFC 5321), so a longer one is counted against the address only
  // and never becomes a stored key.
  if (email.length <= MAX_EMAIL_LENGTH) keys.push({ scope: "account", key: accountKey(email) });
  if (input.address) keys.push({ scope: "address", key: addressKey(input.address) });
  const lock = await activeLock(db, keys, now);
  if (lock) return { ok: false, reason: "locked", lock };

  const [operator] =
    email.length <= MAX_EMAIL_LENGTH
      ? await db
          .select({ id: operators.id, passwordHash: operators.passwordHash, disabledAt: operators.disabledAt })
          .from(operators)
          .where(eq(operators.email, email))
          .limit(1)
      : [];
  let ok = false;
  // An over-long password cannot be right (none can be set), so it costs no hash.
  if (input.password.length <= MAX_PASSWORD_LENGTH) {
    try {
      // Verify against a dummy hash when the account is unknown so timing does not reveal which emails exist.
      ok = await verifyPassword(operator?.passwordHash ?? DUMMY_HASH, input.password, input.hasher);
    } catch (error) {
      if (error instanceof PasswordHashBusyError) return { ok: false, reason: "busy", retryAfterSeconds: error.retryAfterSeconds };
      throw error;
    }
  }
  const [membership] = operator
    ? await db
        .select({ workspaceId: workspaceMembers.workspaceId })
        .from(workspaceMembers)
        .where(eq(workspaceMembers.operatorId, operator.id))
        .orderBy(workspaceMembers.createdAt)
        .limit(1)
    : [];
  // Deactivation is told only to someone who knows the password.
  if (operator && ok && (operator.disabledAt || !membership)) return { ok: false, reason: "deactivated", operatorId: operator.id, workspaceId: membership?.workspaceId ?? null };
  if (!operator || !ok || !membership) {
    let newLock: Lock | null = null;
    for (const { scope, key } of keys) {
      const { lock: set } = await recordFailure(db, scope, key, now);
      if (set && (!newLock || set.until > newLock.until)) newLock = set;
    }
    return { ok: false, reason: "invalid", operatorId: operator?.id ?? null, workspaceId: membership?.workspaceId ?? null, lock: newLock };
  }
  await clearThrottle(db, accountKey(email));
  const opened = await openSession(db, { operatorId: operator.id, workspaceId: membership.workspaceId, ttlHours: input.ttlHours, now });
  const session = await readSession(db, opened.token, now);
  if (!session) return { ok: false, reason: "invalid", operatorId: operator.id, workspaceId: membership.workspaceId, lock: null };
  return { ok: true, token: opened.token, expiresAt: opened.expiresAt, session };
}

export async function openSession(db: Db, input: { operatorId: string; workspaceId: string; ttlHours: number; now: Date }): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString("base64url");
  const expiresAt = new Date(input.now.getTime() + input.ttlHours * 3_600_000);
  await db.insert(sessions).values({ tokenHash: sha256(token), operatorId: input.operatorId, workspaceId: input.workspaceId, createdAt: input.now, expiresAt });
  return { token, expiresAt };
}

const DUMMY_HASH =
  "$argon2id$v=19$m=19456,t=2,p=1$N4p95jlni+4vYlMZ0UwOZA$moAxMA38eDVPn5UgEZyobVEDG9JjTbQes5BzyBTTuGg";

/**
 * Resolves a session token to its operator and role; expired or unknown tokens and deactivated
 * operators give null. Read on every request, so a role change applies to the next one.
 */
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
      mustChangePassword: operators.mustChangePassword,
      sessionId: sessions.tokenHash,
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

/** Ends every session of an operator, or every one but `keepSessionId` (the one in use). Returns how many ended. */
export async function endSessions(db: Db | Tx, operatorId: string, keepSessionId?: string): Promise<number> {
  const ended = await db
    .delete(sessions)
    .where(and(eq(sessions.operatorId, operatorId), keepSessionId ? ne(sessions.tokenHash, keepSessionId) : undefined))
    .returning({ tokenHash: sessions.tokenHash });
  return ended.length;
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
