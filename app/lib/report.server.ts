import { and, asc, eq, ne } from "drizzle-orm";
import { journeys, journeyVersions } from "../../db/schema";
import type { Db } from "../../db/client";
import type { JourneyDocument } from "../../workflows/document";
import {
  branchCounts,
  foldRollups,
  funnel,
  journeyStats,
  journeyStatsByVersion,
  lossReasons,
  rollupRows,
  type FunnelStep,
  type LossRow,
  type ReturnRates,
  type StatsRange,
} from "./analytics.server";
import { JourneyNotFoundError } from "./journeys.server";
import { nodeNamesOf, type NodeNames } from "./node-names.server";
import { messageReturns, sendHours } from "./report-queries.server";
import { bestHourMinSent, bestHours, newcombeDifference, twoProportionTest, type TwoProportionTest, type Uplift } from "./report-stats";

/**
 * The journey report (issue 12): funnel, uplift against the holdout, split tests, loss reasons,
 * conversion by send hour, return rates and versions side by side — all read from the analytics
 * rollups of analytics.server.ts and report-queries.server.ts (send hours and return rates;
 * counting rules: docs/analytics.md), the statistics from report-stats.ts. Every part reads
 * rollups, so the report costs the period's rollup rows, not its events (decision 0860; a chosen
 * return event probes the events of the period's messaged users). Plain JSON, so the page, tRPC
 * and CSV export share it.
 */

const MESSAGE_TYPES: Record<string, string> = { "core.push": "push", "core.sms": "sms", "core.email": "email" };

export interface ReportRange {
  from?: Date;
  to?: Date;
  versionId?: string;
  /** Return rate counts this event only (default: any tracked event). */
  returnEvent?: string;
}

export interface LossStageRow {
  nodeId: string;
  label: string;
  channel: string;
  /** requested → sendable → sent → delivered → opened → clicked: counts, each stage's share of the previous one. */
  stages: Array<{ stage: string; n: number; rate: number | null }>;
  reasons: LossRow[];
}

export interface SplitReport {
  nodeId: string;
  label: string;
  branches: Array<{ output: string; users: number; converted: number; rate: number }>;
  /** Each later branch against the first one (the reference). */
  comparisons: Array<{ output: string; against: string; test: TwoProportionTest | null }>;
}

export interface VersionRow {
  versionId: string;
  version: number | null;
  entered: number;
  converted: number;
  conversionRate: number;
  holdoutEntered: number;
  holdoutConverted: number;
  uplift: Uplift | null;
}

export interface JourneyReport {
  journeyId: string;
  name: string;
  from: string | null;
  to: string | null;
  versionId: string | null;
  versions: Array<{ id: string; version: number }>;
  /** Operator words for the nodes and ports of the version read (labels of the tables). */
  nodeNames: NodeNames;
  funnel: { entered: number; steps: Array<FunnelStep & { label: string }>; converted: number };
  uplift: { treated: { entered: number; converted: number }; holdout: { entered: number; converted: number }; result: Uplift | null };
  splits: SplitReport[];
  loss: LossStageRow[];
  /** All 24 hours; `best` only among hours with at least `minSent` sends (decision 0861). */
  sendHours: { rows: Array<{ hour: number; sent: number; converted: number }>; best: Array<{ hour: number; sent: number; converted: number; rate: number }>; minSent: number };
  returns: ReturnRates;
  byVersion: VersionRow[];
}

const share = (part: number, whole: number) => (whole > 0 ? part / whole : null);

/** Nodes in path order from the trigger (breadth first over the edges; unreachable nodes last, in document order). */
function pathOrder(doc: JourneyDocument): JourneyDocument["nodes"] {
  const byId = new Map(doc.nodes.map((n) => [n.id, n]));
  const targets = new Set(doc.edges.map((e) => e.target));
  const queue = doc.nodes.filter((n) => !targets.has(n.id)).map((n) => n.id);
  const seen = new Set<string>();
  const out: JourneyDocument["nodes"] = [];
  while (queue.length) {
    const id = queue.shift()!;
    if (seen.has(id) || !byId.has(id)) continue;
    seen.add(id);
    out.push(byId.get(id)!);
    for (const e of doc.edges) if (e.source === id) queue.push(e.target);
  }
  for (const n of doc.nodes) if (!seen.has(n.id)) out.push(n);
  return out;
}

export async function journeyReport(db: Db, workspaceId: string, journeyId: string, range: ReportRange = {}): Promise<JourneyReport> {
  const [journey] = await db
    .select({ id: journeys.id, name: journeys.name, liveVersionId: journeys.liveVersionId })
    .from(journeys)
    .where(and(eq(journeys.id, journeyId), eq(journeys.workspaceId, workspaceId)))
    .limit(1);
  if (!journey) throw new JourneyNotFoundError(journeyId);
  const versions = await db
    .select({ id: journeyVersions.id, version: journeyVersions.version, document: journeyVersions.document })
    .from(journeyVersions)
    .where(and(eq(journeyVersions.journeyId, journeyId), ne(journeyVersions.state, "draft")))
    .orderBy(asc(journeyVersions.version));
  if (range.versionId && !versions.some((v) => v.id === range.versionId)) throw new JourneyNotFoundError(`${journeyId} version ${range.versionId}`);

  const stats: StatsRange = { from: range.from, to: range.to, versionId: range.versionId };
  await foldRollups(db, journeyId);
  const [totals, rows, hours, returns, perVersion] = await Promise.all([
    journeyStats(db, workspaceId, journeyId, stats),
    rollupRows(db, journeyId, stats),
    sendHours(db, workspaceId, journeyId, stats),
    messageReturns(db, workspaceId, journeyId, stats, { event: range.returnEvent }),
    journeyStatsByVersion(db, workspaceId, journeyId, { from: range.from, to: range.to }),
  ]);

  // The document the operator reads the report against: the chosen version, else the live one, else the latest.
  const docVersion = versions.find((v) => v.id === range.versionId) ?? versions.find((v) => v.id === journey.liveVersionId) ?? versions.at(-1);
  const doc = (docVersion?.document ?? { nodes: [], edges: [] }) as JourneyDocument;
  const ordered = pathOrder(doc);
  const labelOf = (id: string) => ordered.find((n) => n.id === id)?.label ?? id;
  const channelOf = new Map<string, string>();
  for (const r of rows) if (r.kind === "message" && r.channel) channelOf.set(r.nodeId, r.channel);
  const messageNodes = ordered
    .filter((n) => MESSAGE_TYPES[n.type] || channelOf.has(n.id))
    .map((n) => ({ nodeId: n.id, channel: channelOf.get(n.id) ?? MESSAGE_TYPES[n.type] ?? n.type }));

  const f = funnel(totals, messageNodes);
  const treated = { entered: totals.totals.entered - totals.totals.holdout.entered, converted: totals.totals.converted };
  const holdout = { entered: totals.totals.holdout.entered, converted: totals.totals.holdout.converted };

  const splits: SplitReport[] = ordered
    .filter((n) => n.type === "core.split")
    .map((n) => {
      const counts = branchCounts(totals, n.id).branches;
      const branches = Object.entries(counts)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([output, c]) => ({ output, users: c.users, converted: c.converted, rate: c.users > 0 ? c.converted / c.users : 0 }));
      const [reference, ...rest] = branches;
      return {
        nodeId: n.id,
        label: labelOf(n.id),
        branches,
        comparisons: reference ? rest.map((b) => ({ output: b.output, against: reference.output, test: twoProportionTest(b.converted, b.users, reference.converted, reference.users) })) : [],
      };
    });

  const reasons = lossReasons(rows);
  const loss: LossStageRow[] = messageNodes.map(({ nodeId, channel }) => {
    const s = totals.nodes[nodeId];
    const mine = reasons.filter((r) => r.nodeId === nodeId);
    const requested = s?.entered ?? 0;
    const sent = s?.messages.sent ?? 0;
    // Sendable: passed the policy and content checks — sent, or refused by the provider afterwards.
    const refusedBySender = mine.filter((r) => r.stage === "sent").reduce((sum, r) => sum + r.n, 0);
    const counts: Array<[string, number]> = [
      ["requested", requested],
      ["sendable", sent + refusedBySender],
      ["sent", sent],
      ["delivered", s?.messages.delivered ?? 0],
      ["opened", s?.messages.opened ?? 0],
      ["clicked", s?.messages.clicked ?? 0],
    ];
    return {
      nodeId,
      label: labelOf(nodeId),
      channel,
      stages: counts.map(([stage, n], i) => ({ stage, n, rate: i === 0 ? null : share(n, counts[i - 1][1]) })),
      reasons: mine,
    };
  });

  const hourRows = Array.from({ length: 24 }, (_, hour) => hours.find((h) => h.hour === hour) ?? { hour, sent: 0, converted: 0 });
  const minSent = bestHourMinSent(hourRows.reduce((sum, r) => sum + r.sent, 0));
  const number = new Map(versions.map((v) => [v.id, v.version]));
  const byVersion: VersionRow[] = Object.entries(perVersion)
    .map(([versionId, s]) => {
      const entered = s.totals.entered - s.totals.holdout.entered;
      return {
        versionId,
        version: number.get(versionId) ?? null,
        entered,
        converted: s.totals.converted,
        conversionRate: s.totals.conversionRate,
        holdoutEntered: s.totals.holdout.entered,
        holdoutConverted: s.totals.holdout.converted,
        uplift: newcombeDifference(s.totals.converted, entered, s.totals.holdout.converted, s.totals.holdout.entered),
      };
    })
    .sort((a, b) => (a.version ?? 0) - (b.version ?? 0));

  return {
    journeyId,
    name: journey.name,
    from: totals.from,
    to: totals.to,
    versionId: range.versionId ?? null,
    versions: versions.map((v) => ({ id: v.id, version: v.version })),
    nodeNames: nodeNamesOf(doc),
    funnel: { entered: f.entered, steps: f.steps.map((s) => ({ ...s, label: labelOf(s.nodeId) })), converted: f.converted },
    uplift: { treated, holdout, result: newcombeDifference(treated.converted, treated.entered, holdout.converted, holdout.entered) },
    splits,
    loss,
    sendHours: { rows: hourRows, best: bestHours(hourRows, 3, minSent), minSent },
    returns,
    byVersion,
  };
}

/** Reads a report period from query text: YYYY-MM-DD (a whole day, `to` inclusive) or an ISO-8601 instant. Throws naming the field. */
export function parseReportRange(params: { from?: string | null; to?: string | null; version?: string | null; event?: string | null }): ReportRange {
  const out: ReportRange = {};
  const day = /^\d{4}-\d{2}-\d{2}$/;
  for (const key of ["from", "to"] as const) {
    const text = params[key]?.trim();
    if (!text) continue;
    const at = day.test(text) ? new Date(`${text}T00:00:00Z`) : new Date(text);
    if (Number.isNaN(at.getTime()) || text.length > 40) throw new ReportInputError(key, `"${key}" must be a date (YYYY-MM-DD) or an ISO-8601 time`);
    out[key] = key === "to" && day.test(text) ? new Date(at.getTime() + 86_400_000) : at;
  }
  if (out.from && out.to && out.from >= out.to) throw new ReportInputError("to", `"to" must be after "from"`);
  const version = params.version?.trim();
  if (version) {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(version)) throw new ReportInputError("version", `"version" must be a version id (uuid)`);
    out.versionId = version;
  }
  const event = params.event?.trim();
  if (event) {
    if (event.length > 200) throw new ReportInputError("event", `"event" must be at most 200 characters`);
    out.returnEvent = event;
  }
  return out;
}

export class ReportInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = "ReportInputError";
  }
}
