/**
 * Group commit for the send path. A commit costs an fsync (~1.5 ms here) while the statements
 * themselves cost far less, so statements issued while a commit is in progress wait and go
 * together in the next transaction (db/gather.ts). Every caller still gets its own rows only
 * after its statement is committed.
 */
import type { SQL } from "drizzle-orm";
import { query, type Db } from "../../db/client";
import { createGatherer } from "../../db/gather";

export interface WriteBatcher {
  run(statement: SQL): Promise<Record<string, unknown>[]>;
}

export function createWriteBatcher(db: Db, options: { maxBatch?: number; parallel?: number } = {}): WriteBatcher {
  const alone = (statement: SQL) => query(db, statement);
  return createGatherer<SQL, Record<string, unknown>[]>(
    (statements) =>
      statements.length === 1
        ? Promise.all([alone(statements[0]!)])
        : // The statements go out back to back on one connection (postgres pipelines them) and commit once.
          db.transaction((tx) => Promise.all(statements.map((s) => query(tx, s)))),
    // One bad statement must not fail its neighbours: on a failed commit they run one by one.
    { maxBatch: options.maxBatch ?? 256, parallel: options.parallel ?? 2, alone },
  );
}
