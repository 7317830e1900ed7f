import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { journeyStats, reconcileJourney } from "../../app/lib/analytics.server";
import { seedDemo, type SeedDemoResult } from "../../cli/bootstrap";
import { startTestApp, type TestApp } from "../../test/support/app";
import { demoJourneys } from "../../workflows/demo-journeys";
import { query } from "../client";
import { DAY } from "./demo-behaviour";

/**
 * The first seeding's history on the database of the run (PGlite, or PostgreSQL with
 * DATABASE_URL): 400 demo users through the four demo journeys over 30 days on the embedded
 * engine's virtual clock. Numbers the engine made, every node reconciled, dated over the month,
 * varied failures, users still inside at the end, and never replayed twice.
 */
describe("demo history on first seeding", () => {
  let app: TestApp;
  let result: SeedDemoResult | null;
  const said: string[] = [];
  const now = Date.now();
  const journeys = new Map<string, string>();

  beforeAll(async () => {
    app = await startTestApp({ now: () => new Date(now) });
    result = await seedDemo(app.services, app.workspaceId, 400, { say: (line) => said.push(line) });
    for (const j of await query<{ id: string; name: string }>(app.services.db, sql`select id::text as id, name from journeys where workspace_id = ${app.workspaceId}::uuid`)) {
      journeys.set(j.name, j.id);
    }
  }, 600_000);

  afterAll(async () => {
    await app?.close();
  });

  it("says what it replays and how long it took", () => {
    expect(said[0]).toBe("replaying 30 days of demo history… (the demo users through the demo journeys, once)");
    expect(said[1]).toMatch(/^demo history replayed in \d+\.\d s: [1-9]\d* journey entries, [1-9]\d* messages sent, \d+ orders, \d+ engine steps$/);
    expect(result?.history).toMatchObject({ days: 30 });
    expect(result!.history!.steps).toBeGreaterThanOrEqual(30 * 24);
  });

  it("every demo journey has entries, and every node adds up (entered = outputs + waiting + exits)", async () => {
    expect([...journeys.keys()].sort()).toEqual(demoJourneys().map((d) => d.name).sort());
    for (const [name, id] of journeys) {
      expect(await reconcileJourney(app.services.db, id), name).toEqual([]);
      const stats = await journeyStats(app.services.db, app.workspaceId, id);
      expect(stats.totals.entered, name).toBeGreaterThan(0);
      expect(stats.nodes.trigger?.entered, name).toBe(stats.totals.entered);
    }
    const winBack = await journeyStats(app.services.db, app.workspaceId, journeys.get(demoJourneys()[0]!.name)!);
    for (const node of ["send_time", "ab_copy", "push_winback", "push_free_shipping", "wait_order"]) expect(winBack.nodes[node]?.entered, node).toBeGreaterThan(0);
    expect(winBack.totals.holdout.entered).toBeGreaterThan(0);
    expect(winBack.totals.converted).toBeGreaterThan(0);
    expect(winBack.nodes.push_winback!.messages.sent).toBeGreaterThan(0);
    expect(winBack.nodes.push_winback!.messages.delivered).toBeGreaterThan(0);
  });

  it("dates entries, node events, messages and conversions over the last 30 days, none in the future", async () => {
    const db = app.services.db;
    const [span] = await query<{ min: string; max: string; days: number | string }>(
      db,
      sql`select min(entered_at)::text as min, max(entered_at)::text as max, count(distinct date_trunc('day', entered_at)) as days
          from journey_instances where workspace_id = ${app.workspaceId}::uuid`,
    );
    expect(Date.parse(span!.min)).toBeGreaterThanOrEqual(now - 30 * DAY);
    expect(Date.parse(span!.max)).toBeLessThanOrEqual(now);
    expect(Number(span!.days)).toBeGreaterThanOrEqual(25);
    for (const [table, column] of [["journey_node_events", "at"], ["messages", "created_at"], ["messages", "delivered_at"]] as const) {
      const [row] = await query<{ min: string | null; max: string | null; weeks: number | string }>(
        db,
        sql`select min(${sql.raw(column)})::text as min, max(${sql.raw(column)})::text as max, count(distinct date_trunc('week', ${sql.raw(column)})) as weeks
            from ${sql.raw(table)} where workspace_id = ${app.workspaceId}::uuid`,
      );
      expect(Date.parse(row!.min!), `${table}.${column}`).toBeGreaterThanOrEqual(now - 30 * DAY);
      expect(Date.parse(row!.max!), `${table}.${column}`).toBeLessThanOrEqual(now);
      expect(Number(row!.weeks), `${table}.${column}`).toBeGreaterThanOrEqual(4);
    }
    const [conversions] = await query<{ n: number | string; weeks: number | string }>(
      db,
      sql`select count(*) as n, count(distinct date_trunc('week', at)) as weeks from journey_node_events
          where workspace_id = ${app.workspaceId}::uuid and kind = 'exit' and reason = 'goal'`,
    );
    expect(Number(conversions!.n)).toBeGreaterThan(10);
    expect(Number(conversions!.weeks)).toBeGreaterThanOrEqual(4);
  });

  it("fails some deliveries for varied reasons, at the send and after it", async () => {
    const reasons = await query<{ channel: string; reason: string; n: number | string }>(
      app.services.db,
      sql`select channel, failure_reason as reason, count(*) as n from messages
          where workspace_id = ${app.workspaceId}::uuid and state = 'failed' group by 1, 2`,
    );
    const found = new Set(reasons.map((r) => `${r.channel}:${r.reason}`));
    for (const expected of ["push:invalid_token", "push:not_delivered", "push:no_consent", "sms:no_consent", "email:no_consent"]) expect(found, expected).toContain(expected);
    // Dead tokens were retired, as the send service does with FCM's UNREGISTERED.
    const [retired] = await query<{ n: number | string }>(app.services.db, sql`select count(*) as n from device_tokens where workspace_id = ${app.workspaceId}::uuid and retired_reason = 'invalid_token'`);
    expect(Number(retired!.n)).toBeGreaterThan(0);
    // Late failures reached the node events as delivery failures (the loss table's "delivered" stage).
    const [late] = await query<{ n: number | string }>(
      app.services.db,
      sql`select count(*) as n from journey_node_events where workspace_id = ${app.workspaceId}::uuid and kind = 'delivery' and message_status = 'delivery_failed'`,
    );
    expect(Number(late!.n)).toBeGreaterThan(0);
  });

  it("leaves users inside at the end, waiting on timers after now for the app's engine", async () => {
    const [inside] = await query<{ n: number | string; later: number | string }>(
      app.services.db,
      sql`select count(*) as n, count(*) filter (where t.wake_at > ${new Date(now).toISOString()}::timestamptz) as later
          from journey_instances i left join journey_timers t on t.instance_id = i.id
          where i.workspace_id = ${app.workspaceId}::uuid and i.status = 'active'`,
    );
    expect(Number(inside!.n)).toBeGreaterThan(0);
    expect(Number(inside!.later)).toBeGreaterThan(0);
    const [outbox] = await query<{ n: number | string }>(app.services.db, sql`select count(*) as n from journey_outbox`);
    expect(Number(outbox!.n)).toBe(0);
  });

  it("writes the history's orders back to the profiles", async () => {
    const [row] = await query<{ n: number | string }>(
      app.services.db,
      sql`select count(*) as n from users u where u.workspace_id = ${app.workspaceId}::uuid
            and (u.traits->>'orders_count')::int = (select count(*) from events e where e.workspace_id = u.workspace_id and e.user_id = u.id and e.name = 'order_completed')
            and exists (select 1 from events e where e.workspace_id = u.workspace_id and e.user_id = u.id and e.message_id like 'demo-history-%' and e.name = 'order_completed')`,
    );
    expect(Number(row!.n)).toBeGreaterThan(0);
  });

  it("never replays again: a second seeding adds nothing", async () => {
    const count = async () => Number((await query<{ n: number | string }>(app.services.db, sql`select count(*) as n from journey_instances`))[0]!.n);
    const before = await count();
    const lines: string[] = [];
    expect(await seedDemo(app.services, app.workspaceId, 400, { say: (line) => lines.push(line) })).toBeNull();
    expect(lines).toEqual([]);
    expect(await count()).toBe(before);
  });
});

describe("demo seeding without history", () => {
  it("historyDays 0 seeds users and journeys and enters nobody", async () => {
    const app = await startTestApp();
    try {
      const lines: string[] = [];
      const result = await seedDemo(app.services, app.workspaceId, 50, { historyDays: 0, say: (line) => lines.push(line) });
      expect(result).toMatchObject({ users: 50, journeys: 4 });
      expect(result?.history).toBeUndefined();
      expect(lines).toEqual([]);
      const [row] = await query<{ n: number | string }>(app.services.db, sql`select count(*) as n from journey_instances`);
      expect(Number(row!.n)).toBe(0);
    } finally {
      await app.close();
    }
  });

  it("is skipped, and says so, when journey workers run in other processes", async () => {
    const app = await startTestApp({ env: { WAYPOST_RUN_WORKER: "false" } });
    try {
      const lines: string[] = [];
      const result = await seedDemo(app.services, app.workspaceId, 50, { say: (line) => lines.push(line) });
      expect(result).toMatchObject({ users: 50, journeys: 4 });
      expect(lines).toEqual(["demo history skipped: the journey worker runs in other processes (WAYPOST_RUN_WORKER=false)"]);
      const [row] = await query<{ n: number | string }>(app.services.db, sql`select count(*) as n from journey_instances`);
      expect(Number(row!.n)).toBe(0);
    } finally {
      await app.close();
    }
  });
});
