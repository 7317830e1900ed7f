import type { z } from "zod";
import { permissions, restActionFor } from "../lib/permissions";
import { zodToJsonSchema } from "zod-to-json-schema";
import {
  aliasSchema,
  batchSchema,
  groupSchema,
  identifySchema,
  ingestResponseSchema,
  MAX_BATCH_BYTES,
  MAX_CALL_BYTES,
  pageSchema,
  screenSchema,
  trackSchema,
} from "../ingest/payloads";
import {
  apiErrorSchema,
  eraseResponseSchema,
  journeyImportResponseSchema,
  journeyPublishResponseSchema,
  journeyResponseSchema,
  journeysResponseSchema,
  journeyStatsResponseSchema,
  journeyPauseBodySchema,
  journeyStatusResponseSchema,
  segmentCountResponseSchema,
  segmentResponseSchema,
  segmentsResponseSchema,
  userJourneysResponseSchema,
  userMessagesResponseSchema,
  userResponseSchema,
} from "./schemas";
import { triggerBatchResponseSchema, triggerBatchSchema, triggerOneSchema, triggerOutcomeSchema, userEventsResponseSchema } from "./trigger-schemas";

/**
 * The OpenAPI 3.1 document served at /api/v1/openapi.json, generated from the same zod schemas
 * that validate requests (ingestion) and shape responses (management API).
 */

type JsonSchema = Record<string, unknown>;

function schema(zod: z.ZodTypeAny): JsonSchema {
  const out = zodToJsonSchema(zod, { target: "jsonSchema2019-09", $refStrategy: "none", effectStrategy: "input" }) as JsonSchema;
  delete out.$schema;
  return out;
}

const json = (zod: z.ZodTypeAny, description: string) => ({ description, content: { "application/json": { schema: schema(zod) } } });
const error = (description: string) => json(apiErrorSchema, description);

const ingestErrors = {
  "400": json(
    ingestResponseSchema,
    "A field is missing or invalid (`error.field` names it; batches list every bad call with its index), an `event` starting with `$` (`reserved_name`), gzip that is not gzip (`invalid_encoding`) or nesting deeper than 64 levels (`too_deep`). Valid calls of a batch were stored. Do not resend unchanged.",
  ),
  "401": json(ingestResponseSchema, "Missing, unknown or revoked write key."),
  "413": json(ingestResponseSchema, `The body is too large (${MAX_CALL_BYTES / 1024} KB per call, ${MAX_BATCH_BYTES / 1024} KB per batch), declared or chunked; always answered.`),
  "415": json(ingestResponseSchema, "A `Content-Encoding` other than gzip or identity (`unsupported_encoding`)."),
  "429": json(ingestResponseSchema, "Rate limit of the write key reached; retry after `Retry-After` seconds."),
  "503": json(ingestResponseSchema, "Storage or the journey engine is unavailable; resend the same calls later (messageIds make this safe)."),
};

function ingestOperation(name: string, summary: string, body: z.ZodTypeAny) {
  return {
    post: {
      operationId: name,
      tags: ["Ingestion (Segment-compatible)"],
      summary,
      security: [{ writeKey: [] }],
      requestBody: { required: true, content: { "application/json": { schema: schema(body) } } },
      responses: { "200": json(ingestResponseSchema, "Stored, or already stored (`duplicate: true` / per-call `status`)."), ...ingestErrors },
    },
  };
}

const secret = [{ secretKey: [] }, { secretKeyBasic: [] }];
const mgmtErrors = {
  "401": error("Missing, unknown or revoked secret key."),
  "403": error("The key's scope, or its creator's current role, does not allow this (docs/permissions.md)."),
  "404": error("Not found in this workspace."),
};
const pathParam = (name: string, description: string) => ({ name, in: "path", required: true, schema: { type: "string" }, description });
const limitParam = { name: "limit", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 500 } };

/** Each operation names the permission it needs and the narrowest key scope (app/lib/permissions.ts). */
function withActions(document: { paths: Record<string, Record<string, unknown>> } & Record<string, unknown>): Record<string, unknown> {
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, value] of Object.entries(operations)) {
      const action = restActionFor(path.replace(/\{[^}]+\}/g, "x"), method);
      const operation = value as Record<string, unknown>;
      if (!action || action === "public") continue;
      const key = permissions[action].key;
      operation["x-waypost-action"] = action;
      const needs = key === "write" ? "Needs a write key." : `Needs a secret key with the \`${key}\` scope or wider, whose creator's role allows \`${action}\` (docs/permissions.md).`;
      operation.description = operation.description ? `${operation.description as string} ${needs}` : needs;
    }
  }
  return document;
}

export function openApiDocument(serverUrl?: string): Record<string, unknown> {
  return withActions({
    openapi: "3.1.0",
    info: {
      title: "Waypost API",
      version: "1",
      description:
        "Segment-compatible ingestion (write key, HTTP Basic with the key as user name) and the management API (secret key, Bearer). See docs/api.md.",
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    components: {
      securitySchemes: {
        writeKey: { type: "http", scheme: "basic", description: "The write key as the user name, empty password (what Segment's libraries send). A `writeKey` body field also works." },
        secretKey: { type: "http", scheme: "bearer", description: "A secret key (Settings → API keys)." },
        secretKeyBasic: { type: "http", scheme: "basic", description: "The secret key as the user name." },
      },
    },
    paths: {
      "/api/v1/identify": ingestOperation("identify", "Identify a user and set traits (email, phone, timezone, tags, consent, device tokens)", identifySchema),
      "/api/v1/track": ingestOperation("track", "Record an event", trackSchema),
      "/api/v1/page": ingestOperation("page", "Record a page view (stored as event `$page`)", pageSchema),
      "/api/v1/screen": ingestOperation("screen", "Record a screen view (stored as event `$screen`)", screenSchema),
      "/api/v1/group": ingestOperation("group", "Associate a user with a group (stored as event `$group`)", groupSchema),
      "/api/v1/alias": ingestOperation("alias", "Merge previousId's profile and history into userId", aliasSchema),
      "/api/v1/batch": ingestOperation("batch", "Several calls in one request; each is stored or rejected on its own", batchSchema),
      "/api/v1/users/{userId}": {
        parameters: [pathParam("userId", "The app's user id")],
        get: { operationId: "getUser", tags: ["Users"], summary: "A user's profile, segments and device tokens", security: secret, responses: { "200": json(userResponseSchema, "The profile"), ...mgmtErrors } },
        delete: {
          operationId: "eraseUser",
          tags: ["Users"],
          summary: "Erase everything stored about the user (profile, events, memberships, messages, journey instances, tokens)",
          security: secret,
          responses: { "200": json(eraseResponseSchema, "Erased"), ...mgmtErrors },
        },
      },
      "/api/v1/users/{userId}/messages": {
        get: {
          operationId: "getUserMessages",
          tags: ["Users"],
          summary: "Messages sent to the user, newest first, with delivery state and failure reason",
          security: secret,
          parameters: [pathParam("userId", "The app's user id"), limitParam],
          responses: { "200": json(userMessagesResponseSchema, "Messages"), ...mgmtErrors },
        },
      },
      "/api/v1/users/{userId}/events": {
        get: {
          operationId: "getUserEvents",
          tags: ["Users"],
          summary: "The user's events, newest first, paged with ?before=",
          security: secret,
          parameters: [
            pathParam("userId", "The app's user id"),
            limitParam,
            { name: "name", in: "query", required: false, schema: { type: "string", maxLength: 200 }, description: "Only events with this name" },
            { name: "before", in: "query", required: false, schema: { type: "string" }, description: "nextBefore of the previous page" },
          ],
          responses: { "200": json(userEventsResponseSchema, "Events"), "400": error("A query parameter is not valid (issues name it)."), ...mgmtErrors },
        },
      },
      "/api/v1/users/{userId}/journeys": {
        get: {
          operationId: "getUserJourneys",
          tags: ["Users"],
          summary: "The user's journey instances, newest first",
          security: secret,
          parameters: [pathParam("userId", "The app's user id"), limitParam],
          responses: { "200": json(userJourneysResponseSchema, "Journey instances"), ...mgmtErrors },
        },
      },
      "/api/v1/segments": {
        get: { operationId: "listSegments", tags: ["Segments"], summary: "All segments with member counts", security: secret, responses: { "200": json(segmentsResponseSchema, "Segments"), ...mgmtErrors } },
      },
      "/api/v1/segments/{segment}": {
        get: {
          operationId: "getSegment",
          tags: ["Segments"],
          summary: "One segment (by id or key)",
          security: secret,
          parameters: [pathParam("segment", "Segment id (uuid) or key")],
          responses: { "200": json(segmentResponseSchema, "The segment"), ...mgmtErrors },
        },
      },
      "/api/v1/segments/{segment}/count": {
        get: {
          operationId: "countSegment",
          tags: ["Segments"],
          summary: "How many users are in the segment now",
          security: secret,
          parameters: [pathParam("segment", "Segment id (uuid) or key")],
          responses: { "200": json(segmentCountResponseSchema, "The count"), ...mgmtErrors },
        },
      },
      "/api/v1/journeys": {
        get: {
          operationId: "listJourneys",
          tags: ["Journeys"],
          summary: "All journeys (optional ?status=draft|live|paused|archived)",
          security: secret,
          parameters: [{ name: "status", in: "query", required: false, schema: { type: "string", enum: ["draft", "live", "paused", "archived"] } }],
          responses: { "200": json(journeysResponseSchema, "Journeys"), ...mgmtErrors },
        },
        post: {
          operationId: "importJourney",
          tags: ["Journeys"],
          summary: "Import a journey document (as exported) as a new draft journey; body is the document or { document, name }",
          security: secret,
          requestBody: { required: true, content: { "application/json": { schema: { type: "object" } } } },
          responses: { "201": json(journeyImportResponseSchema, "Created"), "400": error("The document is not valid (issues name each field)."), ...mgmtErrors },
        },
      },
      "/api/v1/journeys/{journeyId}": {
        get: {
          operationId: "getJourney",
          tags: ["Journeys"],
          summary: "A journey's status and versions",
          security: secret,
          parameters: [pathParam("journeyId", "Journey id")],
          responses: { "200": json(journeyResponseSchema, "The journey"), ...mgmtErrors },
        },
      },
      "/api/v1/journeys/{journeyId}/export": {
        get: {
          operationId: "exportJourney",
          tags: ["Journeys"],
          summary: "The journey document (?version=N for a published version; default the draft, else the live version)",
          security: secret,
          parameters: [pathParam("journeyId", "Journey id"), { name: "version", in: "query", required: false, schema: { type: "integer", minimum: 1 } }],
          responses: { "200": { description: "The journey document", content: { "application/json": { schema: { type: "object" } } } }, ...mgmtErrors },
        },
      },
      "/api/v1/journeys/{journeyId}/publish": {
        post: {
          operationId: "publishJourney",
          tags: ["Journeys"],
          summary: "Publish the draft as the next version (optional body { baseRevision })",
          security: secret,
          parameters: [pathParam("journeyId", "Journey id")],
          responses: {
            "200": json(journeyPublishResponseSchema, "Published"),
            "409": error("Nothing to publish, or the draft changed since baseRevision."),
            "422": error("The journey has problems (issues list them)."),
            ...mgmtErrors,
          },
        },
      },
      "/api/v1/journeys/{journeyId}/pause": {
        post: {
          operationId: "pauseJourney",
          tags: ["Journeys"],
          summary: "Pause: no new entries; users inside continue, or are held until resume",
          security: secret,
          parameters: [pathParam("journeyId", "Journey id")],
          requestBody: { required: false, content: { "application/json": { schema: schema(journeyPauseBodySchema) } } },
          responses: { "200": json(journeyStatusResponseSchema, "Paused"), "409": error("Not live or paused (`invalid_state`): a draft was never published; an archived journey must be restored first."), ...mgmtErrors },
        },
      },
      "/api/v1/journeys/{journeyId}/resume": {
        post: {
          operationId: "resumeJourney",
          tags: ["Journeys"],
          summary: "Resume a paused journey",
          security: secret,
          parameters: [pathParam("journeyId", "Journey id")],
          responses: { "200": json(journeyStatusResponseSchema, "Live again"), "409": error("Not paused (`invalid_state`): a draft is published instead, a live journey needs nothing, an archived one is restored first."), ...mgmtErrors },
        },
      },
      "/api/v1/journeys/{journeyId}/trigger": {
        post: {
          operationId: "triggerJourney",
          tags: ["Journeys"],
          summary: "Enter one user, or up to 1,000, into a journey whose trigger is “API call”",
          description:
            "Entry rules, caps and the holdout apply as for any entry. Send an idempotency key (body field, or the Idempotency-Key header for one user) so a retried call enters at most once; the repeat answers with the first call's instance and replayed: true.",
          security: secret,
          parameters: [pathParam("journeyId", "Journey id"), { name: "Idempotency-Key", in: "header", required: false, schema: { type: "string", maxLength: 255 } }],
          requestBody: { required: true, content: { "application/json": { schema: { oneOf: [schema(triggerOneSchema), schema(triggerBatchSchema)] } } } },
          responses: {
            "200": { description: "One result (single form) or per-user results (batch form)", content: { "application/json": { schema: { oneOf: [schema(triggerOutcomeSchema), schema(triggerBatchResponseSchema)] } } } },
            "409": error("The journey is not live (never published, paused, archived) or does not start by API call."),
            "503": error("The journey engine is not running in this process; retry."),
            ...mgmtErrors,
          },
        },
      },
      "/api/v1/journeys/{journeyId}/stats": {
        get: {
          operationId: "journeyStats",
          tags: ["Journeys"],
          summary: "Per node: entered, waiting, outputs, exits by reason, message states, failure reasons, conversions (docs/analytics.md)",
          security: secret,
          parameters: [
            pathParam("journeyId", "Journey id"),
            { name: "version", in: "query", required: false, description: "one published version (default: all)", schema: { type: "integer", minimum: 1 } },
            { name: "from", in: "query", required: false, description: "users who entered at or after (ISO-8601; rounded down to the hour)", schema: { type: "string", format: "date-time" } },
            { name: "to", in: "query", required: false, description: "users who entered before (ISO-8601; rounded up to the hour)", schema: { type: "string", format: "date-time" } },
          ],
          responses: { "200": json(journeyStatsResponseSchema, "Stats"), ...mgmtErrors },
        },
      },
    },
  });
}
