import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { is, type SQL } from "drizzle-orm";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from "drizzle-orm/pg-core";
import { PostgresJsSession } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema";

export type Schema = typeof schema;
/** The drizzle database, whichever driver is underneath. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type DatabaseKind = "pglite" | "postgres";

export interface Database {
  db: Db;
  kind: DatabaseKind;
  /** Human-readable location without credentials, for logs and /healthz. */
  location: string;
  /** Connection string (PostgreSQL only), for dedicated connections such as migrations. */
  url?: string;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL connection string; when absent an embedded PGlite database is used. */
  url?: string;
  /** Where PGlite keeps its files; `memory://` for a throwaway in-memory database. */
  dataDir?: string;
  /** Connection pool size for PostgreSQL. */
  maxConnections?: number;
}

export const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.url) {
    const client = postgres(options.url, {
      max: options.maxConnections ?? 10,
      onnotice: () => {},
      // `query()` prepares its statements (below); every execution still gets a plan for its own
      // parameters. A cached generic plan, made while a table was small, kept seq-scanning it once
      // it had grown (decision 0162).
      connection: { plan_cache_mode: "force_custom_plan" },
      // Timestamps come back as Date objects through drizzle; raw JSON columns stay parsed.
    });
    const db = drizzlePostgres(client, { schema }) as unknown as Db;
    const url = new URL(options.url);
    return {
      db,
      kind: "postgres",
      url: options.url,
      location: `postgres://${url.hostname}:${url.port || 5432}${url.pathname}`,
      close: () => client.end({ timeout: 5 }),
    };
  }
  const dataDir = options.dataDir ?? "./.data/pglite";
  if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir);
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return { db, kind: "pglite", location: `pglite:${dataDir}`, close: () => client.close() };
}

/** Applies pending migrations. Safe to call from several processes at once on PostgreSQL. */
export async function migrate(database: Database): Promise<void> {
  if (database.kind === "pglite") {
    await migratePglite(database.db as never, { migrationsFolder });
    return;
  }
  // An advisory lock on a dedicated connection serialises concurrent starters (app + workers)
  // so each migration runs once.
  const client = postgres(database.url!, { max: 1, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(7316001)`;
    await migratePostgres(drizzlePostgres(client), { migrationsFolder });
    await client`select pg_advisory_unlock(7316001)`;
  } finally {
    await client.end({ timeout: 5 });
  }
}

const dialect = new PgDialect();

/**
 * Runs raw SQL and returns its rows, hiding the drivers' different result shapes.
 *
 * On PostgreSQL the statement runs as a prepared statement of its connection (postgres.js keeps
 * them per connection, keyed by the SQL text; connections are recycled after 30–60 minutes).
 * drizzle's `execute` sends every statement unnamed, and postgres.js then first asks the server
 * for the parameter types: two round trips and a fresh parse and plan per call (decision 0162).
 */
export async function query<T extends Record<string, unknown>>(db: Db | Tx, statement: SQL): Promise<T[]> {
  const session = db._.session;
  if (is(session, PostgresJsSession)) {
    const { sql, params } = dialect.sqlToQuery(statement);
    return (await session.client.unsafe(sql, params as never[], { prepare: true })) as unknown as T[];
  }
  const result = (await db.execute(statement)) as unknown;
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
