import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import type { Role } from "../../db/schema";
import type { SessionInfo } from "../lib/auth.server";
import type { AppServices } from "../services.server";

export interface TrpcContext {
  services: AppServices;
  session: SessionInfo | null;
}

const t = initTRPC.context<TrpcContext>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    // Zod failures reach the client as a list of { path, message } so forms can mark the field.
    const cause = error.cause as { issues?: { path: (string | number)[]; message: string }[] } | undefined;
    return {
      ...shape,
      data: {
        ...shape.data,
        issues: error.code === "BAD_REQUEST" && cause?.issues ? cause.issues.map((i) => ({ path: i.path.join("."), message: i.message })) : undefined,
      },
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Only the login flow uses this. */
export const publicProcedure = t.procedure;

/** Every other procedure: a live session is required. */
export const authedProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.session) {
    throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in to continue: your session is missing or has expired." });
  }
  return next({ ctx: { ...ctx, session: ctx.session } });
});

/** The one place roles are checked. Admins may do everything. */
export function requireRole(...allowed: Role[]) {
  return authedProcedure.use(({ ctx, next }) => {
    if (ctx.session.role !== "admin" && !allowed.includes(ctx.session.role)) {
      throw new TRPCError({
        code: "FORBIDDEN",
        message: `This needs the ${[...new Set(["admin", ...allowed])].join(" or ")} role; you are signed in as ${ctx.session.role}.`,
      });
    }
    return next();
  });
}
