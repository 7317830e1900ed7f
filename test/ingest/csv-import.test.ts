import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import { createSegment, listMembers } from "../../app/segments/store.server";
import { getImport, importUsersCsv } from "../../app/users/csv-import.server";
import { startTestApp, type TestApp } from "../support/app";
import { userRow } from "./helpers";

// CSV import of users and tags: good rows land, each bad row is reported by line and column and
// nothing of it is imported, progress is recorded, segments that read the imported traits follow.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

const csv = (...lines: string[]) => lines.join("\n") + "\n";

describe("CSV import", () => {
  it("imports users with traits, tags, consent, dates; reports each bad row by line and column", async () => {
    const progress: number[] = [];
    const result = await importUsersCsv(
      app.services,
      app.workspaceId,
      csv(
        "user_id,email,phone,timezone,tags,created_at,consent.sms.marketing,lifetime_value,vip,zip:string,age:number,address.city",
        "c-1,c1@example.com,+8613800000001,Asia/Shanghai,美食爱好者|高消费水平,2025-03-01,yes,1200.5,true,00123,31,上海",
        "c-2,not-an-email,+8613800000002,,,,,,,,,",
        ",c3@example.com,,,,,,,,,,",
        "c-4,c4@example.com,,,旅游人群,2025-13-01,,,,,,",
        "c-5,c5@example.com,,,,,maybe,,,,,",
        "c-6,c6@example.com,,,,,,,,,abc,",
        "c-7,c7@example.com,call me,,,,,,,,,",
        "c-8,too,few",
        '"c-9","c9@example.com","+86 138 0000 0009","Europe/Berlin","a;b","2024-12-31T23:00:00+08:00","no","0","false","","",""',
        // Every problem of a row is reported, not only the first: the operator fixes them in one pass.
        "c-10,bad-mail,call me,,,2025-13-01,maybe,,,,abc,",
      ),
      { filename: "users.csv", onProgress: (p) => progress.push(p.processed) },
    );
    expect(result.processed).toBe(10);
    expect(result.imported).toBe(2);
    expect(result.failed).toBe(8);
    expect(result.errors).toEqual([
      { line: 3, column: "email", message: '"not-an-email" is not an email address' },
      { line: 4, column: "user_id", message: "is required" },
      { line: 5, column: "created_at", message: '"2025-13-01" is not an ISO-8601 date (2026-01-31 or 2026-01-31T09:30:00+08:00)' },
      { line: 6, column: "consent.sms.marketing", message: '"maybe" is not true/false (yes/no, 1/0, 是/否)' },
      { line: 7, column: "age:number", message: '"abc" is not a number' },
      { line: 8, column: "phone", message: '"call me" is not a phone number' },
      { line: 9, column: null, message: "has 3 cells; the header has 12" },
      { line: 11, column: "email", message: '"bad-mail" is not an email address' },
      { line: 11, column: "phone", message: '"call me" is not a phone number' },
      { line: 11, column: "created_at", message: '"2025-13-01" is not an ISO-8601 date (2026-01-31 or 2026-01-31T09:30:00+08:00)' },
      { line: 11, column: "consent.sms.marketing", message: '"maybe" is not true/false (yes/no, 1/0, 是/否)' },
      { line: 11, column: "age:number", message: '"abc" is not a number' },
    ]);
    const c1 = await userRow(app, "c-1");
    expect(c1).toMatchObject({ email: "c1@example.com", phone: "+8613800000001", timezone: "Asia/Shanghai", tags: ["美食爱好者", "高消费水平"], consent: { sms: { marketing: true } } });
    expect(c1.traits).toMatchObject({ lifetime_value: 1200.5, vip: true, zip: "00123", age: 31, address: { city: "上海" }, tags: ["美食爱好者", "高消费水平"] });
    expect(new Date(c1.first_seen_at).toISOString()).toBe("2025-03-01T00:00:00.000Z");
    const c9 = await userRow(app, "c-9");
    expect(c9).toMatchObject({ phone: "+86 138 0000 0009", tags: ["a", "b"], consent: { sms: { marketing: false } } });
    expect(c9.traits).toMatchObject({ lifetime_value: 0, vip: false });
    for (const bad of ["c-2", "c-4", "c-5", "c-6", "c-7", "c-8", "c-10"]) expect(await userRow(app, bad), bad).toBeUndefined();
    const stored = await getImport(app.services, app.workspaceId, result.importId);
    expect(stored).toMatchObject({ status: "done", processedRows: 10, importedRows: 2, failedRows: 8, filename: "users.csv" });
    expect(stored!.errors).toHaveLength(12);
    expect(progress.at(-1)).toBe(10);
  });

  it("adds tags by default and replaces them on request; existing traits are kept", async () => {
    await importUsersCsv(app.services, app.workspaceId, csv("user_id,tags,plan", "t-1,a|b,pro"), { filename: "1.csv" });
    await importUsersCsv(app.services, app.workspaceId, csv("user_id,tags", "t-1,c"), { filename: "2.csv" });
    expect((await userRow(app, "t-1")).tags).toEqual(["a", "b", "c"]);
    await importUsersCsv(app.services, app.workspaceId, csv("userId,tags", "t-1,z"), { filename: "3.csv", tagsMode: "replace" });
    const row = await userRow(app, "t-1");
    expect(row.tags).toEqual(["z"]);
    expect(row.traits).toMatchObject({ plan: "pro", tags: ["z"] });
  });

  it("updates segments that read the imported traits and tags", async () => {
    const segment = await createSegment(app.services, app.workspaceId, {
      name: "Imported foodies",
      key: "imported_foodies",
      definition: { kind: "group", match: "all", rules: [{ kind: "tag", op: "has", tag: "吃货" }] },
    });
    await importUsersCsv(app.services, app.workspaceId, csv("user_id,tags", "f-1,吃货", "f-2,other"), { filename: "f.csv" });
    expect((await listMembers(app.services.db, app.workspaceId, segment.id)).map((m) => m.userId)).toEqual(["f-1"]);
  });

  it("refuses files it cannot read as a whole: no user_id column, duplicate or badly typed columns, empty", async () => {
    for (const [content, message] of [
      [csv("email,phone", "a@example.com,1"), 'the first row must name a "user_id" column'],
      [csv("user_id,email,email", "a,b,c"), 'column "email" appears twice'],
      [csv("user_id,age:integer", "a,1"), 'column "age:integer": the type must be string, number, boolean, date or list'],
      [csv("user_id,consent.fax.marketing", "a,yes"), "consent columns are consent.<push|sms|email>.<marketing|transactional>"],
      ["", "the file is empty"],
    ] as const) {
      const result = await importUsersCsv(app.services, app.workspaceId, content, { filename: "bad.csv" });
      expect(result.message, content).toContain(message);
      expect(result.imported).toBe(0);
      expect((await getImport(app.services, app.workspaceId, result.importId))?.status).toBe("failed");
    }
  });

  it("reads stray quotes literally and reports an unclosed quote at the line it starts", async () => {
    const result = await importUsersCsv(app.services, app.workspaceId, csv("user_id,name", "q-1,ok", 'q-2,"5" screen', 'q-3,"unclosed', "q-4,x"), {
      filename: "q.csv",
    });
    expect(result.imported).toBe(2);
    expect((await userRow(app, "q-2")).traits.name).toBe('"5" screen');
    expect(result.errors).toEqual([{ line: 4, column: null, message: expect.stringContaining("cannot be read as CSV") }]);
    expect(await userRow(app, "q-3")).toBeUndefined();
  });

  it("imports thousands of rows in chunks with progress", async () => {
    const lines = ["user_id,email,tags,score"];
    for (let i = 0; i < 2500; i++) lines.push(`bulk-${i},bulk${i}@example.com,批量,${i}`);
    const seen: number[] = [];
    const result = await importUsersCsv(app.services, app.workspaceId, csv(...lines), { filename: "bulk.csv", onProgress: (p) => seen.push(p.imported) });
    expect(result).toMatchObject({ processed: 2500, imported: 2500, failed: 0 });
    expect(seen.slice(0, 3)).toEqual([1000, 2000, 2500]);
    const [count] = await query<{ n: number | string }>(app.services.db, sql`select count(*) as n from users where id like 'bulk-%'`);
    expect(Number(count.n)).toBe(2500);
  });
});
