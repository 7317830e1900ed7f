import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { roles } from "../../../db/schema";
import {
  AccountError,
  accountOf,
  changeOwnPassword,
  changeRole,
  createOperator,
  endSessionsOf,
  listTeam,
  MIN_PASSWORD_LENGTH,
  resetPassword,
  setActive,
  signOutEverywhere,
} from "../../lib/accounts.server";
import { MAX_PASSWORD_LENGTH, passwordsOf } from "../../lib/auth.server";
import type { AppServices } from "../../services.server";
import { requireAction, router } from "../init.server";

const newPassword = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `Passwords need at least ${MIN_PASSWORD_LENGTH} characters.`)
  .max(MAX_PASSWORD_LENGTH, `Passwords can have at most ${MAX_PASSWORD_LENGTH} characters.`);
const operatorId = z.string().uuid("Not an operator id.");

function accountServices(services: AppServices) {
  return { db: services.db, now: services.now, hasher: passwordsOf(services) };
}

/** AccountError → the tRPC answer: a field issue (400) where a field is at fault, 429/503 with the wait in the message. */
function mapAccountError(error: unknown): never {
  if (!(error instanceof AccountError)) throw error;
  switch (error.code) {
    case "not_found":
      throw new TRPCError({ code: "NOT_FOUND", message: error.message });
    case "email_taken":
      throw new TRPCError({ code: "CONFLICT", message: error.message, cause: fieldIssue(error) });
    // The cause carries retryAfterSeconds: the tRPC route turns it into a Retry-After header.
    case "locked":
      throw new TRPCError({ code: "TOO_MANY_REQUESTS", message: error.message, cause: error });
    case "busy":
      throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: error.message, cause: error });
    case "last_admin":
    case "self":
      throw new TRPCError({ code: "PRECONDITION_FAILED", message: error.message });
    default:
      throw new TRPCError({ code: "BAD_REQUEST", message: error.message, cause: fieldIssue(error) });
  }
}

function fieldIssue(error: AccountError): z.ZodError {
  return new z.ZodError([{ code: "custom", path: error.field ? [error.field] : [], message: error.message }]);
}

async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    mapAccountError(error);
  }
}

const self = () => requireAction("account.self");
const adminProcedure = () => requireAction("operators.manage");

export const accountsRouter = router({
  /** My account: who I am, whether my password must change, how many devices are signed in. */
  me: self().query(({ ctx }) => mapped(() => accountOf(ctx.services.db, ctx.session, ctx.services.now()))),

  /** Every other session ends; this one stays (decision 0723). */
  changePassword: self()
    .input(z.object({ currentPassword: z.string().min(1, "Enter your current password.").max(1_000), newPassword }))
    .mutation(({ ctx, input }) =>
      mapped(() => changeOwnPassword(accountServices(ctx.services), ctx.session, { ...input, keepSessionId: ctx.session.sessionId })),
    ),

  signOutEverywhere: self().mutation(({ ctx }) => mapped(() => signOutEverywhere(ctx.services.db, ctx.session))),

  team: adminProcedure().query(({ ctx }) => listTeam(ctx.services.db, ctx.session.workspaceId)),

  /** Creates the operator with a one-time password, returned here once. */
  invite: adminProcedure()
    .input(
      z.object({
        email: z.string().trim().max(254, "Email addresses have at most 254 characters.").email("Enter a valid email address."),
        name: z.string().trim().max(80, "Names have at most 80 characters.").optional(),
        role: z.enum(roles),
      }),
    )
    .mutation(({ ctx, input }) =>
      mapped(async () => {
        const created = await createOperator(ctx.services.db, {
          workspaceId: ctx.session.workspaceId,
          email: input.email,
          name: input.name,
          role: input.role,
          mustChangePassword: true,
          actorId: ctx.session.operatorId,
          hasher: passwordsOf(ctx.services),
        });
        return { id: created.id, email: created.email, oneTimePassword: created.password };
      }),
    ),

  changeRole: adminProcedure()
    .input(z.object({ operatorId, role: z.enum(roles) }))
    .mutation(({ ctx, input }) => mapped(() => changeRole(ctx.services.db, ctx.session, input.operatorId, input.role))),

  deactivate: adminProcedure()
    .input(z.object({ operatorId }))
    .mutation(({ ctx, input }) => mapped(() => setActive(ctx.services.db, ctx.session, input.operatorId, false, ctx.services.now()))),

  reactivate: adminProcedure()
    .input(z.object({ operatorId }))
    .mutation(({ ctx, input }) => mapped(() => setActive(ctx.services.db, ctx.session, input.operatorId, true, ctx.services.now()))),

  /** A new one-time password, returned here once; the operator's sessions end. */
  resetPassword: adminProcedure()
    .input(z.object({ operatorId }))
    .mutation(({ ctx, input }) =>
      mapped(async () => {
        const reset = await resetPassword(accountServices(ctx.services), ctx.session, input.operatorId);
        return { email: reset.email, oneTimePassword: reset.password, endedSessions: reset.endedSessions };
      }),
    ),

  endSessions: adminProcedure()
    .input(z.object({ operatorId }))
    .mutation(({ ctx, input }) => mapped(() => endSessionsOf(ctx.services.db, ctx.session, input.operatorId))),
});
