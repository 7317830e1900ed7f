import type { AppLoadContext } from "@remix-run/node";
import type { SessionInfo } from "./auth.server";
import { rolesFor, roleMay, type Action } from "./permissions";
import { requireSession } from "./session.server";

/** For page loaders and actions: the session, if its role may do the action (else 403), from the one table. */
export async function requireSessionFor(request: Request, context: AppLoadContext, action: Action): Promise<SessionInfo> {
  const session = await requireSession(request, context);
  if (!roleMay(session.role, action)) {
    throw new Response(`This page needs the ${rolesFor(action).join(" or ")} role; you are signed in as ${session.role}.`, { status: 403 });
  }
  return session;
}
