import { TRPCError } from "@trpc/server";
import { and, asc, eq, ilike, or, sql } from "drizzle-orm";
import { z } from "zod";
import { journeyStatuses, users } from "../../../db/schema";
import { journeyStats } from "../../lib/analytics.server";
import { invalidateSegmentInterest } from "../../segments/membership.server";
import { listJourneys, toEditorJourney } from "../../lib/journey-list.server";
import { changeJourneyStatus } from "../../lib/journey-status.server";
import { JourneyStateError } from "../../lib/journey-transitions";
import { pauseChoices } from "../../ops/views";
import {
  createJourney,
  DraftConflictError,
  duplicateJourney,
  exportJourney,
  getJourney,
  importJourney,
  InvalidDocumentError,
  JourneyNotFoundError,
  listVersions,
  NothingToPublishError,
  publishJourney,
  renameJourney,
  restoreVersion,
  saveDraft,
  startEditing,
} from "../../lib/journeys.server";
import { MAX_TEST_RUN_USERS, testRunUsers } from "../../lib/test-run-users.server";
import { requireAction, router } from "../init.server";

const journeyId = z.object({ id: z.string().uuid() });

/** Store errors become tRPC errors the editor can tell apart (CONFLICT drives the conflict banner). */
async function mapErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DraftConflictError) throw new TRPCError({ code: "CONFLICT", message: error.message, cause: error });
    if (error instanceof JourneyNotFoundError) throw new TRPCError({ code: "NOT_FOUND", message: error.message, cause: error });
    if (error instanceof NothingToPublishError) throw new TRPCError({ code: "PRECONDITION_FAILED", message: error.message, cause: error });
    if (error instanceof JourneyStateError) throw new TRPCError({ code: "CONFLICT", message: error.message, cause: error });
    if (error instanceof InvalidDocumentError) {
      throw new TRPCError({ code: "BAD_REQUEST", message: error.message, cause: { issues: error.errors.map((e) => ({ path: e.path.split("."), message: e.message })) } });
    }
    throw error;
  }
}

export const journeysRouter = router({
  list: requireAction("journeys.read")
    .input(z.object({ search: z.string().max(200).optional(), status: z.enum(journeyStatuses).optional() }).default({}))
    .query(({ ctx, input }) => listJourneys(ctx.services.db, ctx.session.workspaceId, input)),

  get: requireAction("journeys.read")
    .input(journeyId)
    .query(({ ctx, input }) => mapErrors(async () => toEditorJourney(await getJourney(ctx.services.db, ctx.session.workspaceId, input.id)))),

  create: requireAction("journeys.edit")
    .input(z.object({ name: z.string().trim().min(1).max(200), document: z.unknown().optional() }))
    .mutation(({ ctx, input }) => mapErrors(() => createJourney(ctx.services.db, ctx.session, input))),

  duplicate: requireAction("journeys.edit")
    .input(journeyId.extend({ name: z.string().trim().min(1).max(200).optional() }))
    .mutation(({ ctx, input }) => mapErrors(() => duplicateJourney(ctx.services.db, ctx.session, input.id, input.name))),

  rename: requireAction("journeys.edit")
    .input(journeyId.extend({ name: z.string().trim().min(1).max(200) }))
    .mutation(({ ctx, input }) => mapErrors(() => renameJourney(ctx.services.db, ctx.session, input.id, input.name))),

  /** Stop new entries; `inside` says whether users already inside keep running or are held. */
  pause: requireAction("journeys.pause")
    .input(journeyId.extend({ inside: z.enum(pauseChoices).optional() }))
    .mutation(({ ctx, input }) => mapErrors(() => changeJourneyStatus(ctx.services, ctx.session, input.id, "pause", { inside: input.inside }))),

  resume: requireAction("journeys.resume")
    .input(journeyId)
    .mutation(({ ctx, input }) => mapErrors(() => changeJourneyStatus(ctx.services, ctx.session, input.id, "resume"))),

  archive: requireAction("journeys.archive")
    .input(journeyId)
    .mutation(({ ctx, input }) => mapErrors(() => changeJourneyStatus(ctx.services, ctx.session, input.id, "archive"))),

  unarchive: requireAction("journeys.unarchive")
    .input(journeyId)
    .mutation(({ ctx, input }) => mapErrors(() => changeJourneyStatus(ctx.services, ctx.session, input.id, "unarchive"))),

  saveDraft: requireAction("journeys.edit")
    .input(journeyId.extend({ baseRevision: z.number().int().positive(), document: z.unknown() }))
    .mutation(({ ctx, input }) =>
      mapErrors(async () => {
        const saved = await saveDraft(ctx.services.db, ctx.session, { journeyId: input.id, baseRevision: input.baseRevision, document: input.document });
        return { revision: saved.revision, updatedAt: saved.updatedAt.toISOString() };
      }),
    ),

  startEditing: requireAction("journeys.edit")
    .input(journeyId)
    .mutation(({ ctx, input }) => mapErrors(() => startEditing(ctx.services.db, ctx.session, input.id))),

  publish: requireAction("journeys.publish")
    .input(journeyId.extend({ baseRevision: z.number().int().positive() }))
    .mutation(({ ctx, input }) =>
      mapErrors(async () => {
        const result = await publishJourney(ctx.services.db, ctx.session, { journeyId: input.id, baseRevision: input.baseRevision });
        // Segment entries reach a newly published segment-triggered journey at once, not after the interest cache expires.
        if (result.ok) invalidateSegmentInterest(ctx.services, ctx.session.workspaceId);
        // The compiled program stays on the server: the editor needs the outcome, not the bytecode.
        return result.ok ? { ok: true as const, version: result.version, warnings: result.warnings } : { ok: false as const, errors: result.errors };
      }),
    ),

  versions: requireAction("journeys.read")
    .input(journeyId)
    .query(({ ctx, input }) => mapErrors(() => listVersions(ctx.services.db, ctx.session.workspaceId, input.id))),

  restore: requireAction("journeys.edit")
    .input(journeyId.extend({ version: z.number().int().positive() }))
    .mutation(({ ctx, input }) => mapErrors(() => restoreVersion(ctx.services.db, ctx.session, input.id, input.version))),

  export: requireAction("journeys.read")
    .input(journeyId.extend({ version: z.number().int().positive().optional() }))
    .query(({ ctx, input }) => mapErrors(() => exportJourney(ctx.services.db, ctx.session.workspaceId, input.id, input.version))),

  import: requireAction("journeys.edit")
    .input(z.object({ document: z.unknown(), name: z.string().trim().min(1).max(200).optional() }))
    .mutation(({ ctx, input }) => mapErrors(() => importJourney(ctx.services.db, ctx.session, input.document, input.name))),

  /** Node analytics of a published journey: all versions unless one is named, optionally since a time. */
  stats: requireAction("journeys.read")
    .input(
      journeyId.extend({
        versionId: z.string().uuid().optional(),
        sinceDays: z.number().int().positive().max(3650).optional(),
        /** A custom entry period (ISO instants); wins over sinceDays. */
        from: z.string().datetime({ offset: true }).optional(),
        to: z.string().datetime({ offset: true }).optional(),
      }),
    )
    .query(({ ctx, input }) =>
      journeyStats(ctx.services.db, ctx.session.workspaceId, input.id, {
        ...(input.versionId ? { versionId: input.versionId } : {}),
        ...(input.from ? { from: Date.parse(input.from) } : input.sinceDays ? { from: ctx.services.now().getTime() - input.sinceDays * 86_400_000 } : {}),
        ...(input.to ? { to: Date.parse(input.to) } : {}),
      }),
    ),

  /**
   * Real users for a many-user test run, by id or a sample of a segment, with their consent,
   * suppressions and reachable channels so the run applies the sending policies as the engine does.
   */
  testRunUsers: requireAction("users.read")
    .input(
      z.union([
        z.object({ ids: z.array(z.string().min(1).max(255).refine((s) => !s.includes("\u0000"), "contains a NUL character")).min(1).max(MAX_TEST_RUN_USERS) }),
        z.object({ segment: z.string().min(1).max(200), limit: z.number().int().min(1).max(MAX_TEST_RUN_USERS).default(50) }),
      ]),
    )
    .query(({ ctx, input }) => testRunUsers(ctx.services.db, ctx.session.workspaceId, input)),

  /** Real users to run the test-run simulator with (profile only: nothing is sent). */
  sampleUsers: requireAction("users.read")
    .input(z.object({ search: z.string().max(100).optional() }).default({}))
    .query(async ({ ctx, input }) => {
      const search = input.search?.trim();
      const pattern = search ? `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined;
      const rows = await ctx.services.db
        .select({ id: users.id, traits: users.traits, timezone: users.timezone, email: users.email, phone: users.phone, tags: users.tags })
        .from(users)
        .where(
          and(
            eq(users.workspaceId, ctx.session.workspaceId),
            pattern ? or(ilike(users.id, pattern), ilike(sql`${users.traits}->>'name'`, pattern), ilike(users.email, pattern)) : undefined,
          ),
        )
        .orderBy(asc(users.id))
        .limit(30);
      // Templates read contact fields and tags as traits, as the runtime's profile does.
      return rows.map((r) => ({
        id: r.id,
        timezone: r.timezone,
        traits: { ...r.traits, ...(r.email ? { email: r.email } : {}), ...(r.phone ? { phone: r.phone } : {}), tags: r.tags },
      }));
    }),
});
