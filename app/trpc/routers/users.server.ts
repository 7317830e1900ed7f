import { TRPCError } from "@trpc/server";
import { desc, eq } from "drizzle-orm";
import { z } from "zod";
import { userImports } from "../../../db/schema";
import { getImport, importUsersCsv, startImport } from "../../users/csv-import.server";
import { countUsers, eraseUser, getProfile, searchUsers, userEvents, userJourneys, userMessages } from "../../users/profiles.server";
import { requireAction, router } from "../init.server";

const userId = z.string().min(1).max(255);
/** Uploads arrive as text in the request; 50 MB is about a million rows of a typical export. */
const MAX_UPLOAD = 50 * 1024 * 1024;

export const usersRouter = router({
  list: requireAction("users.read")
    .input(z.object({ search: z.string().max(320).optional(), after: z.string().optional(), limit: z.number().int().min(1).max(200).optional() }))
    .query(async ({ ctx, input }) => {
      const items = await searchUsers(ctx.services.db, ctx.session.workspaceId, input);
      return { items, total: input.search || input.after ? null : await countUsers(ctx.services.db, ctx.session.workspaceId) };
    }),

  get: requireAction("users.read").input(z.object({ userId })).query(async ({ ctx, input }) => {
    const profile = await getProfile(ctx.services.db, ctx.session.workspaceId, input.userId);
    if (!profile) throw new TRPCError({ code: "NOT_FOUND", message: `No user "${input.userId}" in this workspace.` });
    return profile;
  }),

  events: requireAction("users.read")
    .input(
      z.object({
        userId,
        name: z.string().max(255).optional(),
        before: z.object({ timestamp: z.string(), id: z.number().int() }).optional(),
        limit: z.number().int().min(1).max(200).optional(),
      }),
    )
    .query(({ ctx, input }) => userEvents(ctx.services.db, ctx.session.workspaceId, input.userId, input)),

  messages: requireAction("users.read").input(z.object({ userId })).query(({ ctx, input }) => userMessages(ctx.services.db, ctx.session.workspaceId, input.userId)),

  journeys: requireAction("users.read").input(z.object({ userId })).query(({ ctx, input }) => userJourneys(ctx.services.db, ctx.session.workspaceId, input.userId)),

  /** Erasure is irreversible: admins only. */
  erase: requireAction("users.erase")
    .input(z.object({ userId }))
    .mutation(async ({ ctx, input }) => {
      const result = await eraseUser(ctx.services, ctx.session.workspaceId, input.userId, { operatorId: ctx.session.operatorId, via: "ui" });
      if (!result.found) throw new TRPCError({ code: "NOT_FOUND", message: `No user "${input.userId}" in this workspace.` });
      return result;
    }),

  /**
   * Starts a CSV import and returns at once; the import runs in the background and the page
   * polls `importStatus` for progress and bad rows.
   */
  importCsv: requireAction("users.import")
    .input(
      z.object({
        filename: z.string().min(1).max(200),
        content: z.string().max(MAX_UPLOAD, "The file is larger than 50 MB; import it with `waypost import-users`."),
        tagsMode: z.enum(["add", "replace"]).default("add"),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const importId = await startImport(ctx.services, ctx.session.workspaceId, input.filename, ctx.session.operatorId);
      void importUsersCsv(ctx.services, ctx.session.workspaceId, input.content, {
        filename: input.filename,
        importId,
        tagsMode: input.tagsMode,
        operatorId: ctx.session.operatorId,
      }).catch((error) => ctx.services.log.error("user import crashed", { importId, error: error instanceof Error ? error.message : String(error) }));
      return { importId };
    }),

  importStatus: requireAction("users.import").input(z.object({ importId: z.string().uuid() })).query(async ({ ctx, input }) => {
    const found = await getImport(ctx.services, ctx.session.workspaceId, input.importId);
    if (!found) throw new TRPCError({ code: "NOT_FOUND", message: "No such import." });
    return found;
  }),

  imports: requireAction("users.import").query(({ ctx }) =>
    ctx.services.db
      .select({
        id: userImports.id,
        filename: userImports.filename,
        status: userImports.status,
        importedRows: userImports.importedRows,
        failedRows: userImports.failedRows,
        createdAt: userImports.createdAt,
      })
      .from(userImports)
      .where(eq(userImports.workspaceId, ctx.session.workspaceId))
      .orderBy(desc(userImports.createdAt))
      .limit(10),
  ),
});
