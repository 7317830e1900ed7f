import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { journeyStats } from "../../app/lib/analytics.server";
import { journeyStatsEndpoint } from "../../app/api/management.server";
import { journeyStatsResponseSchema } from "../../app/api/schemas";
import { createApiKey } from "../../app/lib/auth.server";
import { loadConfig } from "../../app/config.server";
import { createLogger } from "../../app/lib/log.server";
import type { AppServices } from "../../app/services.server";
import { recordMessageNodeEvent } from "../../nodes/channels/runtime.server";
import { executeNode } from "../../nodes/registry.server";
import type { ActionContext, ActionResult, SendMessageRequest, SendMessageResponse } from "../../nodes/runtime";
import { rows } from "../../workflows/embedded/db.server";
import { cancelInstance } from "../../workflows/embedded/operations.server";
import { accountingJourney, expectedNodes, expectedSms, GOAL_WINDOW_MS, GOALS, MINUTE, USERS, WAIT_MS } from "../scenarios/accounting-journey";
import { storedProblems } from "../scenarios/accounting";
import { createTestDb, testDatabaseKind, type TestDb } from "../support/db";
import { createHarness } from "./support";

/**
 * Every user accounted for on the embedded engine (docs/analytics.md): goal at a wait (the goal is
 * also the awaited event), exit criteria, a cancel, a provider refusal, a late delivery failure,
 * users watched for the goal at Exit, an interpreter failure; every node's numbers checked, on the
 * cards (journeyStats), over the REST API, and against the raw tables. The Temporal twin is
 * test/live/analytics-accounting.live.test.ts.
 */

const T0 = Date.parse("2024-05-06T02:00:00.000Z");

const pick = (s: { entered: number; waiting: number; left: Record<string, number>; exits: Record<string, number> }) => ({
  entered: s.entered,
  waiting: s.waiting,
  left: Object.fromEntries(Object.entries(s.left).filter(([, n]) => n !== 0)),
  exits: Object.fromEntries(Object.entries(s.exits).filter(([, n]) => n !== 0)),
});

describe(`every user accounted for on the embedded engine (${testDatabaseKind()})`, () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db.drop();
  });

  async function run(options: { bug?: boolean } = {}) {
    const executeAction = async (type: string, ctx: ActionContext, config: unknown): Promise<ActionResult> => {
      const sendMessage = async (request: SendMessageRequest): Promise<SendMessageResponse> =>
        request.userId === "u-sms-fail" ? { status: "failed", reason: "provider_rejected" } : { status: "sent", messageId: `m-${request.idempotencyKey}` };
      return executeNode(type, { ...ctx, services: { ...ctx.services, sendMessage } }, config);
    };
    const h = await createHarness({ db, start: T0, engine: { executeAction } });
    const users = [...USERS, ...(options.bug ? ["u-bug"] : [])];
    await h.insertUsers(users.map((id) => ({ id, timezone: "Asia/Shanghai" })));
    await rows(h.db.db, sql`update users set phone = '+8613800001111' where workspace_id = ${h.workspaceId}::uuid`);
    const { journeyId } = await h.publish(accountingJourney());
    for (const u of users) await h.engine.triggerJourney({ workspaceId: h.workspaceId, journeyId, userId: u });
    await h.engine.runUntilIdle();
    const instanceOf = async (userId: string) =>
      (await rows<{ id: string }>(h.db.db, sql`select id from journey_instances where journey_id = ${journeyId}::uuid and user_id = ${userId}`))[0].id;

    h.clock.advance(10 * MINUTE);
    await h.engine.handleEvents([
      ...(await Promise.all(GOALS.map((u) => h.storeEvent(u, "order_completed", { amount: 39 })))),
      await h.storeEvent("u-exit", "account_deleted"),
    ]);
    await h.engine.runUntilIdle();
    await cancelInstance({ db: h.db.db, now: h.clock.now, database: { kind: h.db.kind } }, { workspaceId: h.workspaceId }, await instanceOf("u-cancel"));

    if (options.bug) {
      // A state the interpreter cannot step (as one written by newer code would be): when its wait
      // times out the step throws, and that instance ends as failed where it is (decision 0157).
      await rows(h.db.db, sql`update journey_instances set state = jsonb_set(state, '{block,nodeId}', '"ghost"') where id = ${await instanceOf("u-bug")}::uuid`);
    }
    h.clock.set(T0 + WAIT_MS);
    await h.engine.runUntilIdle();
    // The carrier reports u-sms-late's SMS undelivered after the journey moved on (no delivery wait).
    const [late] = await rows<{ data: { messageId: string } }>(
      h.db.db,
      sql`select data from journey_node_events where instance_id = ${await instanceOf("u-sms-late")}::uuid and kind = 'message' and message_status = 'sent'`,
    );
    await recordMessageNodeEvent(h.db.db, {
      eventId: `${late.data.messageId}:failed`,
      workspaceId: h.workspaceId,
      messageId: late.data.messageId,
      state: "failed",
      afterSent: true,
      reason: "not_delivered",
      at: new Date(h.clock.ms + 30 * MINUTE),
      journeyId,
      nodeId: "sms",
      instanceId: await instanceOf("u-sms-late"),
      userId: "u-sms-late",
      channel: "sms",
    });
    h.clock.advance(MINUTE);
    await h.engine.handleEvents([await h.storeEvent("u-ok2", "order_completed", { amount: 59 })]);
    await h.engine.runUntilIdle();
    return { h, journeyId };
  }

  it("goal at a wait, exit criteria, cancel, send and late failures, goal watch at Exit: every node adds up, on the cards and over the API", async () => {
    const { h, journeyId } = await run();
    try {
      const watching = await journeyStats(h.db.db, h.workspaceId, journeyId);
      const want = expectedNodes("watching");
      for (const [nodeId, expected] of Object.entries(want)) expect(pick(watching.nodes[nodeId]), nodeId).toEqual(expected);
      // The known failure this fixes: "50 entered, 30 waiting, Happened 0, Timed out 0" lost the buyers.
      expect(watching.nodes.wait_order.left.happened ?? 0).toBe(0);
      expect(watching.nodes.sms.messages).toMatchObject(expectedSms.messages);
      expect(watching.nodes.sms.failureReasons).toEqual(expectedSms.failureReasons);
      expect(watching.totals).toMatchObject({ entered: 9, inside: 3, converted: 4, exitReasons: { goal: 4, exit_criteria: 1, cancelled: 1 } });
      expect(await storedProblems(h.db.db, journeyId, Object.fromEntries(Object.entries(want).map(([k, v]) => [k, { entered: v.entered, left: v.left }])))).toEqual([]);

      // The same numbers over the REST API, with the secret key a script would use.
      const services: AppServices = { config: loadConfig({ WAYPOST_LOG_LEVEL: "silent", NODE_ENV: "test" }), database: h.db, db: h.db.db, log: createLogger("silent"), now: h.clock.now };
      const { key } = await createApiKey(h.db.db, { workspaceId: h.workspaceId, kind: "secret", name: "stats" });
      const get = async (query: string) => {
        const response = await journeyStatsEndpoint(new Request(`http://waypost.test/api/v1/journeys/${journeyId}/stats${query}`, { headers: { authorization: `Bearer ${key}` } }), services, journeyId);
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      };
      const api = await get("");
      expect(api.status).toBe(200);
      const body = journeyStatsResponseSchema.parse(api.body);
      for (const [nodeId, expected] of Object.entries(want)) {
        const node = body.nodes.find((n) => n.nodeId === nodeId)!;
        expect({ entered: node.entered, waiting: node.waiting, left: node.outputs, exits: node.exits }, nodeId).toEqual(expected);
      }
      expect(body.nodes.find((n) => n.nodeId === "sms")).toMatchObject({ messages: expectedSms.messages, failureReasons: expectedSms.failureReasons });
      expect(body).toMatchObject({ version: null, instances: { active: 3, completed: 6 }, conversions: 4, completions: { goal: 4, exit_criteria: 1, cancelled: 1 } });
      // Periods select users by their entry hour; version 1 is every user; bad values are named.
      expect((await get(`?version=1&from=${new Date(T0).toISOString()}&to=${new Date(T0 + MINUTE).toISOString()}`)).body).toMatchObject({ version: 1, instances: { active: 3 } });
      expect((await get(`?from=${new Date(T0 + 2 * 3_600_000).toISOString()}`)).body).toMatchObject({ nodes: [], conversions: 0 });
      expect((await get("?version=7")).status).toBe(404);
      const bad = await get("?from=yesterday&version=0");
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ error: { code: "invalid_value", issues: [expect.objectContaining({ path: "version" }), expect.objectContaining({ path: "from" })] } });

      // The window closes: the users watched at Exit finish there.
      h.clock.set(T0 + GOAL_WINDOW_MS + MINUTE);
      await h.engine.runUntilIdle();
      const closed = await journeyStats(h.db.db, h.workspaceId, journeyId);
      for (const [nodeId, expected] of Object.entries(expectedNodes("closed"))) expect(pick(closed.nodes[nodeId]), nodeId).toEqual(expected);
      expect(await storedProblems(h.db.db, journeyId)).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it("an interpreter failure ends the user as failed at their node; the check catches a lost or miscounted user", async () => {
    const { h, journeyId } = await run({ bug: true });
    try {
      const stats = await journeyStats(h.db.db, h.workspaceId, journeyId);
      expect(pick(stats.nodes.wait_order)).toEqual({ entered: 10, waiting: 0, left: { timed_out: 4 }, exits: { goal: 3, exit_criteria: 1, cancelled: 1, failed: 1 } });
      expect(await storedProblems(h.db.db, journeyId)).toEqual([]);

      // A user whose exit record is lost no longer adds up (the rollups follow the delete).
      await rows(h.db.db, sql`delete from journey_node_events where journey_id = ${journeyId}::uuid and user_id = 'u-bug' and kind = 'exit'`);
      expect((await journeyStats(h.db.db, h.workspaceId, journeyId)).nodes.wait_order.waiting).toBe(1);
      expect((await storedProblems(h.db.db, journeyId)).join("\n")).toMatch(/wait_order: (entered 10 ≠|waiting 1 on the card, 0 instances there)/);
      // A rollup that disagrees with the node events is reported too.
      const [any] = await rows<{ version_id: string; cohort: string }>(h.db.db, sql`select version_id::text, cohort::text from journey_node_rollup where journey_id = ${journeyId}::uuid limit 1`);
      await rows(
        h.db.db,
        sql`insert into journey_node_rollup_pending (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
            values (${journeyId}::uuid, ${any.version_id}::uuid, ${any.cohort}::timestamptz, 'exit', 'entered', '', '', '', '', '', 1)`,
      );
      expect((await storedProblems(h.db.db, journeyId)).join("\n")).toMatch(/rollup .* ≠ node events/);
    } finally {
      await h.close();
    }
  });
});
