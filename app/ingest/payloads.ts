import { z } from "zod";

/**
 * The Segment HTTP tracking API payloads (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/)
 * as zod schemas: the ingestion validator and the OpenAPI document both come from here. Unknown
 * fields are accepted and ignored, as Segment does; `null` counts as absent.
 */

export const MAX_CALL_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;
export const MAX_ID_LENGTH = 255;
/** Deeper properties/traits are refused (PostgreSQL's JSON parser has a stack limit). */
export const MAX_JSON_DEPTH = 32;

const absent = (value: unknown) => (value === null ? undefined : value);
const optional = <T extends z.ZodTypeAny>(schema: T) => z.preprocess(absent, schema.optional());

const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?)?$/;

/**
 * Parses an ISO-8601 date or date-time to epoch ms; null when it is not one. A date-time without
 * an offset is read as UTC (servers log in UTC; Segment's libraries always send an offset).
 */
export function parseTimestamp(value: string): number | null {
  const canonical = parseCanonical(value);
  if (canonical !== undefined) return canonical;
  const m = ISO_TIMESTAMP.exec(value);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4] ?? "0", m[5] ?? "0", m[6] ?? "0"].map(Number);
  if (year < 1000 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return null;
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  let offset = 0;
  if (m[9]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offset = (m[9] === "-" ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset;
  return Number.isFinite(utc) ? utc : null;
}

const code = (value: string, index: number) => value.charCodeAt(index);

/**
 * The hot case: "2026-01-31T09:30:00.000Z", what toISOString() and Segment's libraries send.
 * Date.parse reads it natively; it accepts Feb 30 and 24:00, so those are checked here.
 * Returns undefined for any other shape (the regular expression handles those).
 */
function parseCanonical(value: string): number | null | undefined {
  if (value.length !== 24 || code(value, 23) !== 90 || code(value, 10) !== 84 || code(value, 4) !== 45 || code(value, 7) !== 45) return undefined;
  if (code(value, 13) !== 58 || code(value, 16) !== 58 || code(value, 19) !== 46) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || code(value, 0) === 48 || value.startsWith("24", 11)) return null;
  const day = (code(value, 8) - 48) * 10 + (code(value, 9) - 48);
  return new Date(ms).getUTCDate() === day ? ms : null;
}

export const timestampSchema = z
  .string()
  .max(64)
  .refine((v) => parseTimestamp(v) !== null, { message: "must be an ISO-8601 date-time, e.g. 2026-01-31T09:30:00.000Z" });

/** Segment sends ids as strings; some libraries send numbers, which are stored as their text. */
const idSchema = z.preprocess(
  (v) => (typeof v === "number" && Number.isFinite(v) ? String(v) : v),
  z.string({ invalid_type_error: "must be a string" }).min(1, "must not be empty").max(MAX_ID_LENGTH, `must be at most ${MAX_ID_LENGTH} characters`),
);

const objectSchema = z.record(z.unknown(), { invalid_type_error: "must be an object" });

const consentFlags = z
  .object({ marketing: z.boolean().optional(), transactional: z.boolean().optional() }, { invalid_type_error: "must be an object" })
  .strict();

/** Traits Waypost gives a meaning to; every other trait is stored as sent. */
export const traitsSchema = z
  .object({
    // null clears the email / phone; absent keeps it.
    email: z.string({ invalid_type_error: "must be a string" }).max(320).nullable().optional(),
    phone: z
      .preprocess((v) => (typeof v === "number" && Number.isInteger(v) ? String(v) : v), z.string({ invalid_type_error: "must be a string" }).max(64))
      .nullable()
      .optional(),
    timezone: optional(z.string({ invalid_type_error: "must be a string" }).max(64)),
    tags: optional(z.array(z.string().min(1).max(100), { invalid_type_error: "must be a list of strings" }).max(200)),
    consent: optional(z.object({ push: consentFlags.optional(), sms: consentFlags.optional(), email: consentFlags.optional() }).strict()),
    createdAt: optional(timestampSchema),
    created_at: optional(timestampSchema),
    device_token: optional(z.string().min(1).max(4096)),
    device_tokens: optional(
      z
        .array(
          z.union([
            z.string().min(1).max(4096),
            z.object({ token: z.string().min(1).max(4096), platform: z.enum(["android", "ios", "web"]).optional() }),
          ]),
        )
        .max(20),
    ),
  })
  .passthrough()
  .describe("Profile traits. email, phone, timezone, tags, consent, createdAt and device tokens are also indexed on the profile.");

const contextSchema = objectSchema.describe("Segment context; context.device.token registers a push token, context.timezone sets the time zone.");

const common = {
  messageId: optional(z.string({ invalid_type_error: "must be a string" }).min(1, "must not be empty").max(MAX_ID_LENGTH)).describe(
    "Unique per call. A call whose messageId was stored before is reported as a duplicate and not stored again.",
  ),
  userId: optional(idSchema),
  anonymousId: optional(idSchema),
  timestamp: optional(timestampSchema).describe("When it happened on the client (corrected for clock skew with sentAt)."),
  originalTimestamp: optional(timestampSchema),
  sentAt: optional(timestampSchema).describe("When the client sent the call; used to correct the client's clock."),
  context: optional(contextSchema),
  integrations: optional(objectSchema),
};

export const identifySchema = z.object({ ...common, traits: optional(traitsSchema) });
export const trackSchema = z.object({
  ...common,
  event: z.string({ required_error: "is required", invalid_type_error: "must be a string" }).trim().min(1, "must not be empty").max(255),
  properties: optional(objectSchema),
});
export const pageSchema = z.object({
  ...common,
  name: optional(z.string({ invalid_type_error: "must be a string" }).max(255)),
  category: optional(z.string({ invalid_type_error: "must be a string" }).max(255)),
  properties: optional(objectSchema),
});
export const screenSchema = pageSchema;
export const groupSchema = z.object({ ...common, groupId: idSchema, traits: optional(objectSchema) });
export const aliasSchema = z.object({
  ...common,
  previousId: z.preprocess(absent, idSchema),
  userId: z.preprocess(absent, idSchema),
});

export const callTypes = ["identify", "track", "page", "screen", "group", "alias"] as const;
export type CallType = (typeof callTypes)[number];

export const callSchemas: Record<CallType, z.ZodTypeAny> = {
  identify: identifySchema,
  track: trackSchema,
  page: pageSchema,
  screen: screenSchema,
  group: groupSchema,
  alias: aliasSchema,
};

const batchFields = {
  sentAt: optional(timestampSchema),
  context: optional(contextSchema).describe("Merged into every call's context."),
  writeKey: optional(z.string()),
};

/** What the handler parses: items are validated one by one, so one bad item rejects only itself. */
export const batchEnvelopeSchema = z.object({
  batch: z
    .array(z.unknown(), { required_error: "is required", invalid_type_error: "must be a list of calls" })
    .min(1, "must contain at least one call"),
  ...batchFields,
});

/** The documented shape (OpenAPI): each item is one of the calls with its `type`. */
export const batchSchema = z.object({
  batch: z
    .array(
      z.discriminatedUnion("type", [
        identifySchema.extend({ type: z.literal("identify") }),
        trackSchema.extend({ type: z.literal("track") }),
        pageSchema.extend({ type: z.literal("page") }),
        screenSchema.extend({ type: z.literal("screen") }),
        groupSchema.extend({ type: z.literal("group") }),
        aliasSchema.extend({ type: z.literal("alias") }),
      ]),
    )
    .min(1)
    .describe("Calls of any type, each with a `type` field. Each call is stored or rejected on its own."),
  ...batchFields,
});

export type IdentifyCall = z.infer<typeof identifySchema>;
export type TrackCall = z.infer<typeof trackSchema>;
export type PageCall = z.infer<typeof pageSchema>;
export type GroupCall = z.infer<typeof groupSchema>;
export type AliasCall = z.infer<typeof aliasSchema>;
export type Traits = z.infer<typeof traitsSchema>;

/** Per-call outcome in a response. */
export const itemResultSchema = z.object({
  index: z.number().int(),
  messageId: z.string().optional(),
  status: z.enum(["stored", "duplicate", "rejected"]),
  errors: z.array(z.object({ field: z.string(), code: z.string(), message: z.string() })).optional(),
});
export type ItemResult = z.infer<typeof itemResultSchema>;

export const ingestResponseSchema = z.object({
  success: z.boolean(),
  messageId: z.string().optional(),
  duplicate: z.boolean().optional(),
  results: z.array(itemResultSchema).optional(),
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }).optional(),
  errors: z.array(z.object({ index: z.number().int().optional(), field: z.string(), code: z.string(), message: z.string() })).optional(),
});
