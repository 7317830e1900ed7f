import { Liquid, type LiquidOptions } from "liquidjs";
import { compilePlain, renderPlain, type PlainTemplate } from "./template-plain";

/**
 * Message copy is written in Liquid ({{ user.name | default: "朋友" }}).
 * The engine is sandboxed: no file system (no partials/layouts), no globals,
 * bounded render work, so operator-written templates cannot reach the server.
 */
/** Longest template source accepted (LiquidJS's parse limit, stated to operators in publish checks). */
export const TEMPLATE_MAX_CHARS = 20_000;

const sandbox: LiquidOptions = {
  fs: {
    readFileSync: () => {
      throw new Error("templates cannot include files");
    },
    readFile: async () => {
      throw new Error("templates cannot include files");
    },
    existsSync: () => false,
    exists: async () => false,
    contains: async () => false,
    containsSync: () => false,
    resolve: () => {
      throw new Error("templates cannot include files");
    },
  },
  relativeReference: false,
  strictFilters: true,
  ownPropertyOnly: true,
  renderLimit: 200,
  parseLimit: TEMPLATE_MAX_CHARS,
  memoryLimit: 1_000_000,
};
const liquid = new Liquid(sandbox);

export interface TemplateContext {
  user: { id: string; [trait: string]: unknown };
  event?: Record<string, unknown>;
  journey?: { id: string; name: string };
  [key: string]: unknown;
}

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TemplateError";
  }
}

/**
 * Parsed templates per engine, most recent last. A journey renders the same few templates for
 * every user, and parsing was ~12% of the engine's CPU per step (docs/benchmarks.md).
 */
const parsedTemplates = new WeakMap<Liquid, Map<string, ReturnType<Liquid["parse"]>>>();
const PARSED_TEMPLATE_LIMIT = 1_000;

/** The cached value for `source`, made once; the oldest entry goes when the cache is full. */
function remembered<V>(cache: Map<string, V>, source: string, make: (source: string) => V): V {
  if (cache.has(source)) return cache.get(source)!;
  const value = make(source);
  if (cache.size >= PARSED_TEMPLATE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(source, value);
  return value;
}

function parseCached(engine: Liquid, source: string): ReturnType<Liquid["parse"]> {
  let cache = parsedTemplates.get(engine);
  if (!cache) parsedTemplates.set(engine, (cache = new Map()));
  return remembered(cache, source, (s) => engine.parse(s));
}

/** Templates of the plain shape (template-plain.ts), or null for those only Liquid renders. */
const plainTemplates = new Map<string, PlainTemplate | null>();

function renderCached(engine: Liquid, source: string, context: TemplateContext): string {
  const plain = remembered(plainTemplates, source, compilePlain);
  if (plain) {
    const rendered = renderPlain(plain, context, engine === liquidHtml);
    if (rendered !== undefined) return rendered;
  }
  return engine.renderSync(parseCached(engine, source), context) as string;
}

/** Liquid alone, without the plain-template path: what that path is checked against (tests). */
export function renderWithLiquid(source: string, context: TemplateContext, options: { html?: boolean } = {}): string {
  const engine = options.html ? liquidHtml : liquid;
  return engine.renderSync(engine.parse(source), context) as string;
}

/** Renders synchronously so the pure simulator and previews can call it. */
export function renderTemplate(source: string, context: TemplateContext): string {
  try {
    return renderCached(liquid, source, context);
  } catch (error) {
    throw new TemplateError(error instanceof Error ? error.message : String(error));
  }
}

/** Parse-only check used by node validation: returns an error message or null. */
export function checkTemplate(source: string): string | null {
  try {
    // Node configs are validated each time an action runs: a template parsed before is valid.
    parseCached(liquid, source);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Same sandbox, but every {{ output }} is HTML-escaped: traits must not inject markup into email. */
const liquidHtml = new Liquid({ ...sandbox, outputEscape: "escape" });

/** Message copy as written in a node: every text field is a Liquid template. */
export interface ContentTemplate {
  title?: string;
  body?: string;
  subject?: string;
  html?: string;
  text?: string;
  templateCode?: string;
  templateParams?: Record<string, string>;
  data?: Record<string, string>;
}

/**
 * Renders every field of a message for one user. Throws TemplateError naming the field, so the
 * failure reason shown to support says which part of the copy is broken.
 */
export function renderContent(template: ContentTemplate, context: TemplateContext): ContentTemplate {
  const one = (field: string, source: string | undefined, engine: Liquid = liquid): string | undefined => {
    if (source === undefined) return undefined;
    try {
      return renderCached(engine, source, context);
    } catch (error) {
      throw new TemplateError(`${field}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const map = (field: string, values: Record<string, string> | undefined) =>
    values === undefined
      ? undefined
      : Object.fromEntries(Object.entries(values).map(([k, v]) => [k, one(`${field}.${k}`, v) ?? ""]));
  const out: ContentTemplate = {
    title: one("title", template.title),
    body: one("body", template.body),
    subject: one("subject", template.subject),
    html: one("html", template.html, liquidHtml),
    text: one("text", template.text),
    templateCode: template.templateCode,
    templateParams: map("templateParams", template.templateParams),
    data: map("data", template.data),
  };
  for (const key of Object.keys(out) as (keyof ContentTemplate)[]) if (out[key] === undefined) delete out[key];
  return out;
}
