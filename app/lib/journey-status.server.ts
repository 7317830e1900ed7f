import type { JourneyStatus } from "../../db/schema";
import { notify } from "../../workflows/embedded/operations.server";
import type { PauseChoice } from "../ops/views";
import { invalidateSegmentInterest } from "../segments/membership.server";
import type { AppServices } from "../services.server";
import { unarchiveJourney } from "./journey-list.server";
import { setJourneyStatus } from "./journeys.server";

export type StatusChange = "pause" | "resume" | "archive" | "unarchive";

const target: Record<Exclude<StatusChange, "unarchive">, Exclude<JourneyStatus, "draft">> = { pause: "paused", resume: "live", archive: "archived" };

/**
 * Pause, resume, archive or restore a journey: the one path the Journeys page, the editor, the
 * Instances page and the REST API share. The store refuses a change the current state does not
 * allow (JourneyStateError, 409); held users of both engines follow; idle workers of other
 * processes hear about released work at once; segment triggers see the new status at once.
 */
export async function changeJourneyStatus(
  services: AppServices,
  actor: { workspaceId: string; operatorId?: string | null },
  journeyId: string,
  change: StatusChange,
  options: { inside?: PauseChoice } = {},
): Promise<{ held: boolean; holdChanged: boolean }> {
  if (change === "unarchive") {
    await unarchiveJourney(services.db, actor, journeyId);
    invalidateSegmentInterest(services, actor.workspaceId);
    return { held: false, holdChanged: false };
  }
  const result = await setJourneyStatus(services.db, actor, journeyId, target[change], { inside: options.inside, engine: services.engine });
  if (result.holdChanged && !result.held) await notify({ db: services.db, now: services.now, database: { kind: services.database.kind } });
  invalidateSegmentInterest(services, actor.workspaceId);
  return result;
}
