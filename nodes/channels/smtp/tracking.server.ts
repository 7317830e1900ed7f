/**
 * Open pixel, click redirects and one-click unsubscribe links. Every link carries its payload and
 * an HMAC-SHA256 over it, so the tracking endpoint needs no lookup to reject a forged or edited
 * link, and an attacker cannot turn our domain into an open redirect.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export type TrackingKind = "open" | "click" | "unsubscribe";

export interface TrackingPayload {
  kind: TrackingKind;
  /** Our message id. */
  messageId: string;
  /** Click: where to send the reader. */
  url?: string;
}

const PATH: Record<TrackingKind, string> = { open: "o", click: "c", unsubscribe: "u" };
const KIND: Record<string, TrackingKind> = { o: "open", c: "click", u: "unsubscribe" };

function mac(secret: string, data: string): string {
  return createHmac("sha256", secret).update(data).digest("base64url");
}

export function signToken(secret: string, payload: TrackingPayload): string {
  const data = Buffer.from(JSON.stringify({ m: payload.messageId, u: payload.url, k: PATH[payload.kind] })).toString("base64url");
  return `${data}.${mac(secret, data)}`;
}

export function verifyToken(secret: string, token: string): TrackingPayload | null {
  const [data, signature, extra] = token.split(".");
  if (!data || !signature || extra !== undefined) return null;
  const expected = Buffer.from(mac(secret, data));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  try {
    const parsed = JSON.parse(Buffer.from(data, "base64url").toString("utf8")) as { m?: unknown; u?: unknown; k?: unknown };
    const kind = typeof parsed.k === "string" ? KIND[parsed.k] : undefined;
    if (!kind || typeof parsed.m !== "string") return null;
    return { kind, messageId: parsed.m, ...(typeof parsed.u === "string" ? { url: parsed.u } : {}) };
  } catch {
    return null;
  }
}

/** `${baseUrl}/t/{o|c|u}/{token}`: the routes that serve them live under app/routes (t.*). */
export function trackingUrl(baseUrl: string, secret: string, payload: TrackingPayload): string {
  return `${baseUrl.replace(/\/$/, "")}/t/${PATH[payload.kind]}/${signToken(secret, payload)}`;
}

/** Parses `/t/{o|c|u}/{token}` back; null for anything forged or malformed. */
export function parseTrackingPath(secret: string, path: string): TrackingPayload | null {
  const m = /\/t\/([ocu])\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(path);
  if (!m) return null;
  const payload = verifyToken(secret, m[2]!);
  return payload && payload.kind === KIND[m[1]!] ? payload : null;
}

const escapeAttr = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
const unescapeAttr = (s: string) => s.replace(/&amp;/g, "&");

/**
 * Rewrites http(s) links of <a href> to click redirects and appends the open pixel. mailto:, tel:
 * and in-page anchors stay as they are; so does a link marked data-wp-untracked, for links that
 * must not pass through us (e.g. legal pages).
 */
export function addTracking(html: string, options: { baseUrl: string; secret: string; messageId: string }): string {
  const { baseUrl, secret, messageId } = options;
  const rewritten = html.replace(/<a\b([^>]*?)\bhref\s*=\s*(["'])(.*?)\2([^>]*)>/gis, (whole, before: string, quote: string, href: string, after: string) => {
    if (/data-wp-untracked/i.test(before + after)) return whole;
    const url = unescapeAttr(href.trim());
    if (!/^https?:\/\//i.test(url)) return whole;
    const tracked = trackingUrl(baseUrl, secret, { kind: "click", messageId, url });
    return `<a${before}href=${quote}${escapeAttr(tracked)}${quote}${after}>`;
  });
  const pixel = `<img src="${escapeAttr(trackingUrl(baseUrl, secret, { kind: "open", messageId }))}" width="1" height="1" alt="" style="display:none;border:0">`;
  return /<\/body>/i.test(rewritten) ? rewritten.replace(/<\/body>/i, `${pixel}</body>`) : rewritten + pixel;
}

/**
 * RFC 8058 one-click unsubscribe: mail clients show an "Unsubscribe" button and POST
 * "List-Unsubscribe=One-Click" to the https URL without opening a page.
 */
export function unsubscribeHeaders(options: { baseUrl: string; secret: string; messageId: string; mailto?: string }): Record<string, string> {
  const url = trackingUrl(options.baseUrl, options.secret, { kind: "unsubscribe", messageId: options.messageId });
  const targets = [`<${url}>`, ...(options.mailto ? [`<mailto:${options.mailto}?subject=unsubscribe>`] : [])];
  return { "List-Unsubscribe": targets.join(", "), "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" };
}

/** A plain-text part for mail clients that do not render HTML, when the node gave none. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, "")
    .replace(/<a\b[^>]*href=["']([^"']+)["'][^>]*>([\s\S]*?)<\/a>/gi, (_, href: string, text: string) => `${text} (${href})`)
    .replace(/<br\s*\/?>/gi, "\n")
    .replace(/<\/(p|div|h[1-6]|li|tr)>/gi, "\n")
    .replace(/<[^>]+>/g, "")
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/[ \t]+\n/g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
