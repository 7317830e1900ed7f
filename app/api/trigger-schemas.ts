import { z } from "zod";

/**
 * Request and response shapes of the API-call trigger and of a user's events, shared by the
 * handlers (validation) and the OpenAPI document.
 */

export const MAX_TRIGGER_BATCH = 1000;
const MAX_PROPERTIES_BYTES = 32 * 1024;

const noNul = (s: string) => !s.includes("\u0000");
export const userIdSchema = z.string().trim().min(1, "userId is empty").max(255, "userId is longer than 255 characters").refine(noNul, "userId contains a NUL character");
export const idempotencyKeySchema = z
  .string()
  .min(1, "idempotencyKey is empty")
  .max(255, "idempotencyKey is longer than 255 characters")
  .refine(noNul, "idempotencyKey contains a NUL character");
const propertiesSchema = z
  .record(z.unknown())
  .refine((p) => JSON.stringify(p).length <= MAX_PROPERTIES_BYTES, `properties are larger than ${MAX_PROPERTIES_BYTES / 1024} KB`)
  .describe("Available to the journey's copy as {{ event.properties.<name> }}.");

export const triggerOneSchema = z
  .object({
    userId: userIdSchema,
    properties: propertiesSchema.optional(),
    idempotencyKey: idempotencyKeySchema.optional().describe("The same key for the same journey and user enters at most once (or send the Idempotency-Key header)."),
  })
  .strict();
export const triggerBatchSchema = z
  .object({ users: z.array(triggerOneSchema).min(1, "users is empty").max(MAX_TRIGGER_BATCH, `at most ${MAX_TRIGGER_BATCH} users per request`) })
  .strict();

export const triggerOutcomeSchema = z.object({
  userId: z.string(),
  entered: z.boolean().describe("True when the user is inside the journey because of this call (or of an earlier call with the same idempotency key)."),
  instanceId: z.string().uuid().nullable(),
  replayed: z.boolean().describe("True when an earlier call with the same idempotency key had already entered the user."),
  reason: z.string().nullable().describe("Why the user did not enter: an entry rule (once, cooldown), a cap, already inside..."),
});
export type TriggerOutcome = z.infer<typeof triggerOutcomeSchema>;
export const triggerBatchResponseSchema = z.object({ entered: z.number().int(), notEntered: z.number().int(), results: z.array(triggerOutcomeSchema) });

export const userEventsQuerySchema = z.object({
  limit: z.coerce.number().int("limit must be a whole number").min(1, "limit must be 1 to 500").max(500, "limit must be 1 to 500").optional(),
  name: z.string().min(1).max(200, "name is longer than 200 characters").refine(noNul, "name contains a NUL character").optional(),
  before: z.string().max(200).optional(),
});
export const userEventSchema = z.object({
  id: z.number().int(),
  messageId: z.string(),
  type: z.string(),
  name: z.string(),
  properties: z.record(z.unknown()),
  timestamp: z.string(),
  receivedAt: z.string(),
});
export const userEventsResponseSchema = z.object({
  events: z.array(userEventSchema),
  nextBefore: z.string().nullable().describe("Pass as ?before= for the next (older) page; null on the last page."),
});
