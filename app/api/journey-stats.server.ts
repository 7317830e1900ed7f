import { sql } from "drizzle-orm";
import { query, type Db } from "../../db/client";
import { journeyStats as canvasStats, type StatsRange } from "../lib/analytics.server";

/**
 * `GET /api/v1/journeys/{id}/stats`: the canvas numbers (app/lib/analytics.server.ts, counting
 * rules in docs/analytics.md) for the management API. Per node: entered, waiting, outputs, exits
 * by reason, message states, failure reasons, conversions. `?version=N` narrows to one published
 * version, `?from=…&to=…` (ISO-8601) to the users who entered in that period (whole hours).
 */

export interface StatsQueryIssue {
  path: string;
  message: string;
}

export type StatsQuery = { ok: true; version: number | null; from: number | null; to: number | null } | { ok: false; message: string; issues: StatsQueryIssue[] };

/** Reads and checks `version`, `from` and `to`; every wrong one is named. */
export function parseStatsQuery(params: URLSearchParams): StatsQuery {
  const issues: StatsQueryIssue[] = [];
  let version: number | null = null;
  const rawVersion = params.get("version");
  if (rawVersion !== null) {
    version = /^[1-9][0-9]{0,8}$/.test(rawVersion) ? Number(rawVersion) : null;
    if (version === null) issues.push({ path: "version", message: "a published version number (1, 2, ...)" });
  }
  const instant = (name: "from" | "to"): number | null => {
    const raw = params.get(name);
    if (raw === null) return null;
    // ISO-8601 only: Date.parse also takes forms like "3" or "May 6" that a client did not mean.
    const ms = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(raw) ? Date.parse(raw) : NaN;
    if (Number.isNaN(ms)) {
      issues.push({ path: name, message: "an ISO-8601 date or time, e.g. 2024-05-06 or 2024-05-06T08:00:00Z" });
      return null;
    }
    return ms;
  };
  const from = instant("from");
  const to = instant("to");
  if (from !== null && to !== null && from >= to) issues.push({ path: "to", message: "must be after from" });
  if (issues.length > 0) return { ok: false, message: `Check ${issues.map((i) => i.path).join(", ")}: ${issues.map((i) => `${i.path} must be ${i.message}`).join("; ")}.`, issues };
  return { ok: true, version, from, to };
}

/** The stats of a journey, or null when the asked-for version does not exist. */
export async function journeyStats(db: Db, workspaceId: string, journeyId: string, options: { version?: number | null; from?: number | null; to?: number | null } = {}) {
  const range: StatsRange = {};
  if (options.version) {
    const [found] = await query<{ id: string }>(
      db,
      sql`select v.id from journey_versions v join journeys j on j.id = v.journey_id
          where v.journey_id = ${journeyId}::uuid and j.workspace_id = ${workspaceId}::uuid and v.version = ${options.version}`,
    );
    if (!found) return null;
    range.versionId = found.id;
  }
  if (options.from !== null && options.from !== undefined) range.from = options.from;
  if (options.to !== null && options.to !== undefined) range.to = options.to;
  const [stats, entries] = await Promise.all([
    canvasStats(db, workspaceId, journeyId, range),
    query<{ outcome: string; n: number | string }>(
      db,
      sql`select s.outcome, sum(s.count) as n from journey_entry_stats s join journeys j on j.id = s.journey_id
          where s.journey_id = ${journeyId}::uuid and j.workspace_id = ${workspaceId}::uuid
            ${range.versionId ? sql`and s.version_id = ${range.versionId}::uuid` : sql``}
            ${dayBounds(range)}
          group by s.outcome`,
    ),
  ]);
  const messages = { sent: 0, delivered: 0, opened: 0, clicked: 0, failed: 0, deferred: 0 };
  const nodes = Object.values(stats.nodes)
    .filter((n) => n.entered !== 0 || n.messages.sent !== 0 || n.messages.failed !== 0)
    .sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1))
    .map((n) => {
      for (const key of Object.keys(messages) as Array<keyof typeof messages>) messages[key] += n.messages[key];
      return {
        nodeId: n.nodeId,
        entered: n.entered,
        waiting: n.waiting,
        outputs: n.left,
        exits: n.exits,
        messages: n.messages,
        failureReasons: n.failureReasons,
        conversions: n.conversions,
        branchConversions: n.branchConversions,
      };
    });
  return {
    id: journeyId,
    version: options.version ?? null,
    period: { from: stats.from, to: stats.to },
    entries: Object.fromEntries(entries.map((r) => [r.outcome, Number(r.n)])),
    instances: { active: stats.totals.inside, completed: stats.totals.completed },
    completions: stats.totals.exitReasons,
    nodes,
    messages,
    conversions: stats.totals.converted,
    holdout: stats.totals.holdout,
  };
}

/** Entry outcomes are kept per day: a period counts the days it touches. */
function dayBounds(range: StatsRange) {
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const from = range.from !== undefined ? sql`and s.day >= ${day(new Date(range.from).getTime())}::date` : sql``;
  const to = range.to !== undefined ? sql`and s.day <= ${day(new Date(range.to).getTime() - 1)}::date` : sql``;
  return sql`${from} ${to}`;
}
