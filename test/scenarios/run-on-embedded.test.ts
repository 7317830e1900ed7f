import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rows } from "../../workflows/embedded/db.server";
import { getNodeDefinition } from "../../nodes/registry";
import { executeNode } from "../../nodes/registry.server";
import type { ActionContext, ActionResult, FetchLike, SendMessageRequest, SendMessageResponse } from "../../nodes/runtime";
import type { ActionOutcome } from "../../workflows/simulate";
import { MESSAGE_DELIVERED_EVENT, MESSAGE_FAILED_EVENT } from "../../workflows/interpreter";
import { decideMessage } from "../../nodes/channels/policies/decide";
import { policySettingsSchema } from "../../nodes/channels/policies/settings";
import type { EntryDecisionEvent } from "../../workflows/embedded/engine.server";
import { createHarness, type EngineHarness } from "../engine/support";
import { createTestDb, testDatabaseKind, type TestDb } from "../support/db";
import { recordProblems, storedProblems } from "./accounting";
import { observe, type Scenario } from "./format";
import { scenarios } from "./index";

/**
 * Every scenario of the engine-neutral suite on the embedded engine with a real database and a
 * virtual clock, asserting exactly what run-on-simulator.test.ts asserts. Real node runtimes
 * run (templates render, the profile update hits `users`); only the provider is scripted, as
 * the scenario's `actionOutcomes` and `quietHours` describe, and its delivery reports reach the
 * engine as `$message.*` events the way the channels layer sends them.
 */

interface Internal {
  at: number;
  order: number;
  userId: string;
  name: string;
  properties: Record<string, unknown>;
}

const ms = (value: string) => Date.parse(value);

async function runScenario(scenario: Scenario, db: TestDb) {
  const internal: Internal[] = [];
  let order = 0;
  const rejections: Array<{ user: string; at: string; reason: string }> = [];
  const sends: SendMessageRequest[] = [];

  const outcomeFor = (nodeId: string, userId: string, attempt: number): ActionOutcome | undefined =>
    scenario.actionOutcomes?.find((o) => o.nodeId === nodeId && (o.userId === undefined || o.userId === userId) && (o.attempt === undefined || o.attempt === attempt));

  // Quiet hours as the send path decides them (policies/decide.ts), with the scenario's window.
  const policies = policySettingsSchema.parse({
    marketingConsent: { push: "opt-out", sms: "opt-out", email: "opt-out" },
    quietHours: scenario.quietHours ? { enabled: true, ...scenario.quietHours } : { enabled: false },
    frequencyCaps: [],
  });
  const quietUntil = (ctx: ActionContext, request: SendMessageRequest): number | null => {
    const timezone = ctx.user.timezone ?? (typeof ctx.user.traits.timezone === "string" ? ctx.user.traits.timezone : null);
    const decision = decideMessage(
      // Asked as "defer" to learn when the window ends; the caller applies the node's skip/defer.
      { channel: request.channel, category: request.category, quietHours: "defer", content: {} },
      { addresses: 1, consent: {}, suppressions: [], timezone },
      { settings: policies, workspaceZone: scenario.workspaceTimezone },
      new Date(ctx.now),
    );
    return decision.kind === "defer" ? decision.until.getTime() : null;
  };

  const okFetch: FetchLike = async () => ({ status: 200, ok: true, text: async () => "ok" });

  const executeAction = async (type: string, ctx: ActionContext, config: unknown): Promise<ActionResult> => {
    const channel = getNodeDefinition(type)?.channel;
    const forced = outcomeFor(ctx.nodeId, ctx.user.id, ctx.attempt);
    if (forced?.result === "retry") return { retry: { reason: forced.reason ?? "simulated" } };
    if (forced?.result === "defer") return { deferUntil: ctx.now + (forced.deferMs ?? 3_600_000), reason: forced.reason ?? "quiet_hours" };
    if (forced && !channel) return { output: forced.result, detail: forced.reason ? { reason: forced.reason } : {} };
    const sendMessage = async (request: SendMessageRequest): Promise<SendMessageResponse> => {
      sends.push(request);
      if (forced) {
        if (forced.result !== "sent") return { status: "failed", reason: forced.reason ?? "simulated" };
      } else {
        const until = quietUntil(ctx, request);
        if (until !== null) return request.quietHours === "skip" ? { status: "failed", reason: "quiet_hours" } : { status: "deferred", deferUntil: until, reason: "quiet_hours" };
      }
      const messageId = `sim-${request.idempotencyKey}`;
      const delivery = forced?.delivery ?? "delivered";
      if (delivery !== "none") {
        internal.push({
          at: ctx.now + (forced?.deliveryDelayMs ?? 0),
          order: order++,
          userId: ctx.user.id,
          name: delivery === "delivered" ? MESSAGE_DELIVERED_EVENT : MESSAGE_FAILED_EVENT,
          properties: { instanceId: ctx.instanceId, nodeId: ctx.nodeId, messageId, channel, ...(delivery === "failed" ? { reason: forced?.reason ?? "provider_rejected" } : {}) },
        });
      }
      return { status: "sent", messageId };
    };
    return executeNode(type, { ...ctx, services: { ...ctx.services, sendMessage, fetch: okFetch } }, config);
  };

  const h: EngineHarness = await createHarness({
    db,
    start: ms(scenario.start),
    timezone: scenario.workspaceTimezone,
    engine: {
      executeAction,
      segmentMembers: async (_workspace, segment) => scenario.users.filter((u) => u.segments?.includes(segment)).map((u) => u.id),
      onEntry: (e: EntryDecisionEvent) => {
        if (!e.entered) rejections.push({ user: e.userId, at: new Date(e.at).toISOString(), reason: e.reason! });
      },
    },
  });
  try {
    const users = new Map(scenario.users.map((u) => [u.id, u]));
    for (const e of scenario.timeline) if (!users.has(e.userId)) users.set(e.userId, { id: e.userId });
    await h.insertUsers([...users.values()]);
    const { journeyId } = await h.publish(scenario.document, { programId: scenario.journeyId });
    const versions = [...(scenario.versions ?? [])].map((v) => ({ at: ms(v.at), document: v.document })).sort((a, b) => a.at - b.at);
    const timeline = scenario.timeline.map((e) => ({ ...e, at: ms(e.at) }));
    const until = ms(scenario.until);
    // The engine first sees the journey live at `start` (schedules count from there).
    await h.engine.runUntilIdle();

    let t = 0;
    let v = 0;
    for (;;) {
      internal.sort((a, b) => a.at - b.at || a.order - b.order);
      const due = await h.engine.nextDueAt();
      const next = Math.min(timeline[t]?.at ?? Infinity, versions[v]?.at ?? Infinity, internal[0]?.at ?? Infinity, due ?? Infinity);
      if (!Number.isFinite(next) || next > until) break;
      h.clock.set(Math.max(next, h.clock.ms));
      const now = h.clock.ms;
      // Same order as the simulator at one instant: versions, timeline entries (each with its
      // immediate side effects), then timers and internal events (delivery reports).
      while (versions[v] && versions[v].at <= now) await h.republish(journeyId, versions[v++].document, { programId: scenario.journeyId });
      while (timeline[t] && timeline[t].at <= now) {
        const entry = timeline[t++];
        const event = await h.storeEvent(entry.userId, entry.event.name, entry.event.properties ?? {}, now);
        await h.engine.handleEvents([event]);
        await h.engine.runUntilIdle({ timers: false, schedules: false });
      }
      for (;;) {
        const work = await h.engine.runUntilIdle();
        internal.sort((a, b) => a.at - b.at || a.order - b.order);
        const ready = internal.filter((i) => i.at <= now);
        if (ready.length === 0 && work === 0) break;
        internal.splice(0, ready.length);
        for (const i of ready) {
          const event = await h.storeEvent(i.userId, i.name, i.properties, now);
          await h.engine.handleEvents([event]);
        }
      }
    }
    const records = await h.records(journeyId);
    // Every user accounted for, on the cards and against the raw tables (test/scenarios/accounting.ts).
    const accounting = [...recordProblems(records), ...(await storedProblems(db.db, journeyId, scenario.expect.nodeCounts))];
    return { observed: observe(records), accounting, rejections: rejections.sort((a, b) => (a.at !== b.at ? (a.at < b.at ? -1 : 1) : a.user < b.user ? -1 : 1)), sends };
  } finally {
    await h.close();
  }
}

describe(`scenarios on the embedded engine (${testDatabaseKind()})`, () => {
  // One database for the file (each scenario gets its own workspace): PGlite starts slowly.
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db.drop();
  });

  for (const scenario of scenarios) {
    it(scenario.name, async () => {
      const { observed, accounting, rejections } = await runScenario(scenario, db);
      expect(accounting, "every user accounted for").toEqual([]);
      expect(observed.paths).toEqual(scenario.expect.paths);
      expect(observed.outcomes).toEqual(scenario.expect.outcomes);
      expect(observed.messages).toEqual(scenario.expect.messages);
      expect(observed.nodeCounts).toEqual(scenario.expect.nodeCounts);
      for (const [kind, count] of Object.entries(scenario.expect.recordCounts ?? {})) {
        expect(observed.recordCounts[kind] ?? 0, `records of kind ${kind}`).toBe(count);
      }
      if (scenario.expect.rejections) expect(rejections).toEqual(scenario.expect.rejections);
      // The due-timer table mirrors the instances exactly: one row per active instance with a wake time.
      const mismatched = await rows<{ id: string }>(
        db.db,
        sql`(select id, wake_at from journey_instances where status = 'active' and wake_at is not null
             except select instance_id, wake_at from journey_timers)
            union all
            (select instance_id, wake_at from journey_timers
             except select id, wake_at from journey_instances where status = 'active' and wake_at is not null)`,
      );
      expect(mismatched).toEqual([]);
    });
  }
});
