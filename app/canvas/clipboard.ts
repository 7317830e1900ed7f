import { z } from "zod";
import { journeyEdgeSchema, journeyNodeSchema, type JourneyEdge, type JourneyNode } from "../../workflows/document";
import { edgeFromDocument, edgeId, nodeFromDocument, type CanvasEdge, type CanvasNode } from "./model";

/**
 * Copied nodes travel as JSON text on the system clipboard, so they paste into another journey,
 * another tab, or a colleague's chat and back. The `waypost` marker tells our payload apart from
 * any other text the operator may paste.
 */
export const CLIPBOARD_MARKER = "waypost/journey-nodes";

const payloadSchema = z.object({
  waypost: z.literal(CLIPBOARD_MARKER),
  version: z.literal(1),
  nodes: z.array(journeyNodeSchema).min(1),
  edges: z.array(journeyEdgeSchema),
});
export type ClipboardPayload = z.infer<typeof payloadSchema>;

export function copyPayload(nodes: readonly CanvasNode[], edges: readonly CanvasEdge[]): ClipboardPayload | null {
  const chosen = nodes.filter((n) => n.selected);
  if (chosen.length === 0) return null;
  const ids = new Set(chosen.map((n) => n.id));
  return {
    waypost: CLIPBOARD_MARKER,
    version: 1,
    nodes: chosen.map((n) => ({
      id: n.id,
      type: n.data.nodeType,
      typeVersion: n.data.typeVersion,
      config: n.data.config,
      position: { x: Math.round(n.position.x), y: Math.round(n.position.y) },
      ...(n.data.label ? { label: n.data.label } : {}),
    })),
    // Only wires inside the selection: a wire to a node left behind has nowhere to go.
    edges: edges
      .filter((e) => ids.has(e.source) && ids.has(e.target))
      .map((e) => ({ id: e.id, source: e.source, sourcePort: e.sourceHandle ?? "", target: e.target })),
  };
}

/** Reads clipboard text; anything that is not our payload (or is damaged) yields null. */
export function parsePayload(text: string | null | undefined): ClipboardPayload | null {
  if (!text) return null;
  try {
    const parsed = payloadSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function newNodeId(type: string, taken: ReadonlySet<string>): string {
  const base = (type.split(".").pop() ?? "node").replace(/[^a-z0-9]+/gi, "_");
  for (;;) {
    const id = `${base}_${Math.random().toString(36).slice(2, 6)}`;
    if (!taken.has(id)) return id;
  }
}

/** Config fields named `nodeId` (condition rules on a message's state) follow their node. */
function remapNodeRefs(value: unknown, ids: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => remapNodeRefs(v, ids));
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [key, key === "nodeId" && typeof v === "string" && ids.has(v) ? ids.get(v) : remapNodeRefs(v, ids)]),
  );
}

/**
 * Turns a payload into new canvas nodes: fresh ids (so pasting twice, or into the journey it
 * came from, never collides), positions moved so the group's top-left corner lands on `at`.
 */
export function instantiatePayload(
  payload: ClipboardPayload,
  takenIds: ReadonlySet<string>,
  at: { x: number; y: number },
): { nodes: CanvasNode[]; edges: CanvasEdge[] } {
  const taken = new Set(takenIds);
  const ids = new Map<string, string>();
  for (const node of payload.nodes) {
    const id = newNodeId(node.type, taken);
    taken.add(id);
    ids.set(node.id, id);
  }
  const left = Math.min(...payload.nodes.map((n) => n.position.x));
  const top = Math.min(...payload.nodes.map((n) => n.position.y));
  const nodes: JourneyNode[] = payload.nodes.map((n) => ({
    ...n,
    id: ids.get(n.id)!,
    config: remapNodeRefs(n.config, ids),
    position: { x: n.position.x - left + at.x, y: n.position.y - top + at.y },
  }));
  const edges: JourneyEdge[] = payload.edges
    .filter((e) => ids.has(e.source) && ids.has(e.target))
    .map((e) => ({ id: edgeId(ids.get(e.source)!, e.sourcePort), source: ids.get(e.source)!, sourcePort: e.sourcePort, target: ids.get(e.target)! }));
  return { nodes: nodes.map((n) => ({ ...nodeFromDocument(n), selected: true })), edges: edges.map(edgeFromDocument) };
}
