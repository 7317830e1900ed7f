import { sql, type SQL } from "drizzle-orm";
import { query, type Db, type Tx } from "../../db/client";

/**
 * Small SQL helpers for the embedded engine. The engine writes through raw SQL with array
 * parameters (`unnest`), one statement per kind of write, so a batch of 500 steps costs a
 * handful of round trips instead of thousands. It runs unchanged on PostgreSQL and PGlite.
 */

export type Conn = Db | Tx;

export const rows = query;

/**
 * An array bound as ONE parameter (drizzle would otherwise expand it into a list). Bind only
 * text, uuid, int and bigint arrays and cast inside SQL: postgres.js has no serializer for
 * date[] or bool[] and then mis-binds every later parameter of the statement.
 */
export function arr(values: readonly unknown[]): SQL {
  return sql`${sql.param(values)}`;
}

let lastIsoMs = NaN;
let lastIso = "";

/** Epoch ms → ISO string for a timestamptz parameter (dates are not bound natively by every driver). */
export function iso(ms: number): string;
export function iso(ms: number | null): string | null;
export function iso(ms: number | null): string | null {
  if (ms === null) return null;
  // A batch formats the same few instants (its clock, shared wake times) hundreds of times.
  if (ms !== lastIsoMs) {
    lastIso = new Date(ms).toISOString();
    lastIsoMs = ms;
  }
  return lastIso;
}

/** SQL expression reading a timestamptz as epoch ms (a float8, so both drivers return a number). */
export function epochMs(column: SQL): SQL {
  return sql`(extract(epoch from ${column}) * 1000)::float8`;
}

export function toMs(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  return Math.round(Number(value));
}

// 23505: two entries raced for one entry key; the retry reads the winner and skips.
const RETRYABLE = new Set(["40001", "40P01", "23505"]);

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * A transaction, retried on deadlock or serialization failure. Retrying is safe because the
 * body only reads and writes inside the transaction; side effects run outside it (outbox).
 */
export async function transaction<T>(db: Db, body: (tx: Tx) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(body);
    } catch (error) {
      const code = errorCode(error);
      if (attempt >= attempts || !code || !RETRYABLE.has(code)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20));
    }
  }
}

/**
 * `cross join lateral (select * from <table> <alias> where <match> limit 1) <alias>`: the rows of
 * a table that match each row of an outer list (an `unnest(...)` of keys, or the instances a
 * statement just locked), looked up one key at a time through the table's index. With a plain join
 * the planner may hash the whole table for a 500-key batch (it did, on stale statistics), which
 * costs O(table) per batch: every user, every message. `many` for keys matching several rows
 * (OFFSET 0 keeps the subquery from being flattened back into a join); `optional` keeps outer rows
 * without a match (a left join). Not for the rows a statement locks: lock those by a plain scan.
 */
export function keyLookup(table: string, alias: string, match: SQL, options: { many?: boolean; optional?: boolean } = {}): SQL {
  const from = sql.raw(`${table} ${alias}`);
  const sub = sql`(select * from ${from} where ${match} ${sql.raw(options.many ? "offset 0" : "limit 1")}) as ${sql.raw(alias)}`;
  return options.optional ? sql`left join lateral ${sub} on true` : sql`cross join lateral ${sub}`;
}
