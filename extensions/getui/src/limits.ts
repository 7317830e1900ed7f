/**
 * Title and body limits per vendor channel. Getui hands an offline push to the phone maker's own
 * push service (Huawei, Xiaomi, OPPO, vivo, Honor, Meizu), and each cuts or refuses copy by its own
 * rules; which one a client id goes through is Getui's decision at send time, so copy must fit
 * the strictest channel the app has enabled (`vendors` in the settings).
 *
 * Figures as we read each vendor's push documentation; where a vendor publishes no character
 * limit (Huawei, Honor: only the 4 KB payload, which Waypost's push rule already enforces) none is
 * applied. vivo counts a Chinese character as two ("20 汉字 / 40 English characters"): `wide: 2`.
 * Assumed, to be re-checked against the vendors' current pages before relying on an exact edge.
 */
import { charCount, truncateText, type LengthIssue, type RenderedContent } from "waypost/extension";

export interface VendorRule {
  name: string;
  title?: number;
  body?: number;
  /** Units a non-ASCII character counts for (vivo: 2). */
  wide?: number;
}

/** Getui's own notification (push_message.notification): title ≤ 50, body ≤ 256 characters. */
export const GETUI_RULE: VendorRule = { name: "Getui", title: 50, body: 256 };

export const VENDOR_RULES: Record<string, VendorRule> = {
  xm: { name: "Xiaomi", title: 50, body: 128 },
  op: { name: "OPPO", title: 50, body: 200 },
  vv: { name: "vivo", title: 40, body: 100, wide: 2 },
  mz: { name: "Meizu", title: 32, body: 100 },
  hw: { name: "Huawei" },
  ho: { name: "Honor" },
};

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Length in the vendor's units. */
export function units(text: string, wide = 1): number {
  if (wide === 1) return charCount(text);
  let n = 0;
  for (const { segment } of segmenter.segment(text)) n += /^[\x20-\x7e]$/.test(segment) ? 1 : wide;
  return n;
}

/** Cuts to at most `max` units, ending with "…" (which counts as wide). */
export function truncateUnits(text: string, max: number, wide = 1): string {
  if (wide === 1) return truncateText(text, max);
  if (units(text, wide) <= max) return text;
  let out = "";
  let n = 0;
  for (const { segment } of segmenter.segment(text)) {
    const u = /^[\x20-\x7e]$/.test(segment) ? 1 : wide;
    if (n + u > max - wide) break;
    out += segment;
    n += u;
  }
  return out.trimEnd() + "…";
}

/**
 * Applies Getui's rule and every enabled vendor's (iOS devices go through APNs: Getui's rule
 * only). Cuts are reported one per rule that cut, so the message log says which vendor forced it.
 */
export function applyGetuiLimits(
  content: RenderedContent,
  options: { truncate: boolean; vendors: string[]; platform?: "android" | "ios" | "web"; providerId: string },
): { ok: true; content: RenderedContent; truncations: LengthIssue[] } | { ok: false; issue: LengthIssue } {
  const rules = [GETUI_RULE, ...(options.platform === "ios" ? [] : options.vendors.map((v) => VENDOR_RULES[v]).filter((r): r is VendorRule => Boolean(r)))];
  const out: RenderedContent = { ...content };
  const truncations: LengthIssue[] = [];
  for (const field of ["title", "body"] as const) {
    for (const rule of rules) {
      const limit = rule[field];
      const value = out[field];
      if (limit === undefined || value === undefined) continue;
      const length = units(value, rule.wide);
      if (length <= limit) continue;
      const issue: LengthIssue = { field, length, limit, truncated: options.truncate, rule: `${options.providerId}: ${rule.name} ${field}${rule.wide ? " (a Chinese character counts 2)" : ""}` };
      if (!options.truncate) return { ok: false, issue };
      out[field] = truncateUnits(value, limit, rule.wide);
      truncations.push(issue);
    }
  }
  return { ok: true, content: out, truncations };
}
