import { sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { scheduleRuns } from "../../nodes/trigger/match";
import type { EntryResult, IncomingEvent } from "../engine";
import { isValidZone } from "../time";
import { epochMs, iso, rows, toMs } from "./db.server";
import { liveJourneys, type LiveJourney, type ProgramCache, type WorkspaceZones } from "./programs.server";

/**
 * Schedule triggers ("every Monday 10:00, the members of segment X"), the same for both engines:
 * the same tables and claim protocol, so either engine may run a schedule, and each run once.
 * A run is claimed with a lease in `journey_schedule_runs`; its members enter with one entry key
 * per run, so a run resumed after a crash admits nobody twice.
 */
export interface ScheduleRunnerOptions {
  db: Db;
  programs: ProgramCache;
  zones: WorkspaceZones;
  /** Journey time. */
  now(): number;
  /** Real time, for the run's lease. */
  realNow(): number;
  leaseMs: number;
  /** Entries per call of `enter`. */
  batchSize: number;
  /** Members of a segment (by key). Default: the segments area's `segment_members`. */
  segmentMembers?: (workspaceId: string, segmentKey: string) => Promise<string[]>;
  /** The engine's entry path for one journey (no event routing to waiting instances). */
  enter(workspaceId: string, events: IncomingEvent[], journey: LiveJourney): Promise<Map<string, EntryResult>>;
}

type ScheduledJourney = LiveJourney & { zone: string; from: number };

export class ScheduleRunner {
  private readonly cursors = new Map<string, number>();

  constructor(private readonly options: ScheduleRunnerOptions) {}

  /** Runs every due, unclaimed occurrence; returns how many ran. */
  async runDue(): Promise<number> {
    const { db } = this.options;
    const now = this.options.now();
    let work = 0;
    for (const journey of await this.journeys()) {
      if (journey.trigger.source !== "schedule") continue;
      for (const runAt of scheduleRuns(journey.trigger, journey.from, now + 1, journey.zone)) {
        const real = this.options.realNow();
        const claimed = await rows(
          db,
          sql`insert into journey_schedule_runs (journey_id, version_id, run_at, lease_until)
              values (${journey.journeyId}::uuid, ${journey.versionId}::uuid, ${iso(runAt)}::timestamptz, ${iso(real + this.options.leaseMs)}::timestamptz)
              on conflict (journey_id, run_at) do update set lease_until = excluded.lease_until
                where journey_schedule_runs.finished_at is null and journey_schedule_runs.lease_until < ${iso(real)}::timestamptz
              returning 1 as claimed`,
        );
        if (claimed.length === 0) continue;
        const members = await (this.options.segmentMembers ?? this.storedSegmentMembers)(journey.workspaceId, journey.trigger.segment);
        // One entry key per run: a run resumed after a crash re-admits nobody twice.
        const entryKey = `schedule:${iso(runAt)}`;
        for (let i = 0; i < members.length; i += this.options.batchSize) {
          const events = members.slice(i, i + this.options.batchSize).map((userId) => ({
            workspaceId: journey.workspaceId,
            userId,
            messageId: entryKey,
            name: "$schedule.run",
            properties: {},
            timestamp: runAt,
          }));
          await this.options.enter(journey.workspaceId, events, journey);
        }
        // Counted from the instances (all members share the entry key, so per-call results cannot
        // tell them apart), which also makes a resumed run's count right.
        await rows(
          db,
          sql`update journey_schedule_runs set finished_at = ${iso(now)}::timestamptz,
                entered = (select count(*) from journey_instances where journey_id = ${journey.journeyId}::uuid and entry_key = ${entryKey})
              where journey_id = ${journey.journeyId}::uuid and run_at = ${iso(runAt)}::timestamptz`,
        );
        work += 1;
      }
    }
    return work;
  }

  /** The earliest unfinished occurrence within a year, or null. */
  async nextRun(): Promise<number | null> {
    const journeys = await this.journeys();
    if (journeys.length === 0) return null;
    const now = this.options.now();
    let next: number | null = null;
    for (const journey of journeys) {
      const done = await rows<{ at: number }>(
        this.options.db,
        sql`select ${epochMs(sql`run_at`)} as at from journey_schedule_runs where journey_id = ${journey.journeyId}::uuid and finished_at is not null`,
      );
      const finished = new Set(done.map((d) => toMs(d.at)));
      // Look a year ahead: a later run is not "due" for any test or idle computation.
      const upcoming = scheduleRuns(journey.trigger, journey.from, Math.max(now, journey.from) + 366 * 86_400_000, journey.zone).find((t) => !finished.has(t));
      if (upcoming !== undefined && (next === null || upcoming < next)) next = upcoming;
    }
    return next;
  }

  private async journeys(): Promise<ScheduledJourney[]> {
    const { db, programs, zones } = this.options;
    const live = (await liveJourneys(db, null, programs)).filter((j) => j.trigger.source === "schedule");
    if (live.length === 0) return [];
    await programs.load(db, live.map((j) => j.versionId));
    await zones.load(db, live.map((j) => j.workspaceId));
    const out = [];
    for (const j of live) {
      const zone = programs.require(j.versionId).settings.timezone;
      out.push({ ...j, zone: isValidZone(zone) ? zone : zones.get(j.workspaceId), from: await this.cursor(j) });
    }
    return out;
  }

  /** The journey time from which a live version's schedule counts, fixed when first seen. */
  private async cursor(journey: LiveJourney): Promise<number> {
    const cached = this.cursors.get(journey.versionId);
    if (cached !== undefined) return cached;
    await rows(
      this.options.db,
      sql`insert into journey_schedule_cursors (version_id, journey_id, active_from)
          values (${journey.versionId}::uuid, ${journey.journeyId}::uuid, ${iso(this.options.now())}::timestamptz) on conflict do nothing`,
    );
    const [row] = await rows<{ from: number }>(
      this.options.db,
      sql`select ${epochMs(sql`active_from`)} as from from journey_schedule_cursors where version_id = ${journey.versionId}::uuid`,
    );
    const from = toMs(row.from)!;
    this.cursors.set(journey.versionId, from);
    return from;
  }

  /** Members of a segment by key, from the segments area's `segment_members`. */
  private readonly storedSegmentMembers = async (workspaceId: string, segmentKey: string): Promise<string[]> => {
    const found = await rows<{ user_id: string }>(
      this.options.db,
      sql`select m.user_id from segment_members m join segments s on s.id = m.segment_id
          where s.workspace_id = ${workspaceId}::uuid and s.key = ${segmentKey} and s.archived_at is null`,
    );
    return found.map((r) => r.user_id);
  };
}
