import { z } from "zod";
import { getJourney, importJourney, InvalidDocumentError, JourneyNotFoundError, DraftConflictError, NothingToPublishError, publishJourney, exportJourney } from "../lib/journeys.server";
import { changeJourneyStatus } from "../lib/journey-status.server";
import { JourneyStateError } from "../lib/journey-transitions";
import { keyRefusal, restActionFor } from "../lib/permissions";
import { listJourneys } from "../lib/journey-list.server";
import { authenticateKey, keyFromAuthorization, type KeyAuth } from "../ingest/keys.server";
import { BadBody, jsonResponse, readBody, TooLarge } from "../ingest/http.server";
import { INTERNAL_MESSAGE, inputFault, logInternal } from "../lib/errors.server";
import { nodeTitle } from "../lib/publish-checks.server";
import type { CompileError } from "../../workflows/program";
import { countMembers, getSegment, listSegments, SegmentError, type SegmentSummary } from "../segments/store.server";
import { describeRule, segmentDefinitionSchema } from "../segments/rules";
import { invalidateSegmentInterest } from "../segments/membership.server";
import type { AppServices } from "../services.server";
import { eraseUser, getProfile, userJourneys, userMessages } from "../users/profiles.server";
import { journeyStats, parseStatsQuery } from "./journey-stats.server";
import { journeyPauseBodySchema } from "./schemas";
import type { PauseChoice } from "../ops/views";

/**
 * The management REST API (secret key): what developers script against. Thin handlers over the
 * same functions the UI uses; every answer is JSON, errors are `{ error: { code, message } }`.
 */

export type ApiAuth = KeyAuth;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

export function apiError(status: number, code: string, message: string, issues?: { path: string; message: string }[]): Response {
  return jsonResponse(status, { error: { code, message, ...(issues ? { issues } : {}) } });
}

/**
 * Authenticates with a secret key, checks the action the permission table names for this route
 * and method (restRoutes in app/lib/permissions.ts; a route without a row is refused), runs the
 * handler, and maps known failures to 4xx.
 */
export async function withSecretKey(request: Request, services: AppServices, allowed: string[], handler: (auth: ApiAuth) => Promise<Response>): Promise<Response> {
  if (!allowed.includes(request.method)) {
    return jsonResponse(405, { error: { code: "method_not_allowed", message: `Use ${allowed.join(" or ")}.` } }, { allow: allowed.join(", ") });
  }
  const auth = await authenticateKey(services, keyFromAuthorization(request.headers.get("authorization")), "secret");
  if (!auth) {
    return jsonResponse(
      401,
      { error: { code: "unauthorized", message: "A secret key is required: send `Authorization: Bearer <secret key>` (or HTTP Basic with the key as user name)." } },
      { "www-authenticate": 'Bearer realm="Waypost management API"' },
    );
  }
  const action = restActionFor(new URL(request.url).pathname, request.method);
  if (action === undefined) return apiError(403, "forbidden", "This route has no permission rule, so no key may call it.");
  if (action !== "public") {
    const refusal = keyRefusal(auth.holder, action);
    if (refusal) return apiError(403, "forbidden", refusal);
  }
  try {
    return await handler(auth);
  } catch (error) {
    if (error instanceof ApiError) return apiError(error.status, error.code, error.message, error.issues);
    if (error instanceof JourneyNotFoundError) return apiError(404, "not_found", error.message);
    if (error instanceof SegmentError) return apiError(error.code === "not_found" ? 404 : 400, error.code, error.message, error.issues);
    if (error instanceof InvalidDocumentError) {
      return apiError(400, "invalid_document", "The journey document is not valid.", error.errors.map((e) => ({ path: e.path, message: e.message })));
    }
    if (error instanceof NothingToPublishError || error instanceof DraftConflictError) return apiError(409, "conflict", error.message);
    if (error instanceof JourneyStateError) return apiError(409, "invalid_state", error.message);
    // A value the database refuses (NUL, bad UTF-8, too long, not a uuid) is the client's mistake.
    const fault = inputFault(error);
    if (fault) return apiError(400, fault.code, fault.message, fault.field ? [{ path: fault.field, message: fault.message }] : undefined);
    const requestId = logInternal(services.log, `api ${request.method} ${new URL(request.url).pathname.slice(0, 200)}`, error);
    return jsonResponse(500, { error: { code: "internal", message: `${INTERNAL_MESSAGE} ${requestId}.`, requestId } });
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function journeyIdOf(raw: string | undefined): string {
  if (!raw || !UUID.test(raw)) throw new ApiError(404, "not_found", `No journey ${raw ?? ""} in this workspace.`);
  return raw;
}

/** A path parameter the database can compare: text without NUL or lone surrogates, 1–`max` characters. */
function textParam(name: string, raw: string, max = 255): string {
  const why =
    raw.length === 0
      ? "must not be empty"
      : raw.length > max
        ? `must be at most ${max} characters`
        : raw.includes("\u0000") || !(raw as unknown as { isWellFormed(): boolean }).isWellFormed()
          ? "must not contain the NUL character (%00) or invalid UTF-8"
          : null;
  if (why) throw new ApiError(400, "invalid_value", `${name} ${why}.`, [{ path: name, message: why }]);
  return raw;
}

const iso = (value: Date | string | null | undefined) => (value ? new Date(value).toISOString() : null);

// ---- users ----------------------------------------------------------------------------------

export function getUser(request: Request, services: AppServices, rawUserId: string) {
  return withSecretKey(request, services, ["GET", "DELETE"], async (auth) => {
    const userId = textParam("userId", rawUserId);
    if (request.method === "DELETE") {
      const result = await eraseUser(services, auth.workspaceId, userId, { via: `api_key:${auth.keyId}` });
      if (!result.found) throw new ApiError(404, "not_found", `No user "${userId}" in this workspace.`);
      return jsonResponse(200, { erased: true, deleted: result.deleted });
    }
    const profile = await getProfile(services.db, auth.workspaceId, userId);
    if (!profile) throw new ApiError(404, "not_found", `No user "${userId}" in this workspace.`);
    return jsonResponse(200, {
      user: {
        ...profile,
        firstSeenAt: iso(profile.firstSeenAt),
        lastSeenAt: iso(profile.lastSeenAt),
        updatedAt: iso(profile.updatedAt),
        segments: profile.segments.map((s) => ({ ...s, enteredAt: iso(s.enteredAt) })),
      },
    });
  });
}

function limitOf(request: Request): number | undefined {
  const raw = new URL(request.url).searchParams.get("limit");
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new ApiError(400, "invalid_value", "limit must be a whole number from 1 to 500.", [{ path: "limit", message: "1–500" }]);
  return n;
}

export function getUserMessages(request: Request, services: AppServices, userId: string) {
  return withSecretKey(request, services, ["GET"], async (auth) =>
    jsonResponse(200, { messages: await userMessages(services.db, auth.workspaceId, textParam("userId", userId), { limit: limitOf(request) }) }),
  );
}

export function getUserJourneys(request: Request, services: AppServices, userId: string) {
  return withSecretKey(request, services, ["GET"], async (auth) =>
    jsonResponse(200, { journeys: await userJourneys(services.db, auth.workspaceId, textParam("userId", userId), { limit: limitOf(request) }) }),
  );
}

// ---- segments -------------------------------------------------------------------------------

function segmentOut(s: SegmentSummary) {
  const parsed = segmentDefinitionSchema.safeParse(s.definition);
  return {
    id: s.id,
    key: s.key,
    name: s.name,
    description: s.description,
    rules: parsed.success ? describeRule(parsed.data, "en") : "",
    definition: s.definition,
    preset: s.preset ?? null,
    timeDependent: s.timeDependent,
    memberCount: s.memberCount,
    computedAt: iso(s.computedAt),
    updatedAt: iso(s.updatedAt)!,
  };
}

export function getSegments(request: Request, services: AppServices) {
  return withSecretKey(request, services, ["GET"], async (auth) =>
    jsonResponse(200, { segments: (await listSegments(services.db, auth.workspaceId)).map(segmentOut) }),
  );
}

export function getSegmentById(request: Request, services: AppServices, idOrKey: string) {
  return withSecretKey(request, services, ["GET"], async (auth) => jsonResponse(200, { segment: segmentOut(await getSegment(services.db, auth.workspaceId, textParam("segment", idOrKey, 100))) }));
}

export function getSegmentCount(request: Request, services: AppServices, idOrKey: string) {
  return withSecretKey(request, services, ["GET"], async (auth) => {
    const segment = await getSegment(services.db, auth.workspaceId, textParam("segment", idOrKey, 100));
    return jsonResponse(200, { id: segment.id, key: segment.key, count: await countMembers(services.db, segment.id), computedAt: iso(segment.computedAt) });
  });
}

// ---- journeys -------------------------------------------------------------------------------

function journeySummary(j: { id: string; name: string; status: string; liveVersion: number | null; hasDraft: boolean; updatedAt: Date | string }) {
  return { id: j.id, name: j.name, status: j.status, liveVersion: j.liveVersion, hasDraft: j.hasDraft, updatedAt: iso(j.updatedAt)! };
}

const importBodySchema = z.union([
  z.object({ document: z.unknown(), name: z.string().trim().min(1).max(200).optional() }).strict(),
  z.object({ schemaVersion: z.unknown() }).passthrough(),
]);

export async function readJson(request: Request): Promise<unknown> {
  let text: string;
  try {
    text = await readBody(request, 5 * 1024 * 1024);
  } catch (error) {
    if (error instanceof BadBody) throw new ApiError(error.status, error.code, `The request could not be read: ${error.message}.`, [{ path: error.field, message: error.message }]);
    if (error instanceof TooLarge) throw new ApiError(413, "too_large", "The body is larger than 5 MB.");
    throw error;
  }
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "invalid_json", "The body is not valid JSON.", [{ path: "body", message: "not valid JSON" }]);
  }
}

/** GET: list (optional ?status=). POST: import a journey document as a new draft journey. */
export function journeysCollection(request: Request, services: AppServices) {
  return withSecretKey(request, services, ["GET", "POST"], async (auth) => {
    if (request.method === "POST") {
      const body = await readJson(request);
      const parsed = importBodySchema.safeParse(body);
      if (!parsed.success) {
        throw new ApiError(400, "invalid_document", "Send a journey document, or { document, name }.", [{ path: "body", message: "expected a journey document" }]);
      }
      const input = "document" in parsed.data ? parsed.data : { document: parsed.data, name: undefined };
      const created = await importJourney(services.db, { workspaceId: auth.workspaceId }, input.document, input.name as string | undefined);
      return jsonResponse(201, { id: created.id });
    }
    const status = new URL(request.url).searchParams.get("status");
    if (status && !["draft", "live", "paused", "archived"].includes(status)) {
      throw new ApiError(400, "invalid_value", "status must be draft, live, paused or archived.", [{ path: "status", message: "unknown status" }]);
    }
    const list = await listJourneys(services.db, auth.workspaceId, status ? { status: status as "draft" } : {});
    return jsonResponse(200, { journeys: list.map(journeySummary) });
  });
}

export function journeyItem(request: Request, services: AppServices, rawId: string | undefined) {
  return withSecretKey(request, services, ["GET"], async (auth) => {
    const id = journeyIdOf(rawId);
    const detail = await getJourney(services.db, auth.workspaceId, id);
    const [row] = (await listJourneys(services.db, auth.workspaceId)).filter((j) => j.id === id);
    return jsonResponse(200, {
      journey: journeySummary(row ?? { id, name: detail.name, status: detail.status, liveVersion: detail.liveVersion?.version ?? null, hasDraft: Boolean(detail.draft), updatedAt: new Date() }),
    });
  });
}

/** The journey document (?version=N for a published version; default: the draft, else live). */
export function journeyExport(request: Request, services: AppServices, rawId: string | undefined) {
  return withSecretKey(request, services, ["GET"], async (auth) => {
    const id = journeyIdOf(rawId);
    const raw = new URL(request.url).searchParams.get("version");
    const version = raw === null ? undefined : Number(raw);
    if (version !== undefined && (!Number.isInteger(version) || version < 1)) {
      throw new ApiError(400, "invalid_value", "version must be a published version number (1, 2, ...).", [{ path: "version", message: "positive whole number" }]);
    }
    const document = await exportJourney(services.db, auth.workspaceId, id, version);
    return jsonResponse(200, document, { "content-disposition": `attachment; filename="journey-${id}${version ? `-v${version}` : ""}.json"` });
  });
}

export function journeyPublish(request: Request, services: AppServices, rawId: string | undefined) {
  return withSecretKey(request, services, ["POST"], async (auth) => {
    const id = journeyIdOf(rawId);
    const body = (await readJson(request)) as { baseRevision?: unknown };
    const baseRevision = typeof body?.baseRevision === "number" ? body.baseRevision : undefined;
    // Each problem names its node as the canvas does ("“Win-back SMS” (sms_1): …"), not only by id.
    const draft = (await getJourney(services.db, auth.workspaceId, id)).draft;
    const doc = (draft?.document ?? { nodes: [] }) as Parameters<typeof nodeTitle>[0];
    const result = await publishJourney(services.db, { workspaceId: auth.workspaceId }, { journeyId: id, baseRevision });
    const issue = (e: CompileError) => ({
      path: [e.nodeId ? `nodes.${e.nodeId}` : e.edgeId ? `edges.${e.edgeId}` : "", e.path].filter(Boolean).join(".") || "journey",
      message: `${e.severity === "warning" ? "warning" : e.code}: ${e.nodeId ? `${nodeTitle(doc, e.nodeId)}: ` : ""}${e.message.en}`,
    });
    if (!result.ok) {
      return apiError(422, "invalid_journey", "The journey cannot be published; fix these problems first.", result.errors.map(issue));
    }
    invalidateSegmentInterest(services, auth.workspaceId);
    return jsonResponse(200, { id, version: result.version, versionId: result.versionId, warnings: result.warnings.map(issue) });
  });
}

export function journeySetStatus(request: Request, services: AppServices, rawId: string | undefined, status: "live" | "paused") {
  return withSecretKey(request, services, ["POST"], async (auth) => {
    const id = journeyIdOf(rawId);
    let inside: PauseChoice = "keep_running";
    if (status === "paused") {
      const parsed = journeyPauseBodySchema.safeParse(await readJson(request));
      if (!parsed.success) {
        throw new ApiError(400, "invalid_value", 'Send {} or { "inside": "keep_running" | "hold" }.', parsed.error.issues.map((i) => ({ path: i.path.join(".") || "body", message: i.message })));
      }
      inside = parsed.data.inside;
    }
    const { held } = await changeJourneyStatus(services, { workspaceId: auth.workspaceId }, id, status === "paused" ? "pause" : "resume", { inside });
    return jsonResponse(200, { id, status, held });
  });
}

export function journeyStatsEndpoint(request: Request, services: AppServices, rawId: string | undefined) {
  return withSecretKey(request, services, ["GET"], async (auth) => {
    const id = journeyIdOf(rawId);
    await getJourney(services.db, auth.workspaceId, id);
    const asked = parseStatsQuery(new URL(request.url).searchParams);
    if (!asked.ok) throw new ApiError(400, "invalid_value", asked.message, asked.issues);
    const stats = await journeyStats(services.db, auth.workspaceId, id, asked);
    if (!stats) throw new ApiError(404, "not_found", `Journey ${id} has no version ${asked.version}.`);
    return jsonResponse(200, stats);
  });
}
