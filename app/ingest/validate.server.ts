import { randomUUID } from "node:crypto";
import type { z } from "zod";
import type { Consent } from "../../db/schema";
import { callSchemas, MAX_JSON_DEPTH, parseTimestamp, type CallType, type Traits } from "./payloads";

/**
 * Turns Segment calls into normalized, storable calls, or into field-level errors. Every check
 * that PostgreSQL would otherwise fail on (NUL characters, lone surrogates, absurd nesting,
 * out-of-range dates) happens here, so a malformed call is a 400 naming the field, never a 500.
 */

export interface FieldError {
  field: string;
  code: string;
  message: string;
}

export interface DeviceToken {
  token: string;
  platform: "android" | "ios" | "web";
}

export interface ProfilePatch {
  /** Traits to merge into the stored traits (consent and device tokens are kept apart). */
  traits: Record<string, unknown> | null;
  email?: string | null;
  phone?: string | null;
  timezone?: string;
  tags?: string[];
  consent?: Consent;
  /** Segment's `createdAt` trait: the profile is at least this old. */
  createdAt?: number;
}

export interface NormalizedCall {
  index: number;
  type: CallType;
  messageId: string;
  /** The profile this call belongs to: userId, else anonymousId (aliases resolved later). */
  userId: string;
  anonymousId?: string;
  /** True when the client sent both a userId and an anonymousId (anonymous profile merge). */
  identified: boolean;
  /** Event name: the track event, or `$identify`, `$page`, `$screen`, `$group`, `$alias`. */
  name: string;
  properties: Record<string, unknown>;
  timestamp: number;
  profile?: ProfilePatch;
  deviceTokens?: DeviceToken[];
  /** alias: the id being merged into `userId`. */
  previousId?: string;
}

export type ValidationResult = { ok: true; call: NormalizedCall } | { ok: false; errors: FieldError[] };

/**
 * Names starting with `$` are Waypost's own events (`$segment.entered`, `$api.trigger`,
 * `$message.delivered`, `$identify`, ...), recorded only by Waypost itself: a write key that
 * could send them would move users through journeys (decision 0761).
 */
export const RESERVED_MESSAGE = "names starting with $ are reserved for events Waypost records itself (such as $segment.entered); choose a name without the leading $";

const MIN_TIME = Date.UTC(1000, 0, 1);
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59);

function fieldName(prefix: string, path: (string | number)[]): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${part}` : part;
  }
  return out || "body";
}

function issueCode(issue: z.ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.received === "undefined" ? "required" : "invalid_type";
    case "too_big":
      return "too_long";
    case "too_small":
      return issue.minimum === 1 && issue.type === "string" ? "empty" : "too_short";
    case "unrecognized_keys":
      return "unknown_field";
    default:
      return "invalid_value";
  }
}

export function zodErrors(error: z.ZodError, prefix: string): FieldError[] {
  return error.issues.map((issue) => {
    const message = issue.code === "invalid_type" && issue.received === "undefined" ? "is required" : issue.message;
    return { field: fieldName(prefix, issue.path), code: issueCode(issue), message };
  });
}

const isWellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Why PostgreSQL could not store this string, or null. */
function badString(s: string): string | null {
  if (s.includes("\u0000")) return "must not contain the NUL character (\\u0000)";
  if (!isWellFormed(s)) return "must be valid Unicode (it contains a lone surrogate)";
  return null;
}

/**
 * Walks a JSON value; reports the first string, key or depth PostgreSQL's jsonb would refuse.
 * Too deep names the top-level property (`properties.cart`), not the whole descent.
 */
function checkJson(value: unknown, field: string, depth: number, top?: string): FieldError | null {
  if (typeof value === "string") {
    const why = badString(value);
    return why ? { field, code: "invalid_value", message: why } : null;
  }
  if (value === null || typeof value !== "object") return null;
  if (depth > MAX_JSON_DEPTH) return { field: top ?? field, code: "too_deep", message: `nests deeper than ${MAX_JSON_DEPTH} levels` };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const child = `${field}[${i}]`;
      const error = checkJson(value[i], child, depth + 1, top ?? (depth === 1 ? child : undefined));
      if (error) return error;
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    const why = badString(key);
    if (why) return { field: `${field}.${key.replaceAll("\u0000", "\\u0000")}`, code: "invalid_value", message: `key ${why}` };
    const child = `${field}.${key}`;
    const error = checkJson((value as Record<string, unknown>)[key], child, depth + 1, top ?? (depth === 1 ? child : undefined));
    if (error) return error;
  }
  return null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function platformOf(context: Record<string, unknown> | undefined): DeviceToken["platform"] {
  const device = isRecord(context?.device) ? context.device : {};
  const os = isRecord(context?.os) ? context.os : {};
  const hint = `${typeof device.type === "string" ? device.type : ""} ${typeof os.name === "string" ? os.name : ""}`.toLowerCase();
  if (/ios|iphone|ipad|mac/.test(hint)) return "ios";
  if (/web|browser/.test(hint)) return "web";
  return "android";
}

function deviceTokensOf(
  context: Record<string, unknown> | undefined,
  traits: Traits | undefined,
  prefix: string,
): { tokens: DeviceToken[]; error?: FieldError } {
  const tokens: DeviceToken[] = [];
  const platform = platformOf(context);
  const device = isRecord(context?.device) ? context.device : undefined;
  if (device && device.token !== undefined && device.token !== null && device.token !== "") {
    if (typeof device.token !== "string" || device.token.length > 4096) {
      return { tokens, error: { field: fieldName(prefix, ["context", "device", "token"]), code: "invalid_type", message: "must be a string of at most 4096 characters" } };
    }
    tokens.push({ token: device.token, platform });
  }
  if (traits?.device_token) tokens.push({ token: traits.device_token, platform });
  for (const entry of traits?.device_tokens ?? []) {
    tokens.push(typeof entry === "string" ? { token: entry, platform } : { token: entry.token, platform: entry.platform ?? platform });
  }
  for (const t of tokens) {
    const why = badString(t.token);
    if (why) return { tokens, error: { field: fieldName(prefix, ["context", "device", "token"]), code: "invalid_value", message: why } };
  }
  return { tokens };
}

function profileOf(traits: Traits | undefined, context: Record<string, unknown> | undefined): ProfilePatch | undefined {
  const zone = context?.timezone;
  const contextZone = typeof zone === "string" && zone.length > 0 && zone.length <= 64 && badString(zone) === null ? zone : undefined;
  if (!traits) return contextZone ? { traits: null, timezone: contextZone } : undefined;
  const stored: Record<string, unknown> = { ...traits };
  delete stored.consent;
  delete stored.device_token;
  delete stored.device_tokens;
  const patch: ProfilePatch = { traits: stored };
  if ("email" in traits) patch.email = traits.email ?? null;
  if ("phone" in traits) patch.phone = traits.phone ?? null;
  const timezone = traits.timezone ?? contextZone;
  if (timezone) patch.timezone = timezone;
  if (traits.tags) patch.tags = [...new Set(traits.tags)];
  if (traits.consent) patch.consent = traits.consent;
  const created = traits.createdAt ?? traits.created_at;
  if (created) patch.createdAt = parseTimestamp(created) ?? undefined;
  return patch;
}

/**
 * Segment's clock-skew correction: when the client says when it sent the call (`sentAt`), the
 * event time is moved by the difference between our clock and the client's:
 * timestamp = receivedAt - (sentAt - originalTimestamp).
 */
export function correctedTime(timestamp: string | undefined, sentAt: string | undefined, receivedAt: number): number {
  const original = timestamp === undefined ? null : parseTimestamp(timestamp);
  if (original === null) return receivedAt;
  const sent = sentAt === undefined ? null : parseTimestamp(sentAt);
  if (sent === null) return original;
  const corrected = receivedAt - (sent - original);
  return corrected >= MIN_TIME && corrected <= MAX_TIME ? corrected : original;
}

export interface ValidateOptions {
  receivedAt: number;
  /** batch-level sentAt and context (items inherit them). */
  sentAt?: string;
  context?: Record<string, unknown>;
  /** Field prefix for errors: "" for single calls, "batch[3]" for batch items. */
  prefix: string;
  index: number;
}

type ParsedCall = {
  messageId?: string;
  userId?: string;
  anonymousId?: string;
  timestamp?: string;
  originalTimestamp?: string;
  sentAt?: string;
  context?: Record<string, unknown>;
  traits?: Record<string, unknown>;
  properties?: Record<string, unknown>;
  event?: string;
  name?: string;
  category?: string;
  groupId?: string;
  previousId?: string;
};

const UNSET = Symbol("unset");

function fastId(value: unknown): string | undefined | typeof UNSET {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number" && Number.isFinite(value)) value = String(value);
  return typeof value === "string" && value.length >= 1 && value.length <= 255 ? value : UNSET;
}

function fastMessageId(value: unknown): string | undefined | typeof UNSET {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" && value.length >= 1 && value.length <= 255 ? value : UNSET;
}

function fastText(value: unknown): string | undefined | typeof UNSET {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" && value.length <= 255 ? value : UNSET;
}

function fastObject(value: unknown): Record<string, unknown> | undefined | typeof UNSET {
  if (value === undefined || value === null) return undefined;
  return isRecord(value) ? value : UNSET;
}

function fastTime(value: unknown): string | undefined | typeof UNSET {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" && value.length <= 64 && parseTimestamp(value) !== null ? value : UNSET;
}

/**
 * The hot path for track, page and screen calls (thousands per second): the checks of the zod
 * schemas in payloads.ts, written out, accepting only what those schemas accept and producing
 * the same result. Anything unusual returns null and goes through zod, which also words the
 * errors. test/ingest/validate.test.ts holds the two to agreement.
 */
export function fastParse(type: CallType, raw: Record<string, unknown>): ParsedCall | null {
  if (type !== "track" && type !== "page" && type !== "screen") return null;
  const out: ParsedCall = {};
  const fields: [keyof ParsedCall, (v: unknown) => unknown][] = [
    ["messageId", fastMessageId],
    ["userId", fastId],
    ["anonymousId", fastId],
    ["timestamp", fastTime],
    ["originalTimestamp", fastTime],
    ["sentAt", fastTime],
    ["context", fastObject],
    ["properties", fastObject],
  ];
  if (type !== "track") fields.push(["name", fastText], ["category", fastText]);
  for (const [key, check] of fields) {
    const value = check(raw[key]);
    if (value === UNSET) return null;
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  const integrations = fastObject(raw.integrations);
  if (integrations === UNSET) return null;
  if (type === "track") {
    if (typeof raw.event !== "string") return null;
    const event = raw.event.trim();
    if (event.length === 0 || event.length > 255) return null;
    out.event = event;
  }
  return out;
}

export function validateCall(type: CallType, raw: unknown, options: ValidateOptions): ValidationResult {
  const { prefix } = options;
  if (!isRecord(raw)) return { ok: false, errors: [{ field: prefix || "body", code: "invalid_type", message: "must be a JSON object" }] };
  let call = fastParse(type, raw);
  if (!call) {
    const parsed = callSchemas[type].safeParse(raw);
    if (!parsed.success) return { ok: false, errors: zodErrors(parsed.error, prefix) };
    call = parsed.data as ParsedCall;
  }
  return normalize(type, call, options);
}

function normalize(type: CallType, call: ParsedCall, options: ValidateOptions): ValidationResult {
  const { prefix } = options;
  const profileId = call.userId ?? call.anonymousId;
  if (profileId === undefined) {
    return { ok: false, errors: [{ field: fieldName(prefix, ["userId"]), code: "required", message: "is required when there is no anonymousId" }] };
  }
  for (const [key, value] of Object.entries({ messageId: call.messageId, userId: call.userId, anonymousId: call.anonymousId, event: call.event, name: call.name, category: call.category, groupId: call.groupId, previousId: call.previousId })) {
    const why = value === undefined ? null : badString(value);
    if (why) return { ok: false, errors: [{ field: fieldName(prefix, [key]), code: "invalid_value", message: why }] };
  }
  const context = options.context ? { ...options.context, ...(call.context ?? {}) } : call.context;
  const timestamp = correctedTime(call.timestamp ?? call.originalTimestamp, call.sentAt ?? options.sentAt, options.receivedAt);

  let name: string;
  let properties: Record<string, unknown>;
  let profile: ProfilePatch | undefined;
  let deviceTokens: DeviceToken[] | undefined;
  switch (type) {
    case "track":
      name = call.event!;
      if (name.startsWith("$")) return { ok: false, errors: [{ field: fieldName(prefix, ["event"]), code: "reserved_name", message: RESERVED_MESSAGE }] };
      properties = call.properties ?? {};
      break;
    case "identify": {
      const traits = call.traits as Traits | undefined;
      const tokens = deviceTokensOf(context, traits, prefix);
      if (tokens.error) return { ok: false, errors: [tokens.error] };
      deviceTokens = tokens.tokens;
      profile = profileOf(traits, context);
      name = "$identify";
      properties = profile?.traits ?? {};
      break;
    }
    case "page":
    case "screen":
      name = `$${type}`;
      properties = { ...(call.properties ?? {}) };
      if (call.name !== undefined && !("name" in properties)) properties.name = call.name;
      if (call.category !== undefined && !("category" in properties)) properties.category = call.category;
      break;
    case "group":
      name = "$group";
      properties = { groupId: call.groupId, traits: call.traits ?? {} };
      break;
    case "alias":
      name = "$alias";
      properties = { previousId: call.previousId };
      break;
  }
  const jsonError = checkJson(properties, fieldName(prefix, [type === "identify" || type === "group" ? "traits" : "properties"]), 1);
  if (jsonError) return { ok: false, errors: [jsonError] };

  if (type !== "identify") {
    const tokens = deviceTokensOf(context, undefined, prefix);
    if (tokens.error) return { ok: false, errors: [tokens.error] };
    if (tokens.tokens.length) deviceTokens = tokens.tokens;
    if (!profile) profile = profileOf(undefined, context);
  }

  return {
    ok: true,
    call: {
      index: options.index,
      type,
      // Without a messageId there is nothing to deduplicate on (Segment generates one too).
      messageId: call.messageId ?? `wp-${randomUUID()}`,
      userId: profileId,
      ...(call.anonymousId !== undefined ? { anonymousId: call.anonymousId } : {}),
      identified: call.userId !== undefined && call.anonymousId !== undefined && call.userId !== call.anonymousId,
      name,
      properties,
      timestamp,
      ...(profile ? { profile } : {}),
      ...(deviceTokens && deviceTokens.length ? { deviceTokens } : {}),
      ...(call.previousId !== undefined ? { previousId: call.previousId } : {}),
    },
  };
}
