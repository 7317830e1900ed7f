import type { LoaderFunctionArgs } from "@remix-run/node";
import { readExtensionInspector } from "../extensions/nodes.server";
import { requireSession } from "../lib/session.server";

/** An extension node's custom inspector module (browser ESM), for signed-in operators. */
export async function loader({ request, context, params }: LoaderFunctionArgs) {
  await requireSession(request, context);
  const source = await readExtensionInspector((params.file ?? "").replace(/\.js$/, ""));
  if (source === null) return new Response("No such inspector", { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } });
  return new Response(source, { headers: { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" } });
}
