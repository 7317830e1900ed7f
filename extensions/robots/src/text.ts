/**
 * What both robots share: the alert text with `{{ user.id }}`, `{{ user.<trait> }}`,
 * `{{ event.name }}`, `{{ event.properties.<key> }}` and `{{ journey.name }}` filled in (a small
 * substitution, so the package needs nothing but the Waypost API), and cutting to the robot's
 * byte limit without splitting a character.
 */
import type { NodeContext } from "waypost/extension";

export function fill(template: string, ctx: Pick<NodeContext<unknown>, "user" | "event" | "journey">): string {
  return template.replace(/\{\{\s*([a-zA-Z_][\w.]*)\s*\}\}/g, (_whole, path: string) => {
    const [root, ...rest] = path.split(".");
    const base: unknown =
      root === "user" ? { id: ctx.user.id, ...ctx.user.traits } : root === "event" ? ctx.event : root === "journey" ? ctx.journey : undefined;
    let value: unknown = base;
    for (const key of rest) value = value && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
    return value === undefined || value === null ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  });
}

const encoder = new TextEncoder();

/** Cuts to at most `maxBytes` of UTF-8, ending with "…"; says whether it cut. */
export function fitBytes(text: string, maxBytes: number): { text: string; truncated: boolean; bytes: number } {
  const bytes = encoder.encode(text).length;
  if (bytes <= maxBytes) return { text, truncated: false, bytes };
  const room = maxBytes - encoder.encode("…").length;
  let out = "";
  let used = 0;
  for (const ch of text) {
    const size = encoder.encode(ch).length;
    if (used + size > room) break;
    out += ch;
    used += size;
  }
  return { text: `${out}…`, truncated: true, bytes };
}
