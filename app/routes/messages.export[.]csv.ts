import type { LoaderFunctionArgs } from "@remix-run/node";
import { ZodError } from "zod";
import { messagesCsv, searchMessageLog } from "../channels/messages.server";
import { pickLocale, translate } from "../i18n";
import { requireSession } from "../lib/session.server";

/** CSV of the Messages page's current search (same parameters), up to 5,000 messages. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const session = await requireSession(request, context);
  const url = new URL(request.url);
  const p = url.searchParams;
  try {
    const items = await searchMessageLog(context.services.db, session.workspaceId, {
      by: (p.get("by") ?? "user") as "user",
      q: p.get("q") ?? "",
      channel: (p.get("channel") || undefined) as "push" | undefined,
      state: (p.get("state") || undefined) as "sent" | undefined,
      limit: 500,
    });
    // Page through with the keyset so a big journey exports completely (bounded).
    while (items.length > 0 && items.length % 500 === 0 && items.length < 5_000) {
      const last = items[items.length - 1]!;
      const more = await searchMessageLog(context.services.db, session.workspaceId, {
        by: (p.get("by") ?? "user") as "user",
        q: p.get("q") ?? "",
        channel: (p.get("channel") || undefined) as "push" | undefined,
        state: (p.get("state") || undefined) as "sent" | undefined,
        before: { createdAt: new Date(last.createdAt), id: last.id },
        limit: 500,
      });
      if (!more.length) break;
      items.push(...more);
    }
    const locale = pickLocale(request.headers.get("cookie"), request.headers.get("accept-language"));
    const csv = messagesCsv(items, (reason) => translate(locale, `channels:reason.${reason}`));
    const name = `messages-${(p.get("by") ?? "user").replace(/[^a-z]/g, "")}-${new Date().toISOString().slice(0, 10)}.csv`;
    return new Response(csv, { headers: { "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": `attachment; filename="${name}"`, "Cache-Control": "no-store" } });
  } catch (error) {
    if (error instanceof ZodError) {
      return new Response(error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"), { status: 400, headers: { "Content-Type": "text/plain; charset=utf-8" } });
    }
    throw error;
  }
}
