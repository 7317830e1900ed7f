import { getNodeDefinition } from "../../nodes/registry";
import { portsOfNode, type CanvasEdge, type CanvasNode } from "./model";

/**
 * Why a connection is refused. Each code has a sentence in `canvas:connection.<code>` that the
 * canvas shows where the operator let go of the wire.
 */
export type ConnectionProblem =
  | "read_only"
  | "missing_node"
  | "self_loop"
  | "into_trigger"
  | "from_exit"
  | "no_such_port"
  | "port_taken"
  | "duplicate";

export interface ConnectionRequest {
  source: string;
  sourceHandle?: string | null;
  target: string;
}

/**
 * The rules the canvas enforces while drawing. They mirror the compiler's edge checks, so a
 * wire the canvas accepts never becomes a `bad_edge` publishing error.
 */
export function checkConnection(
  request: ConnectionRequest,
  nodes: readonly CanvasNode[],
  edges: readonly CanvasEdge[],
  readOnly = false,
): ConnectionProblem | null {
  if (readOnly) return "read_only";
  const source = nodes.find((n) => n.id === request.source);
  const target = nodes.find((n) => n.id === request.target);
  if (!source || !target) return "missing_node";
  if (source.id === target.id) return "self_loop";
  if (getNodeDefinition(target.data.nodeType)?.kind === "trigger") return "into_trigger";
  const ports = portsOfNode(source);
  if (ports.length === 0) return "from_exit";
  if (!request.sourceHandle || !ports.some((p) => p.id === request.sourceHandle)) return "no_such_port";
  const taken = edges.find((e) => e.source === source.id && e.sourceHandle === request.sourceHandle);
  if (taken) return taken.target === target.id ? "duplicate" : "port_taken";
  return null;
}
