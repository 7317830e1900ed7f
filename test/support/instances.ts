import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { query, type Db } from "../../db/client";

/**
 * Workflows run in a worker (the Temporal engine): wait, bounded, until every journey instance of
 * the database has finished. Throws naming the ones still active.
 */
export async function untilNoActiveInstance(db: Db, options: { timeoutMs?: number; everyMs?: number } = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const active = await query<{ id: string }>(db, sql`select id from journey_instances where status = 'active'`);
    if (active.length === 0) return;
    if (Date.now() > deadline) throw new Error(`instances still active after ${timeoutMs / 1000} s: ${active.map((r) => r.id).join(", ")}`);
    await sleep(options.everyMs ?? 50);
  }
}
