import dagre from "@dagrejs/dagre";
import { portsOfNode, type CanvasEdge, type CanvasNode } from "./model";

/** Card size used before React Flow has measured a node (e.g. right after a paste). */
export const DEFAULT_NODE_SIZE = { width: 240, height: 110 };

/**
 * Top-to-bottom layered layout (dagre): journeys read like a flowchart from the trigger down.
 * Edges are fed in port order so "yes" stays left of "no" and "sent" left of "failed",
 * matching the order of the ports on each card.
 */
export function layoutNodes(nodes: readonly CanvasNode[], edges: readonly CanvasEdge[]): CanvasNode[] {
  const graph = new dagre.graphlib.Graph({ multigraph: true });
  graph.setGraph({ rankdir: "TB", nodesep: 48, ranksep: 72, marginx: 24, marginy: 24 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) {
    graph.setNode(node.id, { width: node.measured?.width ?? DEFAULT_NODE_SIZE.width, height: node.measured?.height ?? DEFAULT_NODE_SIZE.height });
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const portIndex = (edge: CanvasEdge) => {
    const source = byId.get(edge.source);
    return source ? portsOfNode(source).findIndex((p) => p.id === edge.sourceHandle) : 0;
  };
  const ordered = edges.filter((e) => byId.has(e.source) && byId.has(e.target)).sort((a, b) => portIndex(a) - portIndex(b));
  for (const edge of ordered) graph.setEdge(edge.source, edge.target, {}, edge.id);
  dagre.layout(graph);
  return nodes.map((node) => {
    const placed = graph.node(node.id);
    // dagre places centres; React Flow positions are top-left corners.
    return { ...node, position: { x: Math.round(placed.x - placed.width / 2), y: Math.round(placed.y - placed.height / 2) } };
  });
}
