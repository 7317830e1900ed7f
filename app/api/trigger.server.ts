import type { z } from "zod";
import { jsonResponse } from "../ingest/http.server";
import type { AppServices } from "../services.server";
import { userEvents } from "../users/profiles.server";
import type { EntryResult } from "../../workflows/engine";
import { ApiError, journeyIdOf, readJson, withSecretKey } from "./management.server";
import { triggerBatchSchema, triggerOneSchema, idempotencyKeySchema, userEventsQuerySchema, userIdSchema, type TriggerOutcome } from "./trigger-schemas";

/**
 * The API-call trigger over HTTP (`POST /api/v1/journeys/{id}/trigger`) and a user's events
 * (`GET /api/v1/users/{id}/events`). Entry goes through the engine's own API entry path, so entry
 * rules, caps, holdout and idempotency are the engine's, on either engine.
 */

/** Journey-level refusals: the same for every user, so the whole request is refused. */
const JOURNEY_REFUSALS: Record<string, { status: number; message: string }> = {
  not_found: { status: 404, message: "No such journey in this workspace." },
  not_published: { status: 409, message: "The journey has never been published: publish it before triggering it." },
  paused: { status: 409, message: "The journey is paused: resume it before triggering it." },
  archived: { status: 409, message: "The journey is archived: unarchive and publish it before triggering it." },
  not_api_trigger: { status: 409, message: "The journey does not start by API call: set its trigger to “API call” and publish it." },
};

function outcome(userId: string, result: EntryResult): TriggerOutcome {
  // A repeat of an earlier call with the same idempotency key answers like the first call did.
  if (result.reason === "duplicate" && result.instanceId) return { userId, entered: true, instanceId: result.instanceId, replayed: true, reason: null };
  return { userId, entered: result.entered, instanceId: result.instanceId ?? null, replayed: false, reason: result.entered ? null : (result.reason ?? null) };
}

function issuesOf(error: z.ZodError) {
  return error.issues.map((i) => ({ path: i.path.map(String).join(".") || "body", message: i.message }));
}

export function journeyTrigger(request: Request, services: AppServices, rawId: string | undefined) {
  return withSecretKey(request, services, ["POST"], async (auth) => {
    const journeyId = journeyIdOf(rawId);
    const engine = services.engine;
    if (!engine) throw new ApiError(503, "engine_unavailable", "The journey engine is not running in this process; try again shortly.");

    const body = await readJson(request);
    const isBatch = typeof body === "object" && body !== null && "users" in body;
    const parsed = isBatch ? triggerBatchSchema.safeParse(body) : triggerOneSchema.safeParse(body);
    if (!parsed.success) {
      throw new ApiError(400, "invalid_body", isBatch ? "Send { users: [{ userId, properties?, idempotencyKey? }] }." : "Send { userId, properties?, idempotencyKey? }, or { users: [...] } for many.", issuesOf(parsed.error));
    }
    const header = request.headers.get("idempotency-key");
    if (header !== null && isBatch) throw new ApiError(400, "invalid_header", "Idempotency-Key applies to one user; in a batch give each user its own idempotencyKey.", [{ path: "Idempotency-Key", message: "not allowed with users[]" }]);
    if (header !== null && !idempotencyKeySchema.safeParse(header).success) throw new ApiError(400, "invalid_header", "Idempotency-Key must be 1–255 characters.", [{ path: "Idempotency-Key", message: "1–255 characters" }]);
    const users = "users" in parsed.data ? parsed.data.users : [{ ...parsed.data, idempotencyKey: parsed.data.idempotencyKey ?? header ?? undefined }];

    const outcomes: TriggerOutcome[] = [];
    for (const user of users) {
      const result = await engine.triggerJourney({ workspaceId: auth.workspaceId, journeyId, userId: user.userId, properties: user.properties, idempotencyKey: user.idempotencyKey });
      const refusal = result.reason ? JOURNEY_REFUSALS[result.reason] : undefined;
      // The journey's state is the same for every user, so it is checked at the first user and
      // refuses the whole request rather than repeating one refusal a thousand times.
      if (refusal) throw new ApiError(refusal.status, result.reason!, refusal.message);
      outcomes.push(outcome(user.userId, result));
    }
    if (!isBatch) return jsonResponse(200, outcomes[0]);
    return jsonResponse(200, { entered: outcomes.filter((o) => o.entered).length, notEntered: outcomes.filter((o) => !o.entered).length, results: outcomes });
  });
}

/** Keyset cursor: "<ISO timestamp>~<event id>", handed out as `nextBefore`. */
function parseCursor(raw: string): { timestamp: string; id: number } {
  const [timestamp, id] = raw.split("~");
  const n = Number(id);
  if (!timestamp || Number.isNaN(Date.parse(timestamp)) || !Number.isSafeInteger(n) || n < 0) {
    throw new ApiError(400, "invalid_value", "before must be the nextBefore value of a previous page.", [{ path: "before", message: "not a cursor from this API" }]);
  }
  return { timestamp: new Date(timestamp).toISOString(), id: n };
}

export function getUserEvents(request: Request, services: AppServices, userId: string) {
  return withSecretKey(request, services, ["GET"], async (auth) => {
    if (!userIdSchema.safeParse(userId).success) throw new ApiError(400, "invalid_value", "The user id must be 1–255 characters without NUL.", [{ path: "userId", message: "1–255 characters" }]);
    const params = Object.fromEntries(new URL(request.url).searchParams);
    const parsed = userEventsQuerySchema.safeParse(params);
    if (!parsed.success) throw new ApiError(400, "invalid_value", "Check the query parameters.", issuesOf(parsed.error));
    const limit = parsed.data.limit ?? 50;
    const events = await userEvents(services.db, auth.workspaceId, userId, {
      limit,
      name: parsed.data.name,
      before: parsed.data.before ? parseCursor(parsed.data.before) : undefined,
    });
    const last = events.length === limit ? events[events.length - 1] : undefined;
    return jsonResponse(200, { events, nextBefore: last ? `${last.timestamp}~${last.id}` : null });
  });
}
