/**
 * Group commit for the send path. A commit costs an fsync (~1.5 ms here) while the statements
 * themselves cost far less, so statements issued while a commit is in progress wait and go
 * together in the next transaction. Nobody waits for a timer: an idle batcher flushes at once,
 * and every caller still gets its own rows only after its statement is committed.
 */
import type { SQL } from "drizzle-orm";
import { query, type Db } from "../../db/client";

interface Pending {
  statement: SQL;
  resolve(rows: Record<string, unknown>[]): void;
  reject(error: unknown): void;
}

export interface WriteBatcher {
  run(statement: SQL): Promise<Record<string, unknown>[]>;
}

export function createWriteBatcher(db: Db, options: { maxBatch?: number; parallel?: number } = {}): WriteBatcher {
  const maxBatch = options.maxBatch ?? 256;
  const parallel = options.parallel ?? 2;
  const queue: Pending[] = [];
  let flushing = 0;

  const execute = async (batch: Pending[]) => {
    if (batch.length === 1) {
      const [only] = batch;
      await query(db, only!.statement).then(only!.resolve, only!.reject);
      return;
    }
    try {
      // The statements go out back to back on one connection (postgres pipelines them) and commit once.
      const results = await db.transaction((tx) => Promise.all(batch.map((p) => query(tx, p.statement))));
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch {
      // One bad statement must not fail its neighbours: run them one by one to find it.
      for (const p of batch) await query(db, p.statement).then(p.resolve, p.reject);
    }
  };

  const pump = () => {
    while (flushing < parallel && queue.length > 0) {
      const batch = queue.splice(0, maxBatch);
      flushing++;
      void execute(batch).finally(() => {
        flushing--;
        pump();
      });
    }
  };

  return {
    run(statement) {
      return new Promise((resolve, reject) => {
        queue.push({ statement, resolve, reject });
        pump();
      });
    },
  };
}
