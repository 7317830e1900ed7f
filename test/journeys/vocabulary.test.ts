import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDefaultWorkspace } from "../../app/lib/accounts.server";
import { journeyVocabulary } from "../../app/lib/journey-list.server";
import { events, users } from "../../db/schema";
import { createTestDb, type TestDb } from "../support/db";

// The canvas's suggestions for event names and traits: the workspace's own names (read by a loose
// index scan, one probe per distinct name) merged with the common ones, internal `$` names left out.

let db: TestDb;
let workspaceId: string;

beforeAll(async () => {
  db = await createTestDb();
  workspaceId = (await ensureDefaultWorkspace(db.db)).id;
  const at = new Date("2026-01-01T00:00:00Z");
  const names = ["lesson_finished", "lesson_finished", "会员续费", "$message.delivered", "app_opened", "zz_last"];
  await db.db.insert(events).values(names.map((name, i) => ({ workspaceId, messageId: `v-${i}`, userId: "u1", name, properties: {}, timestamp: at })));
  await db.db.insert(users).values({ workspaceId, id: "u1", traits: { plan: "pro", name: "小王" }, tags: [] });
});
afterAll(() => db?.drop());

describe("journey vocabulary", () => {
  it("lists each event name once, the workspace's own beside the common ones, without internal names", async () => {
    const vocabulary = await journeyVocabulary(db.db, workspaceId);
    expect(vocabulary.events).toEqual(expect.arrayContaining(["lesson_finished", "会员续费", "zz_last", "app_opened", "order_completed"]));
    expect(vocabulary.events.filter((n) => n === "lesson_finished")).toHaveLength(1);
    expect(vocabulary.events.some((n) => n.startsWith("$"))).toBe(false);
    expect(vocabulary.events).toEqual([...vocabulary.events].sort());
    expect(vocabulary.traits).toEqual(expect.arrayContaining(["plan", "name", "email"]));
  });
});
