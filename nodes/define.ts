import type { z } from "zod";
import type { JourneyEvent, UserSnapshot } from "./runtime";

export type Locale = "en" | "zh";
export interface Localized {
  en: string;
  zh: string;
}

export type NodeKind = "trigger" | "control" | "action";
export type NodeCategory = "triggers" | "flow" | "messages" | "data" | "custom";
export type MessageChannel = "push" | "sms" | "email";

export interface OutputPort {
  id: string;
  label: Localized;
}

/** What an action node's `preview` sees: a sample (or simulated) user and the entry event. */
export interface PreviewContext {
  user: UserSnapshot;
  event?: JourneyEvent;
  journey?: { id: string; name: string };
}

/** Rendered copy for the inspector preview and the simulator trace. */
export interface PreviewResult {
  channel?: MessageChannel;
  /** Rendered fields, e.g. { title, body } for push. */
  fields: Record<string, string>;
  /** Per-field render errors (bad Liquid, missing filter): shown instead of crashing. */
  errors: Record<string, string>;
  /** Rendered length per field in characters (code points), for the per-channel counter. */
  counts?: Record<string, number>;
}

/**
 * The one way to describe a node type, built-in or third-party. Everything the canvas, the
 * compiler and the engines need is here; side effects live in the folder's
 * `runtime.server.ts` so this module stays safe for the browser bundle.
 */
export interface NodeDefinitionInput<S extends z.ZodTypeAny> {
  /** Permanent id, `<namespace>.<name>`: `core.wait`, `acme.slack`. Never rename it. */
  type: string;
  /** Bump when the config shape changes, and teach `migrate` the old shape. */
  version: number;
  kind: NodeKind;
  category: NodeCategory;
  label: Localized;
  description: Localized;
  icon: string;
  /** The single contract for inspector, API and runtime. */
  config: S;
  /** Config of a freshly dropped node; may be incomplete (the node then shows as unconfigured). */
  defaults: unknown;
  outputs(config: z.output<S>): OutputPort[];
  summary(config: z.output<S>, locale: Locale): string;
  migrate?(oldConfig: unknown, fromVersion: number): unknown;
  /** Message nodes name their channel so the interpreter can attribute conversions to them. */
  channel?: MessageChannel;
  /** Pure rendering of the copy the runtime would send. */
  preview?(config: z.output<S>, ctx: PreviewContext): PreviewResult;
}

export interface NodeDefinition<S extends z.ZodTypeAny = z.ZodTypeAny> extends NodeDefinitionInput<S> {
  readonly __node: true;
}

/** Anything registered: the config type is erased so definitions can live in one list. */
export type AnyNodeDefinition = NodeDefinition<z.ZodTypeAny>;

const TYPE_ID = /^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/;

export function defineNode<S extends z.ZodTypeAny>(input: NodeDefinitionInput<S>): NodeDefinition<S> {
  if (!TYPE_ID.test(input.type)) {
    throw new Error(`node type "${input.type}" must look like "namespace.name" (lowercase, e.g. acme.slack)`);
  }
  if (!Number.isInteger(input.version) || input.version < 1) {
    throw new Error(`node type "${input.type}": version must be a positive integer`);
  }
  if (input.channel && input.kind !== "action") {
    throw new Error(`node type "${input.type}": only action nodes can have a channel`);
  }
  return Object.freeze({ ...input, __node: true as const });
}

const notConfigured: Localized = { en: "not configured", zh: "未配置" };

/**
 * Card text for any raw config: the definition's summary when the config parses, otherwise
 * the label marked unconfigured, so a half-edited node never breaks the canvas.
 */
export function summarizeNode(def: AnyNodeDefinition, rawConfig: unknown, locale: Locale): string {
  const parsed = def.config.safeParse(rawConfig);
  if (!parsed.success) return `${def.label[locale]} · ${notConfigured[locale]}`;
  return def.summary(parsed.data, locale);
}

/** Output ports for any raw config: none until the config is valid (ports depend on it). */
export function outputsOf(def: AnyNodeDefinition, rawConfig: unknown): OutputPort[] {
  const parsed = def.config.safeParse(rawConfig);
  return parsed.success ? def.outputs(parsed.data) : [];
}

/** Shortens copy for node cards: "Push · 我们想你了…". Liquid tags show as "…". */
export function truncate(text: string, max = 16): string {
  const plain = text.replace(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g, "…").replace(/\s+/g, " ").trim();
  const chars = Array.from(plain);
  return chars.length > max ? `${chars.slice(0, max).join("").trimEnd()}…` : chars.join("");
}

const parsedConfigs = new WeakMap<z.ZodTypeAny, WeakMap<object, unknown>>();

/**
 * An action runtime's config, parsed once per config object: a published program hands the same
 * (immutable) object to every run, and parsing (templates included) cost more than the run itself.
 * Throws the ZodError like `schema.parse` when the config is invalid.
 */
export function parseConfig<S extends z.ZodTypeAny>(schema: S, raw: unknown): z.output<S> {
  if (typeof raw !== "object" || raw === null) return schema.parse(raw);
  let perSchema = parsedConfigs.get(schema);
  if (!perSchema) parsedConfigs.set(schema, (perSchema = new WeakMap()));
  if (perSchema.has(raw)) return perSchema.get(raw) as z.output<S>;
  const parsed = schema.parse(raw) as z.output<S>;
  perSchema.set(raw, parsed);
  return parsed;
}
