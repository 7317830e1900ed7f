import type { ActionFunctionArgs } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { logout, SESSION_COOKIE } from "../lib/auth.server";
import { clearSessionCookie, readCookie } from "../lib/session.server";

export async function action({ request, context }: ActionFunctionArgs) {
  await logout(context.services.db, readCookie(request, SESSION_COOKIE));
  return redirect("/login", { headers: { "Set-Cookie": clearSessionCookie(request, context) } });
}

export const loader = () => redirect("/journeys");
