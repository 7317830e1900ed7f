/**
 * Per-channel length rules. Shared by the inspector's character counter (browser) and the send
 * service, so what the operator sees counted is exactly what is enforced.
 */
import type { Channel, RenderedContent } from "./provider";

/** Alibaba Cloud SMS billing rules (Chinese mainland): a message of at most 70 characters is one
 * SMS; a longer one is split into parts of 67 characters each. Every character — Chinese,
 * Latin, digit, punctuation, space — counts as one, and the signature counts with its 【】. */
export const SMS_SINGLE_PART_CHARS = 70;
export const SMS_MULTI_PART_CHARS = 67;
/** Alibaba Cloud refuses templates longer than this (signature included). */
export const SMS_MAX_CHARS = 500;
/** Alibaba Cloud caps each template variable's value. */
export const SMS_PARAM_MAX_CHARS = 35;

/** What most devices show before cutting: Android's notification shade and iOS's lock screen. */
export const PUSH_TITLE_MAX_CHARS = 50;
export const PUSH_BODY_MAX_CHARS = 240;
/** FCM rejects messages whose payload exceeds 4 KB; not truncatable (data would be corrupted). */
export const PUSH_PAYLOAD_MAX_BYTES = 4096;

/** Beyond ~150 characters every client cuts the subject and spam filters grow suspicious. */
export const EMAIL_SUBJECT_MAX_CHARS = 150;

const ELLIPSIS = "…";

const utf8 = new TextEncoder();
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * Text made only of characters that never join into a larger grapheme (ASCII, Latin-1, general
 * punctuation without ZWJ, CJK and kana without combining marks, full-width forms): one UTF-16 unit per character, so its length is
 * its count. Almost all message copy is like this; the segmenter is ~20× slower.
 */
const SIMPLE = /^[\t\n\r\u0020-\u007e\u00a0-\u02ff\u2010-\u2027\u2030-\u205e\u20a0-\u20bf\u3000-\u3029\u3030-\u303f\u3040-\u3098\u309b-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uff9d\uffa0-\uffef]*$/;

/** Characters as the operator perceives them: an emoji or a flag is one, not two UTF-16 units. */
export function charCount(text: string): number {
  if (SIMPLE.test(text)) return text.length;
  let n = 0;
  for (const _ of segmenter.segment(text)) n++;
  return n;
}

/** Cuts to `max` graphemes, the last one being "…", never splitting an emoji. */
export function truncateText(text: string, max: number): string {
  if (charCount(text) <= max) return text;
  if (max <= 0) return "";
  let out = "";
  let n = 0;
  for (const { segment } of segmenter.segment(text)) {
    if (n === max - 1) break;
    out += segment;
    n++;
  }
  return out.trimEnd() + ELLIPSIS;
}

export interface SmsCount {
  /** Characters billed: signature with 【】 plus text. */
  chars: number;
  parts: number;
}

/** Counts an SMS the way Alibaba Cloud bills it. */
export function countSms(text: string, signName?: string): SmsCount {
  const chars = charCount(text) + (signName ? charCount(signName) + 2 : 0);
  const parts = chars === 0 ? 0 : chars <= SMS_SINGLE_PART_CHARS ? 1 : Math.ceil(chars / SMS_MULTI_PART_CHARS);
  return { chars, parts };
}

/** Alibaba Cloud templates name variables as ${name}; this is what the phone will show. */
export function fillSmsTemplate(template: string, params: Record<string, string>): string {
  return template.replace(/\$\{(\w+)\}/g, (whole, name: string) => params[name] ?? whole);
}

export interface LengthOptions {
  /** The node allows cutting over-length copy (otherwise it is refused as too_long). */
  truncate: boolean;
  /** SMS: most parts the operator accepts paying for (defaults to the provider's maximum). */
  smsMaxParts?: number;
}

export interface LengthIssue {
  field: "title" | "body" | "subject" | "templateParams" | "data";
  /** Characters (bytes for `data`) before and the limit. */
  length: number;
  limit: number;
  truncated: boolean;
  /** Whose rule it was when not the channel's own (a provider's vendor limit: "getui.push: vivo title"). */
  rule?: string;
}

export type LengthResult =
  | { ok: true; content: RenderedContent; truncations: LengthIssue[]; sms?: SmsCount }
  | { ok: false; issue: LengthIssue };

function maxSmsChars(maxParts: number | undefined): number {
  if (!maxParts) return SMS_MAX_CHARS;
  if (maxParts <= 1) return SMS_SINGLE_PART_CHARS;
  return Math.min(SMS_MAX_CHARS, maxParts * SMS_MULTI_PART_CHARS);
}

/**
 * Applies the channel's limits to rendered copy. Truncation is reported, refusal names the field
 * so the operator knows what to shorten.
 */
export function applyLengthRules(channel: Channel, content: RenderedContent, options: LengthOptions): LengthResult {
  const truncations: LengthIssue[] = [];
  const out: RenderedContent = { ...content };

  const fit = (field: "title" | "body" | "subject", limit: number): LengthIssue | null => {
    const value = out[field];
    if (value === undefined) return null;
    const length = charCount(value);
    if (length <= limit) return null;
    if (!options.truncate) return { field, length, limit, truncated: false };
    out[field] = truncateText(value, limit);
    truncations.push({ field, length, limit, truncated: true });
    return null;
  };

  if (channel === "push") {
    const refused = fit("title", PUSH_TITLE_MAX_CHARS) ?? fit("body", PUSH_BODY_MAX_CHARS);
    if (refused) return { ok: false, issue: refused };
    const bytes = utf8.encode(JSON.stringify({ t: out.title, b: out.body, d: out.data ?? {} })).length;
    if (bytes > PUSH_PAYLOAD_MAX_BYTES) {
      return { ok: false, issue: { field: "data", length: bytes, limit: PUSH_PAYLOAD_MAX_BYTES, truncated: false } };
    }
    return { ok: true, content: out, truncations };
  }

  if (channel === "email") {
    const refused = fit("subject", EMAIL_SUBJECT_MAX_CHARS);
    if (refused) return { ok: false, issue: refused };
    return { ok: true, content: out, truncations };
  }

  // SMS. With a provider template only the variables can change: cut them to the per-variable
  // limit first, then judge the whole message as the phone will show it.
  const limit = maxSmsChars(options.smsMaxParts);
  if (out.templateParams) {
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(out.templateParams)) {
      const length = charCount(value);
      if (length > SMS_PARAM_MAX_CHARS) {
        if (!options.truncate) {
          return { ok: false, issue: { field: "templateParams", length, limit: SMS_PARAM_MAX_CHARS, truncated: false } };
        }
        params[name] = truncateText(value, SMS_PARAM_MAX_CHARS);
        truncations.push({ field: "templateParams", length, limit: SMS_PARAM_MAX_CHARS, truncated: true });
      } else {
        params[name] = value;
      }
    }
    out.templateParams = params;
  }
  const shown = out.templateCode && out.body !== undefined ? fillSmsTemplate(out.body, out.templateParams ?? {}) : (out.body ?? "");
  const signChars = out.signName ? charCount(out.signName) + 2 : 0;
  const count = countSms(shown, out.signName);
  if (count.chars > limit) {
    // Free text can be cut; an approved provider template cannot be rewritten by us.
    if (!options.truncate || out.templateCode) {
      return { ok: false, issue: { field: "body", length: count.chars, limit, truncated: false } };
    }
    out.body = truncateText(shown, limit - signChars);
    truncations.push({ field: "body", length: count.chars, limit, truncated: true });
    return { ok: true, content: out, truncations, sms: countSms(out.body, out.signName) };
  }
  if (out.templateCode && out.body !== undefined) out.body = shown;
  return { ok: true, content: out, truncations, sms: count };
}
