import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, query, type Database } from "../../db/client";
import { createTestDb, type TestDb } from "../support/db";

describe("query(): raw SQL on either driver", () => {
  let database: TestDb;
  beforeAll(async () => {
    database = await createTestDb({ migrate: false });
  });
  afterAll(async () => {
    await database.drop();
  });

  it("binds text, arrays, JSON and nulls, and returns plain rows, in and out of transactions", async () => {
    const statement = (n: number) =>
      sql`select ${n}::int as n, ${"用户"}::text as name, cardinality(${sql.param(["a", "b", "c"])}::text[]) as items,
                 (${JSON.stringify({ k: [1, 2] })}::jsonb -> 'k' ->> 1)::int as second, ${null}::text as nothing`;
    expect(await query(database.db, statement(1))).toEqual([{ n: 1, name: "用户", items: 3, second: 2, nothing: null }]);
    const inside = await database.db.transaction((tx) => query(tx, statement(2)));
    expect(inside).toEqual([{ n: 2, name: "用户", items: 3, second: 2, nothing: null }]);
  });

  it("reports a bad statement as an error, and the connection keeps working", async () => {
    await expect(query(database.db, sql`select no_such_column from (select 1) t`)).rejects.toThrow(/no_such_column/);
    expect(await query(database.db, sql`select ${5}::int as n`)).toEqual([{ n: 5 }]);
  });
});

describe.skipIf(!process.env.DATABASE_URL)("query() on PostgreSQL", () => {
  let database: TestDb;
  let single: Database;
  beforeAll(async () => {
    database = await createTestDb({ migrate: false });
    // One connection, so every statement below runs on the session the check reads.
    single = await openDatabase({ url: database.url!, maxConnections: 1 });
  });
  afterAll(async () => {
    await single.close();
    await database.drop();
  });

  it("prepares each statement once per connection and reuses it (one round trip, no re-parse)", async () => {
    const marker = `waypost-query-test-${Date.now()}`;
    const statement = (n: number) => sql`select ${n}::int as n, ${sql.raw(`'${marker}'`)} as marker`;
    for (let n = 1; n <= 3; n++) expect(await query(single.db, statement(n))).toEqual([{ n, marker }]);
    await single.db.transaction(async (tx) => {
      expect(await query(tx, statement(4))).toEqual([{ n: 4, marker }]);
    });
    // The marker travels as a parameter here, so this statement's own text does not match.
    const prepared = await query<{ n: number }>(
      single.db,
      sql`select count(*)::int as n from pg_prepared_statements where statement like ${`%${marker}%`}`,
    );
    expect(prepared[0].n).toBe(1);
  });

  it("plans every execution for its own parameters: a plan cached while a table was small is not reused once it has grown", async () => {
    await query(single.db, sql`create table lookup_growth (k text primary key, v int not null)`);
    await query(single.db, sql`insert into lookup_growth select 'k' || g, g from generate_series(1, 10) g`);
    await query(single.db, sql`analyze lookup_growth`); // statistics taken while it is small, as autovacuum would
    const marker = `waypost-growth-${Date.now()}`;
    const lookup = (keys: string[]) =>
      sql`select ${sql.raw(`'${marker}'`)} as marker, t.v from unnest(${sql.param(keys)}::text[]) as d(key)
          cross join lateral (select * from lookup_growth t where t.k = d.key limit 1) t`;
    // More than the five executions after which PostgreSQL would otherwise settle on a generic plan.
    for (let i = 0; i < 8; i++) expect(await query(single.db, lookup(["k3"]))).toEqual([{ marker, v: 3 }]);
    await query(single.db, sql`insert into lookup_growth select 'k' || g, g from generate_series(11, 200000) g`);
    const [statement] = await query<{ name: string }>(single.db, sql`select name from pg_prepared_statements where statement like ${`%${marker}%`}`);
    const plan = await query<{ "QUERY PLAN": unknown }>(single.db, sql`explain (format json) execute ${sql.raw(`"${statement.name}"`)}('{k150000}')`);
    // On a generic plan made at 10 rows this is a sequential scan of 200,000 rows per key.
    expect(JSON.stringify(plan[0]["QUERY PLAN"])).toContain("Index Scan");
  });
});
