import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { WorkflowNotFoundError } from "@temporalio/client";
import { Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, it, type ExpectStatic } from "vitest";
import { createJourney, publishJourney, saveDraft, startEditing } from "../../app/lib/journeys.server";
import { getNodeDefinition } from "../../nodes/registry";
import { executeNode } from "../../nodes/registry.server";
import type { ActionContext, ActionResult, FetchLike, SendMessageRequest, SendMessageResponse } from "../../nodes/runtime";
import { arr, epochMs, iso, rows, toMs } from "../../workflows/embedded/db.server";
import { createSandboxSender } from "../../workflows/embedded/sandbox-sender.server";
import { createUserUpdater } from "../../workflows/embedded/user-updates.server";
import { MESSAGE_DELIVERED_EVENT, MESSAGE_FAILED_EVENT } from "../../workflows/interpreter";
import type { ActionOutcome } from "../../workflows/simulate";
import { isValidZone, nextTimeOfDay, parseHhMm, resolveZone, toLocal } from "../../workflows/time";
import { createActivities } from "../../workflows/temporal/activities";
import { temporalGateway } from "../../workflows/temporal/client";
import { journeyTime, type JourneyClock } from "../../workflows/temporal/contract";
import { createTemporalEngine } from "../../workflows/temporal/engine";
import { observe, scenarios, type Scenario } from "../scenarios";
import { everyNode } from "../scenarios/cases/every-node";
import { goalAndExit } from "../scenarios/cases/goal-and-exit";
import { winBack } from "../scenarios/cases/win-back";
import { recordProblems, storedProblems } from "../scenarios/accounting";
import type { ObservedMessage, ObservedRecord } from "../scenarios/format";
import { createTestDb, type TestDb } from "../support/db";
import { closeLiveTemporal, liveTemporalSettings, openLiveTemporal, temporalAddress, type LiveTemporal } from "./support";

/**
 * The scenario suite against a real Temporal server: real client, real worker running the
 * bundled journeyWorkflow, real activities on the test database. `npm test` starts the server
 * (scripts/temporal-server.sh) and sets TEMPORAL_ADDRESS; by hand:
 * `TEMPORAL_ADDRESS=127.0.0.1:7233 npm run test:live`.
 *
 * Scenarios span days, so each runs on a journey clock (contract.ts `JourneyClock`) that maps
 * its whole span onto about two minutes of real time, all scenarios at once. In clock
 * mode the workflow steps at the time each input belongs to (a timer's deadline, an event's
 * timestamp; decision 0508), so task latency does not shift decisions; it can still reorder an
 * event and a deadline that lie closer together than the magnified latency. Paths, outcomes, node
 * counts and record counts must match exactly, send times within a tolerance. The exact times and
 * the workflow's exact commands are what the offline replay suite (test/temporal) checks.
 */

const address = temporalAddress;
if (!address) {
  console.log(
    "[live] TEMPORAL_ADDRESS is not set: the Temporal scenario suite is skipped. `npm test` starts a server when Go is installed; by hand: `scripts/temporal-server.sh start`, then `TEMPORAL_ADDRESS=<printed address> npm run test:live`.",
  );
}

const REAL_SPAN_MS = 120_000;
const ms = (value: string) => Date.parse(value);

const settings = liveTemporalSettings;

interface Shared extends LiveTemporal {
  /** Resolves once every scenario started together has finished its setup. */
  startLine(): Promise<void>;
}

/**
 * All scenarios run in this one process. One scenario's setup (creating its worker) can hold the
 * event loop for seconds, during which another scenario's events would not be sent while its
 * timers run on the server: so every clock starts after every setup. Released when `expected`
 * scenarios have arrived, or 5 s after the last arrival (a filtered run starts fewer).
 */
function startLine(expected: number): () => Promise<void> {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((resolve) => (release = resolve));
  let quiet: NodeJS.Timeout | undefined;
  return () => {
    arrived += 1;
    clearTimeout(quiet);
    if (arrived >= expected) release();
    else quiet = setTimeout(release, 5_000);
    return all;
  };
}

interface Observed {
  observed: ReturnType<typeof observe>;
  rejections: Array<{ user: string; at: number; reason: string }>;
  tolerance: number;
  /** Runs of this scenario's workflows that ended by continuing as new. */
  continued: number;
  /** Every user accounted for (test/scenarios/accounting.ts): empty when the cards add up. */
  accounting: string[];
}

/** `historyLimit`: continue as new once a run's history is this long (default: the workflow's). */
interface Variant {
  historyLimit?: number;
}

async function runLive(scenario: Scenario, shared: Shared, variant: Variant = {}): Promise<Observed> {
  // Every engine runs the schedules of every workspace in its database: a schedule scenario gets a
  // database of its own, or another scenario's engine (other clock, task queue and users) would run it.
  const ownDb = scenario.document.nodes.some((n) => (n.config as { source?: string }).source === "schedule") ? await createTestDb() : null;
  try {
    return await runOn(ownDb ?? shared.db, scenario, shared, variant);
  } finally {
    await ownDb?.drop();
  }
}

async function runOn(db: TestDb, scenario: Scenario, shared: Shared, variant: Variant): Promise<Observed> {
  const start = ms(scenario.start);
  const until = ms(scenario.until);
  const clock: JourneyClock = { origin: start, realOrigin: Date.now() + 3_000, rate: Math.max(1, (until - start) / REAL_SPAN_MS) };
  const now = () => journeyTime(clock, Date.now());
  const taskQueue = `waypost-live-${randomUUID()}`;
  const [workspace] = await rows<{ id: string }>(db.db, sql`insert into workspaces (name, timezone) values (${`live-${randomUUID()}`}, ${scenario.workspaceTimezone}) returning id`);
  const actor = { workspaceId: workspace.id };
  const rejections: Observed["rejections"] = [];

  // Delivery reports the scripted provider emits, applied when the journey clock reaches them.
  const internal: Array<{ at: number; userId: string; name: string; properties: Record<string, unknown> }> = [];
  const outcomeFor = (nodeId: string, userId: string, attempt: number): ActionOutcome | undefined =>
    scenario.actionOutcomes?.find((o) => o.nodeId === nodeId && (o.userId === undefined || o.userId === userId) && (o.attempt === undefined || o.attempt === attempt));
  const quietUntil = (ctx: ActionContext): number | null => {
    if (!scenario.quietHours) return null;
    const journeyZone = scenario.document.settings.timezone;
    const given = ctx.user.timezone ?? (typeof ctx.user.traits.timezone === "string" ? ctx.user.traits.timezone : null);
    const zone = resolveZone(given, isValidZone(journeyZone) ? journeyZone : scenario.workspaceTimezone).zone;
    const local = toLocal(ctx.now, zone);
    const minutes = local.hour * 60 + local.minute;
    const s = parseHhMm(scenario.quietHours.start);
    const e = parseHhMm(scenario.quietHours.end);
    const [startM, endM] = [s.hour * 60 + s.minute, e.hour * 60 + e.minute];
    const inside = startM <= endM ? minutes >= startM && minutes < endM : minutes >= startM || minutes < endM;
    return inside ? nextTimeOfDay(ctx.now, zone, [scenario.quietHours.end], []) : null;
  };
  const okFetch: FetchLike = async () => ({ status: 200, ok: true, text: async () => "ok" });
  // The provider is scripted exactly as in the embedded engine's scenario runner.
  const executeAction = async (type: string, ctx: ActionContext, config: unknown): Promise<ActionResult> => {
    const channel = getNodeDefinition(type)?.channel;
    const forced = outcomeFor(ctx.nodeId, ctx.user.id, ctx.attempt);
    if (forced?.result === "retry") return { retry: { reason: forced.reason ?? "simulated" } };
    if (forced?.result === "defer") return { deferUntil: ctx.now + (forced.deferMs ?? 3_600_000), reason: forced.reason ?? "quiet_hours" };
    if (forced && !channel) return { output: forced.result, detail: forced.reason ? { reason: forced.reason } : {} };
    const sendMessage = async (request: SendMessageRequest): Promise<SendMessageResponse> => {
      if (forced) {
        if (forced.result !== "sent") return { status: "failed", reason: forced.reason ?? "simulated" };
      } else if (request.category !== "transactional") {
        const quiet = quietUntil(ctx);
        if (quiet !== null) return request.quietHours === "skip" ? { status: "failed", reason: "quiet_hours" } : { status: "deferred", deferUntil: quiet, reason: "quiet_hours" };
      }
      const messageId = `live-${request.idempotencyKey}`;
      const delivery = forced?.delivery ?? "delivered";
      if (delivery !== "none") {
        internal.push({
          at: ctx.now + (forced?.deliveryDelayMs ?? 0),
          userId: ctx.user.id,
          name: delivery === "delivered" ? MESSAGE_DELIVERED_EVENT : MESSAGE_FAILED_EVENT,
          properties: { instanceId: ctx.instanceId, nodeId: ctx.nodeId, messageId, channel, ...(delivery === "failed" ? { reason: forced?.reason ?? "provider_rejected" } : {}) },
        });
      }
      return { status: "sent", messageId };
    };
    return executeNode(type, { ...ctx, services: { ...ctx.services, sendMessage, fetch: okFetch } }, config);
  };

  const sandbox = createSandboxSender({ db: db.db, now });
  const updater = createUserUpdater(db.db, now);
  const activities = createActivities({
    db: db.db,
    now,
    executeAction,
    actionServices: (workspaceId) => ({ sendMessage: sandbox.forWorkspace(workspaceId), updateUser: updater(workspaceId), fetch: okFetch }),
  });
  const worker = await Worker.create({ connection: shared.connection, namespace: settings().namespace, taskQueue, workflowBundle: { code: shared.bundle.code }, activities });
  const running = worker.run();
  const engine = createTemporalEngine(
    { db: db.db, now: () => new Date(now()), gateway: temporalGateway(shared.client, taskQueue) },
    {
      clock,
      scheduleEveryMs: 10,
      ...variant,
      segmentMembers: async (_workspace, segment) => scenario.users.filter((u) => u.segments?.includes(segment)).map((u) => u.id),
      onEntry: (e) => {
        if (!e.entered) rejections.push({ user: e.userId, at: e.at, reason: e.reason! });
      },
    },
  );

  const storeEvent = async (userId: string, name: string, properties: Record<string, unknown>, at: number) => {
    const messageId = randomUUID();
    await rows(
      db.db,
      sql`insert into events (workspace_id, message_id, user_id, name, properties, timestamp)
          values (${workspace.id}::uuid, ${messageId}, ${userId}, ${name}, ${JSON.stringify(properties)}::jsonb, ${iso(at)}::timestamptz)`,
    );
    await engine.handleEvents([{ workspaceId: workspace.id, userId, messageId, name, properties, timestamp: at }]);
  };
  const waitFor = async (at: number) => {
    const delay = (at - now()) / clock.rate;
    if (delay > 0) await sleep(delay);
  };

  let journeyId = "";
  let stop = false;
  const reports = (async () => {
    while (!stop) {
      internal.sort((a, b) => a.at - b.at);
      const due = internal.filter((i) => i.at <= now());
      internal.splice(0, due.length);
      for (const i of due) await storeEvent(i.userId, i.name, i.properties, i.at);
      await sleep(5);
    }
  })();
  try {
    const users = new Map(scenario.users.map((u) => [u.id, u]));
    for (const e of scenario.timeline) if (!users.has(e.userId)) users.set(e.userId, { id: e.userId });
    const list = [...users.values()];
    await rows(
      db.db,
      sql`insert into users (workspace_id, id, traits, timezone)
          select ${workspace.id}::uuid, u, t::jsonb, z
          from unnest(${arr(list.map((u) => u.id))}::text[], ${arr(list.map((u) => JSON.stringify(u.traits ?? {})))}::text[], ${arr(list.map((u) => u.timezone ?? null))}::text[]) as d(u, t, z)`,
    );
    // Holdout membership hashes the program id: give it the scenario's journey id.
    const programId = async (versionId: string) =>
      rows(db.db, sql`update journey_versions set program = jsonb_set(program, '{id}', to_jsonb(${scenario.journeyId}::text)) where id = ${versionId}::uuid`);
    const created = await createJourney(db.db, actor, { name: scenario.document.name, document: scenario.document });
    journeyId = created.id;
    const first = await publishJourney(db.db, actor, { journeyId });
    if (!first.ok) throw new Error("scenario journey does not compile");
    await programId(first.versionId);
    // Journey time starts once this and every other scenario is set up (see `startLine`).
    await shared.startLine();
    clock.realOrigin = Date.now() + 1_000;
    await waitFor(start);
    await engine.start();

    const steps = [
      ...(scenario.versions ?? []).map((v, i) => ({ at: ms(v.at), order: -1000 + i, run: async () => {
        const { revision } = await startEditing(db.db, actor, journeyId);
        await saveDraft(db.db, actor, { journeyId, baseRevision: revision, document: v.document });
        const published = await publishJourney(db.db, actor, { journeyId });
        if (!published.ok) throw new Error("scenario version does not compile");
        await programId(published.versionId);
      } })),
      ...scenario.timeline.map((e, i) => ({ at: ms(e.at), order: i, run: () => storeEvent(e.userId, e.event.name, e.event.properties ?? {}, ms(e.at)) })),
    ].sort((a, b) => a.at - b.at || a.order - b.order);
    for (const s of steps) {
      if (s.at > until) break;
      await waitFor(s.at);
      await s.run();
    }
    await waitFor(until);
    // Let tasks already due at `until` finish; anything later is cut off below.
    await sleep(1_500);
  } finally {
    stop = true;
    await reports;
    await engine.stop();
    worker.shutdown();
    await running;
  }

  const found = await rows<{
    instance_id: string; seq: number; user_id: string; node_id: string | null; kind: string; output: string | null; reason: string | null;
    message_status: string | null; channel: string | null; data: Record<string, unknown> | null; at: number;
  }>(
    db.db,
    sql`select instance_id, seq, user_id, node_id, kind, output, reason, message_status, channel, data, ${epochMs(sql`at`)} as at
        from journey_node_events where journey_id = ${journeyId}::uuid and at <= ${iso(until)}::timestamptz order by instance_id, seq`,
  );
  const records = found.map((r) => {
    const data = r.data ?? {};
    const body: Record<string, unknown> = { kind: r.kind, nodeId: r.node_id };
    if (r.kind === "left") Object.assign(body, { output: r.output, ...(r.reason ? { reason: r.reason } : {}) });
    if (r.kind === "message") Object.assign(body, { status: r.message_status, channel: r.channel, ...(r.reason ? { reason: r.reason } : {}), ...data });
    if (r.kind === "retry" || r.kind === "tz_fallback" || r.kind === "exit") Object.assign(body, { reason: r.reason, ...data });
    if (r.kind === "conversion") Object.assign(body, data);
    return { ...body, userId: r.user_id, instanceId: r.instance_id, seq: r.seq, at: new Date(toMs(r.at)!).toISOString() } as unknown as ObservedRecord;
  });
  // Instances still waiting at `until` have nothing more to show: end their workflows.
  const open = await rows<{ id: string }>(db.db, sql`select id from journey_instances where journey_id = ${journeyId}::uuid and status = 'active'`);
  for (const { id } of open) {
    await shared.client.workflow.getHandle(id).terminate("live scenario finished").catch((error: unknown) => {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    });
  }
  // Entry times here are real-clock hours apart from the expected ones: no expected counts, but
  // rollups against raw node events, waiting against active instances, per version and period.
  const accounting = [...recordProblems(records), ...(await storedProblems(db.db, journeyId))];
  let continued = 0;
  for await (const _ of shared.client.workflow.list({ query: `TaskQueue = "${taskQueue}" AND ExecutionStatus = "ContinuedAsNew"` })) continued += 1;
  // Five real-time workflow-task latencies of slack, at least ten minutes of journey time.
  return { observed: observe(records), rejections, tolerance: Math.max(10 * 60_000, clock.rate * 250), continued, accounting };
}

function expectMessages(expect: ExpectStatic, actual: ObservedMessage[], expected: ObservedMessage[], tolerance: number) {
  const key = (m: ObservedMessage) => `${m.user}|${m.node}|${m.channel}|${m.status}`;
  const sorted = (list: ObservedMessage[]) => [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.at < b.at ? -1 : 1));
  const a = sorted(actual);
  const e = sorted(expected);
  expect(a.map(key)).toEqual(e.map(key));
  a.forEach((m, i) => expect(Math.abs(ms(m.at) - ms(e[i].at)), `${key(m)} at ${m.at}, expected ${e[i].at}`).toBeLessThanOrEqual(tolerance));
}

describe.skipIf(!address)(`scenarios on a real Temporal server (${address ?? "not configured"})`, () => {
  let shared: Shared;

  beforeAll(async () => {
    shared = { ...(await openLiveTemporal()), startLine: startLine(runs.length) };
  }, 180_000);

  afterAll(() => closeLiveTemporal(shared));

  // The busiest scenarios again, continuing as new at almost every wake: the hand-over (state,
  // seen events, pinned time, pending timers) must not change a single path or count.
  const continuing = new Set([winBack.name, everyNode.name, goalAndExit.name]);
  const runs = [
    ...scenarios.map((scenario) => ({ scenario, name: scenario.name, variant: {} as Variant })),
    ...scenarios.filter((s) => continuing.has(s.name)).map((scenario) => ({ scenario, name: `${scenario.name} · continuing as new`, variant: { historyLimit: 12 } })),
  ];
  for (const { scenario, name, variant } of runs) {
    it.concurrent(name, async ({ expect }) => {
      const { observed, rejections, tolerance, continued, accounting } = await runLive(scenario, shared, variant);
      expect(accounting, "every user accounted for").toEqual([]);
      if (variant.historyLimit) expect(continued, "runs that continued as new").toBeGreaterThan(0);
      expect(observed.paths).toEqual(scenario.expect.paths);
      expect(observed.outcomes).toEqual(scenario.expect.outcomes);
      expect(observed.nodeCounts).toEqual(scenario.expect.nodeCounts);
      for (const [kind, count] of Object.entries(scenario.expect.recordCounts ?? {})) {
        expect(observed.recordCounts[kind] ?? 0, `records of kind ${kind}`).toBe(count);
      }
      expectMessages(expect, observed.messages, scenario.expect.messages, tolerance);
      if (scenario.expect.rejections) {
        const got = [...rejections].sort((a, b) => a.at - b.at);
        expect(got.map((r) => [r.user, r.reason])).toEqual(scenario.expect.rejections.map((r) => [r.user, r.reason]));
        got.forEach((r, i) => expect(Math.abs(r.at - ms(scenario.expect.rejections![i].at))).toBeLessThanOrEqual(tolerance));
      }
    }, 240_000);
  }
});
