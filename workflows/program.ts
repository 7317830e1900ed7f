import type { ZodIssue } from "zod";
import type { AnyNodeDefinition, Localized, MessageChannel } from "../nodes/define";
import { getPath } from "../nodes/filters";
import { CONTROL_TYPES, getNodeDefinition } from "../nodes/registry";
import type { WaitConfig } from "../nodes/wait/definition";
import { waitAlwaysBlocks } from "../nodes/wait/compute";
import type { ConditionConfig } from "../nodes/condition/definition";
import {
  migrateDocument,
  parseJourneyDocument,
  type DefinitionLookup,
  type JourneyDocument,
  type JourneySettings,
} from "./document";
import { canonicalJson, contentHash } from "./hash";
import { messageProblems } from "./message-checks";
import { isValidZone } from "./time";

/**
 * Compiler: journey document → JourneyProgram, the compact validated form both engines run.
 * Pure and client-safe, so the canvas shows exactly the errors publishing would refuse with.
 */

export type NodeRole = "trigger" | "wait" | "wait_for_event" | "condition" | "split" | "exit" | "action";

export interface ProgramNode {
  id: string;
  type: string;
  typeVersion: number;
  role: NodeRole;
  /** Parsed by the node's schema: defaults applied, safe to interpret without re-validation. */
  config: unknown;
  /** Output ids in the definition's order. */
  outputs: string[];
  /** Output id → target node id; every output is connected. */
  next: Record<string, string>;
  channel?: MessageChannel;
  deliveryTimeoutMs?: number;
}

export interface JourneyProgram {
  format: 1;
  /** Journey id when compiled for a stored journey (stable across versions), else `doc:<hash>`. */
  id: string;
  /** Content hash of everything below (not of `id`): equal programs hash equally. */
  hash: string;
  name: string;
  settings: JourneySettings;
  triggerId: string;
  nodes: Record<string, ProgramNode>;
}

export type CompileErrorCode =
  | "invalid_document"
  | "unconfigured"
  | "config_invalid"
  | "dangling_port"
  | "unreachable"
  | "loop_without_wait"
  | "no_trigger"
  | "multiple_triggers"
  | "unknown_node_type"
  | "bad_edge"
  | "template_error"
  | "too_long"
  | "no_provider"
  | "unknown_name";

export interface CompileError {
  code: CompileErrorCode;
  nodeId?: string;
  edgeId?: string;
  /** Zod path inside the node config (config_invalid/unconfigured) or the document. */
  path?: string;
  message: Localized;
  /** Warnings are shown but do not stop a publish (copy that will be cut, an unknown event name). */
  severity?: "warning";
}

export type CompileResult = { ok: true; program: JourneyProgram; warnings: CompileError[] } | { ok: false; errors: CompileError[] };

export interface CompileOptions {
  journeyId?: string;
  lookup?: DefinitionLookup;
}

const controlRoles: Record<string, NodeRole> = {
  [CONTROL_TYPES.trigger]: "trigger",
  [CONTROL_TYPES.wait]: "wait",
  [CONTROL_TYPES.waitForEvent]: "wait_for_event",
  [CONTROL_TYPES.condition]: "condition",
  [CONTROL_TYPES.split]: "split",
  [CONTROL_TYPES.exit]: "exit",
};

function roleOf(def: AnyNodeDefinition): NodeRole | null {
  if (def.kind === "action") return "action";
  return controlRoles[def.type] ?? null;
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0);
}

/** "Missing" issues make a node unconfigured; anything else is an invalid value. */
function isMissing(issue: ZodIssue, raw: unknown): boolean {
  const missingCodes = ["invalid_type", "too_small", "invalid_union_discriminator"];
  return missingCodes.includes(issue.code) && isEmpty(issue.path.length ? getPath(raw, issue.path.join(".")) : raw);
}

interface ParsedNode {
  def: AnyNodeDefinition;
  role: NodeRole;
  config: unknown;
  outputs: string[];
}

export function compileJourney(input: unknown, options: CompileOptions = {}): CompileResult {
  const lookup = options.lookup ?? getNodeDefinition;
  const parsed = parseJourneyDocument(input);
  if (!parsed.ok) {
    return {
      ok: false,
      errors: parsed.errors.map((e) => ({
        code: "invalid_document" as const,
        path: e.path,
        message: { en: `Invalid journey document at "${e.path}": ${e.message}`, zh: `旅程文档字段 "${e.path}" 无效：${e.message}` },
      })),
    };
  }
  const doc: JourneyDocument = migrateDocument(parsed.document, lookup);
  const errors: CompileError[] = [];
  const nodes = new Map<string, ParsedNode | null>();

  if (doc.settings.timezone !== undefined && !isValidZone(doc.settings.timezone)) {
    errors.push({
      code: "config_invalid",
      path: "settings.timezone",
      message: { en: `Unknown time zone "${doc.settings.timezone}"`, zh: `未知时区 "${doc.settings.timezone}"` },
    });
  }

  for (const node of doc.nodes) {
    nodes.set(node.id, parseNode(node, lookup, errors));
  }

  const triggers = doc.nodes.filter((n) => lookup(n.type)?.kind === "trigger");
  if (triggers.length === 0) {
    errors.push({ code: "no_trigger", message: { en: "The journey has no trigger", zh: "旅程缺少触发器" } });
  } else if (triggers.length > 1) {
    for (const t of triggers.slice(1)) {
      errors.push({
        code: "multiple_triggers",
        nodeId: t.id,
        message: { en: "A journey has exactly one trigger", zh: "一个旅程只能有一个触发器" },
      });
    }
  }

  const next = new Map<string, Record<string, string>>();
  const adjacency = new Map<string, string[]>(doc.nodes.map((n) => [n.id, []]));
  for (const edge of doc.edges) {
    const source = nodes.get(edge.source);
    const bad = (en: string, zh: string) =>
      errors.push({ code: "bad_edge", edgeId: edge.id, nodeId: edge.source, message: { en, zh } });
    if (!nodes.has(edge.source) || !nodes.has(edge.target)) {
      bad(`Edge ${edge.id} connects a node that does not exist`, `连线 ${edge.id} 连接了不存在的节点`);
      continue;
    }
    if (lookup(doc.nodes.find((n) => n.id === edge.target)!.type)?.kind === "trigger") {
      bad("Nothing can connect into a trigger", "触发器不能作为连线终点");
      continue;
    }
    adjacency.get(edge.source)!.push(edge.target);
    if (!source) continue; // ports of unknown/unconfigured nodes are not known yet
    if (!source.outputs.includes(edge.sourcePort)) {
      bad(`Node ${edge.source} has no output "${edge.sourcePort}"`, `节点 ${edge.source} 没有输出 "${edge.sourcePort}"`);
      continue;
    }
    const ports = next.get(edge.source) ?? {};
    if (ports[edge.sourcePort] !== undefined) {
      bad(`Output "${edge.sourcePort}" of ${edge.source} is connected twice`, `节点 ${edge.source} 的输出 "${edge.sourcePort}" 连接了两次`);
      continue;
    }
    ports[edge.sourcePort] = edge.target;
    next.set(edge.source, ports);
  }

  for (const node of doc.nodes) {
    const parsedNode = nodes.get(node.id);
    if (!parsedNode) continue;
    for (const port of parsedNode.outputs) {
      if (next.get(node.id)?.[port] === undefined) {
        errors.push({
          code: "dangling_port",
          nodeId: node.id,
          path: port,
          message: { en: `Output "${port}" is not connected`, zh: `输出 "${port}" 未连接` },
        });
      }
    }
  }

  if (triggers.length > 0) {
    const reached = new Set<string>(triggers.map((t) => t.id));
    const queue = [...reached];
    while (queue.length > 0) {
      for (const target of adjacency.get(queue.shift()!) ?? []) {
        if (!reached.has(target)) {
          reached.add(target);
          queue.push(target);
        }
      }
    }
    for (const node of doc.nodes) {
      if (!reached.has(node.id)) {
        errors.push({ code: "unreachable", nodeId: node.id, message: { en: "No path from the trigger reaches this node", zh: "从触发器无法到达此节点" } });
      }
    }
  }

  for (const nodeId of nodesInLoopsWithoutWait(doc, nodes, adjacency)) {
    errors.push({
      code: "loop_without_wait",
      nodeId,
      message: {
        en: "This node is in a loop without a wait; add a duration, time-of-day or wait-for-event step to the loop",
        zh: "此节点处于没有等待的循环中；请在循环中加入时长等待、定时等待或等待事件节点",
      },
    });
  }

  for (const node of doc.nodes) {
    const p = nodes.get(node.id);
    if (p?.role !== "condition") continue;
    const config = p.config as ConditionConfig;
    const rules = config.mode === "yes_no" ? config.rules.map((r, i) => ({ r, path: `rules.${i}` })) : config.branches.flatMap((b, bi) => b.rules.map((r, i) => ({ r, path: `branches.${bi}.rules.${i}` })));
    for (const { r, path } of rules) {
      if (r.kind === "message" && !nodes.get(r.nodeId)?.def.channel) {
        errors.push({
          code: "config_invalid",
          nodeId: node.id,
          path: `${path}.nodeId`,
          message: { en: `"${r.nodeId}" is not a message node of this journey`, zh: `"${r.nodeId}" 不是本旅程中的消息节点` },
        });
      }
    }
  }

  for (const node of doc.nodes) {
    const p = nodes.get(node.id);
    if (!p?.def.channel) continue;
    for (const problem of messageProblems(p.def, p.config)) errors.push({ ...problem, nodeId: node.id });
  }

  const warnings = errors.filter((e) => e.severity === "warning");
  if (warnings.length < errors.length) return { ok: false, errors };

  const programNodes: Record<string, ProgramNode> = {};
  for (const node of doc.nodes) {
    const p = nodes.get(node.id)!;
    const deliveryTimeoutMs = p.def.channel ? (p.config as { deliveryTimeoutMs?: number }).deliveryTimeoutMs : undefined;
    programNodes[node.id] = {
      id: node.id,
      type: node.type,
      typeVersion: node.typeVersion,
      role: p.role,
      config: p.config,
      outputs: p.outputs,
      next: next.get(node.id) ?? {},
      ...(p.def.channel ? { channel: p.def.channel } : {}),
      ...(deliveryTimeoutMs !== undefined ? { deliveryTimeoutMs } : {}),
    };
  }
  const body = { format: 1 as const, name: doc.name, settings: doc.settings, triggerId: triggers[0].id, nodes: programNodes };
  const hash = programHash(body);
  return { ok: true, program: { ...body, id: options.journeyId ?? `doc:${hash}`, hash }, warnings };
}

/** Hash over the behaviour-relevant content (positions and labels are not in the program). */
export function programHash(program: Omit<JourneyProgram, "id" | "hash">): string {
  const { format, name, settings, triggerId, nodes } = program;
  return contentHash(canonicalJson({ format, name, settings, triggerId, nodes }));
}

function parseNode(node: JourneyDocument["nodes"][number], lookup: DefinitionLookup, errors: CompileError[]): ParsedNode | null {
  const def = lookup(node.type);
  if (!def) {
    errors.push({ code: "unknown_node_type", nodeId: node.id, message: { en: `Unknown node type "${node.type}"`, zh: `未知节点类型 "${node.type}"` } });
    return null;
  }
  const role = roleOf(def);
  if (!role) {
    errors.push({
      code: "unknown_node_type",
      nodeId: node.id,
      message: { en: `"${node.type}" is not an action node and the engine does not interpret it`, zh: `"${node.type}" 不是动作节点，引擎无法执行` },
    });
    return null;
  }
  if (node.typeVersion > def.version) {
    errors.push({
      code: "config_invalid",
      nodeId: node.id,
      message: {
        en: `Node version ${node.typeVersion} is newer than this server's "${node.type}" (version ${def.version})`,
        zh: `节点版本 ${node.typeVersion} 高于本服务器的 "${node.type}"（版本 ${def.version}）`,
      },
    });
    return null;
  }
  const result = def.config.safeParse(node.config);
  if (result.success) {
    return { def, role, config: result.data, outputs: def.outputs(result.data).map((o) => o.id) };
  }
  const missing = result.error.issues.filter((i) => isMissing(i, node.config));
  const invalid = result.error.issues.filter((i) => !isMissing(i, node.config));
  if (missing.length > 0) {
    const fields = [...new Set(missing.map((i) => i.path.join(".") || "config"))].join(", ");
    errors.push({
      code: "unconfigured",
      nodeId: node.id,
      path: missing[0].path.join("."),
      message: { en: `${def.label.en} is not configured: ${fields}`, zh: `${def.label.zh}未配置：${fields}` },
    });
  }
  for (const issue of invalid) {
    const path = issue.path.join(".");
    errors.push({
      code: "config_invalid",
      nodeId: node.id,
      path,
      // A refinement may carry its own Chinese wording (issue.params.zh).
      message: { en: `${path || "config"}: ${issue.message}`, zh: `${path || "配置"}：${zhMessage(issue) ?? issue.message}` },
    });
  }
  return null;
}

function zhMessage(issue: ZodIssue): string | undefined {
  const params = issue.code === "custom" ? (issue.params as { zh?: unknown } | undefined) : undefined;
  return typeof params?.zh === "string" ? params.zh : undefined;
}

/**
 * Nodes on a cycle that has no always-blocking step. Duration and time-of-day waits and
 * wait-for-event always block; date waits can pass instantly (a past date), so they do not
 * count. Unknown/unconfigured nodes are treated as blocking to avoid piling up errors.
 */
function nodesInLoopsWithoutWait(
  doc: JourneyDocument,
  nodes: Map<string, ParsedNode | null>,
  adjacency: Map<string, string[]>,
): string[] {
  const blocks = (id: string) => {
    const p = nodes.get(id);
    if (!p) return true;
    return p.role === "wait_for_event" || (p.role === "wait" && waitAlwaysBlocks(p.config as WaitConfig));
  };
  const ids = doc.nodes.map((n) => n.id).filter((id) => !blocks(id));
  const inGraph = new Set(ids);
  const succ = (id: string) => (adjacency.get(id) ?? []).filter((t) => inGraph.has(t));

  // Tarjan's strongly connected components, iterative to avoid deep recursion.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const looping: string[] = [];
  for (const root of ids) {
    if (index.has(root)) continue;
    const work: Array<{ id: string; i: number }> = [{ id: root, i: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const targets = succ(frame.id);
      if (frame.i < targets.length) {
        const t = targets[frame.i++];
        if (!index.has(t)) {
          index.set(t, counter);
          low.set(t, counter++);
          stack.push(t);
          onStack.add(t);
          work.push({ id: t, i: 0 });
        } else if (onStack.has(t)) {
          low.set(frame.id, Math.min(low.get(frame.id)!, index.get(t)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].id;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.id)!));
      }
      if (low.get(frame.id) === index.get(frame.id)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.id);
        const selfLoop = component.length === 1 && succ(component[0]).includes(component[0]);
        if (component.length > 1 || selfLoop) looping.push(...component);
      }
    }
  }
  const order = new Map(doc.nodes.map((n, i) => [n.id, i]));
  return looping.sort((a, b) => order.get(a)! - order.get(b)!);
}
