import type { AnyNodeDefinition, NodeCategory } from "./define";
import { processShared } from "./shared-state";
import { triggerNode } from "./trigger/definition";
import { waitNode } from "./wait/definition";
import { waitForEventNode } from "./wait-for-event/definition";
import { conditionNode } from "./condition/definition";
import { splitNode } from "./split/definition";
import { pushNode } from "./push/definition";
import { smsNode } from "./sms/definition";
import { emailNode } from "./email/definition";
import { updateUserNode } from "./update-user/definition";
import { exitNode } from "./exit/definition";
import { webhookNode } from "./webhook/definition";

/**
 * Client-safe registry of node definitions (the palette, the inspector, the compiler).
 * Runtimes are mapped separately in `registry.server.ts`.
 */

/** Control flow is a closed set interpreted by `workflows/interpreter.ts`. */
export const CONTROL_TYPES = {
  trigger: triggerNode.type,
  wait: waitNode.type,
  waitForEvent: waitForEventNode.type,
  condition: conditionNode.type,
  split: splitNode.type,
  exit: exitNode.type,
} as const;

const builtIn: AnyNodeDefinition[] = [
  triggerNode,
  waitNode,
  waitForEventNode,
  conditionNode,
  splitNode,
  pushNode,
  smsNode,
  emailNode,
  updateUserNode,
  exitNode,
];

// The webhook ships as a custom node (built on the public extension API) inside Waypost itself.
const shipped: AnyNodeDefinition[] = [webhookNode];

const local = new Map<string, AnyNodeDefinition>([...builtIn, ...shipped].map((d) => [d.type, d]));
/** Node types added at run time (extensions): one map per process, shared by every copy of this module. */
const added = processShared("node-definitions", () => new Map<string, AnyNodeDefinition>());
const controlTypes = new Set<string>(Object.values(CONTROL_TYPES));

/**
 * Adds a custom node type. Only action nodes can be added: triggers and control flow are
 * interpreted by the engine itself, so a new one would need engine support on both drivers.
 */
export function registerNode(def: AnyNodeDefinition): void {
  const existing = getNodeDefinition(def.type);
  if (existing === def) return;
  if (existing) throw new Error(`node type "${def.type}" is already registered`);
  if (def.kind !== "action" || controlTypes.has(def.type)) {
    throw new Error(`node type "${def.type}": custom nodes must be action nodes`);
  }
  added.set(def.type, def);
}

/**
 * Removes a custom node type: the loader undoes a half-registered extension with it, and tests
 * swap a node for its next version as a restart with an upgraded extension would.
 */
export function unregisterNode(type: string): void {
  if (local.has(type)) throw new Error(`node type "${type}" is built in`);
  added.delete(type);
}

export function getNodeDefinition(type: string): AnyNodeDefinition | undefined {
  return local.get(type) ?? added.get(type);
}

const categoryOrder: NodeCategory[] = ["triggers", "flow", "messages", "data", "custom"];

/** Palette order: by category, then registration order. */
export function listNodeDefinitions(): AnyNodeDefinition[] {
  return [...local.values(), ...added.values()].sort((a, b) => categoryOrder.indexOf(a.category) - categoryOrder.indexOf(b.category));
}
