import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildJourney } from "../../workflows/builder";
import { epochMs, rows } from "../../workflows/embedded/db.server";
import { MovePlanError, moveUsers, occupiedNodes } from "../../workflows/embedded/move.server";
import type { OperationServices } from "../../workflows/embedded/operations.server";
import { createTestDb, testDatabaseKind, type TestDb } from "../support/db";
import { createHarness, type EngineHarness } from "./support";

const T0 = Date.parse("2024-05-06T00:00:00.000Z");
const DAY = 86_400_000;

type Nodes = Parameters<typeof buildJourney>[0]["nodes"];
type Edges = Parameters<typeof buildJourney>[0]["edges"];

function journey(nodes: Nodes, edges: Edges) {
  return buildJourney({
    name: "move",
    settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [{ id: "trigger", type: "core.trigger", config: { source: "api" } }, ...nodes],
    edges: [["trigger", "next", nodes[0].id], ...edges],
  });
}

/** v1: wait 3 days → wait for "clicked" (5 days) → exit. */
const v1 = () =>
  journey(
    [
      { id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: 3, unit: "days" } } },
      { id: "await", label: "Wait for a click", type: "core.wait-for-event", config: { event: "clicked", filters: [], timeout: { amount: 5, unit: "days" } } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    [
      ["wait", "next", "await"],
      ["await", "happened", "exit"],
      ["await", "timed_out", "exit"],
    ],
  );

/** v2: the same "wait" now 1 day → wait for "opened" (2 days) → exit; v1's "await" is gone. */
const v2 = () =>
  journey(
    [
      { id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: 1, unit: "days" } } },
      { id: "await2", label: "Wait for an open", type: "core.wait-for-event", config: { event: "opened", filters: [], timeout: { amount: 2, unit: "days" } } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    [
      ["wait", "next", "await2"],
      ["await2", "happened", "exit"],
      ["await2", "timed_out", "exit"],
    ],
  );

function ops(h: EngineHarness): OperationServices {
  return { db: h.db.db, now: h.clock.now, database: { kind: h.db.kind } };
}

async function enter(h: EngineHarness, journeyId: string, userId: string): Promise<string> {
  await h.engine.triggerJourney({ workspaceId: h.workspaceId, journeyId, userId });
  await h.engine.runUntilIdle();
  const [row] = await rows<{ id: string }>(h.db.db, sql`select id from journey_instances where journey_id = ${journeyId}::uuid and user_id = ${userId}`);
  return row.id;
}

type InstRow = {
  version_id: string;
  node_id: string | null;
  status: string;
  reason: string | null;
  wake_at: number | null;
  awaiting: string[];
  timer: number | null;
};

async function instance(h: EngineHarness, id: string): Promise<InstRow> {
  const [row] = await rows<InstRow>(
    h.db.db,
    sql`select version_id, node_id, status, reason, ${epochMs(sql`wake_at`)} as wake_at, awaiting,
               (select ${epochMs(sql`t.wake_at`)} from journey_timers t where t.instance_id = i.id) as timer
        from journey_instances i where id = ${id}::uuid`,
  );
  return { ...row, wake_at: row.wake_at === null ? null : Number(row.wake_at), timer: row.timer === null ? null : Number(row.timer) };
}

/** Node-event counts per version, node, kind and output (what the analytics read). */
async function counts(h: EngineHarness, journeyId: string): Promise<Record<string, number>> {
  const found = await rows<{ version: number; node_id: string; kind: string; output: string | null; reason: string | null; n: number | string }>(
    h.db.db,
    sql`select v.version, e.node_id, e.kind, e.output, e.reason, count(*) as n from journey_node_events e join journey_versions v on v.id = e.version_id
        where e.journey_id = ${journeyId}::uuid group by 1, 2, 3, 4, 5`,
  );
  return Object.fromEntries(found.map((r) => [`v${r.version} ${r.node_id} ${r.kind}${r.output ? ` ${r.output}` : ""}${r.reason ? ` ${r.reason}` : ""}`, Number(r.n)]));
}

async function snapshot(h: EngineHarness, journeyId: string) {
  const [state] = await rows<{ states: string; events: number | string; timers: number | string; audit: number | string }>(
    h.db.db,
    sql`select (select string_agg(version_id::text || node_id || state::text || awaiting::text, '|' order by id) from journey_instances where journey_id = ${journeyId}::uuid) as states,
               (select count(*) from journey_node_events where journey_id = ${journeyId}::uuid) as events,
               (select count(*) from journey_timers) as timers,
               (select count(*) from audit_log where workspace_id = ${h.workspaceId}::uuid and action = 'journey.users_moved') as audit`,
  );
  return state;
}

describe(`moving users to a new version on the embedded engine (${testDatabaseKind()})`, () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("users at a mapped and an unmapped node move; the wait's deadline and the awaited event follow the new nodes; counts reconcile; audited", async () => {
    const h = await createHarness({ db, start: T0 });
    try {
      const { journeyId, versionId: version1 } = await h.publish(v1());
      const bee = await enter(h, journeyId, "bee");
      h.clock.set(T0 + 3 * DAY);
      await h.engine.runUntilIdle();
      const ann = await enter(h, journeyId, "ann");
      expect(await instance(h, bee)).toMatchObject({ node_id: "await", awaiting: ["clicked"], wake_at: T0 + 8 * DAY });
      expect(await instance(h, ann)).toMatchObject({ node_id: "wait", wake_at: T0 + 6 * DAY, timer: T0 + 6 * DAY });

      const { versionId: version2 } = await h.republish(journeyId, v2());
      expect((await occupiedNodes(h.db.db, h.workspaceId, journeyId)).map((o) => [o.version, o.nodeId, o.users])).toEqual([
        [1, "await", 1],
        [1, "wait", 1],
      ]);

      // Refused plans change nothing: "await" is not in v2 and not mapped; a missing target; the trigger.
      const before = await snapshot(h, journeyId);
      const refused = async (plan: Parameters<typeof moveUsers>[3]) => {
        const error = await moveUsers(ops(h), { workspaceId: h.workspaceId }, journeyId, plan).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(MovePlanError);
        return (error as MovePlanError).problems;
      };
      expect(await refused({})).toEqual([{ code: "unmapped", nodeId: "await", version: 1, label: "Wait for a click" }]);
      expect(await refused({ await: { to: "nowhere" } })).toEqual([{ code: "unknown_target", nodeId: "await", target: "nowhere", label: "Wait for a click" }]);
      expect(await refused({ await: { to: "trigger" } })).toEqual([expect.objectContaining({ code: "trigger_target", nodeId: "await", target: "trigger" })]);
      expect(await snapshot(h, journeyId)).toEqual(before);

      const summary = await moveUsers(ops(h), { workspaceId: h.workspaceId }, journeyId, { await: { to: "await2" } });
      expect(summary).toMatchObject({ toVersionId: version2, moved: 2, exited: 0, busy: 0, onTemporal: [] });

      const moveAt = T0 + 3 * DAY;
      // Ann was in v1's 3-day wait (deadline T0+6d): she enters v2's 1-day wait at the move.
      expect(await instance(h, ann)).toMatchObject({ version_id: version2, node_id: "wait", wake_at: moveAt + DAY, timer: moveAt + DAY, awaiting: [] });
      // Bee waited for "clicked": she now waits for "opened", with v2's 2-day timeout.
      expect(await instance(h, bee)).toMatchObject({ version_id: version2, node_id: "await2", awaiting: ["opened"], wake_at: moveAt + 2 * DAY, timer: moveAt + 2 * DAY });

      // The old event no longer wakes her; the new one does.
      await h.engine.handleEvents([await h.storeEvent("bee", "clicked", {}, moveAt + 1000)]);
      await h.engine.runUntilIdle();
      expect(await instance(h, bee)).toMatchObject({ status: "active", node_id: "await2" });
      h.clock.set(moveAt + 60_000);
      await h.engine.handleEvents([await h.storeEvent("bee", "opened", {}, moveAt + 60_000)]);
      await h.engine.runUntilIdle();
      expect(await instance(h, bee)).toMatchObject({ status: "completed", reason: "exit_node", node_id: "exit" });

      // Ann leaves the wait at the new deadline (not v1's T0+6d).
      h.clock.set(moveAt + DAY - 1);
      await h.engine.runUntilIdle();
      expect(await instance(h, ann)).toMatchObject({ node_id: "wait" });
      h.clock.set(moveAt + DAY);
      await h.engine.runUntilIdle();
      expect(await instance(h, ann)).toMatchObject({ node_id: "await2", awaiting: ["opened"], wake_at: moveAt + 3 * DAY });

      // Counts reconcile: each v1 node shows the users entered = left (by "moved"); v2 shows them entering.
      const c = await counts(h, journeyId);
      expect(c).toMatchObject({
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
        "v2 exit entered": 1,
        "v2 exit exit exit_node": 1,
      });
      expect(Object.keys(c).filter((k) => k.startsWith("v1") && k.includes("exit"))).toEqual([]);
      const [moved] = await rows<{ data: Record<string, unknown> }>(
        h.db.db,
        sql`select data from journey_node_events where instance_id = ${bee}::uuid and kind = 'moved'`,
      );
      expect(moved.data).toEqual({ fromVersionId: version1, toVersionId: version2, fromNodeId: "await" });

      const audit = await rows<{ target: string; details: Record<string, unknown> }>(
        h.db.db,
        sql`select target, details from audit_log where workspace_id = ${h.workspaceId}::uuid and action = 'journey.users_moved'`,
      );
      expect(audit).toEqual([{ target: journeyId, details: expect.objectContaining({ toVersionId: version2, toVersion: 2, moved: 2, exited: 0 }) }]);

      // Nobody is left on v1: a second move finds nothing to do.
      expect(await occupiedNodes(h.db.db, h.workspaceId, journeyId)).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it("an unmapped node's users may be exited (reason moved_out, recorded on the old version)", async () => {
    const h = await createHarness({ db, start: T0 });
    try {
      const { journeyId } = await h.publish(v1());
      h.clock.set(T0);
      const bee = await enter(h, journeyId, "bee");
      h.clock.set(T0 + 3 * DAY);
      await h.engine.runUntilIdle();
      await h.republish(journeyId, v2());
      const summary = await moveUsers(ops(h), { workspaceId: h.workspaceId }, journeyId, { await: { exit: true } });
      expect(summary).toMatchObject({ moved: 0, exited: 1 });
      expect(await instance(h, bee)).toMatchObject({ status: "completed", reason: "moved_out", node_id: "await", awaiting: [], timer: null });
      expect(await counts(h, journeyId)).toMatchObject({ "v1 await exit moved_out": 1 });
      // The old timeout does nothing.
      h.clock.set(T0 + 9 * DAY);
      await h.engine.runUntilIdle();
      expect(await counts(h, journeyId)).not.toHaveProperty("v1 await left timed_out");
    } finally {
      await h.close();
    }
  });
});
