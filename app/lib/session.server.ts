import { redirect, type AppLoadContext } from "@remix-run/node";
import ipaddr from "ipaddr.js";
import type { Role } from "../../db/schema";
import { readSession, SESSION_COOKIE, type SessionInfo } from "./auth.server";

declare module "@remix-run/node" {
  interface AppLoadContext {
    /** The TCP peer of the request (cli/server.ts), before any X-Forwarded-For. */
    peerAddress?: string;
  }
}

/** Where an operator whose password must change is sent, and the only page open to them. */
export const ACCOUNT_PATH = "/settings/account";

/**
 * The client's address for sign-in throttling (decision 0722). The TCP peer, unless the peer is
 * a proxy on loopback or a private network: then the last X-Forwarded-For entry, the address
 * that proxy saw. Earlier entries are the client's own claims and are never used, so a client
 * cannot choose its throttling key.
 */
export function clientAddress(request: Request, context: AppLoadContext): string | undefined {
  const peer = normaliseAddress(context.peerAddress);
  if (!peer) return undefined;
  const forwarded = request.headers.get("x-forwarded-for");
  if (!forwarded || !isInternal(peer)) return peer;
  const last = normaliseAddress(forwarded.split(",").pop()?.trim());
  return last ?? peer;
}

function normaliseAddress(value: string | undefined): string | undefined {
  if (!value || !ipaddr.isValid(value)) return undefined;
  const parsed = ipaddr.parse(value);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) return (parsed as ipaddr.IPv6).toIPv4Address().toString();
  return parsed.toString();
}

function isInternal(address: string): boolean {
  const range = ipaddr.parse(address).range();
  return range === "loopback" || range === "private" || range === "uniqueLocal" || range === "linkLocal";
}

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
  // A printed or handed-over password opens only the page that replaces it (decision 0724).
  if (session.mustChangePassword) {
    const url = new URL(request.url);
    if (url.pathname !== ACCOUNT_PATH) {
      throw redirect(`${ACCOUNT_PATH}?${new URLSearchParams({ required: "1", next: url.pathname + url.search })}`);
    }
  }
  if (roles.length > 0 && session.role !== "admin" && !roles.includes(session.role)) {
    throw new Response("Forbidden", { status: 403 });
  }
  return session;
}
