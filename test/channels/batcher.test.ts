import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import { createWriteBatcher } from "../../nodes/channels/batcher.server";
import { createTestDb, type TestDb } from "../support/db";

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
  await db.db.execute(sql`create table batch_probe (id int primary key)`);
});
afterAll(() => db.drop());

describe("write batcher", () => {
  it("commits concurrent statements together and answers each with its own rows", async () => {
    const batcher = createWriteBatcher(db.db);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => batcher.run(sql`insert into batch_probe values (${i}) returning id`)));
    expect(results.map((r) => Number(r[0]!.id))).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const [count] = await query<{ n: number }>(db.db, sql`select count(*)::int as n from batch_probe`);
    expect(count!.n).toBe(50);
  });

  it("a failing statement fails alone; its neighbours still commit", async () => {
    const batcher = createWriteBatcher(db.db, { parallel: 1 });
    const outcomes = await Promise.allSettled([
      batcher.run(sql`insert into batch_probe values (100)`),
      batcher.run(sql`insert into batch_probe values (101)`),
      batcher.run(sql`insert into batch_probe values (0)`), // duplicate key
      batcher.run(sql`insert into batch_probe values (102)`),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    const rows = await query<{ id: number }>(db.db, sql`select id from batch_probe where id >= 100 order by id`);
    expect(rows.map((r) => Number(r.id))).toEqual([100, 101, 102]);
  });
});
