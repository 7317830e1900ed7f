import { AsyncLocalStorage } from "node:async_hooks";
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
import { lockDataDir } from "./data-dir-lock";

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
  /**
   * PGlite: start from this data directory tarball (`dumpDataDir()`) instead of an empty cluster.
   * Tests open a cached, already migrated copy this way: PGlite's initdb takes seconds.
   */
  loadDataDir?: Blob;
  /** Connection pool size for PostgreSQL (plain statements and transactions together). */
  maxConnections?: number;
  /** PostgreSQL: give up opening a connection after this long (ms). Default 5 s. */
  connectTimeoutMs?: number;
  /** PostgreSQL: the server cancels a statement running longer than this (ms; 0 = never). Default 60 s. */
  statementTimeoutMs?: number;
  /** PostgreSQL: the server ends a session left idle inside a transaction this long (ms; 0 = never). Default 60 s. */
  idleInTransactionTimeoutMs?: number;
  /** PostgreSQL: statements postgres.js pipelines onto one connection (default 100). Tests lower it to reach the boundary of decision 1000. */
  maxPipeline?: number;
}

/** Defaults of the bounded waits (decision 1000): a restart makes requests fail fast and retryably. */
type TimeoutName = "connectTimeoutMs" | "statementTimeoutMs" | "idleInTransactionTimeoutMs";
export const DATABASE_TIMEOUTS: Readonly<Record<TimeoutName, number>> = { connectTimeoutMs: 5_000, statementTimeoutMs: 60_000, idleInTransactionTimeoutMs: 60_000 };

/**
 * Work marked as background (the journey engine's worker) for PGlite's sake (decision 1002).
 * PGlite runs in this thread and answers through promise continuations: a worker with hundreds of
 * side effects in flight chains thousands of queries without ever returning to the event loop, and
 * HTTP (even /healthz) went unanswered for as long as a backlog took to drain. Background queries
 * now wait for a turn of the event loop, let every foreground query (requests) go first, and
 * enter PGlite one at a time, so a request waits for at most one background statement or
 * transaction. PostgreSQL needs none of this: the server runs queries in its own processes.
 */
const backgroundWork = new AsyncLocalStorage<true>();
export function runInBackground<T>(work: () => Promise<T>): Promise<T> {
  return backgroundWork.run(true, work);
}

function yieldToRequests(client: PGlite): void {
  let foreground = 0;
  let backgroundBusy = false;
  let waiting: Array<() => void> = [];
  const wake = () => {
    const next = waiting;
    waiting = [];
    for (const resume of next) resume();
  };
  const wrap = (name: "query" | "exec" | "transaction") => {
    const target = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const original = target[name].bind(client);
    target[name] = async (...args: unknown[]) => {
      if (!backgroundWork.getStore()) {
        foreground += 1;
        try {
          return await original(...args);
        } finally {
          foreground -= 1;
          if (foreground === 0) wake();
        }
      }
      // A macrotask turn: timers and sockets (new requests) run before this query.
      await new Promise((resolve) => setImmediate(resolve));
      while (foreground > 0 || backgroundBusy) await new Promise<void>((resolve) => waiting.push(resolve));
      backgroundBusy = true;
      try {
        return await original(...args);
      } finally {
        backgroundBusy = false;
        wake();
      }
    };
  };
  wrap("query");
  wrap("exec");
  wrap("transaction");
}

export const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.url) {
    const max = options.maxConnections ?? 10;
    const timeouts = { ...DATABASE_TIMEOUTS, ...definedOnly(options) };
    const settings = {
      onnotice: () => {},
      // Seconds, as postgres.js takes it. A PostgreSQL that is restarting refuses or never answers;
      // requests fail within this bound and answer 503 + Retry-After instead of hanging.
      connect_timeout: Math.max(1, Math.ceil(timeouts.connectTimeoutMs / 1000)),
      connection: {
        // `query()` prepares its statements (below); every execution still gets a plan for its own
        // parameters. A cached generic plan, made while a table was small, kept seq-scanning it once
        // it had grown (decision 0162).
        plan_cache_mode: "force_custom_plan",
        statement_timeout: timeouts.statementTimeoutMs,
        idle_in_transaction_session_timeout: timeouts.idleInTransactionTimeoutMs,
      },
      // Timestamps come back as Date objects through drizzle; raw JSON columns stay parsed.
      ...(options.maxPipeline ? { max_pipeline: options.maxPipeline } : {}),
    } satisfies postgres.Options<Record<string, never>> & { max_pipeline?: number };
    // Two pools (decision 1000). postgres.js pipelines plain statements onto busy connections, and
    // a BEGIN that lands as the statement filling a connection's pipeline (or whose write meets
    // socket backpressure) is sent without reserving the connection: the driver then fails it with
    // UNSAFE_TRANSACTION, or lets other statements run inside the open transaction
    // (porsager/postgres#823, #1189, #1218; unfixed in 3.4.9). Transactions therefore open on a pool
    // that runs nothing else: there a BEGIN only ever goes to an idle connection, never behind a
    // pipelined statement.
    // One connection (max: 1) runs everything in order and is safe as it is.
    const plainMax = max <= 1 ? 1 : Math.max(2, Math.ceil(max / 2));
    const client = postgres(options.url, { ...settings, max: plainMax });
    const transactions = max <= 1 ? null : postgres(options.url, { ...settings, max: Math.max(3, max - plainMax) });
    if (transactions) {
      // drizzle sets its type parsers on the client it wraps; the transaction pool needs the same ones.
      drizzlePostgres(transactions);
      client.begin = transactions.begin;
    }
    const db = drizzlePostgres(client, { schema }) as unknown as Db;
    const url = new URL(options.url);
    return {
      db,
      kind: "postgres",
      url: options.url,
      location: `postgres://${url.hostname}:${url.port || 5432}${url.pathname}`,
      close: async () => {
        await Promise.all([client.end({ timeout: 5 }), transactions?.end({ timeout: 5 })]);
      },
    };
  }
  const dataDir = options.dataDir ?? "./.data/pglite";
  // One process per data directory (decision 0725): a second one would work on a copy and lose its writes.
  const lock = dataDir.startsWith("memory://") ? null : lockDataDir(dataDir);
  let client: PGlite;
  try {
    if (lock) mkdirSync(dataDir, { recursive: true });
    client = await PGlite.create(dataDir, options.loadDataDir ? { loadDataDir: options.loadDataDir } : {});
  } catch (error) {
    lock?.release();
    throw error;
  }
  yieldToRequests(client);
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  const close = async () => {
    try {
      await client.close();
    } finally {
      lock?.release();
    }
  };
  return { db, kind: "pglite", location: `pglite:${dataDir}`, close };
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

function definedOnly(options: OpenDatabaseOptions): Partial<Record<TimeoutName, number>> {
  const out: Partial<Record<TimeoutName, number>> = {};
  for (const key of Object.keys(DATABASE_TIMEOUTS) as TimeoutName[]) {
    if (options[key] !== undefined) out[key] = options[key];
  }
  return out;
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
