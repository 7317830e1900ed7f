import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { migrate, query, type Database } from "../../db/client";
import { createTestDb } from "../support/db";

const expectedTables = ["workspaces", "operators", "sessions", "api_keys", "audit_log", "users", "events", "journeys", "journey_versions"];

async function checkMigrationsFromEmpty(database: Database) {
  const count = sql`select count(*)::int as n from information_schema.tables where table_schema = 'public'`;
  expect((await query<{ n: number }>(database.db, count))[0].n).toBe(0);
  await migrate(database);
  await migrate(database); // a second run applies nothing and fails nothing
  const tables = await query<{ table_name: string }>(database.db, sql`select table_name from information_schema.tables where table_schema = 'public'`);
  const names = tables.map((t) => t.table_name);
  for (const table of expectedTables) expect(names).toContain(table);
}

describe("migrations up from an empty database", () => {
  it("on PGlite", async () => {
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    const database = await createTestDb({ migrate: false }).finally(() => {
      if (saved) process.env.DATABASE_URL = saved;
    });
    try {
      expect(database.kind).toBe("pglite");
      await checkMigrationsFromEmpty(database);
    } finally {
      await database.drop();
    }
  });

  it.skipIf(!process.env.DATABASE_URL)("on PostgreSQL (DATABASE_URL), including two migrators racing", async () => {
    const database = await createTestDb({ migrate: false });
    try {
      expect(database.kind).toBe("postgres");
      const count = sql`select count(*)::int as n from information_schema.tables where table_schema = 'public'`;
      expect((await query<{ n: number }>(database.db, count))[0].n).toBe(0);
      await Promise.all([migrate(database), migrate(database)]);
      const tables = await query<{ table_name: string }>(database.db, sql`select table_name from information_schema.tables where table_schema = 'public'`);
      for (const table of expectedTables) expect(tables.map((t) => t.table_name)).toContain(table);
    } finally {
      await database.drop();
    }
  });
});
