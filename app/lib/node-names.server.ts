import { sql } from "drizzle-orm";
import { query, type Db } from "../../db/client";
import { outputsOf, type Localized } from "../../nodes/define";
import { getNodeDefinition } from "../../nodes/registry";
import type { NodeNames } from "../ops/names";

export type { NodeNames } from "../ops/names";

/**
 * What operators call a journey's nodes and ports, from the version's document: the node's own
 * label (the operator's words, same in both languages), else its type's label; ports by the
 * definition's output labels. Operator pages show these instead of ids (issue 14).
 */
export function nodeNamesOf(document: unknown): NodeNames {
  const names: NodeNames = {};
  const nodes = (document as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes)) return names;
  for (const raw of nodes as Array<{ id?: unknown; type?: unknown; label?: unknown; config?: unknown }>) {
    if (typeof raw?.id !== "string") continue;
    const type = typeof raw.type === "string" ? raw.type : "";
    const def = getNodeDefinition(type);
    const own = typeof raw.label === "string" && raw.label.trim() !== "" ? raw.label.trim() : null;
    const label: Localized = own ? { en: own, zh: own } : (def?.label ?? { en: type || raw.id, zh: type || raw.id });
    const ports: Record<string, Localized> = {};
    if (def) for (const port of outputsOf(def, raw.config)) ports[port.id] = port.label;
    names[raw.id] = { type, label, ports };
  }
  return names;
}

/** Node names of several journey versions at once (timelines that span journeys), by version id. */
export async function nodeNamesByVersion(db: Db, workspaceId: string, versionIds: Iterable<string>): Promise<Record<string, NodeNames>> {
  const ids = [...new Set([...versionIds].filter(Boolean))];
  if (ids.length === 0) return {};
  const found = await query<{ id: string; document: unknown }>(
    db,
    sql`select id::text as id, document from journey_versions
        where workspace_id = ${workspaceId}::uuid and id in (${sql.join(
          ids.map((id) => sql`${id}::uuid`),
          sql`, `,
        )})`,
  );
  return Object.fromEntries(found.map((r) => [r.id, nodeNamesOf(r.document)]));
}
