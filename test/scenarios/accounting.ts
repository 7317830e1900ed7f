import { sql } from "drizzle-orm";
import { cohortBounds, journeyStats, reconcileJourney, type JourneyStats, type StatsRange } from "../../app/lib/analytics.server";
import { query, type Db } from "../../db/client";
import type { ObservedRecord, Observation } from "./format";

/**
 * "Every user accounted for" (docs/analytics.md), checked by every scenario runner:
 * on every node, entered = Σ left by each output + ended there by reason + still there.
 *
 * - `recordProblems` checks it on the node records alone (the simulator has no database): the
 *   instances still "there" are those whose last record is an `entered` of that node.
 * - `storedProblems` checks it where the canvas reads it: the rollups against the raw node events
 *   and the instances actually active at each node (reconcileJourney), the canvas numbers against
 *   the scenario's expected node counts, and the same identity per version and for periods split
 *   at an entry hour, each against the instances active in that slice.
 */

const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);

export function recordProblems(records: readonly ObservedRecord[]): string[] {
  const tally = new Map<string, { entered: number; left: number; exits: number; here: number }>();
  const at = (nodeId: string) => tally.get(nodeId) ?? (tally.set(nodeId, { entered: 0, left: 0, exits: 0, here: 0 }), tally.get(nodeId)!);
  const byInstance = new Map<string, ObservedRecord[]>();
  for (const r of records) byInstance.set(r.instanceId, [...(byInstance.get(r.instanceId) ?? []), r]);
  const problems: string[] = [];
  for (const [instanceId, list] of byInstance) {
    let current: string | null = null;
    let ended = false;
    for (const r of [...list].sort((a, b) => a.seq - b.seq)) {
      if (r.kind === "entered") {
        at(r.nodeId).entered += 1;
        current = r.nodeId;
      } else if (r.kind === "left") {
        at(r.nodeId).left += 1;
        current = null;
      } else if (r.kind === "exit") {
        if (!r.nodeId) problems.push(`${instanceId}: exit (${r.reason}) names no node`);
        else at(r.nodeId).exits += 1;
        ended = true;
        current = null;
      }
    }
    if (!ended && current) at(current).here += 1;
  }
  for (const [nodeId, t] of tally) {
    if (t.entered !== t.left + t.exits + t.here) problems.push(`${nodeId}: entered ${t.entered} ≠ left ${t.left} + exits ${t.exits} + still there ${t.here}`);
  }
  return problems;
}

async function activeAt(db: Db, journeyId: string, range: StatsRange): Promise<Record<string, number>> {
  const bounds = cohortBounds(range);
  const from = bounds.from === null ? null : new Date(bounds.from).toISOString();
  const to = bounds.to === null ? null : new Date(bounds.to).toISOString();
  const found = await query<{ node_id: string; n: number | string }>(
    db,
    sql`select node_id, count(*) as n from journey_instances
        where journey_id = ${journeyId}::uuid and status = 'active'
          ${range.versionId ? sql`and version_id = ${range.versionId}::uuid` : sql``}
          ${from ? sql`and entered_at >= ${from}::timestamptz` : sql``}
          ${to ? sql`and entered_at < ${to}::timestamptz` : sql``}
        group by node_id`,
  );
  return Object.fromEntries(found.map((r) => [r.node_id, Number(r.n)]));
}

async function workspaceOf(db: Db, journeyId: string): Promise<string> {
  const [row] = await query<{ workspace_id: string }>(db, sql`select workspace_id from journeys where id = ${journeyId}::uuid`);
  return row.workspace_id;
}

/** Node numbers that must add up across slices (versions, periods). */
function nodeTotals(stats: JourneyStats): Map<string, string> {
  const out = new Map<string, string>();
  for (const [nodeId, s] of Object.entries(stats.nodes)) {
    out.set(nodeId, JSON.stringify({ entered: s.entered, waiting: s.waiting, left: s.left, exits: s.exits }));
  }
  return out;
}

function addStats(parts: JourneyStats[]): Map<string, string> {
  const acc = new Map<string, { entered: number; waiting: number; left: Record<string, number>; exits: Record<string, number> }>();
  for (const part of parts) {
    for (const [nodeId, s] of Object.entries(part.nodes)) {
      const a = acc.get(nodeId) ?? { entered: 0, waiting: 0, left: {}, exits: {} };
      a.entered += s.entered;
      a.waiting += s.waiting;
      for (const [k, n] of Object.entries(s.left)) a.left[k] = (a.left[k] ?? 0) + n;
      for (const [k, n] of Object.entries(s.exits)) a.exits[k] = (a.exits[k] ?? 0) + n;
      acc.set(nodeId, a);
    }
  }
  const sorted = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).filter(([, n]) => n !== 0).sort(([a], [b]) => (a < b ? -1 : 1)));
  return new Map([...acc].filter(([, a]) => a.entered !== 0).map(([nodeId, a]) => [nodeId, JSON.stringify({ entered: a.entered, waiting: a.waiting, left: sorted(a.left), exits: sorted(a.exits) })]));
}

function normalise(map: Map<string, string>): Record<string, string> {
  return Object.fromEntries(
    [...map]
      .map(([k, v]) => {
        const o = JSON.parse(v) as { entered: number; waiting: number; left: Record<string, number>; exits: Record<string, number> };
        const sorted = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)));
        return [k, JSON.stringify({ entered: o.entered, waiting: o.waiting, left: sorted(o.left), exits: sorted(o.exits) })] as const;
      })
      .filter(([, v]) => !v.startsWith('{"entered":0,'))
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}

export async function storedProblems(db: Db, journeyId: string, expected?: Observation["nodeCounts"]): Promise<string[]> {
  const problems = [...(await reconcileJourney(db, journeyId))];
  const workspaceId = await workspaceOf(db, journeyId);
  const check = async (label: string, range: StatsRange): Promise<JourneyStats> => {
    const stats = await journeyStats(db, workspaceId, journeyId, range);
    const active = await activeAt(db, journeyId, range);
    for (const nodeId of new Set([...Object.keys(stats.nodes), ...Object.keys(active)])) {
      const s = stats.nodes[nodeId];
      const waiting = s?.waiting ?? 0;
      if (waiting !== (active[nodeId] ?? 0)) problems.push(`${label} ${nodeId}: waiting ${waiting} on the card, ${active[nodeId] ?? 0} instances there`);
      if (s && s.entered !== sum(s.left) + sum(s.exits) + s.waiting) problems.push(`${label} ${nodeId}: entered ${s.entered} ≠ Σ outputs + exits + waiting`);
    }
    return stats;
  };
  const all = await check("all", {});
  if (expected) {
    for (const nodeId of new Set([...Object.keys(expected), ...Object.keys(all.nodes).filter((id) => all.nodes[id].entered > 0)])) {
      const want = expected[nodeId] ?? { entered: 0, left: {} };
      const got = all.nodes[nodeId];
      const left = Object.fromEntries(Object.entries(got?.left ?? {}).filter(([, n]) => n !== 0));
      if ((got?.entered ?? 0) !== want.entered || JSON.stringify(Object.entries(left).sort()) !== JSON.stringify(Object.entries(want.left).sort())) {
        problems.push(`card ${nodeId}: ${JSON.stringify({ entered: got?.entered ?? 0, left })}, expected ${JSON.stringify(want)}`);
      }
    }
  }
  // Every version, and a period split at an entry hour: each slice balances, and the slices add up.
  const versions = await query<{ version_id: string }>(db, sql`select distinct version_id::text as version_id from journey_instances where journey_id = ${journeyId}::uuid`);
  const perVersion: JourneyStats[] = [];
  for (const { version_id } of versions) perVersion.push(await check(`version ${version_id}`, { versionId: version_id }));
  const whole = normalise(nodeTotals(all));
  if (JSON.stringify(normalise(addStats(perVersion))) !== JSON.stringify(whole)) problems.push(`versions do not add up to the whole: ${JSON.stringify(normalise(addStats(perVersion)))} vs ${JSON.stringify(whole)}`);
  const [span] = await query<{ first: string | Date | null; last: string | Date | null }>(
    db,
    sql`select min(entered_at) as first, max(entered_at) as last from journey_instances where journey_id = ${journeyId}::uuid`,
  );
  if (span?.first && span.last) {
    const first = new Date(span.first).getTime();
    const last = new Date(span.last).getTime();
    const split = Math.floor((first + (last - first) / 2) / 3_600_000) * 3_600_000 + (last - first > 3_600_000 ? 3_600_000 : 0);
    const before = await check(`before ${new Date(split).toISOString()}`, { to: split });
    const after = await check(`from ${new Date(split).toISOString()}`, { from: split });
    if (JSON.stringify(normalise(addStats([before, after]))) !== JSON.stringify(whole)) problems.push(`periods split at ${new Date(split).toISOString()} do not add up to the whole`);
  }
  return problems;
}
