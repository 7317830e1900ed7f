import { TRPCError } from "@trpc/server";
import { and, desc, eq, isNull } from "drizzle-orm";
import { z } from "zod";
import { apiKeyKinds, apiKeyScopes, apiKeys, auditLog, operators, roles, workspaceMembers, workspaces } from "../../../db/schema";
import { AccountError, createOperator, recordAudit } from "../../lib/accounts.server";
import { createScopedApiKey, ScopeTooWideError } from "../../ingest/keys.server";
import { requireAction, router } from "../init.server";

export const settingsRouter = router({
  /** Who is signed in, and where. */
  me: requireAction("account.self").query(async ({ ctx }) => {
    const [workspace] = await ctx.services.db
      .select({ id: workspaces.id, name: workspaces.name, timezone: workspaces.timezone })
      .from(workspaces)
      .where(eq(workspaces.id, ctx.session.workspaceId));
    return { ...ctx.session, workspace };
  }),

  apiKeys: requireAction("apiKeys.manage").query(({ ctx }) =>
    ctx.services.db
      .select({
        id: apiKeys.id,
        kind: apiKeys.kind,
        name: apiKeys.name,
        prefix: apiKeys.prefix,
        scope: apiKeys.scope,
        createdAt: apiKeys.createdAt,
        lastUsedAt: apiKeys.lastUsedAt,
        revokedAt: apiKeys.revokedAt,
      })
      .from(apiKeys)
      .where(eq(apiKeys.workspaceId, ctx.session.workspaceId))
      .orderBy(desc(apiKeys.createdAt)),
  ),

  /**
   * The full key is in this response only; afterwards just its prefix is shown. A secret key's
   * scope (default read) may be no wider than the creator's role: wider is refused with 403.
   */
  createApiKey: requireAction("apiKeys.manage")
    .input(z.object({ kind: z.enum(apiKeyKinds), name: z.string().trim().min(1, "Give the key a name").max(80), scope: z.enum(apiKeyScopes).default("read") }))
    .mutation(async ({ ctx, input }) => {
      const created = await createScopedApiKey(ctx.services.db, { workspaceId: ctx.session.workspaceId, createdBy: ctx.session.operatorId, role: ctx.session.role, ...input }).catch((error: unknown) => {
        if (error instanceof ScopeTooWideError) throw new TRPCError({ code: "FORBIDDEN", message: error.message, cause: error });
        throw error;
      });
      await recordAudit(ctx.services.db, {
        workspaceId: ctx.session.workspaceId,
        operatorId: ctx.session.operatorId,
        action: "api_key.created",
        target: created.prefix,
        details: { kind: input.kind, name: input.name, ...(input.kind === "secret" ? { scope: input.scope } : {}) },
      });
      return created;
    }),

  revokeApiKey: requireAction("apiKeys.manage")
    .input(z.object({ id: z.string().uuid() }))
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.services.db
        .update(apiKeys)
        .set({ revokedAt: ctx.services.now() })
        .where(and(eq(apiKeys.id, input.id), eq(apiKeys.workspaceId, ctx.session.workspaceId), isNull(apiKeys.revokedAt)))
        .returning({ prefix: apiKeys.prefix });
      if (!row) throw new TRPCError({ code: "NOT_FOUND", message: "No active API key with that id in this workspace." });
      await recordAudit(ctx.services.db, {
        workspaceId: ctx.session.workspaceId,
        operatorId: ctx.session.operatorId,
        action: "api_key.revoked",
        target: row.prefix,
      });
      return { ok: true };
    }),

  operators: requireAction("operators.manage").query(({ ctx }) =>
    ctx.services.db
      .select({ id: operators.id, email: operators.email, name: operators.name, role: workspaceMembers.role, createdAt: operators.createdAt })
      .from(workspaceMembers)
      .innerJoin(operators, eq(operators.id, workspaceMembers.operatorId))
      .where(eq(workspaceMembers.workspaceId, ctx.session.workspaceId))
      .orderBy(operators.createdAt),
  ),

  createOperator: requireAction("operators.manage")
    .input(
      z.object({
        email: z.string().trim().email("Enter a valid email address"),
        name: z.string().trim().min(1).max(80).optional(),
        role: z.enum(roles),
        password: z.string().min(8, "Passwords need at least 8 characters").optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      try {
        // Someone else chose or saw this password: the new operator replaces it at the first sign-in (decision 0724).
        const created = await createOperator(ctx.services.db, { workspaceId: ctx.session.workspaceId, ...input, mustChangePassword: true, actorId: ctx.session.operatorId });
        return { id: created.id, email: created.email, password: input.password ? undefined : created.password };
      } catch (error) {
        if (error instanceof AccountError) throw new TRPCError({ code: error.code === "email_taken" ? "CONFLICT" : "BAD_REQUEST", message: error.message });
        throw error;
      }
    }),

  auditLog: requireAction("auditLog.read").query(({ ctx }) =>
    ctx.services.db
      .select({ id: auditLog.id, action: auditLog.action, target: auditLog.target, details: auditLog.details, at: auditLog.at, operator: operators.email })
      .from(auditLog)
      .leftJoin(operators, eq(operators.id, auditLog.operatorId))
      .where(eq(auditLog.workspaceId, ctx.session.workspaceId))
      .orderBy(desc(auditLog.at))
      .limit(200),
  ),
});
