import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { migrate, openDatabase, type Database } from "../../db/client";

export interface TestDb extends Database {
  /** Drops the throwaway database (PostgreSQL) or closes the in-memory one (PGlite). */
  drop(): Promise<void>;
  /** Connection string of the throwaway database, for child processes; undefined on PGlite. */
  url?: string;
}

/** Which database the suite runs on, as printed at the start of `npm test`. */
export function testDatabaseKind(): "postgres" | "pglite" {
  return process.env.DATABASE_URL ? "postgres" : "pglite";
}

/**
 * A fresh, migrated database per call. On PostgreSQL (DATABASE_URL set) it creates a uniquely
 * named database on that server so test files and parallel runs never see each other's rows;
 * otherwise an in-memory PGlite.
 */
export async function createTestDb(options: { migrate?: boolean } = {}): Promise<TestDb> {
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    const database = await openDatabase({ dataDir: "memory://" });
    if (options.migrate !== false) await migrate(database);
    return { ...database, drop: () => database.close() };
  }
  const name = `waypost_test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), maxConnections: 5 });
  if (options.migrate !== false) await migrate(database);
  return {
    ...database,
    url: url.toString(),
    drop: async () => {
      await database.close();
      const cleaner = postgres(baseUrl, { max: 1, onnotice: () => {} });
      await cleaner.unsafe(`drop database if exists "${name}" with (force)`);
      await cleaner.end();
    },
  };
}
