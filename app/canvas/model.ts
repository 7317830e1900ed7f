import type { Edge, Node } from "@xyflow/react";
import { summarizeNode, type AnyNodeDefinition, type Locale, type OutputPort } from "../../nodes/define";
import { getNodeDefinition } from "../../nodes/registry";
import { JOURNEY_SCHEMA_VERSION, type JourneyDocument, type JourneyEdge, type JourneyNode, type JourneySettings } from "../../workflows/document";

/**
 * How a journey document maps onto React Flow. Node `data` holds only what the document stores
 * (type, version, config, label): everything shown on a card is derived from it, so the store
 * can snapshot, copy and save nodes as plain JSON.
 */
export interface JourneyNodeData extends Record<string, unknown> {
  nodeType: string;
  typeVersion: number;
  config: unknown;
  label?: string;
}

/** The one React Flow node type: a generic shell that renders any registered definition. */
export const JOURNEY_NODE = "journey";
/** Every node has one input handle; output handle ids are the definition's port ids. */
export const INPUT_HANDLE = "in";

export type CanvasNode = Node<JourneyNodeData, typeof JOURNEY_NODE>;
export type CanvasEdge = Edge;

export interface CanvasDocument {
  name: string;
  settings: JourneySettings;
  nodes: CanvasNode[];
  edges: CanvasEdge[];
}

export function edgeId(source: string, port: string): string {
  return `${source}.${port}`;
}

export function nodeFromDocument(n: JourneyNode): CanvasNode {
  return {
    id: n.id,
    type: JOURNEY_NODE,
    position: { x: n.position.x, y: n.position.y },
    data: { nodeType: n.type, typeVersion: n.typeVersion, config: n.config, ...(n.label ? { label: n.label } : {}) },
  };
}

export function edgeFromDocument(e: JourneyEdge): CanvasEdge {
  return { id: e.id, source: e.source, sourceHandle: e.sourcePort, target: e.target, targetHandle: INPUT_HANDLE };
}

export function fromDocument(doc: JourneyDocument): CanvasDocument {
  return { name: doc.name, settings: doc.settings, nodes: doc.nodes.map(nodeFromDocument), edges: doc.edges.map(edgeFromDocument) };
}

export function toDocument(state: CanvasDocument): JourneyDocument {
  return {
    schemaVersion: JOURNEY_SCHEMA_VERSION,
    name: state.name,
    settings: state.settings,
    nodes: state.nodes.map((n) => ({
      id: n.id,
      type: n.data.nodeType,
      typeVersion: n.data.typeVersion,
      config: n.data.config,
      // Whole pixels: sub-pixel drag noise would otherwise make every save a "change".
      position: { x: Math.round(n.position.x), y: Math.round(n.position.y) },
      ...(n.data.label ? { label: n.data.label } : {}),
    })),
    edges: state.edges.map((e) => ({ id: e.id, source: e.source, sourcePort: e.sourceHandle ?? "", target: e.target })),
  };
}

function isPortList(value: unknown): value is OutputPort[] {
  return Array.isArray(value) && value.every((p) => typeof p === "object" && p !== null && typeof (p as OutputPort).id === "string");
}

/**
 * Output ports of a node as drawn. Definitions only promise ports for a valid config, but an
 * operator must be able to wire a node before filling it in, so a half-edited config is asked
 * as-is, then the definition's defaults. The compiler ignores ports of unconfigured nodes,
 * so drawing them early never hides an error.
 */
export function portsOf(def: AnyNodeDefinition, config: unknown): OutputPort[] {
  return cached(portCache, def, config, () => {
    const parsed = def.config.safeParse(config);
    if (parsed.success) return def.outputs(parsed.data);
    for (const candidate of [config, def.defaults]) {
      try {
        const ports = def.outputs(candidate as never);
        if (isPortList(ports)) return ports;
      } catch {
        // The definition could not read this shape; try the next candidate.
      }
    }
    return [];
  });
}

/** Card text in a language, cached like the ports. */
export function summaryOf(def: AnyNodeDefinition, config: unknown, locale: Locale): string {
  return cached(summaryCaches[locale], def, config, () => summarizeNode(def, config, locale));
}

/**
 * Parsing a config (templates included) is the costly part of drawing a card, and a big journey
 * re-mounts cards as they scroll into view. Configs are never mutated (every edit makes a new
 * object), so results can be cached by config object.
 */
type Cache<T> = WeakMap<object, { def: AnyNodeDefinition; value: T }>;
const portCache: Cache<OutputPort[]> = new WeakMap();
const summaryCaches: Record<Locale, Cache<string>> = { en: new WeakMap(), zh: new WeakMap() };

function cached<T>(cache: Cache<T>, def: AnyNodeDefinition, config: unknown, compute: () => T): T {
  if (config === null || typeof config !== "object") return compute();
  const hit = cache.get(config);
  if (hit && hit.def === def) return hit.value;
  const value = compute();
  cache.set(config, { def, value });
  return value;
}

export function portsOfNode(node: CanvasNode): OutputPort[] {
  const def = getNodeDefinition(node.data.nodeType);
  return def ? portsOf(def, node.data.config) : [];
}
