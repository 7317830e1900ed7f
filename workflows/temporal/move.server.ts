import type { MoveTarget } from "../move";
import type { OperationActor } from "../embedded/operations.server";
import type { TemporalOperationDeps } from "./operations.server";
import { instanceById } from "./store.server";

export interface TemporalMoveSummary {
  moved: number;
  exited: number;
  /** Instances whose workflow refused or was not running (finished meanwhile, holdout, not started). */
  skipped: number;
}

/**
 * Moves Temporal-driven instances to `versionId` (docs/engines.md "Moving users to a new
 * version"). Each workflow gets the move through the `journeyOperate` Update with the new
 * version's program: it applies the same pure `moveStep` the embedded engine applies between
 * steps, stores the old version's record under the old version, then runs the new program and
 * re-arms its timer and awaited events from the new node. The plan was checked by the caller
 * against every occupied node (embedded and Temporal rows alike). A few at once.
 */
export async function moveTemporalInstances(
  deps: TemporalOperationDeps,
  actor: OperationActor,
  instanceIds: readonly string[],
  versionId: string,
  targets: ReadonlyMap<string, MoveTarget>,
  concurrency = 16,
): Promise<TemporalMoveSummary> {
  await deps.programs.load(deps.db, [versionId]);
  const program = deps.programs.require(versionId);
  const summary: TemporalMoveSummary = { moved: 0, exited: 0, skipped: 0 };
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, instanceIds.length) }, async () => {
      while (next < instanceIds.length) {
        const id = instanceIds[next++];
        const row = await instanceById(deps.db, actor.workspaceId, id);
        const target = row?.state.nodeId ? targets.get(row.state.nodeId) : undefined;
        if (!row || row.versionId === versionId || row.state.status !== "active" || !target) {
          summary.skipped += 1;
          continue;
        }
        const answer = await deps.gateway.operate(id, { kind: "move", versionId, program, target });
        if ("refused" in answer) summary.skipped += 1;
        else if ("exit" in target) summary.exited += 1;
        else summary.moved += 1;
      }
    }),
  );
  return summary;
}
