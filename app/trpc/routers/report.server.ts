import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { JourneyNotFoundError } from "../../lib/journeys.server";
import { journeyReport, parseReportRange, ReportInputError } from "../../lib/report.server";
import { requireAction, router } from "../init.server";

/** The journey report (app/lib/report.server.ts): read-only, for everyone who may see journeys. */
export const reportRouter = router({
  journey: requireAction("journeys.read")
    .input(
      z.object({
        id: z.string().uuid(),
        from: z.string().max(40).optional(),
        to: z.string().max(40).optional(),
        versionId: z.string().uuid().optional(),
        event: z.string().max(200).optional(),
      }),
    )
    .query(async ({ ctx, input }) => {
      try {
        const range = parseReportRange({ from: input.from, to: input.to, version: input.versionId, event: input.event });
        return await journeyReport(ctx.services.db, ctx.session.workspaceId, input.id, range);
      } catch (error) {
        if (error instanceof ReportInputError) throw new TRPCError({ code: "BAD_REQUEST", message: error.message, cause: { issues: [{ path: [error.field], message: error.message }] } });
        if (error instanceof JourneyNotFoundError) throw new TRPCError({ code: "NOT_FOUND", message: error.message, cause: error });
        throw error;
      }
    }),
});
