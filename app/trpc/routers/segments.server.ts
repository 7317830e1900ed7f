import { TRPCError } from "@trpc/server";
import { sql } from "drizzle-orm";
import { z } from "zod";
import { query } from "../../../db/client";
import { describeRule, segmentDefinitionSchema } from "../../segments/rules";
import {
  archiveSegment,
  createSegment,
  distinctEventNames,
  ensurePresetSegments,
  getSegment,
  listMembers,
  listSegments,
  previewCount,
  SegmentError,
  updateSegment,
  type SegmentSummary,
} from "../../segments/store.server";
import { requireAction, router } from "../init.server";

function toTrpc(error: unknown): never {
  if (error instanceof SegmentError) {
    throw new TRPCError({
      code: error.code === "not_found" ? "NOT_FOUND" : error.code === "key_taken" ? "CONFLICT" : "BAD_REQUEST",
      message: error.issues?.length ? `${error.message} ${error.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}` : error.message,
      cause: error,
    });
  }
  throw error;
}

async function guard<T>(task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (error) {
    toTrpc(error);
  }
}

function summary(s: SegmentSummary) {
  const parsed = segmentDefinitionSchema.safeParse(s.definition);
  return {
    ...s,
    rules: { en: parsed.success ? describeRule(parsed.data, "en") : "", zh: parsed.success ? describeRule(parsed.data, "zh") : "" },
  };
}

const definition = z.unknown();
const id = z.string().min(1).max(100);

export const segmentsRouter = router({
  list: requireAction("segments.read").query(async ({ ctx }) => (await listSegments(ctx.services.db, ctx.session.workspaceId)).map(summary)),

  get: requireAction("segments.read").input(z.object({ id })).query(({ ctx, input }) => guard(async () => summary(await getSegment(ctx.services.db, ctx.session.workspaceId, input.id)))),

  /** The builder's live audience count for unsaved rules. */
  preview: requireAction("segments.read")
    .input(z.object({ definition }))
    .query(({ ctx, input }) => guard(async () => ({ count: await previewCount(ctx.services, ctx.session.workspaceId, input.definition) }))),

  create: requireAction("segments.edit")
    .input(z.object({ name: z.string(), key: z.string().optional(), description: z.string().optional(), definition }))
    .mutation(({ ctx, input }) =>
      guard(async () =>
        summary(
          await createSegment(
            ctx.services,
            ctx.session.workspaceId,
            { ...input, definition: input.definition as never },
            { operatorId: ctx.session.operatorId },
          ),
        ),
      ),
    ),

  update: requireAction("segments.edit")
    .input(z.object({ id, name: z.string().optional(), description: z.string().optional(), definition: definition.optional() }))
    .mutation(({ ctx, input }) =>
      guard(async () => {
        const { id: segmentId, ...patch } = input;
        return summary(await updateSegment(ctx.services, ctx.session.workspaceId, segmentId, patch, { operatorId: ctx.session.operatorId }));
      }),
    ),

  /** Editable thresholds of a preset (lifecycle days, RFM values): regenerates the rules. */
  updatePreset: requireAction("segments.edit")
    .input(z.object({ id, params: z.record(z.union([z.number(), z.string()])) }))
    .mutation(({ ctx, input }) =>
      guard(async () =>
        summary(await updateSegment(ctx.services, ctx.session.workspaceId, input.id, { presetParams: input.params }, { operatorId: ctx.session.operatorId })),
      ),
    ),

  archive: requireAction("segments.edit")
    .input(z.object({ id }))
    .mutation(({ ctx, input }) => guard(async () => archiveSegment(ctx.services, ctx.session.workspaceId, input.id, { operatorId: ctx.session.operatorId }))),

  members: requireAction("segments.read")
    .input(z.object({ id, limit: z.number().int().min(1).max(200).optional(), after: z.object({ enteredAt: z.string(), userId: z.string() }).optional() }))
    .query(({ ctx, input }) =>
      guard(async () => {
        const segment = await getSegment(ctx.services.db, ctx.session.workspaceId, input.id);
        return listMembers(ctx.services.db, ctx.session.workspaceId, segment.id, { limit: input.limit, after: input.after });
      }),
    ),

  /** Creates the lifecycle stages or RFM tiers that are missing, named in the operator's language. */
  createPresets: requireAction("segments.edit")
    .input(z.object({ family: z.enum(["lifecycle", "rfm"]), locale: z.enum(["en", "zh"]).default("zh") }))
    .mutation(({ ctx, input }) =>
      guard(async () =>
        (await ensurePresetSegments(ctx.services, ctx.session.workspaceId, input.family, { locale: input.locale }, { operatorId: ctx.session.operatorId })).map(
          (s) => s.id,
        ),
      ),
    ),

  /** Event names and trait keys seen in this workspace, for the builder's suggestions. */
  vocabulary: requireAction("segments.read").query(async ({ ctx }) => {
    const ws = ctx.session.workspaceId;
    const traits = await query<{ key: string }>(
      ctx.services.db,
      sql`select distinct jsonb_object_keys(traits) as key from (select traits from users where workspace_id = ${ws}::uuid order by updated_at desc limit 500) sample`,
    );
    const tags = await query<{ tag: string }>(
      ctx.services.db,
      sql`select distinct unnest(tags) as tag from (select tags from users where workspace_id = ${ws}::uuid and tags <> '{}' limit 2000) sample`,
    );
    return {
      events: (await distinctEventNames(ctx.services.db, ws)).filter((n) => !n.startsWith("$") || n === "$page" || n === "$screen"),
      traits: traits.map((t) => t.key).sort(),
      tags: tags.map((t) => t.tag).sort(),
    };
  }),
});
