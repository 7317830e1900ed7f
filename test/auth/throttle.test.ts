import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOperator, ensureDefaultWorkspace, signIn } from "../../app/lib/accounts.server";
import { addressKey, createPasswordHasher, lockSeconds, PasswordHashBusyError, THROTTLE } from "../../app/lib/auth.server";
import { auditLog, loginThrottles } from "../../db/schema";
import { createTestDb, type TestDb } from "../support/db";

const MINUTE = 60_000;

/**
 * Sign-in throttling on the real database (PostgreSQL with DATABASE_URL, else PGlite), with the
 * clock injected: no test waits for a lock to run out, it moves the clock past it.
 */
describe("sign-in throttling", () => {
  let database: TestDb;
  let workspaceId: string;
  let clock = Date.parse("2026-03-02T09:00:00Z");
  const hasher = createPasswordHasher({ concurrency: 2, maxQueue: 64 });
  const services = () => ({ db: database.db, now: () => new Date(clock), hasher });
  const attempt = (email: string, password: string, address = "203.0.113.7") => signIn(services(), { email, password, address, ttlHours: 1 });

  beforeAll(async () => {
    database = await createTestDb();
    workspaceId = (await ensureDefaultWorkspace(database.db)).id;
    await createOperator(database.db, { workspaceId, email: "lin@example.com", role: "marketer", password: "right-password-1" });
    await createOperator(database.db, { workspaceId, email: "wang@example.com", role: "developer", password: "right-password-2" });
  });
  afterAll(() => database?.drop());

  it("locks an account after 5 failures, refuses even the right password while locked, says when, and lets it in afterwards", async () => {
    for (let i = 1; i <= 4; i++) expect(await attempt("lin@example.com", `wrong-${i}`)).toMatchObject({ ok: false, reason: "invalid", lock: null });
    const fifth = await attempt("lin@example.com", "wrong-5");
    expect(fifth).toMatchObject({ ok: false, reason: "invalid", lock: { scope: "account", retryAfterSeconds: 60 } });

    const locked = await attempt("lin@example.com", "right-password-1");
    expect(locked).toMatchObject({ ok: false, reason: "locked", lock: { scope: "account", retryAfterSeconds: 60 } });
    clock += 30_000;
    expect(await attempt("LIN@example.com ", "right-password-1")).toMatchObject({ ok: false, reason: "locked", lock: { retryAfterSeconds: 30 } });

    // Another account from the same address is not affected by this account's lock.
    expect(await attempt("wang@example.com", "right-password-2")).toMatchObject({ ok: true });

    clock += 31_000;
    const later = await attempt("lin@example.com", "right-password-1");
    expect(later.ok).toBe(true);
  });

  it("doubles the lock with each failure past the threshold, and a success starts the count again", async () => {
    const email = "wang@example.com";
    for (let i = 0; i < 5; i++) await attempt(email, "nope-nope");
    clock += 1 * MINUTE;
    expect(await attempt(email, "nope-nope")).toMatchObject({ reason: "invalid", lock: { retryAfterSeconds: 120 } });
    clock += 2 * MINUTE;
    expect(await attempt(email, "nope-nope")).toMatchObject({ reason: "invalid", lock: { retryAfterSeconds: 240 } });
    clock += 4 * MINUTE;
    expect((await attempt(email, "right-password-2")).ok).toBe(true);
    // Counted from zero again: four failures do not lock.
    for (let i = 0; i < 4; i++) expect(await attempt(email, "nope-nope")).toMatchObject({ reason: "invalid", lock: null });
    expect((await attempt(email, "right-password-2")).ok).toBe(true);
    expect([5, 6, 7, 11, 20].map((n) => lockSeconds(THROTTLE.account, n))).toEqual([60, 120, 240, 3_600, 3_600]);
  });

  it("locks a client address after 20 failures across any accounts; other addresses still sign in", async () => {
    const address = "198.51.100.23";
    for (let i = 0; i < 19; i++) {
      const result = await attempt(`guess-${i}@example.com`, "password1", address);
      expect(result).toMatchObject({ reason: "invalid", lock: null });
    }
    expect(await attempt("guess-19@example.com", "password1", address)).toMatchObject({ reason: "invalid", lock: { scope: "address", retryAfterSeconds: 60 } });
    expect(await attempt("lin@example.com", "right-password-1", address)).toMatchObject({ reason: "locked", lock: { scope: "address" } });
    expect((await attempt("lin@example.com", "right-password-1", "198.51.100.24")).ok).toBe(true);
    clock += 1 * MINUTE;
    expect((await attempt("lin@example.com", "right-password-1", address)).ok).toBe(true);
  });

  it("a sign-in refused for a busy hasher is not counted as a failure", async () => {
    const busy = createPasswordHasher({ concurrency: 1, maxQueue: 0 });
    let release!: () => void;
    const holding = busy.run(() => new Promise<void>((resolve) => (release = resolve)));
    const held = { db: database.db, now: () => new Date(clock), hasher: busy };
    for (let i = 0; i < 6; i++) {
      expect(await signIn(held, { email: "wang@example.com", password: "right-password-2", ttlHours: 1 })).toMatchObject({ ok: false, reason: "busy" });
    }
    release();
    await holding;
    expect((await signIn(held, { email: "wang@example.com", password: "right-password-2", ttlHours: 1 })).ok).toBe(true);
  });

  it("counts an over-long email against the address only and stores no key for it", async () => {
    const huge = `${"x".repeat(100_000)}@example.com`;
    expect(await attempt(huge, "whatever", "192.0.2.77")).toMatchObject({ ok: false, reason: "invalid" });
    const keys = await database.db.select({ key: loginThrottles.key }).from(loginThrottles);
    expect(keys.map((k) => k.key)).toContain("ip:192.0.2.77");
    expect(keys.every((k) => k.key.length < 300)).toBe(true);
  });

  it("counts IPv6 clients per /64 and IPv4-mapped addresses as IPv4", () => {
    expect(addressKey("2001:db8:1:2::1")).toBe(addressKey("2001:db8:1:2:ffff:ffff:ffff:ffff"));
    expect(addressKey("2001:db8:1:2::1")).not.toBe(addressKey("2001:db8:1:3::1"));
    expect(addressKey("::ffff:192.0.2.1")).toBe("ip:192.0.2.1");
  });

  it("keeps a lock across a restart: it lives in the database, not in the process", async () => {
    const email = "lin@example.com";
    for (let i = 0; i < 5; i++) expect((await attempt(email, "wrong-again", "192.0.2.150")).ok).toBe(false);
    // A fresh hasher and services object, as after a restart or in a second app process.
    const restarted = { db: database.db, now: () => new Date(clock), hasher: createPasswordHasher({ concurrency: 1, maxQueue: 1 }) };
    const result = await signIn(restarted, { email, password: "right-password-1", address: "192.0.2.200", ttlHours: 1 });
    expect(result).toMatchObject({ ok: false, reason: "locked", lock: { scope: "account" } });
    clock += 1 * MINUTE;
  });

  it("records failed and locked sign-ins in the audit log, but not each attempt refused during a lock", async () => {
    const email = "audit-me@example.com";
    for (let i = 0; i < 5; i++) await attempt(email, "x-wrong-x", "192.0.2.99");
    for (let i = 0; i < 3; i++) await attempt(email, "x-wrong-x", "192.0.2.99");
    const rows = await database.db
      .select({ action: auditLog.action, details: auditLog.details })
      .from(auditLog)
      .where(and(eq(auditLog.workspaceId, workspaceId), eq(auditLog.target, email)));
    expect(rows.filter((r) => r.action === "login.failed")).toHaveLength(5);
    const locks = rows.filter((r) => r.action === "login.locked");
    expect(locks).toHaveLength(1);
    expect(locks[0].details).toMatchObject({ scope: "account", seconds: 60, address: "192.0.2.99" });
    const succeeded = await database.db.select({ action: auditLog.action }).from(auditLog).where(and(eq(auditLog.action, "login.succeeded"), eq(auditLog.target, "lin@example.com")));
    expect(succeeded.length).toBeGreaterThan(0);
  });
});

describe("password hash bound", () => {
  function deferred() {
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    return { promise, release };
  }

  it("runs at most `concurrency` hashes, queues up to `maxQueue`, and refuses the next with a Retry-After", async () => {
    const hasher = createPasswordHasher({ concurrency: 2, maxQueue: 1 });
    const gates = [deferred(), deferred(), deferred()];
    let running = 0;
    let most = 0;
    const task = (gate: { promise: Promise<void> }) =>
      hasher.run(async () => {
        running++;
        most = Math.max(most, running);
        await gate.promise;
        running--;
        return "done";
      });
    const first = task(gates[0]);
    const second = task(gates[1]);
    const third = task(gates[2]);
    await expect(hasher.verify("$argon2id$whatever", "pw")).rejects.toBeInstanceOf(PasswordHashBusyError);
    const refusal = await hasher.hash("pw").catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(PasswordHashBusyError);
    expect((refusal as PasswordHashBusyError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(hasher.active + hasher.queued).toBe(3);
    gates.forEach((g) => g.release());
    expect(await Promise.all([first, second, third])).toEqual(["done", "done", "done"]);
    expect(most).toBe(2);
  });

  it("never runs more real argon2 hashes than allowed under a burst", async () => {
    const hasher = createPasswordHasher({ concurrency: 2, maxQueue: 100 });
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, hasher.active)), 0);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => hasher.hash(`password-${i}`)));
    clearInterval(watch);
    expect(results.every((h) => h.startsWith("$argon2id$"))).toBe(true);
    expect(peak).toBeLessThanOrEqual(2);
    expect(hasher.active + hasher.queued).toBe(0);
  });

});
