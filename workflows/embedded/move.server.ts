import { sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { insertAuditEntry as recordAudit } from "../../db/audit";
import type { JourneyProgram } from "../program";
import { movable, moveStep, resolveMovePlan, type MovePlan, type MovePlanProblem, type MoveTarget, type OccupiedNode } from "../move";
import type { TemporalMoveSummary } from "../temporal/move.server";
import { Batch, INSTANCE_COLUMNS, instFromRow, type InstanceRow } from "./batch.server";
import { arr, iso, rows, transaction, type Conn } from "./db.server";
import { ProgramCache } from "./programs.server";
import { notify, type OperationActor, type OperationServices } from "./operations.server";
import { snapshotOf, type UserRow } from "./users.server";

/**
 * Moving the users of older versions of a journey to its live version on the embedded engine
 * (workflows/move.ts; docs/engines.md "Moving users to a new version"). One transaction: the
 * plan is checked against the nodes occupied at that moment (the instances are locked first),
 * and either every movable instance moves or, when the plan is refused, nothing changes.
 * Each moved instance's row (version, state, wake_at, awaiting), its timer row and node events
 * are written by `Batch.write`, so the event index and timers follow the new node exactly as
 * they follow an ordinary step.
 */

export class MovePlanError extends Error {
  constructor(
    readonly problems: Array<MovePlanProblem & { label?: string; targetLabel?: string }>,
  ) {
    super(`move plan refused: ${problems.map((p) => `${p.code} ${p.nodeId}`).join(", ")}`);
    this.name = "MovePlanError";
  }
}

export interface MoveSummary {
  toVersionId: string;
  moved: number;
  exited: number;
  /** Instances whose side effect a worker is executing now: they stay; move again later. */
  busy: number;
  /** Instances of older versions driven by the Temporal engine. */
  onTemporal: string[];
  /** Of those, moved or exited through their workflows (null: no Temporal engine was given). */
  temporal: TemporalMoveSummary | null;
}

/** The Temporal engine's part of a move (workflows/temporal/move.server.ts). */
export interface TemporalMover {
  moveInstances(actor: OperationActor, instanceIds: readonly string[], versionId: string, targets: ReadonlyMap<string, MoveTarget>): Promise<TemporalMoveSummary>;
}

const programs = new ProgramCache();

type Row = InstanceRow & UserRow & { version: number; driver: string | null };

/** Nodes of older versions where movable users of the journey wait now (for the dialog). */
export async function occupiedNodes(db: Conn, workspaceId: string, journeyId: string): Promise<OccupiedNode[]> {
  const found = await rows<{ version_id: string; version: number; node_id: string; users: number | string; label: string | null; type: string | null }>(
    db,
    // The node's label and type as that version's document has them: the dialog names the node
    // even when the new version no longer has it.
    sql`select i.version_id, v.version, i.node_id, count(*) as users,
               min(n.node ->> 'label') as label, min(n.node ->> 'type') as type
        from journey_instances i
        join journeys j on j.id = i.journey_id and j.workspace_id = ${workspaceId}::uuid
        join journey_versions v on v.id = i.version_id
        left join lateral (select e as node from jsonb_array_elements(v.document -> 'nodes') e where e ->> 'id' = i.node_id limit 1) n on true
        where i.journey_id = ${journeyId}::uuid and i.status = 'active' and i.holdout = false
          and i.version_id is distinct from j.live_version_id and i.node_id is not null
          and coalesce(i.state -> 'block' ->> 'purpose', '') not in ('holdout', 'goal_watch')
        group by i.version_id, v.version, i.node_id
        order by v.version, i.node_id`,
  );
  return found.map((r) => ({
    versionId: r.version_id,
    version: Number(r.version),
    nodeId: r.node_id,
    users: Number(r.users),
    ...(r.label ? { label: r.label } : {}),
    ...(r.type ? { type: r.type } : {}),
  }));
}

async function liveVersion(db: Conn, workspaceId: string, journeyId: string): Promise<{ id: string; version: number; program: JourneyProgram; document: Record<string, unknown> } | null> {
  const [row] = await rows<{ id: string; version: number; program: JourneyProgram; document: Record<string, unknown> }>(
    db,
    sql`select v.id, v.version, v.program, v.document from journeys j join journey_versions v on v.id = j.live_version_id
        where j.id = ${journeyId}::uuid and j.workspace_id = ${workspaceId}::uuid`,
  );
  return row ?? null;
}

/** Node labels of version documents, for problems named in the operator's words. */
function labelsOf(document: Record<string, unknown> | undefined): Map<string, string> {
  const nodes = (document?.nodes ?? []) as Array<{ id?: string; label?: string }>;
  return new Map(nodes.filter((n) => n.id && n.label).map((n) => [n.id!, n.label!]));
}

export class MoveNotPossibleError extends Error {
  constructor(readonly code: "not_found" | "not_live") {
    super(code === "not_found" ? "No such journey in this workspace." : "The journey has no live version to move users to.");
    this.name = "MoveNotPossibleError";
  }
}

/**
 * Moves every movable user of the journey's older versions to its live version by `plan`.
 * Refuses (MovePlanError, nothing changed) when an occupied node is not mapped or a target is
 * missing or the trigger. Embedded instances move here; Temporal-driven ones are returned in
 * `onTemporal` for the caller to move through the Temporal engine after this commits.
 */
export async function moveUsers(services: OperationServices, actor: OperationActor, journeyId: string, plan: MovePlan, temporal?: TemporalMover): Promise<MoveSummary> {
  const now = services.now().getTime();
  let targets = new Map<string, MoveTarget>();
  const summary = await transaction(services.db, async (tx) => {
    const live = await liveVersion(tx, actor.workspaceId, journeyId);
    if (!live) {
      const [exists] = await rows<{ id: string }>(tx, sql`select id from journeys where id = ${journeyId}::uuid and workspace_id = ${actor.workspaceId}::uuid`);
      throw new MoveNotPossibleError(exists ? "not_live" : "not_found");
    }
    // Lock first, then check the plan against what is locked: no worker step moves a user to an
    // unmapped node between the check and the move.
    const locked = await rows<Row>(
      tx,
      sql`select ${INSTANCE_COLUMNS}, u.traits, u.timezone, u.tags, v.version, i.state ->> 'driver' as driver
          from journey_instances i
          join journey_versions v on v.id = i.version_id
          left join users u on u.workspace_id = i.workspace_id and u.id = i.user_id
          where i.journey_id = ${journeyId}::uuid and i.workspace_id = ${actor.workspaceId}::uuid
            and i.status = 'active' and i.version_id <> ${live.id}::uuid
          order by i.id
          for update of i`,
    );
    const occupied = await occupiedNodes(tx, actor.workspaceId, journeyId);
    const resolved = resolveMovePlan(live.program, occupied, plan);
    if (!resolved.ok) {
      const versionIds = [...new Set(occupied.map((o) => o.versionId))];
      const docs = await rows<{ document: Record<string, unknown> }>(tx, sql`select document from journey_versions where id = any(${arr(versionIds)}::uuid[])`);
      const oldLabels = new Map(docs.flatMap((d) => [...labelsOf(d.document)]));
      const newLabels = labelsOf(live.document);
      throw new MovePlanError(
        resolved.problems.map((p) => ({
          ...p,
          ...(oldLabels.get(p.nodeId) ? { label: oldLabels.get(p.nodeId) } : {}),
          ...("target" in p && newLabels.get(p.target) ? { targetLabel: newLabels.get(p.target) } : {}),
        })),
      );
    }
    await programs.load(tx, locked.map((r) => r.version_id));
    targets = resolved.targets;
    const result: MoveSummary = { toVersionId: live.id, moved: 0, exited: 0, busy: 0, onTemporal: [], temporal: null };
    const realNow = (services.realNow ?? Date.now)();
    const oldBatch = new Batch(now, { onStep: () => {}, onError: () => {} });
    const newBatch = new Batch(now, { onStep: () => {}, onError: () => {} });
    const movedIds: string[] = [];
    for (const row of locked) {
      if (row.driver === "temporal") {
        result.onTemporal.push(row.id);
        continue;
      }
      const state = { ...(row.state as object) } as InstanceRow["state"];
      state.instanceId = row.id;
      state.userId = row.user_id;
      if (!movable(state) || !state.nodeId) continue;
      const target = resolved.targets.get(state.nodeId);
      if (!target) continue;
      if (state.block?.kind === "run") {
        // A side effect being executed cannot be recalled: the instance stays (busy); pending ones are dropped unrun.
        const running = await rows<{ id: string }>(
          tx,
          sql`select id::text from journey_outbox where instance_id = ${row.id}::uuid and status = 'running' and next_attempt_at > ${iso(realNow)}::timestamptz`,
        );
        if (running.length > 0) {
          result.busy += 1;
          continue;
        }
        await rows(tx, sql`delete from journey_outbox where instance_id = ${row.id}::uuid`);
      }
      const user = snapshotOf(row.user_id, row);
      const step = moveStep(live.program, state, target, { from: row.version_id, to: live.id }, { now, user });
      // Old version: the `left`/`exit` record, under the version the user leaves.
      const before = instFromRow({ ...row, state: { ...(row.state as object) } as InstanceRow["state"] }, programs.require(row.version_id), user);
      before.records.push(...step.oldRecords);
      if ("exit" in target) {
        before.state = step.state;
        before.changed = true;
        oldBatch.add(before);
        result.exited += 1;
        continue;
      }
      // The node events of the old version only: the row itself is written by the new batch.
      before.state = { ...before.state!, seq: step.oldRecords.at(-1)?.seq ?? before.state!.seq };
      before.changed = true;
      oldBatch.add(before);
      const after = instFromRow({ ...row, version_id: live.id, state: { ...(row.state as object) } as InstanceRow["state"] }, live.program, user);
      for (const command of step.commands) {
        if (command.type === "record") after.records.push(command.record);
        else if (command.type === "run") after.runs.push(command);
        else if (command.type === "evaluate") after.evaluate = { nodeId: command.nodeId, config: command.config };
      }
      after.state = step.state;
      after.changed = true;
      newBatch.add(after);
      movedIds.push(row.id);
      result.moved += 1;
    }
    await oldBatch.write(tx, { realNow, leaseMs: 0, leased: false });
    if (movedIds.length > 0) {
      await rows(tx, sql`update journey_instances set version_id = ${live.id}::uuid where id = any(${arr(movedIds)}::uuid[])`);
      // Conditions that need facts and other in-step work settle as in any step.
      await newBatch.settle(tx);
      await newBatch.write(tx, { realNow, leaseMs: 0, leased: false });
    }
    await recordAudit(tx as unknown as Db, {
      ...actor,
      action: "journey.users_moved",
      target: journeyId,
      details: { toVersionId: live.id, toVersion: live.version, plan, moved: result.moved, exited: result.exited, busy: result.busy, onTemporal: result.onTemporal.length },
    });
    return result;
  });
  await notify(services);
  if (summary.onTemporal.length > 0 && temporal) {
    summary.temporal = await temporal.moveInstances(actor, summary.onTemporal, summary.toVersionId, targets);
    // As for every Temporal operator action, the entry follows the workflows' answers (decision 0517).
    await recordAudit(services.db, {
      ...actor,
      action: "journey.users_moved",
      target: journeyId,
      details: { toVersionId: summary.toVersionId, plan, engine: "temporal", ...summary.temporal },
    });
  }
  return summary;
}
