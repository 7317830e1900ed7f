import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { migrate, openDatabase } from "../../db/client";
import { DataDirLockedError, lockDataDir } from "../../db/data-dir-lock";
import { operators } from "../../db/schema";
import { pgliteTemplate } from "../support/db";

// The PGlite data directory belongs to one process (decision 0725): real `waypost` processes
// against one directory. Always PGlite, whatever DATABASE_URL the suite runs with.

const dir = mkdtempSync(join(tmpdir(), "waypost-lock-"));
const pgliteDir = join(dir, "pglite");
const lockFile = `${pgliteDir}.lock`;
const env = { ...process.env, DATABASE_URL: "", WAYPOST_DATA_DIR: dir, WAYPOST_LOG_LEVEL: "silent", WAYPOST_DEMO_DATA: "false", WAYPOST_SEGMENT_SWEEP_SECONDS: "0", PORT: "0", HOST: "127.0.0.1" };
const children = new Set<ChildProcess>();

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

function waypost(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }>; output: () => string } {
  const child = spawn(process.execPath, ["bin/waypost.mjs", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, done, output: () => stdout + stderr };
}

describe("PGlite data directory lock", () => {
  it("while another process holds the directory, create-admin and start refuse clearly and change nothing; a crashed holder's lock is taken over; reset-password", { timeout: 300_000 }, async () => {
    // The holder: this test process, with the database open as the app opens it (lock included).
    // The directory starts from the suite's migrated PGlite template instead of initdb (decision
    // 1200); a first start on an empty directory is the quickstart browser test's.
    const held = await openDatabase({ dataDir: pgliteDir, loadDataDir: await pgliteTemplate(true) });
    try {
      await migrate(held);
      expect(JSON.parse(readFileSync(lockFile, "utf8"))).toMatchObject({ pid: process.pid, host: hostname() });
      const [create, start] = await Promise.all([
        waypost(["create-admin", "--email", "ops@example.com", "--password", "ops-password-1"]).done,
        waypost(["start"]).done,
      ]);
      expect(create.code).toBe(1);
      expect(create.stdout).not.toContain("created");
      expect(create.stderr).toContain(`is in use by another Waypost process (PID ${process.pid}`);
      expect(create.stderr).toContain("Settings → Team");
      expect(start.code).toBe(1);
      expect(start.stderr).toContain(`is in use by another Waypost process (PID ${process.pid}`);
      expect(start.stdout).not.toContain("listening");
      expect(await held.db.select({ email: operators.email }).from(operators)).toEqual([]);
    } finally {
      await held.close();
    }
    expect(existsSync(lockFile)).toBe(false);

    // A holder that crashes: its lock file stays behind, naming a process that is gone.
    const crashing = spawn(process.execPath, ["--import", "tsx", "-e", `import("./db/data-dir-lock.ts").then((m) => { m.lockDataDir(${JSON.stringify(pgliteDir)}); console.log("locked"); setInterval(() => {}, 1000); })`], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.add(crashing);
    await new Promise<void>((resolve) => crashing.stdout!.once("data", () => resolve()));
    expect(JSON.parse(readFileSync(lockFile, "utf8")).pid).toBe(crashing.pid);
    crashing.kill("SIGKILL");
    await new Promise((resolve) => crashing.once("close", resolve));
    expect(existsSync(lockFile)).toBe(true);

    const retried = await waypost(["create-admin", "--email", "ops@example.com", "--password", "ops-password-1"]).done;
    expect(retried.stderr).toBe("");
    expect(retried.stdout).toContain("created admin ops@example.com");
    expect(retried.code).toBe(0);
    expect(existsSync(lockFile)).toBe(false);

    // The locked-out admin's way back in: a one-time password that must be replaced at the next sign-in.
    const reset = await waypost(["reset-password", "--email", "OPS@example.com"]).done;
    expect(reset.stderr).toBe("");
    expect(reset.stdout).toMatch(/^password reset for ops@example\.com: one-time password \S{16} \(0 sessions ended/);
    expect(reset.code).toBe(0);

    const database = await openDatabase({ dataDir: pgliteDir });
    try {
      const rows = await database.db.select({ email: operators.email, must: operators.mustChangePassword }).from(operators).where(eq(operators.email, "ops@example.com"));
      expect(rows).toEqual([{ email: "ops@example.com", must: true }]);
      // A second opening inside the same process is refused too.
      expect(() => lockDataDir(pgliteDir)).toThrow(DataDirLockedError);
    } finally {
      await database.close();
    }
  });

  it("treats a lock whose PID now belongs to another process (a different start time) as stale", () => {
    const other = join(dir, "reused");
    writeFileSync(`${other}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), started: "1", command: "waypost start", since: "2026-01-01T00:00:00Z" }));
    const lock = lockDataDir(other);
    expect(JSON.parse(readFileSync(`${other}.lock`, "utf8")).started).not.toBe("1");
    lock.release();
    expect(existsSync(`${other}.lock`)).toBe(false);
  });
});
