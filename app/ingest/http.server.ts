import { gunzipSync } from "node:zlib";
import { inputFault, logInternal } from "../lib/errors.server";
import type { AppServices } from "../services.server";
import { authenticateKey, keyFromAuthorization } from "./keys.server";
import { MAX_BATCH_BYTES, MAX_CALL_BYTES, batchEnvelopeSchema, callTypes, type CallType, type ItemResult } from "./payloads";
import { takeTokens } from "./rate-limit.server";
import { routed } from "./routing.server";
import { engineBackpressure } from "./backpressure.server";
import { engineEvents, enqueueSegmentSignals, storeCalls } from "./store.server";
import { validateCall, zodErrors, type FieldError, type NormalizedCall } from "./validate.server";

/**
 * The Segment-compatible ingestion endpoints (/api/v1/identify, track, page, screen, group,
 * alias, batch). Order of checks: method, size (413), key (401), JSON (400), rate (429), then
 * each call on its own (all-or-nothing per call, per-call results). Only infrastructure
 * failures answer 5xx; see docs/api.md for the response shapes.
 */

export type IngestEndpoint = CallType | "batch";

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

function failure(status: number, code: string, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return jsonResponse(status, { success: false, error: { code, message, ...extra } }, headers);
}

/** The body is over the limit; `closing` when it was too large even to drain (the connection is closed after the answer). */
export class TooLarge extends Error {
  constructor(readonly closing = false) {
    super("too large");
  }
}

/** A body that cannot be read: a 4xx naming the header or `body`, never worth resending unchanged. */
export class BadBody extends Error {
  constructor(
    message: string,
    readonly code: "invalid_encoding" | "unsupported_encoding" | "invalid_json" | "too_deep" = "invalid_encoding",
    readonly field = "body",
    readonly status: 400 | 415 = 400,
  ) {
    super(message);
  }
}

/**
 * How much of an oversized body is read and thrown away so the client gets its 413 (closing a
 * socket with unread data makes TCP reset it, and the client sees a reset, not the answer).
 * Past this the connection is closed after the answer.
 */
export const DRAIN_LIMIT = 64 * 1024 * 1024;

/** Deeper JSON is refused before anything walks it recursively (JSON.stringify overflows near 10,000 levels). */
export const MAX_BODY_DEPTH = 64;

async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, seen: number): Promise<boolean> {
  let size = seen;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return true;
    size += value.byteLength;
    if (size > DRAIN_LIMIT) return false;
  }
}

/**
 * Reads the body without ever holding more than `limit` bytes (gzip is inflated with the same
 * cap). An oversized body is drained, not cut off, so the 413 reaches the client.
 */
export async function readBody(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    if (Number.isFinite(declared) && declared > limit) {
      throw new TooLarge(declared > DRAIN_LIMIT || !(await drain(reader, 0)));
    }
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) throw new TooLarge(!(await drain(reader, size)));
      chunks.push(value);
    }
  } else if (Number.isFinite(declared) && declared > limit) throw new TooLarge();
  let bytes = Buffer.concat(chunks);
  const coding = (request.headers.get("content-encoding") ?? "").trim().toLowerCase();
  if (coding === "gzip" || coding === "x-gzip") {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: limit + 1 });
    } catch (error) {
      if (error instanceof RangeError) throw new TooLarge();
      throw new BadBody("the body is not valid gzip (Content-Encoding: gzip was sent)");
    }
    if (bytes.byteLength > limit) throw new TooLarge();
  } else if (coding !== "" && coding !== "identity") {
    throw new BadBody(`Content-Encoding "${coding.slice(0, 40)}" is not supported; send the body as is or gzip-compressed`, "unsupported_encoding", "content-encoding", 415);
  }
  return new TextDecoder().decode(bytes);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new BadBody("the body is not valid JSON", "invalid_json");
  }
}

/**
 * The path to the first value nested deeper than `limit`, or null. Iterative, so it cannot
 * overflow the stack on the very input it guards against.
 */
export function tooDeep(value: unknown, limit = MAX_BODY_DEPTH): (string | number)[] | null {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: v, path } = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (path.length >= limit) return path;
    if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: [...path, i] });
    else for (const k of Object.keys(v).reverse()) stack.push({ value: (v as Record<string, unknown>)[k], path: [...path, k] });
  }
  return null;
}

/** `batch[0].properties.x` for a path: enough to say where, not the whole descent. */
function nestingField(path: (string | number)[]): string {
  const keep = path[0] === "batch" ? 4 : 2;
  let out = "";
  for (const part of path.slice(0, keep)) out += typeof part === "number" ? `[${part}]` : out ? `.${part}` : part;
  return out || "body";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export async function handleIngest(request: Request, services: AppServices, endpoint: IngestEndpoint): Promise<Response> {
  if (request.method !== "POST") return failure(405, "method_not_allowed", "Use POST.", {}, { allow: "POST" });
  const limit = endpoint === "batch" ? MAX_BATCH_BYTES : MAX_CALL_BYTES;
  const receivedAt = services.now().getTime();
  try {
    const headerKey = keyFromAuthorization(request.headers.get("authorization"));
    let text: string;
    try {
      text = await readBody(request, limit);
    } catch (error) {
      if (error instanceof TooLarge) {
        return failure(413, "too_large", `The body is larger than ${limit / 1024} KB, the limit for ${endpoint === "batch" ? "a batch" : "one call"}.`, {}, error.closing ? { connection: "close" } : {});
      }
      if (error instanceof BadBody) {
        return failure(error.status, error.code, `The request could not be read: ${error.message}.`, { field: error.field }, error.status === 415 ? { "accept-encoding": "gzip" } : {});
      }
      throw error;
    }
    let body: unknown;
    let bodyError: BadBody | undefined;
    try {
      body = parseJson(text);
      const deep = isRecord(body) ? tooDeep(body) : null;
      if (deep) bodyError = new BadBody(`${nestingField(deep)} nests deeper than ${MAX_BODY_DEPTH} levels`, "too_deep", nestingField(deep));
    } catch (error) {
      if (!(error instanceof BadBody)) throw error;
      bodyError = error;
    }
    const bodyKey = isRecord(body) && typeof body.writeKey === "string" ? body.writeKey : undefined;
    const auth = await authenticateKey(services, headerKey ?? bodyKey, "write");
    if (!auth) {
      return failure(
        401,
        "unauthorized",
        headerKey || bodyKey
          ? "The write key is not valid (unknown, revoked, or not a write key)."
          : "A write key is required: send it as the HTTP Basic user name (as Segment's libraries do) or as `writeKey` in the body.",
        {},
        { "www-authenticate": 'Basic realm="Waypost ingestion"' },
      );
    }
    if (bodyError) return failure(400, bodyError.code, `The request could not be read: ${bodyError.message}.`, { field: bodyError.field });
    if (!isRecord(body)) return failure(400, "invalid_type", "The body must be a JSON object.", { field: "body" });

    if (endpoint !== "batch") {
      const wait = takeTokens(services, auth.keyId, 1);
      if (wait !== null) return rateLimited(wait);
      const behind = endpoint === "track" || endpoint === "page" || endpoint === "screen" ? engineBackpressure(services, auth.workspaceId) : null;
      if (behind !== null) return engineBehind(behind);
      const result = validateCall(endpoint, body, { receivedAt, prefix: "", index: 0 });
      if (!result.ok) {
        const [first] = result.errors;
        return jsonResponse(400, { success: false, error: { code: first.code, message: `${first.field}: ${first.message}`, field: first.field }, errors: result.errors });
      }
      const outcome = await persist(services, auth.workspaceId, [result.call], receivedAt);
      if (outcome instanceof Response) return outcome;
      return jsonResponse(200, { success: true, messageId: result.call.messageId, ...(outcome.duplicates.length ? { duplicate: true } : {}) });
    }

    const parsed = batchEnvelopeSchema.safeParse(body);
    if (!parsed.success) {
      const errors = zodErrors(parsed.error, "");
      return jsonResponse(400, { success: false, error: { code: errors[0].code, message: `${errors[0].field}: ${errors[0].message}`, field: errors[0].field }, errors });
    }
    const wait = takeTokens(services, auth.keyId, parsed.data.batch.length);
    if (wait !== null) return rateLimited(wait);
    const reachesJourneys = parsed.data.batch.some((item) => isRecord(item) && (item.type === "track" || item.type === "page" || item.type === "screen"));
    const behind = reachesJourneys ? engineBackpressure(services, auth.workspaceId) : null;
    if (behind !== null) return engineBehind(behind);
    // Awaited here so a failure inside is answered by the catch below, not by Remix.
    return await handleBatch(services, auth.workspaceId, body, parsed.data, text.length, receivedAt);
  } catch (error) {
    // A value PostgreSQL refuses is the client's mistake: resending it would fail forever.
    const fault = inputFault(error);
    if (fault) return failure(400, fault.code, fault.message, fault.field ? { field: fault.field } : {});
    const requestId = logInternal(services.log, `ingest ${endpoint}`, error);
    return failure(503, "unavailable", "The event store is unavailable; resend the same calls (same messageIds) later.", { requestId }, { "retry-after": "5" });
  }
}

/** Backpressure (decision 1003): the workspace's journeys are behind; nothing of the request was stored. */
function engineBehind(seconds: number): Response {
  return failure(429, "engine_behind", `Journeys in this workspace are running behind; nothing was stored. Retry in ${seconds} s.`, {}, { "retry-after": String(seconds) });
}

function rateLimited(seconds: number): Response {
  return failure(429, "rate_limited", `Too many calls for this write key; retry in ${seconds} s.`, {}, { "retry-after": String(seconds) });
}

async function handleBatch(
  services: AppServices,
  workspaceId: string,
  body: Record<string, unknown>,
  batch: { batch: unknown[]; sentAt?: string; context?: Record<string, unknown> },
  bodyLength: number,
  receivedAt: number,
): Promise<Response> {
  const rawItems = body.batch as unknown[];
  const results: ItemResult[] = [];
  const valid: NormalizedCall[] = [];
  const errors: (FieldError & { index: number })[] = [];
  // An item can only exceed the per-call limit when the whole batch does.
  const checkItemSize = bodyLength > MAX_CALL_BYTES;
  const reject = (index: number, messageId: string | undefined, itemErrors: FieldError[]) => {
    for (const e of itemErrors) errors.push({ index, ...e });
    results.push({ index, ...(messageId ? { messageId } : {}), status: "rejected", errors: itemErrors });
  };
  rawItems.forEach((raw, index) => {
    const prefix = `batch[${index}]`;
    if (!isRecord(raw)) return reject(index, undefined, [{ field: prefix, code: "invalid_type", message: "must be a JSON object" }]);
    const messageId = typeof raw.messageId === "string" ? raw.messageId : undefined;
    const type = raw.type;
    if (typeof type !== "string" || !(callTypes as readonly string[]).includes(type)) {
      return reject(index, messageId, [
        { field: `${prefix}.type`, code: type === undefined ? "required" : "invalid_value", message: `must be one of ${callTypes.join(", ")}` },
      ]);
    }
    if (checkItemSize && Buffer.byteLength(JSON.stringify(raw)) > MAX_CALL_BYTES) {
      return reject(index, messageId, [{ field: prefix, code: "too_large", message: `is larger than ${MAX_CALL_BYTES / 1024} KB, the limit for one call` }]);
    }
    const result = validateCall(type as CallType, raw, { receivedAt, sentAt: batch.sentAt, context: batch.context, prefix, index });
    if (result.ok) {
      valid.push(result.call);
      results.push({ index, messageId: result.call.messageId, status: "stored" });
    } else reject(index, messageId, result.errors);
  });
  const outcome = await persist(services, workspaceId, valid, receivedAt);
  if (outcome instanceof Response) return outcome;
  for (const call of outcome.duplicates) results[call.index].status = "duplicate";
  if (errors.length > 0) {
    const [first] = errors;
    return jsonResponse(400, {
      success: false,
      error: { code: first.code, message: `${first.field}: ${first.message}`, field: first.field },
      errors,
      results,
    });
  }
  return jsonResponse(200, { success: true, results });
}

/**
 * Stores, then hands activity to the journey engine (stored AND duplicate calls: a client
 * resending after a lost response must still reach journeys; the engine is idempotent per
 * messageId) and schedules segment re-evaluation. An engine failure answers 503 so the client
 * resends; the resend is stored as duplicates and delivered again.
 */
async function persist(services: AppServices, workspaceId: string, calls: NormalizedCall[], receivedAt: number) {
  // With an engine, the stored activity calls carry a durable "not yet routed" marker (decision 1001).
  const outcome = await storeCalls(services, workspaceId, calls, receivedAt, { markUnrouted: Boolean(services.engine) });
  enqueueSegmentSignals(services, workspaceId, outcome.stored);
  const events = engineEvents(workspaceId, [...outcome.stored, ...outcome.duplicates]);
  if (services.engine && events.length > 0) {
    try {
      await services.engine.handleEvents(events);
      routed(services, outcome.pendingRouting);
    } catch (error) {
      // Stored with their marker: the routing sweep offers them again, no resend needed.
      if (outcome.pendingRouting !== undefined) {
        services.log.warn("journey engine refused events; the routing sweep will offer them again", { error: error instanceof Error ? error.message : String(error), events: events.length });
        return outcome;
      }
      services.log.error("journey engine refused events", { error: error instanceof Error ? error.message : String(error), events: events.length });
      return failure(503, "engine_unavailable", "The events were stored but journeys could not be updated; resend the same calls (same messageIds) later.", {}, { "retry-after": "5" });
    }
  }
  return outcome;
}
