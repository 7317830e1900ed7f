import { getNodeDefinition } from "../nodes/registry";
import { JOURNEY_SCHEMA_VERSION, type JourneyDocumentInput } from "./document";

/**
 * Terse construction of journey documents in code (demo journeys, scenarios, tests), with a
 * simple layered layout so seeded journeys look tidy on the canvas.
 */

export interface NodeSpec {
  id: string;
  type: string;
  config: unknown;
  label?: string;
  /** Defaults to the registered definition's version. */
  typeVersion?: number;
}

export type EdgeSpec = [source: string, port: string, target: string];

export function buildJourney(spec: {
  name: string;
  settings: JourneyDocumentInput["settings"];
  nodes: NodeSpec[];
  edges: EdgeSpec[];
}): JourneyDocumentInput {
  const depth = layerDepths(spec.nodes.map((n) => n.id), spec.edges);
  const rows = new Map<number, number>();
  return {
    schemaVersion: JOURNEY_SCHEMA_VERSION,
    name: spec.name,
    settings: spec.settings,
    nodes: spec.nodes.map((n) => {
      const layer = depth.get(n.id) ?? 0;
      const row = rows.get(layer) ?? 0;
      rows.set(layer, row + 1);
      return {
        id: n.id,
        type: n.type,
        typeVersion: n.typeVersion ?? getNodeDefinition(n.type)?.version ?? 1,
        config: n.config,
        position: { x: row * 300, y: layer * 160 },
        ...(n.label ? { label: n.label } : {}),
      };
    }),
    edges: spec.edges.map(([source, port, target]) => ({ id: `${source}.${port}`, source, sourcePort: port, target })),
  };
}

/** Breadth-first depth from the first node (the trigger): enough for a readable layout. */
function layerDepths(ids: string[], edges: EdgeSpec[]): Map<string, number> {
  const depth = new Map<string, number>();
  if (ids.length === 0) return depth;
  depth.set(ids[0], 0);
  const queue = [ids[0]];
  while (queue.length > 0) {
    const id = queue.shift()!;
    for (const [source, , target] of edges) {
      if (source === id && !depth.has(target)) {
        depth.set(target, depth.get(id)! + 1);
        queue.push(target);
      }
    }
  }
  return depth;
}
