import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { engineHealth, getInstance, instanceFilterOptions, instanceViews, listInstances } from "../../lib/instances.server";
import { invalidateSegmentInterest } from "../../segments/membership.server";
import { JourneyNotFoundError, NothingToPublishError, setJourneyStatus } from "../../lib/journeys.server";
import {
  cancelInstance,
  InstanceOperationError,
  retryFailedStep,
  skipWait,
  type OperationCode,
} from "../../../workflows/embedded/operations.server";
import type { AppServices } from "../../services.server";
import { authedProcedure, requireRole, router } from "../init.server";

/** Instance actions and pausing journeys from the Instances page change running work: admins only (decision 0602). */
const adminProcedure = requireRole("admin");

const CODE: Record<OperationCode, TRPCError["code"]> = {
  not_found: "NOT_FOUND",
  temporal_unsupported: "NOT_IMPLEMENTED",
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
    if (error instanceof NothingToPublishError) throw new TRPCError({ code: "PRECONDITION_FAILED", message: "not_published", cause: error });
    throw error;
  }
}

function operationServices(services: AppServices) {
  return { db: services.db, now: services.now, database: { kind: services.database.kind } };
}

const instanceInput = z.object({ id: z.string().uuid() });

export const operationsRouter = router({
  list: authedProcedure
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

  filters: authedProcedure.query(({ ctx }) => instanceFilterOptions(ctx.services.db, ctx.session.workspaceId)),

  get: authedProcedure.input(instanceInput).query(async ({ ctx, input }) => {
    const found = await getInstance(ctx.services.db, ctx.session.workspaceId, input.id);
    if (!found) throw new TRPCError({ code: "NOT_FOUND", message: "not_found" });
    return found;
  }),

  health: authedProcedure.query(({ ctx }) => engineHealth(ctx.services.db, ctx.services.now().getTime())),

  cancel: adminProcedure
    .input(instanceInput)
    .mutation(({ ctx, input }) => mapErrors(() => cancelInstance(operationServices(ctx.services), ctx.session, input.id))),

  skipWait: adminProcedure
    .input(instanceInput)
    .mutation(({ ctx, input }) => mapErrors(() => skipWait(operationServices(ctx.services), ctx.session, input.id))),

  retry: adminProcedure
    .input(instanceInput)
    .mutation(({ ctx, input }) => mapErrors(() => retryFailedStep(operationServices(ctx.services), ctx.session, input.id))),

  setJourneyStatus: adminProcedure
    .input(z.object({ journeyId: z.string().uuid(), status: z.enum(["live", "paused"]) }))
    .mutation(({ ctx, input }) =>
      mapErrors(async () => {
        const result = await setJourneyStatus(ctx.services.db, ctx.session, input.journeyId, input.status);
        invalidateSegmentInterest(ctx.services, ctx.session.workspaceId);
        return result;
      }),
    ),
});
