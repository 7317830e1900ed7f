import { redirect, type AppLoadContext } from "@remix-run/node";
import type { Role } from "../../db/schema";
import { readSession, SESSION_COOKIE, type SessionInfo } from "./auth.server";

export function readCookie(request: Request, name: string): string | undefined {
  const header = request.headers.get("cookie");
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return undefined;
}

/** HttpOnly + SameSite=Lax always; Secure when served over TLS (or forced by WAYPOST_SECURE_COOKIES). */
export function sessionCookie(request: Request, context: AppLoadContext, token: string, expiresAt: Date): string {
  return serialise(request, context, SESSION_COOKIE, token, `Expires=${expiresAt.toUTCString()}`);
}

export function clearSessionCookie(request: Request, context: AppLoadContext): string {
  return serialise(request, context, SESSION_COOKIE, "", "Max-Age=0");
}

function serialise(request: Request, context: AppLoadContext, name: string, value: string, lifetime: string): string {
  const secure = context.services.config.WAYPOST_SECURE_COOKIES ?? new URL(request.url).protocol === "https:";
  return [`${name}=${encodeURIComponent(value)}`, "Path=/", "HttpOnly", "SameSite=Lax", lifetime, secure ? "Secure" : ""]
    .filter(Boolean)
    .join("; ");
}

export async function getSession(request: Request, context: AppLoadContext): Promise<SessionInfo | null> {
  return readSession(context.services.db, readCookie(request, SESSION_COOKIE), context.services.now());
}

/** For page loaders: the session, or a redirect to the login page that comes back here afterwards. */
export async function requireSession(request: Request, context: AppLoadContext, ...roles: Role[]): Promise<SessionInfo> {
  const session = await getSession(request, context);
  if (!session) {
    const url = new URL(request.url);
    const hadCookie = Boolean(readCookie(request, SESSION_COOKIE));
    const params = new URLSearchParams({ next: url.pathname + url.search });
    if (hadCookie) params.set("expired", "1");
    throw redirect(`/login?${params}`);
  }
  if (roles.length > 0 && session.role !== "admin" && !roles.includes(session.role)) {
    throw new Response("Forbidden", { status: 403 });
  }
  return session;
}
