import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { OPEN_BEFORE_PASSWORD_CHANGE, type SessionInfo } from "../lib/auth.server";
import type { AppServices } from "../services.server";
import { rolesFor, roleMay, type Action } from "../lib/permissions";
import { BAD_TEXT_MESSAGE, badTextPaths } from "../lib/zod-text";
import { formatTrpcError } from "./error-format.server";

export interface TrpcContext {
  services: AppServices;
  session: SessionInfo | null;
}

/** `action` names the permission a procedure needs (app/lib/permissions.ts); the role-matrix test reads it. */
export interface ProcedureMeta {
  action?: Action;
}

const t = initTRPC.context<TrpcContext>().meta<ProcedureMeta>().create({
  transformer: superjson,
  // Bad input answers 400 with { path, message } issues; other failures a generic 500 with a request id.
  errorFormatter: formatTrpcError,
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/**
 * Text PostgreSQL cannot store (the NUL character, lone UTF-16 surrogates) anywhere in an input is
 * refused before a procedure runs, naming where: nothing half-written (decisions 0760, 0763).
 */
const storableInput = t.middleware(async ({ getRawInput, next }) => {
  const [path] = badTextPaths(await getRawInput(), [], [], 1);
  if (path) {
    const where = path.join(".") || "input";
    throw new TRPCError({ code: "BAD_REQUEST", message: `${where} ${BAD_TEXT_MESSAGE}.`, cause: { issues: [{ path, message: BAD_TEXT_MESSAGE }] } });
  }
  return next();
});

/** Only the login flow uses this. */
export const publicProcedure = t.procedure.use(storableInput);

/** Every other procedure: a live session is required. */
export const authedProcedure = publicProcedure.use(({ ctx, next, path }) => {
  if (!ctx.session) {
    throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in to continue: your session is missing or has expired." });
  }
  // A printed or handed-over password opens only one's own account until it is replaced (decision 0724).
  if (ctx.session.mustChangePassword && !OPEN_BEFORE_PASSWORD_CHANGE.has(path)) {
    throw new TRPCError({ code: "FORBIDDEN", message: "Choose your own password first (Settings → My account): you signed in with a one-time password." });
  }
  return next({ ctx: { ...ctx, session: ctx.session } });
});

/**
 * The one place a signed-in operator's rights are checked: the procedure names its action, the
 * permission table says which roles may do it. Checked before the input is parsed, so a refused
 * caller learns nothing about the input.
 */
export function requireAction(action: Action) {
  return authedProcedure.meta({ action }).use(({ ctx, next }) => {
    if (!roleMay(ctx.session.role, action)) {
      throw new TRPCError({
        code: "FORBIDDEN",
        message: `This needs the ${rolesFor(action).join(" or ")} role; you are signed in as ${ctx.session.role}. (${action})`,
      });
    }
    return next();
  });
}
