import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../app/config.server";
import { createOperator } from "../../app/lib/accounts.server";
import { createJourney, publishJourney, saveDraft, startEditing } from "../../app/lib/journeys.server";
import { createLogger } from "../../app/lib/log.server";
import { createCallerFactory } from "../../app/trpc/init.server";
import { appRouter } from "../../app/trpc/router.server";
import { executeNode } from "../../nodes/registry.server";
import { buildJourney } from "../../workflows/builder";
import { epochMs, iso, rows } from "../../workflows/embedded/db.server";
import { createActivities } from "../../workflows/temporal/activities";
import { journeyTime, type JourneyClock } from "../../workflows/temporal/contract";
import { temporalGateway } from "../../workflows/temporal/client";
import { createTemporalEngine } from "../../workflows/temporal/engine";
import { closeLiveTemporal, liveTemporalSettings, openLiveTemporal, temporalAddress, type LiveTemporal } from "./support";

/**
 * Moving users to a new version on a real Temporal server (the embedded engine's proof is
 * test/engine/move.test.ts): through the operations router as the move dialog calls it, each
 * workflow gets the move by the `journeyOperate` Update, stores the old version's `left` under
 * that version, then runs the new program — its timer and awaited event re-derived from the new
 * node. Journey time runs 40,000× faster than real time (a day is ~2.2 s).
 */

const address = temporalAddress;
if (!address) console.log("[live] TEMPORAL_ADDRESS is not set: the live version-move suite is skipped.");

const DAY = 86_400_000;
const RATE = 40_000;

type Nodes = Parameters<typeof buildJourney>[0]["nodes"];
type Edges = Parameters<typeof buildJourney>[0]["edges"];

function journey(nodes: Nodes, edges: Edges) {
  return buildJourney({
    name: "move live",
    settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [{ id: "trigger", type: "core.trigger", config: { source: "api" } }, ...nodes],
    edges: [["trigger", "next", nodes[0].id], ...edges],
  });
}

/** v1: wait 3 days → wait 30 days for "clicked" → exit. */
const v1 = journey(
  [
    { id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: 3, unit: "days" } } },
    { id: "await", label: "Wait for a click", type: "core.wait-for-event", config: { event: "clicked", filters: [], timeout: { amount: 30, unit: "days" } } },
    { id: "exit", type: "core.exit", config: {} },
  ],
  [
    ["wait", "next", "await"],
    ["await", "happened", "exit"],
    ["await", "timed_out", "exit"],
  ],
);

/** v2: "wait" now 1 day → wait 30 days for "opened" → exit; v1's "await" is gone. */
const v2 = journey(
  [
    { id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: 1, unit: "days" } } },
    { id: "await2", type: "core.wait-for-event", config: { event: "opened", filters: [], timeout: { amount: 30, unit: "days" } } },
    { id: "exit", type: "core.exit", config: {} },
  ],
  [
    ["wait", "next", "await2"],
    ["await2", "happened", "exit"],
    ["await2", "timed_out", "exit"],
  ],
);

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe.skipIf(!address)(`moving users to a new version on a real Temporal server (${address ?? "not configured"})`, () => {
  let shared: LiveTemporal;
  beforeAll(async () => {
    shared = await openLiveTemporal();
  }, 180_000);
  afterAll(() => closeLiveTemporal(shared));

  it("users at a mapped and an unmapped node move; the new wait's deadline and the new awaited event apply; counts reconcile; refused plans change nothing; audited", async () => {
    const { db } = shared;
    const clock: JourneyClock = { origin: Date.now(), realOrigin: Date.now(), rate: RATE };
    const now = () => journeyTime(clock, Date.now());
    const [workspace] = await rows<{ id: string }>(db.db, sql`insert into workspaces (name) values (${`move-${randomUUID()}`}) returning id`);
    const workspaceId = workspace.id;
    const taskQueue = `waypost-move-${randomUUID()}`;
    const activities = createActivities({
      db: db.db,
      now,
      executeAction: (type, ctx, config) => executeNode(type, ctx, config),
      actionServices: () => ({ sendMessage: async () => ({ status: "sent" as const, messageId: "x" }), updateUser: async () => {}, fetch: async () => ({ status: 200, ok: true, text: async () => "ok" }) }),
    });
    const worker = await Worker.create({ connection: shared.connection, namespace: liveTemporalSettings().namespace, taskQueue, workflowBundle: { code: shared.bundle.code }, activities });
    const running = worker.run();
    const engine = createTemporalEngine({ db: db.db, now: () => new Date(now()), gateway: temporalGateway(shared.client, taskQueue) }, { clock });
    const operator = await createOperator(db.db, { workspaceId, email: `admin-${workspaceId}@example.com`, role: "admin", password: "admin-password-1" });
    const admin = createCallerFactory(appRouter)({
      services: { config: loadConfig({ WAYPOST_LOG_LEVEL: "silent", NODE_ENV: "test" }), database: db, db: db.db, log: createLogger("silent"), now: () => new Date(now()), engine },
      session: { operatorId: operator.id, workspaceId, email: "admin@example.com", name: "admin", role: "admin", locale: null },
    });
    const actor = { workspaceId };
    const enter = async (journeyId: string, userId: string) => {
      await rows(db.db, sql`insert into users (workspace_id, id, traits) values (${workspaceId}::uuid, ${userId}, '{}'::jsonb) on conflict do nothing`);
      const result = await engine.triggerJourney({ workspaceId, journeyId, userId });
      if (!result.entered) throw new Error(`${userId} did not enter`);
      return result.instanceId!;
    };
    const row = async (id: string) =>
      (await rows<{ version_id: string; node_id: string | null; status: string; reason: string | null }>(db.db, sql`select version_id, node_id, status, reason from journey_instances where id = ${id}::uuid`))[0];
    const event = async (userId: string, name: string) => {
      const messageId = randomUUID();
      const at = now();
      await rows(db.db, sql`insert into events (workspace_id, message_id, user_id, name, properties, timestamp) values (${workspaceId}::uuid, ${messageId}, ${userId}, ${name}, '{}'::jsonb, ${iso(at)}::timestamptz)`);
      await engine.handleEvents([{ workspaceId, userId, messageId, name, properties: {}, timestamp: at }]);
    };
    try {
      const { id: journeyId } = await createJourney(db.db, actor, { name: "move live", document: v1 });
      const first = await publishJourney(db.db, actor, { journeyId });
      if (!first.ok) throw new Error("v1 does not compile");
      const bee = await enter(journeyId, "bee");
      await until("bee to wait for the click", async () => (await row(bee)).node_id === "await");
      const ann = await enter(journeyId, "ann");
      const annEntered = now();
      expect(await row(ann)).toMatchObject({ node_id: "wait", version_id: first.versionId });

      const { revision } = await startEditing(db.db, actor, journeyId);
      await saveDraft(db.db, actor, { journeyId, baseRevision: revision, document: v2 });
      const second = await publishJourney(db.db, actor, { journeyId });
      if (!second.ok) throw new Error("v2 does not compile");

      const occupancy = await admin.operations.moveOccupancy({ journeyId });
      expect(occupancy.map((o) => [o.version, o.nodeId, o.users])).toEqual([
        [1, "await", 1],
        [1, "wait", 1],
      ]);
      const countEvents = async () => Number((await rows<{ n: string }>(db.db, sql`select count(*) as n from journey_node_events where journey_id = ${journeyId}::uuid`))[0].n);
      const eventsBefore = await countEvents();
      // Refused: "await" is not in v2 and is not mapped; a target that is the trigger. Nothing changes.
      expect(await admin.operations.moveUsers({ journeyId, plan: {} })).toEqual({ ok: false, problems: [{ code: "unmapped", nodeId: "await", version: 1, label: "Wait for a click" }] });
      expect(await admin.operations.moveUsers({ journeyId, plan: { await: { to: "trigger" } } })).toMatchObject({ ok: false, problems: [{ code: "trigger_target", nodeId: "await" }] });
      expect(await countEvents()).toBe(eventsBefore);
      expect(await row(ann)).toMatchObject({ version_id: first.versionId, node_id: "wait" });

      const summary = await admin.operations.moveUsers({ journeyId, plan: { await: { to: "await2" } } });
      expect(summary).toMatchObject({ ok: true, moved: 0, onTemporal: 2, temporal: { moved: 2, exited: 0, skipped: 0 } });
      // The Update answers once the records are stored.
      expect(await row(bee)).toMatchObject({ version_id: second.versionId, node_id: "await2", status: "active" });
      expect(await row(ann)).toMatchObject({ version_id: second.versionId, node_id: "wait", status: "active" });

      // Bee: v1's event no longer applies; v2's does.
      await event("bee", "clicked");
      await event("bee", "opened");
      await until("bee to finish", async () => (await row(bee)).status === "completed");
      expect(await row(bee)).toMatchObject({ reason: "exit_node", node_id: "exit" });

      // Ann leaves v2's one-day wait one journey day after the move, before v1's three days would have ended.
      await until("ann to leave the wait", async () => (await row(ann)).node_id === "await2");
      const times = await rows<{ kind: string; output: string | null; at: number }>(
        db.db,
        sql`select kind, output, ${epochMs(sql`at`)} as at from journey_node_events where instance_id = ${ann}::uuid and version_id = ${second.versionId}::uuid and node_id = 'wait' order by seq`,
      );
      const movedAt = Number(times.find((t) => t.kind === "moved")!.at);
      const leftAt = Number(times.find((t) => t.kind === "left")!.at);
      expect(leftAt - movedAt).toBe(DAY);
      expect(leftAt).toBeLessThan(annEntered + 3 * DAY);

      const counts = Object.fromEntries(
        (
          await rows<{ version: number; node_id: string; kind: string; output: string | null; n: string }>(
            db.db,
            sql`select v.version, e.node_id, e.kind, e.output, count(*) as n from journey_node_events e join journey_versions v on v.id = e.version_id
                where e.journey_id = ${journeyId}::uuid group by 1, 2, 3, 4`,
          )
        ).map((r) => [`v${r.version} ${r.node_id} ${r.kind}${r.output ? ` ${r.output}` : ""}`, Number(r.n)]),
      );
      expect(counts).toMatchObject({
        "v1 wait entered": 2,
        "v1 wait left next": 1,
        "v1 wait left moved": 1,
        "v1 await entered": 1,
        "v1 await left moved": 1,
        "v2 wait moved": 1,
        "v2 await2 moved": 1,
        "v2 wait entered": 1,
        "v2 wait left next": 1,
        "v2 await2 entered": 2,
        "v2 await2 left happened": 1,
      });
      const audits = await rows<{ details: Record<string, unknown> }>(db.db, sql`select details from audit_log where workspace_id = ${workspaceId}::uuid and action = 'journey.users_moved' order by at`);
      expect(audits.map((a) => a.details)).toEqual([
        expect.objectContaining({ toVersionId: second.versionId, moved: 0, onTemporal: 2 }),
        expect.objectContaining({ toVersionId: second.versionId, engine: "temporal", moved: 2, exited: 0 }),
      ]);
    } finally {
      worker.shutdown();
      await running;
    }
  }, 180_000);
});
