import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import type { EntryResult, IncomingEvent, SegmentChange } from "../engine";
import type { JourneyProgram } from "../program";
import type { TriggerConfig } from "../../nodes/trigger/definition";
import { API_TRIGGER_EVENT, SEGMENT_ENTERED_EVENT, SEGMENT_EXITED_EVENT } from "../../nodes/trigger/match";
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

/**
 * Segment changes as the internal events both engines route (`$segment.entered/exited`). The
 * message id is the entry key, so a journey keeps its entry history across engines.
 */
export function segmentChangeEvents(changes: readonly SegmentChange[]): IncomingEvent[] {
  return changes.map((c) => ({
    workspaceId: c.workspaceId,
    userId: c.userId,
    messageId: `segment:${c.segmentId}:${c.change}:${c.at}`,
    name: c.change === "entered" ? SEGMENT_ENTERED_EVENT : SEGMENT_EXITED_EVENT,
    properties: { segment: c.segmentId },
    timestamp: c.at,
  }));
}

export interface ApiTriggerInput {
  workspaceId: string;
  journeyId: string;
  userId: string;
  properties?: Record<string, unknown>;
  /**
   * The caller's idempotency key: the same key for the same journey and user enters at most once,
   * and a repeat answers with the instance the first call started.
   */
  idempotencyKey?: string;
}

/**
 * `triggerJourney` for both engines: finds the live journey and enters the user with an
 * `$api.trigger` event through the engine's own entry path (`enter`), or says why the journey
 * cannot be entered by API (not found, draft, paused, archived, another trigger).
 */
export async function triggerByApi(
  db: Conn,
  programs: ProgramCache,
  input: ApiTriggerInput,
  now: number,
  enter: (workspaceId: string, events: IncomingEvent[], journey: LiveJourney) => Promise<Map<string, EntryResult>>,
): Promise<EntryResult> {
  const live = (await liveJourneys(db, [input.workspaceId], programs)).find((j) => j.journeyId === input.journeyId);
  if (!live) {
    const [journey] = await rows<{ status: string }>(
      db,
      sql`select status from journeys where id = ${input.journeyId}::uuid and workspace_id = ${input.workspaceId}::uuid`,
    );
    return { entered: false, reason: !journey ? "not_found" : journey.status === "draft" ? "not_published" : journey.status };
  }
  if (live.trigger.source !== "api") return { entered: false, reason: "not_api_trigger" };
  const event: IncomingEvent = {
    workspaceId: input.workspaceId,
    userId: input.userId,
    // The entry key is unique per (journey, user); the event id is unique per workspace, so it
    // carries the journey and user too.
    messageId: input.idempotencyKey ? `api:${input.journeyId}:${input.userId}:${input.idempotencyKey}` : `api:${randomUUID()}`,
    name: API_TRIGGER_EVENT,
    properties: { ...(input.properties ?? {}), journeyId: input.journeyId },
    timestamp: now,
  };
  const results = await enter(input.workspaceId, [event], live);
  const result = results.get(event.messageId);
  if (result && result.reason !== "duplicate") return result;
  // A repeat of an earlier call: answer with the instance that call started (both engines keep
  // instances in the same table, keyed by the entry key).
  const [earlier] = await rows<{ id: string }>(
    db,
    sql`select id from journey_instances where journey_id = ${input.journeyId}::uuid and user_id = ${input.userId} and entry_key = ${event.messageId} limit 1`,
  );
  return earlier ? { entered: false, reason: "duplicate", instanceId: earlier.id } : { entered: false, reason: "duplicate" };
}
