import { sql } from "drizzle-orm";
import type { JourneyProgram } from "../program";
import type { TriggerConfig } from "../../nodes/trigger/definition";
import { arr, epochMs, rows, toMs, type Conn } from "./db.server";

/** Published programs are immutable, so a version's program is fetched once per process and kept. */
export class ProgramCache {
  private readonly programs = new Map<string, JourneyProgram>();

  get(versionId: string): JourneyProgram | undefined {
    return this.programs.get(versionId);
  }

  require(versionId: string): JourneyProgram {
    const program = this.programs.get(versionId);
    if (!program) throw new Error(`program of version ${versionId} was not loaded`);
    return program;
  }

  async load(db: Conn, versionIds: Iterable<string>): Promise<void> {
    const missing = [...new Set(versionIds)].filter((id) => !this.programs.has(id));
    if (missing.length === 0) return;
    const found = await rows<{ id: string; program: JourneyProgram | null }>(
      db,
      sql`select id, program from journey_versions where id = any(${arr(missing)}::uuid[])`,
    );
    for (const row of found) if (row.program) this.programs.set(row.id, row.program);
  }
}

export interface LiveJourney {
  journeyId: string;
  workspaceId: string;
  versionId: string;
  trigger: TriggerConfig;
  publishedAt: number;
}

/**
 * Live journeys with their triggers. Only ids come from the database (the program, which holds
 * the trigger, is read once per version into the cache), so this stays cheap enough to run on
 * every batch of events: a publish or pause takes effect on the next event with no cache rules.
 */
export async function liveJourneys(db: Conn, workspaceIds: readonly string[] | null, programs: ProgramCache): Promise<LiveJourney[]> {
  const found = await rows<{ journey_id: string; workspace_id: string; version_id: string; published_at: number }>(
    db,
    sql`select j.id as journey_id, j.workspace_id, v.id as version_id, ${epochMs(sql`v.published_at`)} as published_at
        from journeys j join journey_versions v on v.id = j.live_version_id
        where j.status = 'live' and v.state = 'published'
          ${workspaceIds ? sql`and j.workspace_id = any(${arr(workspaceIds)}::uuid[])` : sql``}`,
  );
  await programs.load(db, found.map((r) => r.version_id));
  return found
    .filter((r) => programs.get(r.version_id))
    .map((r) => {
      const program = programs.require(r.version_id);
      return {
        journeyId: r.journey_id,
        workspaceId: r.workspace_id,
        versionId: r.version_id,
        trigger: program.nodes[program.triggerId].config as TriggerConfig,
        publishedAt: toMs(r.published_at) ?? 0,
      };
    });
}

/** Workspace zones, the interpreter's last-resort fallback for users without a valid zone. */
export class WorkspaceZones {
  private readonly zones = new Map<string, string>();

  async load(db: Conn, workspaceIds: Iterable<string>): Promise<void> {
    const missing = [...new Set(workspaceIds)].filter((id) => !this.zones.has(id));
    if (missing.length === 0) return;
    const found = await rows<{ id: string; timezone: string }>(db, sql`select id, timezone from workspaces where id = any(${arr(missing)}::uuid[])`);
    for (const row of found) this.zones.set(row.id, row.timezone);
  }

  get(workspaceId: string): string {
    return this.zones.get(workspaceId) ?? "UTC";
  }
}
