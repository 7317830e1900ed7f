import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { unsubscribe } from "../channels/http.server";

/**
 * The List-Unsubscribe URL. POST is RFC 8058 one-click (mail clients send
 * "List-Unsubscribe=One-Click" and want a status, not a page); GET — a person clicking the link —
 * goes to the confirmation page, which changes nothing until its button is pressed.
 */
export async function action({ context, params }: ActionFunctionArgs) {
  const result = await unsubscribe(context.services, params.token ?? "");
  const text = result.status === 200 ? "Unsubscribed" : result.status === 404 ? "Unknown message" : "Bad unsubscribe link";
  return new Response(text, { status: result.status, headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" } });
}

// Re-encoded: the decoded token may hold characters a Location header cannot carry.
export const loader = ({ params }: LoaderFunctionArgs) => redirect(`/unsubscribe/${encodeURIComponent(params.token ?? "")}`);
