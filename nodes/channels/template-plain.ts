/**
 * The common case of message copy, rendered without Liquid's machinery: text with outputs that
 * read a trait or event property, optionally with a `default` ("{{ user.name | default: "朋友" }}").
 * liquidjs renders such a template in ~3 µs; most journeys send copy of exactly this shape to
 * every user they reach (decision 0256).
 *
 * `compilePlain` accepts only that subset and returns null for anything else; `renderPlain`
 * returns undefined when a value is not a plain string, number, boolean or missing (arrays,
 * nested objects, `.size`…), and the caller then renders with Liquid. A property test
 * (template-plain.test.ts) checks that every accepted template renders as liquidjs renders it.
 */

export interface PlainTemplate {
  /** Text, then output, then text… (always one more text than outputs). */
  texts: string[];
  outputs: Array<{ path: string[]; fallback?: string }>;
}

const OUTPUT = /\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)[ \t]*(?:\|[ \t]*default[ \t]*:[ \t]*(?:"([^"\\]*)"|'([^'\\]*)')[ \t]*)?\}\}/g;
/** Words Liquid reads as literals, not variables, in the first place of a path. */
const LITERALS = new Set(["nil", "null", "true", "false", "empty", "blank"]);
/** Properties Liquid computes (`size` of an object is its number of keys) rather than reads. */
const COMPUTED = new Set(["size", "first", "last"]);

export function compilePlain(source: string): PlainTemplate | null {
  const texts: string[] = [];
  const outputs: PlainTemplate["outputs"] = [];
  let at = 0;
  for (const match of source.matchAll(OUTPUT)) {
    const text = source.slice(at, match.index);
    // "{" right before "{{" makes Liquid's tokenizer read "{{{", not text and an output.
    if (!plainText(text) || text.endsWith("{")) return null;
    const path = match[1].split(".");
    if (LITERALS.has(path[0]) || path.some((key) => COMPUTED.has(key))) return null;
    texts.push(text);
    const fallback = match[2] ?? match[3];
    outputs.push(fallback === undefined ? { path } : { path, fallback });
    at = match.index + match[0].length;
  }
  const rest = source.slice(at);
  if (!plainText(rest)) return null;
  texts.push(rest);
  return { texts, outputs };
}

/** Text Liquid copies as is: no tag or output opens in it. */
function plainText(text: string): boolean {
  return !text.includes("{{") && !text.includes("{%");
}

const PLAIN_VALUE_LIMIT = 10_000;
const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;" };

/** The rendered text, or undefined when a value needs Liquid's own rules. */
export function renderPlain(template: PlainTemplate, context: Record<string, unknown>, escapeHtml: boolean): string | undefined {
  let out = template.texts[0];
  for (let i = 0; i < template.outputs.length; i++) {
    const { path, fallback } = template.outputs[i];
    let value: unknown = context;
    for (const key of path) {
      if (value === undefined || value === null) break;
      if (!isPlainObject(value)) return undefined;
      // Liquid is configured with ownPropertyOnly: inherited properties read as missing.
      value = Object.hasOwn(value, key) ? value[key] : undefined;
    }
    let text: string;
    if (typeof value === "string") text = value === "" && fallback !== undefined ? fallback : value;
    else if (typeof value === "number") text = String(value);
    else if (typeof value === "boolean") text = value === false && fallback !== undefined ? fallback : String(value);
    else if (value === undefined || value === null) text = fallback ?? "";
    else return undefined;
    // Very long values go through Liquid, whose memory limit then applies as it always has.
    if (text.length > PLAIN_VALUE_LIMIT) return undefined;
    out += (escapeHtml ? text.replace(/[&<>"']/g, (c) => ESCAPES[c]) : text) + template.texts[i + 1];
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
