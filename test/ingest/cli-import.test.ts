import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase, query, type Database } from "../../db/client";
import { createTestDb, type TestDb } from "../support/db";

// `waypost import-users <file.csv>` as an operator runs it: a child process on its own database
// (a throwaway PostgreSQL database, or a PGlite directory that the test opens afterwards).

const dir = mkdtempSync(join(tmpdir(), "waypost-import-"));
let pg: TestDb | undefined;
afterAll(async () => {
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/waypost.mjs", ...args], {
      env: { ...process.env, WAYPOST_LOG_LEVEL: "silent", WAYPOST_DEMO_DATA: "false", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("waypost import-users", () => {
  it("imports the good rows, prints each bad row by line and column, exits 1", async () => {
    const file = join(dir, "users.csv");
    writeFileSync(file, ["user_id,email,tags", "cli-1,one@example.com,a|b", "cli-2,broken-email,c", "cli-3,three@example.com,"].join("\n"));
    let env: Record<string, string>;
    if (process.env.DATABASE_URL) {
      pg = await createTestDb();
      env = { DATABASE_URL: pg.url! };
    } else env = { DATABASE_URL: "", WAYPOST_DATA_DIR: dir };
    const result = await run(["import-users", file], env);
    expect(result.stderr).toContain('line 3, column email: "broken-email" is not an email address');
    expect(result.stdout).toContain("imported 2 users from users.csv; 1 bad rows");
    expect(result.code).toBe(1);

    const database: Database = pg ?? (await openDatabase({ dataDir: join(dir, "pglite") }));
    try {
      const rows = await query<{ id: string; tags: string[] }>(database.db, sql`select id, tags from users order by id`);
      expect(rows).toEqual([
        { id: "cli-1", tags: ["a", "b"] },
        { id: "cli-3", tags: [] },
      ]);
    } finally {
      if (!pg) await database.close();
    }
  });

  it("refuses an unknown tags mode and a missing file", async () => {
    expect((await run(["import-users", "nope.csv", "--tags", "merge"], { DATABASE_URL: "", WAYPOST_DATA_DIR: dir })).code).toBe(2);
    const missing = await run(["import-users", join(dir, "missing.csv")], { DATABASE_URL: "", WAYPOST_DATA_DIR: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read");
  });
});
