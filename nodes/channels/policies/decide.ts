import { applyLengthRules, type LengthIssue } from "../limits";
import type { Category, Channel, FailureReason, RenderedContent } from "../provider";
import { checkConsent, type ConsentMap, type Suppression } from "./consent";
import { capsFor, counterKey } from "./frequency";
import { quietHours, resolveZone, type ResolvedZone } from "./quiet-hours";
import type { FrequencyCap, PolicySettings } from "./settings";

/**
 * The workspace's sending policies applied to one message, in the order the send path applies
 * them: address → consent and suppressions → quiet hours in the user's zone → length rules →
 * frequency caps. Pure, so the engine's send path (send.server.ts) and the test run / simulator
 * (workflows/simulate.ts) take the same decision and cannot drift apart again.
 *
 * Frequency caps are returned as the counters the send would take; the caller checks them against
 * its counts (a database reservation in the engine, an in-memory tally in the simulator).
 */

/** Push/email copy over the limit is cut, an SMS is refused (decision 0202). */
export const TRUNCATE_BY_DEFAULT: Record<Channel, boolean> = { push: true, email: true, sms: false };

/** Accepts both the structured content and the node runtime's flat field map. */
export function normaliseContent(input: RenderedContent | Record<string, unknown>): RenderedContent {
  const out: RenderedContent = {};
  const params: Record<string, string> = {};
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined || value === null) continue;
    if (key === "templateParams" || key === "data") {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) (key === "data" ? data : params)[k] = String(v);
    } else if (key.startsWith("param.")) params[key.slice(6)] = String(value);
    else if (key.startsWith("data.")) data[key.slice(5)] = String(value);
    else if (["title", "body", "subject", "html", "text", "templateCode", "signName", "imageUrl", "deepLink"].includes(key)) {
      (out as Record<string, string>)[key] = String(value);
    }
  }
  if (Object.keys(params).length) out.templateParams = params;
  if (Object.keys(data).length) out.data = data;
  return out;
}

export interface PolicyMessage {
  channel: Channel;
  category: Category;
  /** The node's choice when the send falls in quiet hours (default: defer). */
  quietHours?: "defer" | "skip";
  content: RenderedContent;
  truncate?: boolean;
}

export interface PolicyRecipient {
  /** How many addresses the channel has for the user (device tokens, a phone, an email). */
  addresses: number;
  consent: ConsentMap;
  suppressions: Suppression[];
  timezone: string | null | undefined;
}

export interface PolicyContext {
  settings: PolicySettings;
  workspaceZone: string;
  /** Provider options that change the length rules (SMS parts allowed, the 短信签名). */
  smsMaxParts?: number;
  signName?: string;
}

export interface CapCounter {
  cap: FrequencyCap;
  capKey: string;
  windowStart: string;
}

export type PolicyDecision =
  | { kind: "fail"; reason: FailureReason; detail?: string; content?: RenderedContent; zone?: ResolvedZone }
  | { kind: "defer"; reason: "quiet_hours"; until: Date; zone: ResolvedZone }
  | { kind: "send"; content: RenderedContent; truncations: LengthIssue[]; zone: ResolvedZone; caps: CapCounter[] };

export function decideMessage(message: PolicyMessage, recipient: PolicyRecipient | null, context: PolicyContext, now: Date): PolicyDecision {
  // Address.
  if (!recipient) return { kind: "fail", reason: "missing_address", detail: "unknown user" };
  if (recipient.addresses === 0) return { kind: "fail", reason: "missing_address" };

  // Consent and suppressions.
  const refused = checkConsent({ channel: message.channel, category: message.category, consent: recipient.consent, suppressions: recipient.suppressions, settings: context.settings });
  if (refused) return { kind: "fail", reason: refused };

  // Quiet hours in the user's zone (the workspace's when theirs is missing or invalid).
  const zone = resolveZone(recipient.timezone, context.workspaceZone);
  const quiet = quietHours(now, zone.zone, message.category, context.settings.quietHours);
  if (quiet.quiet) {
    if ((message.quietHours ?? "defer") === "skip") return { kind: "fail", reason: "quiet_hours", detail: `zone ${zone.zone}${zone.fellBack ? " (fallback)" : ""}`, zone };
    return { kind: "defer", reason: "quiet_hours", until: quiet.endsAt, zone };
  }

  // Length rules on the rendered copy.
  const content: RenderedContent = { ...message.content };
  if (message.channel === "sms" && !content.signName && context.signName) content.signName = context.signName;
  const length = applyLengthRules(message.channel, content, { truncate: message.truncate ?? TRUNCATE_BY_DEFAULT[message.channel], smsMaxParts: context.smsMaxParts });
  if (!length.ok) return { kind: "fail", reason: "too_long", detail: `${length.issue.field}: ${length.issue.length} > ${length.issue.limit}`, content, zone };

  const caps = capsFor(context.settings.frequencyCaps, message.channel, message.category).map((cap) => ({ cap, ...counterKey(cap, now, zone.zone) }));
  return { kind: "send", content: length.content, truncations: length.truncations, zone, caps };
}
