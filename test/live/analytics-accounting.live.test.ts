import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../app/config.server";
import { createOperator } from "../../app/lib/accounts.server";
import { journeyStats, type JourneyStats } from "../../app/lib/analytics.server";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { createLogger } from "../../app/lib/log.server";
import { createCallerFactory } from "../../app/trpc/init.server";
import { appRouter } from "../../app/trpc/router.server";
import { recordMessageNodeEvent } from "../../nodes/channels/runtime.server";
import { executeNode } from "../../nodes/registry.server";
import type { SendMessageRequest, SendMessageResponse } from "../../nodes/runtime";
import { rows } from "../../workflows/embedded/db.server";
import { createActivities } from "../../workflows/temporal/activities";
import { journeyTime, type JourneyClock } from "../../workflows/temporal/contract";
import { temporalGateway } from "../../workflows/temporal/client";
import { createTemporalEngine } from "../../workflows/temporal/engine";
import { accountingJourney, expectedNodes, expectedSms, GOALS, USERS } from "../scenarios/accounting-journey";
import { storedProblems } from "../scenarios/accounting";
import { closeLiveTemporal, liveTemporalSettings, openLiveTemporal, temporalAddress, type LiveTemporal } from "./support";

/**
 * Every user accounted for on a real Temporal server, the same journey and numbers as the embedded
 * engine's test/engine/accounting.test.ts: goal at a wait (the goal is also the awaited event),
 * exit criteria, a cancel through the operations router, a provider refusal, a late delivery
 * failure, users watched for the goal at Exit; every node's numbers on the cards, and the identity
 * against the raw tables, while users are watched and after the goal window closed.
 * Journey time runs 300× real time (the 60-minute wait is 12 s, the 3-hour window 36 s).
 */

const address = temporalAddress;
if (!address) console.log("[live] TEMPORAL_ADDRESS is not set: the Temporal accounting suite is skipped.");

const RATE = 300;

const pick = (s: JourneyStats["nodes"][string] | undefined) => ({
  entered: s?.entered ?? 0,
  waiting: s?.waiting ?? 0,
  left: Object.fromEntries(Object.entries(s?.left ?? {}).filter(([, n]) => n !== 0)),
  exits: Object.fromEntries(Object.entries(s?.exits ?? {}).filter(([, n]) => n !== 0)),
});

/** Polls until `check` holds (bounded: the live suite never asserts on timing). */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

describe.skipIf(!address)(`every user accounted for on a real Temporal server (${address ?? "not configured"})`, () => {
  let shared: LiveTemporal;
  beforeAll(async () => {
    shared = await openLiveTemporal();
  }, 180_000);
  afterAll(() => closeLiveTemporal(shared));

  it("goal at a wait, exit criteria, cancel, send and late failures, goal watch at Exit: every node adds up", async () => {
    const { db } = shared;
    const clock: JourneyClock = { origin: Date.now(), realOrigin: Date.now(), rate: RATE };
    const now = () => journeyTime(clock, Date.now());
    const [workspace] = await rows<{ id: string }>(db.db, sql`insert into workspaces (name) values (${`accounting-${randomUUID()}`}) returning id`);
    const workspaceId = workspace.id;
    const sendMessage = async (request: SendMessageRequest): Promise<SendMessageResponse> =>
      request.userId === "u-sms-fail" ? { status: "failed", reason: "provider_rejected" } : { status: "sent", messageId: `m-${request.idempotencyKey}` };
    const taskQueue = `waypost-accounting-${randomUUID()}`;
    const activities = createActivities({
      db: db.db,
      now,
      executeAction: executeNode,
      actionServices: () => ({ sendMessage, updateUser: async () => {}, fetch: async () => ({ status: 200, ok: true, text: async () => "ok" }) }),
    });
    const worker = await Worker.create({ connection: shared.connection, namespace: liveTemporalSettings().namespace, taskQueue, workflowBundle: { code: shared.bundle.code }, activities });
    const running = worker.run();
    const engine = createTemporalEngine({ db: db.db, now: () => new Date(now()), gateway: temporalGateway(shared.client, taskQueue) }, { clock });
    const operator = await createOperator(db.db, { workspaceId, email: `admin-${workspaceId}@example.com`, role: "admin", password: "admin-password-1" });
    const admin = createCallerFactory(appRouter)({
      services: { config: loadConfig({ WAYPOST_LOG_LEVEL: "silent", NODE_ENV: "test" }), database: db, db: db.db, log: createLogger("silent"), now: () => new Date(now()), engine },
      session: { operatorId: operator.id, workspaceId, email: "admin@example.com", name: "admin", role: "admin", locale: null },
    });
    try {
      const { id: journeyId } = await createJourney(db.db, { workspaceId }, { name: "accounting", document: accountingJourney() });
      expect((await publishJourney(db.db, { workspaceId }, { journeyId })).ok).toBe(true);
      await rows(
        db.db,
        sql`insert into users (workspace_id, id, traits, phone, timezone)
            select ${workspaceId}::uuid, u, '{}'::jsonb, '+8613800001111', 'Asia/Shanghai' from unnest(${`{${USERS.join(",")}}`}::text[]) as u`,
      );
      const ids = new Map<string, string>();
      for (const u of USERS) {
        const entry = await engine.triggerJourney({ workspaceId, journeyId, userId: u });
        expect(entry.entered, u).toBe(true);
        ids.set(u, entry.instanceId!);
      }
      const event = (userId: string, name: string) => ({ workspaceId, userId, messageId: randomUUID(), name, properties: {}, timestamp: now() });
      await engine.handleEvents([...GOALS.map((u) => event(u, "order_completed")), event("u-exit", "account_deleted")]);
      expect(await admin.operations.cancel({ id: ids.get("u-cancel")! })).toMatchObject({ status: "completed", nodeId: "wait_order" });

      const stats = () => journeyStats(db.db, workspaceId, journeyId);
      // The wait times out (12 s real): four SMS attempts, one refused.
      await until("the SMS step", async () => {
        const s = (await stats()).nodes.sms;
        return (s?.left.sent ?? 0) + (s?.left.failed ?? 0) === 4;
      });
      const [late] = await rows<{ data: { messageId: string } }>(
        db.db,
        sql`select data from journey_node_events where instance_id = ${ids.get("u-sms-late")!}::uuid and kind = 'message' and message_status = 'sent'`,
      );
      await recordMessageNodeEvent(db.db, {
        eventId: `${late.data.messageId}:failed`,
        workspaceId,
        messageId: late.data.messageId,
        state: "failed",
        afterSent: true,
        reason: "not_delivered",
        at: new Date(now()),
        journeyId,
        nodeId: "sms",
        instanceId: ids.get("u-sms-late")!,
        userId: "u-sms-late",
        channel: "sms",
      });
      await until("u-ok2 at Exit", async () => pick((await stats()).nodes.exit).entered === 4);
      await engine.handleEvents([event("u-ok2", "order_completed")]);
      await until("the conversion at Exit", async () => (pick((await stats()).nodes.exit).exits.goal ?? 0) === 1);

      const watching = await stats();
      for (const [nodeId, expected] of Object.entries(expectedNodes("watching"))) expect(pick(watching.nodes[nodeId]), nodeId).toEqual(expected);
      expect(watching.nodes.wait_order.left.happened ?? 0).toBe(0);
      expect(watching.nodes.sms.messages).toMatchObject(expectedSms.messages);
      expect(watching.nodes.sms.failureReasons).toEqual(expectedSms.failureReasons);
      expect(watching.totals).toMatchObject({ entered: 9, inside: 3, converted: 4, exitReasons: { goal: 4, exit_criteria: 1, cancelled: 1 } });
      const want = expectedNodes("watching");
      expect(await storedProblems(db.db, journeyId, Object.fromEntries(Object.entries(want).map(([k, v]) => [k, { entered: v.entered, left: v.left }])))).toEqual([]);

      // The goal window closes (36 s real after entry): the watched users finish at Exit.
      await until("the goal window to close", async () => (await stats()).totals.inside === 0);
      const closed = await stats();
      for (const [nodeId, expected] of Object.entries(expectedNodes("closed"))) expect(pick(closed.nodes[nodeId]), nodeId).toEqual(expected);
      expect(await storedProblems(db.db, journeyId)).toEqual([]);
    } finally {
      worker.shutdown();
      await running;
    }
  }, 300_000);
});
