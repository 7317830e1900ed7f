/**
 * `waypost/extension` — the public extension API (contract version EXTENSION_API_VERSION).
 *
 * This module is what an extension imports; everything exported here is covered by the semver
 * rules in docs/extensions.md ("The contract"): within major version 1 we only add optional
 * fields and new exports. It is pure (no state, no I/O) and client-safe, so the same
 * definition object can be inspected by the canvas and run by the engines.
 *
 * An extension's entry module default-exports `defineExtension({ apiVersion: 1, nodes: [...] })`.
 */
import { z } from "zod";

export { z };

/** The contract's version. Extensions declare the major they were written for (`apiVersion: 1`). */
export const EXTENSION_API_VERSION = "1.0.0";
export const EXTENSION_API_MAJOR = 1;

export interface Localized {
  en: string;
  zh: string;
}
export type Locale = keyof Localized;

/** Where a node is listed in the palette. Triggers and flow control are built into the engine. */
export type ExtensionNodeCategory = "messages" | "data" | "custom";

export interface NodeOutput {
  /** Permanent within a major version of the node: journeys connect to it by this id. */
  id: string;
  label: Localized;
}

/** A secret the node reads at run time; operators enter it on Settings › Extensions (stored encrypted). */
export interface SecretSpec {
  name: string;
  label: Localized;
  help?: Localized;
}

/** Presentation of one config field in the generated inspector form (keyed by path: `headers.*`). */
export interface FieldHintSpec {
  label?: Localized;
  help?: Localized;
  placeholder?: Localized;
  widget?: "textarea" | "date" | "durationMs" | "timezone" | "event" | "trait" | "segment";
  hidden?: boolean;
}

export interface InspectorSpec {
  /** Hints for the form generated from the config schema. */
  fields?: Record<string, FieldHintSpec>;
  /**
   * A custom inspector replacing the generated form: the path (relative to the extension's entry
   * module) of a browser ES module with no imports whose default export is
   * `(host) => Component`; `host` is `{ React, SchemaForm }` of the running Waypost, and the
   * component gets `{ config, onChange(config), readOnly, hints, definition }`.
   */
  component?: string;
}

export interface ExecutionOptions {
  /** One attempt may take this long before it is abandoned and retried (default 30 s, at most 100 s). */
  timeoutMs?: number;
  /** Attempts before the user leaves by `failed` (default 5, at most 5). */
  maxAttempts?: number;
}

export interface ExtensionUser {
  id: string;
  traits: Record<string, unknown>;
  timezone?: string | null;
}

export interface ExtensionResponse {
  status: number;
  ok: boolean;
  text(): Promise<string>;
}

export interface ExtensionFetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Shorter than the node's own timeout if you like; never longer. */
  timeoutMs?: number;
}

export interface ExtensionLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface ExtensionSecrets {
  /** The workspace's value, or undefined when the operator has not entered it. */
  get(name: string): Promise<string | undefined>;
}

export interface NodeContext<C> {
  /** Parsed by the node's schema (defaults applied), migrated to this version first. */
  config: C;
  user: ExtensionUser;
  journey: { id: string; name: string; versionId: string };
  /** The event that started the user's journey, if any. */
  event?: { name: string; properties: Record<string, unknown> };
  workspaceId: string;
  instanceId: string;
  nodeId: string;
  /** 1 for the first try. */
  attempt: number;
  /** Same on every attempt of one visit: send it to the remote side so it can drop our retries. */
  idempotencyKey: string;
  /** Journey time (virtual in tests and simulations). */
  now: Date;
  /** Outbound HTTP through Waypost's request guard (no private addresses), aborted at the node's timeout. */
  fetch(url: string, init?: ExtensionFetchInit): Promise<ExtensionResponse>;
  log: ExtensionLogger;
  secrets: ExtensionSecrets;
  /** Aborted when the attempt's time is up. */
  signal: AbortSignal;
}

/** What `run` returns: leave by an output, fail for good (`failed` output), or try again later. */
export type NodeOutcome =
  | { output: string; detail?: Record<string, unknown> }
  | { fail: string; detail?: Record<string, unknown> }
  | { retry: string };

export const output = (id: string, detail?: Record<string, unknown>): NodeOutcome => ({ output: id, ...(detail ? { detail } : {}) });
/** A permanent failure: the same input will fail the same way, so no retry; the user leaves by `failed`. */
export const fail = (reason: string, detail?: Record<string, unknown>): NodeOutcome => ({ fail: reason, ...(detail ? { detail } : {}) });
/** A transient failure: tried again with backoff, up to `execution.maxAttempts`, then `failed`. */
export const retry = (reason: string): NodeOutcome => ({ retry: reason });

/** Thrown from `run` (or anything it calls): a permanent failure. Any other thrown error is retried. */
export class PermanentError extends Error {
  constructor(
    readonly reason: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(reason);
    this.name = "PermanentError";
  }
}

export interface NodeSpec<S extends z.ZodTypeAny> {
  /** Permanent, namespaced: `acme.slack-alert`. Never rename it; journeys store it. */
  id: string;
  /** Bump when the config shape changes, and teach `migrate` the old shape. */
  version: number;
  title: Localized;
  description: Localized;
  /** An emoji or a short text shown on the card and in the palette. */
  icon: string;
  category?: ExtensionNodeCategory;
  config: S;
  /** Config of a freshly dropped node (may be incomplete: the node shows as not configured). */
  defaults: unknown;
  /** Named outputs. A `failed` output is added when missing: permanent failures leave by it. */
  outputs: NodeOutput[];
  /** Card text; default: the title and the first text field. */
  summary?(config: z.output<S>, locale: Locale): string;
  secrets?: SecretSpec[];
  execution?: ExecutionOptions;
  inspector?: InspectorSpec;
  /** Brings a config stored by an older version (`fromVersion`) to this version's shape. */
  migrate?(oldConfig: unknown, fromVersion: number): unknown;
  run(ctx: NodeContext<z.output<S>>): Promise<NodeOutcome>;
}

export interface ExtensionNode<S extends z.ZodTypeAny = z.ZodTypeAny> extends NodeSpec<S> {
  readonly kind: "waypost.node";
  readonly category: ExtensionNodeCategory;
  readonly execution: Required<ExecutionOptions>;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const MAX_TIMEOUT_MS = 100_000;
export const MAX_ATTEMPTS = 5;

const NODE_ID = /^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/;
const OUTPUT_ID = /^[a-z][a-z0-9_-]*$/;
const RESERVED_NAMESPACES = new Set(["core"]);
const FAILED_OUTPUT: NodeOutput = { id: "failed", label: { en: "Failed", zh: "失败" } };

function localized(value: unknown): value is Localized {
  return typeof value === "object" && value !== null && typeof (value as Localized).en === "string" && typeof (value as Localized).zh === "string" && (value as Localized).en !== "" && (value as Localized).zh !== "";
}

/** Every problem with a node spec, each naming the field (empty when valid). */
export function checkNodeSpec(spec: NodeSpec<z.ZodTypeAny>): string[] {
  const problems: string[] = [];
  const id = typeof spec?.id === "string" ? spec.id : "";
  if (!NODE_ID.test(id)) problems.push(`id "${String(spec?.id)}" must look like "namespace.name" (lowercase, e.g. acme.slack-alert)`);
  else if (RESERVED_NAMESPACES.has(id.split(".")[0])) problems.push(`id "${id}": the "core" namespace is reserved for Waypost`);
  if (!Number.isInteger(spec?.version) || spec.version < 1) problems.push("version must be a positive integer");
  if (!localized(spec?.title)) problems.push("title needs non-empty en and zh");
  if (!localized(spec?.description)) problems.push("description needs non-empty en and zh");
  if (typeof spec?.icon !== "string" || spec.icon === "") problems.push("icon must be a non-empty string");
  if (spec?.category !== undefined && !["messages", "data", "custom"].includes(spec.category)) problems.push(`category must be messages, data or custom (got "${String(spec.category)}")`);
  if (!(spec?.config instanceof Object) || typeof (spec.config as z.ZodTypeAny).safeParse !== "function") problems.push("config must be a zod schema (use the z exported by waypost/extension)");
  if (!Array.isArray(spec?.outputs) || spec.outputs.length === 0) problems.push("outputs must list at least one output");
  else {
    const seen = new Set<string>();
    spec.outputs.forEach((o, i) => {
      if (!OUTPUT_ID.test(o?.id ?? "")) problems.push(`outputs[${i}].id "${String(o?.id)}" must be lowercase letters, digits, _ or -`);
      else if (seen.has(o.id)) problems.push(`outputs[${i}].id "${o.id}" is listed twice`);
      seen.add(o?.id);
      if (!localized(o?.label)) problems.push(`outputs[${i}].label needs non-empty en and zh`);
    });
  }
  if (typeof spec?.run !== "function") problems.push("run must be a function");
  if (spec?.migrate !== undefined && typeof spec.migrate !== "function") problems.push("migrate must be a function");
  const execution = spec?.execution ?? {};
  if (execution.timeoutMs !== undefined && (!Number.isInteger(execution.timeoutMs) || execution.timeoutMs < 100 || execution.timeoutMs > MAX_TIMEOUT_MS)) {
    problems.push(`execution.timeoutMs must be a whole number of milliseconds from 100 to ${MAX_TIMEOUT_MS}`);
  }
  if (execution.maxAttempts !== undefined && (!Number.isInteger(execution.maxAttempts) || execution.maxAttempts < 1 || execution.maxAttempts > MAX_ATTEMPTS)) {
    problems.push(`execution.maxAttempts must be from 1 to ${MAX_ATTEMPTS}`);
  }
  if (spec?.inspector?.component !== undefined && (typeof spec.inspector.component !== "string" || !/\.(m?js)$/.test(spec.inspector.component))) {
    problems.push("inspector.component must be the path of a .js or .mjs browser module");
  }
  (spec?.secrets ?? []).forEach((s, i) => {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(s?.name ?? "")) problems.push(`secrets[${i}].name "${String(s?.name)}" must be letters, digits or _`);
    if (!localized(s?.label)) problems.push(`secrets[${i}].label needs non-empty en and zh`);
  });
  return problems;
}

export class ExtensionDefinitionError extends Error {
  constructor(
    readonly subject: string,
    readonly problems: string[],
  ) {
    super(`${subject}: ${problems.join("; ")}`);
    this.name = "ExtensionDefinitionError";
  }
}

/** Describes a custom node type. Throws naming every problem, so a mistake shows at load time. */
export function defineNode<S extends z.ZodTypeAny>(spec: NodeSpec<S>): ExtensionNode<S> {
  const problems = checkNodeSpec(spec as unknown as NodeSpec<z.ZodTypeAny>);
  if (problems.length > 0) throw new ExtensionDefinitionError(`node ${String(spec?.id)}`, problems);
  const outputs = spec.outputs.some((o) => o.id === FAILED_OUTPUT.id) ? spec.outputs : [...spec.outputs, FAILED_OUTPUT];
  return Object.freeze({
    ...spec,
    kind: "waypost.node" as const,
    category: spec.category ?? "custom",
    outputs,
    execution: { timeoutMs: spec.execution?.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxAttempts: spec.execution?.maxAttempts ?? MAX_ATTEMPTS },
  });
}

export interface ExtensionSpec {
  /** The major version of this contract the extension is written for. */
  apiVersion: number;
  nodes?: ExtensionNode[];
  /** Channel providers (see docs/extensions.md, "Channel providers"). */
  providers?: readonly unknown[];
}

export interface Extension extends ExtensionSpec {
  readonly kind: "waypost.extension";
  readonly nodes: ExtensionNode[];
  readonly providers: readonly unknown[];
}

/** What an extension's entry module default-exports. */
export function defineExtension(spec: ExtensionSpec): Extension {
  const problems: string[] = [];
  if (spec?.apiVersion !== EXTENSION_API_MAJOR) {
    problems.push(`apiVersion ${String(spec?.apiVersion)} is not supported by this Waypost (extension API ${EXTENSION_API_VERSION}: use apiVersion: ${EXTENSION_API_MAJOR})`);
  }
  const nodes = spec?.nodes ?? [];
  if (!Array.isArray(nodes)) problems.push("nodes must be a list of defineNode(...) results");
  else {
    nodes.forEach((n, i) => {
      if ((n as { kind?: string })?.kind !== "waypost.node") problems.push(`nodes[${i}] is not a defineNode(...) result`);
    });
    const ids = nodes.map((n) => n?.id);
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i) problems.push(`nodes[${i}]: "${id}" is listed twice`);
    });
  }
  if (spec?.providers !== undefined && !Array.isArray(spec.providers)) problems.push("providers must be a list");
  if (problems.length > 0) throw new ExtensionDefinitionError("extension", problems);
  return Object.freeze({ ...spec, kind: "waypost.extension" as const, nodes: [...nodes], providers: [...(spec.providers ?? [])] });
}

// Channel providers (nodes/channels/provider-api.ts; docs/extensions.md, "Channel providers").
export * from "../channels/provider-api";
