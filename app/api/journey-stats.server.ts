import { sql } from "drizzle-orm";
import { query, type Db } from "../../db/client";

/**
 * Journey totals for the management API, read straight from the engine's and the channels'
 * tables: entries by outcome, instances by status, per-node entered / waiting / left-by-output,
 * messages by state, conversions. (The canvas analytics has its own richer queries.)
 */
export async function journeyStats(db: Db, workspaceId: string, journeyId: string) {
  const ws = sql`${workspaceId}::uuid`;
  const id = sql`${journeyId}::uuid`;
  const [entries, instances, nodes, waiting, messages] = await Promise.all([
    query<{ outcome: string; n: number | string }>(
      db,
      sql`select s.outcome, sum(s.count) as n from journey_entry_stats s join journeys j on j.id = s.journey_id
          where s.journey_id = ${id} and j.workspace_id = ${ws} group by s.outcome`,
    ),
    query<{ status: string; reason: string | null; n: number | string }>(
      db,
      sql`select status, reason, count(*) as n from journey_instances where workspace_id = ${ws} and journey_id = ${id} group by status, reason`,
    ),
    query<{ node_id: string | null; kind: string; output: string | null; n: number | string }>(
      db,
      sql`select node_id, kind, output, count(*) as n from journey_node_events
          where workspace_id = ${ws} and journey_id = ${id} and kind in ('entered', 'left', 'conversion')
          group by node_id, kind, output`,
    ),
    query<{ node_id: string | null; n: number | string }>(
      db,
      sql`select node_id, count(*) as n from journey_instances where workspace_id = ${ws} and journey_id = ${id} and status = 'active' group by node_id`,
    ),
    query<{ state: string; n: number | string }>(
      db,
      sql`select state, count(*) as n from messages where workspace_id = ${ws} and journey_id = ${journeyId} group by state`,
    ),
  ]);
  const byNode = new Map<string, { nodeId: string; entered: number; waiting: number; outputs: Record<string, number> }>();
  const node = (nodeId: string) => {
    let entry = byNode.get(nodeId);
    if (!entry) byNode.set(nodeId, (entry = { nodeId, entered: 0, waiting: 0, outputs: {} }));
    return entry;
  };
  let conversions = 0;
  for (const r of nodes) {
    if (r.kind === "conversion") conversions += Number(r.n);
    else if (r.node_id && r.kind === "entered") node(r.node_id).entered += Number(r.n);
    else if (r.node_id && r.kind === "left") node(r.node_id).outputs[r.output ?? "next"] = (node(r.node_id).outputs[r.output ?? "next"] ?? 0) + Number(r.n);
  }
  for (const r of waiting) if (r.node_id) node(r.node_id).waiting += Number(r.n);
  const completions: Record<string, number> = {};
  let active = 0;
  let completed = 0;
  for (const r of instances) {
    if (r.status === "active") active += Number(r.n);
    else {
      completed += Number(r.n);
      completions[r.reason ?? "unknown"] = (completions[r.reason ?? "unknown"] ?? 0) + Number(r.n);
    }
  }
  return {
    id: journeyId,
    entries: Object.fromEntries(entries.map((r) => [r.outcome, Number(r.n)])),
    instances: { active, completed },
    completions,
    nodes: [...byNode.values()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1)),
    messages: Object.fromEntries(messages.map((r) => [r.state, Number(r.n)])),
    conversions,
  };
}
