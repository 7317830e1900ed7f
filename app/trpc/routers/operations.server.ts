import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { recordAudit } from "../../lib/accounts.server";
import {
  cancellableInstances,
  engineHealth,
  getInstance,
  instanceEngine,
  instanceFilterOptions,
  instanceViews,
  listInstances,
  type InstanceSelection,
} from "../../lib/instances.server";
import { JourneyNotFoundError } from "../../lib/journeys.server";
import {
  cancelInstance,
  cancelInstances,
  InstanceOperationError,
  retryFailedStep,
  skipWait,
  type OperationActor,
  type OperationCode,
  type OperationResult,
} from "../../../workflows/embedded/operations.server";
import type { TemporalEngine } from "../../../workflows/temporal/engine";
import { MoveNotPossibleError, MovePlanError, moveUsers, occupiedNodes } from "../../../workflows/embedded/move.server";
import type { AppServices } from "../../services.server";
import { requireAction, router } from "../init.server";

/** Instance actions change running work: admins only (decision 0602; app/lib/permissions.ts). */
const adminProcedure = requireAction("instances.operate");

const CODE: Record<OperationCode, TRPCError["code"]> = {
  not_found: "NOT_FOUND",
  already_finished: "PRECONDITION_FAILED",
  not_waiting: "PRECONDITION_FAILED",
  not_failed: "PRECONDITION_FAILED",
  busy: "CONFLICT",
};

/** The client shows `ops:errors.<code>` when the message is one of the operation codes. */
async function mapErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof InstanceOperationError) throw new TRPCError({ code: CODE[error.code], message: error.code, cause: error });
    if (error instanceof JourneyNotFoundError) throw new TRPCError({ code: "NOT_FOUND", message: "not_found", cause: error });
    throw error;
  }
}

function operationServices(services: AppServices) {
  return { db: services.db, now: services.now, database: { kind: services.database.kind } };
}

/** Temporal-driven instances are changed by their workflows, through the Temporal engine. */
function temporal(services: AppServices): TemporalEngine {
  if (services.engine?.kind === "temporal") return services.engine as TemporalEngine;
  throw new Error("This instance runs on the Temporal engine, and this server runs without it (WAYPOST_ENGINE=temporal).");
}

type InstanceAction = "cancelInstance" | "skipWait" | "retryFailedStep";

const EMBEDDED: Record<InstanceAction, (services: ReturnType<typeof operationServices>, actor: OperationActor, id: string) => Promise<OperationResult>> = {
  cancelInstance,
  skipWait,
  retryFailedStep,
};

/** Runs an instance action on the engine that drives the instance (`state.driver`). */
async function dispatch(services: AppServices, actor: OperationActor, id: string, action: InstanceAction): Promise<OperationResult> {
  const engine = await instanceEngine(services.db, actor.workspaceId, id);
  if (!engine) throw new InstanceOperationError("not_found", "No such instance in this workspace.");
  if (engine === "temporal") return temporal(services)[action](actor, id);
  return EMBEDDED[action](operationServices(services), actor, id);
}

const instanceInput = z.object({ id: z.string().uuid() });

/** A move plan: old node id → `{ to: nodeId }` of the new version or `{ exit: true }`. */
const moveInput = z.object({
  journeyId: z.string().uuid(),
  plan: z
    .record(
      z.string().min(1).max(200),
      z.union([z.object({ to: z.string().min(1).max(200) }).strict(), z.object({ exit: z.literal(true) }).strict()]),
    )
    .refine((p) => Object.keys(p).length <= 500, { message: "at most 500 nodes" }),
});

/** The Instances list's filters; a bulk action needs at least one, so it never means "everything". */
const selectionInput = z
  .object({
    journeyId: z.string().uuid().optional(),
    versionId: z.string().uuid().optional(),
    nodeId: z.string().max(200).optional(),
    status: z.enum(instanceViews).optional(),
    userId: z.string().max(500).optional(),
  })
  .refine((f) => Object.values(f).some((v) => v !== undefined), { message: "choose at least one filter" });

/**
 * Bulk cancel: every active instance the filter selects now, on both engines, with one audit
 * entry naming the filter and the count (decision 0516).
 */
async function cancelSelection(services: AppServices, actor: OperationActor, filter: InstanceSelection): Promise<{ cancelled: number }> {
  const { embedded, temporal: onTemporal } = await cancellableInstances(services.db, actor.workspaceId, filter);
  let cancelled = embedded.length > 0 ? await cancelInstances(operationServices(services), actor, embedded) : 0;
  if (onTemporal.length > 0) cancelled += await temporal(services).cancelInstances(actor, onTemporal);
  await recordAudit(services.db, { ...actor, action: "instances.cancelled", details: { filter, count: cancelled } });
  return { cancelled };
}

export const operationsRouter = router({
  list: requireAction("instances.read")
    .input(
      z.object({
        journeyId: z.string().uuid().optional(),
        versionId: z.string().uuid().optional(),
        nodeId: z.string().max(200).optional(),
        status: z.enum(instanceViews).optional(),
        userId: z.string().max(500).optional(),
        after: z.string().max(500).optional(),
        limit: z.number().int().min(1).max(200).optional(),
      }),
    )
    .query(({ ctx, input }) => listInstances(ctx.services.db, ctx.session.workspaceId, input)),

  filters: requireAction("instances.read").query(({ ctx }) => instanceFilterOptions(ctx.services.db, ctx.session.workspaceId)),

  get: requireAction("instances.read").input(instanceInput).query(async ({ ctx, input }) => {
    const found = await getInstance(ctx.services.db, ctx.session.workspaceId, input.id);
    if (!found) throw new TRPCError({ code: "NOT_FOUND", message: "not_found" });
    return found;
  }),

  health: requireAction("instances.read").query(({ ctx }) => engineHealth(ctx.services.db, ctx.services.now().getTime())),

  cancel: adminProcedure
    .input(instanceInput)
    .mutation(({ ctx, input }) => mapErrors(() => dispatch(ctx.services, ctx.session, input.id, "cancelInstance"))),

  /** How many instances a bulk cancel with this filter would end now (the confirmation states it). */
  cancelCount: adminProcedure.input(selectionInput).query(async ({ ctx, input }) => {
    const { embedded, temporal: onTemporal } = await cancellableInstances(ctx.services.db, ctx.session.workspaceId, input);
    return { count: embedded.length + onTemporal.length };
  }),

  cancelMany: adminProcedure
    .input(selectionInput)
    .mutation(({ ctx, input }) => mapErrors(() => cancelSelection(ctx.services, ctx.session, input))),

  skipWait: adminProcedure
    .input(instanceInput)
    .mutation(({ ctx, input }) => mapErrors(() => dispatch(ctx.services, ctx.session, input.id, "skipWait"))),

  retry: adminProcedure.input(instanceInput).mutation(async ({ ctx, input }) => {
    // A failure that will fail again (no consent, bad address, copy too long…) is refused with
    // 409 before any engine is asked; the page offers Retry only when it can succeed (decision 1150).
    const found = await getInstance(ctx.services.db, ctx.session.workspaceId, input.id);
    if (found?.failedStep && !found.failedStep.retryable) {
      throw new TRPCError({ code: "CONFLICT", message: "not_retryable", cause: new Error(`failure reason ${found.failedStep.reason ?? "—"} fails again on retry`) });
    }
    return mapErrors(() => dispatch(ctx.services, ctx.session, input.id, "retryFailedStep"));
  }),

  /** Nodes of older versions where users wait now: the move dialog maps each (docs/engines.md "Moving users to a new version"). */
  moveOccupancy: requireAction("instances.read")
    .input(z.object({ journeyId: z.string().uuid() }))
    .query(({ ctx, input }) => occupiedNodes(ctx.services.db, ctx.session.workspaceId, input.journeyId)),

  /**
   * Moves the users of older versions to the live version by the plan, on both engines. A
   * refused plan changes nothing and answers `{ ok: false, problems }`, each naming its node.
   */
  moveUsers: adminProcedure.input(moveInput).mutation(async ({ ctx, input }) => {
    try {
      const engine = ctx.services.engine?.kind === "temporal" ? (ctx.services.engine as TemporalEngine) : undefined;
      const summary = await moveUsers(operationServices(ctx.services), ctx.session, input.journeyId, input.plan, engine);
      return { ok: true as const, ...summary, onTemporal: summary.onTemporal.length };
    } catch (error) {
      if (error instanceof MovePlanError) return { ok: false as const, problems: error.problems };
      if (error instanceof MoveNotPossibleError) throw new TRPCError({ code: error.code === "not_found" ? "NOT_FOUND" : "PRECONDITION_FAILED", message: error.code, cause: error });
      throw error;
    }
  }),
});
