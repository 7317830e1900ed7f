import { apiKeyScopes, roles, type ApiKeyScope, type Role } from "../../db/schema";

/**
 * The one permission table (decision 0740). Every tRPC procedure names its action with
 * `requireAction` (app/trpc/init.server.ts), every management REST route names its action in
 * `restRoutes` below, and API keys are checked against the same rows. docs/permissions.md is
 * generated from this file (`npm run docs:permissions`); a test fails when it is out of date.
 *
 * `roles`: who may do it signed in. `key`: the narrowest API-key scope that grants it over REST
 * ("write" = a write key; a secret key's scopes nest read ⊂ edit ⊂ full), or null when no key
 * may. Browser-safe: the UI asks `roleMay` which buttons to offer.
 */

export type KeyAccess = "write" | ApiKeyScope;

export interface ActionRule {
  roles: readonly Role[];
  key: KeyAccess | null;
  about: string;
}

const everyone = ["marketer", "developer", "admin"] as const satisfies readonly Role[];
const developers = ["developer", "admin"] as const satisfies readonly Role[];
const admins = ["admin"] as const satisfies readonly Role[];

export const permissions = {
  "account.self": { roles: everyone, key: null, about: "Who is signed in; one's own account (password, sessions)" },
  "events.ingest": { roles: developers, key: "write", about: "Send events and traits (Segment-compatible ingestion); signed in, only by creating a write key" },
  "journeys.read": { roles: everyone, key: "read", about: "See journeys, versions, documents and node analytics" },
  "journeys.edit": { roles: everyone, key: "edit", about: "Create, import, duplicate, rename, edit drafts, restore versions" },
  "journeys.publish": { roles: everyone, key: "edit", about: "Publish a draft as a new version" },
  "journeys.pause": { roles: admins, key: "full", about: "Pause a journey (keep running or hold the users inside)" },
  "journeys.resume": { roles: admins, key: "full", about: "Resume a paused journey (releases held users)" },
  "journeys.trigger": { roles: developers, key: "edit", about: "Enter users into an API-triggered journey (REST only)" },
  "journeys.archive": { roles: admins, key: null, about: "Archive a journey (stops entries, releases held users)" },
  "journeys.unarchive": { roles: everyone, key: null, about: "Restore an archived journey (to paused or draft; starts nothing)" },
  "users.read": { roles: everyone, key: "read", about: "See user profiles, events, messages and journeys" },
  "users.import": { roles: everyone, key: null, about: "Import users from CSV" },
  "users.erase": { roles: admins, key: "full", about: "Erase a user and everything about them (irreversible)" },
  "segments.read": { roles: everyone, key: "read", about: "See segments, their rules, members and counts" },
  "segments.edit": { roles: everyone, key: null, about: "Create, change and archive segments; add presets" },
  "messages.read": { roles: everyone, key: null, about: "Search the message log; export it as CSV" },
  "channels.manage": { roles: developers, key: null, about: "See and change providers, policies and callback URLs; send tests" },
  "instances.read": { roles: everyone, key: null, about: "See instances, one user's timeline and engine health" },
  "instances.operate": { roles: admins, key: null, about: "Cancel (one or many), skip a wait, retry a failed step" },
  "apiKeys.manage": { roles: developers, key: null, about: "List, create and revoke API keys (no wider than one's own role)" },
  "operators.manage": { roles: admins, key: null, about: "List, invite and change operators (roles, deactivation, resets)" },
  "auditLog.read": { roles: admins, key: null, about: "Read the audit log" },
} as const satisfies Record<string, ActionRule>;

export type Action = keyof typeof permissions;

export const actions = Object.keys(permissions) as Action[];

export function isAction(value: unknown): value is Action {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(permissions, value);
}

/** The roles allowed, widest first ("admin or developer"). */
export function rolesFor(action: Action): Role[] {
  const allowed: readonly Role[] = permissions[action].roles;
  return roles.filter((r) => allowed.includes(r));
}

export function roleMay(role: Role, action: Action): boolean {
  return (permissions[action].roles as readonly Role[]).includes(role);
}

const scopeRank: Record<ApiKeyScope, number> = { read: 0, edit: 1, full: 2 };

/** Whether a key of this kind and scope may do the action, before its creator's role is applied. */
export function scopeGrants(kind: "write" | "secret", scope: ApiKeyScope, action: Action): boolean {
  const needed: KeyAccess | null = permissions[action].key;
  if (needed === null) return false;
  if (kind === "write") return needed === "write";
  return needed !== "write" && scopeRank[scope] >= scopeRank[needed];
}

/** Every action a key of this kind and scope grants. */
export function actionsOfScope(kind: "write" | "secret", scope: ApiKeyScope): Action[] {
  return actions.filter((a) => scopeGrants(kind, scope, a));
}

/**
 * A key is never wider than its creator: the actions its scope grants that the creator's role
 * does not allow (empty = the key may be created by this role).
 */
export function widerThanRole(kind: "write" | "secret", scope: ApiKeyScope, role: Role): Action[] {
  return actionsOfScope(kind, scope).filter((a) => !roleMay(role, a));
}

/** The secret-key scopes a role may create, narrowest first. */
export function scopesForRole(role: Role): ApiKeyScope[] {
  return apiKeyScopes.filter((s) => widerThanRole("secret", s, role).length === 0);
}

/**
 * Who stands behind a key at request time (decision 0741): `creator` is the creator's current
 * role, null when the creator is deactivated or no longer a member; `creatorless` keys were made
 * by the CLI or a seed and are capped by their scope only.
 */
export interface KeyHolder {
  kind: "write" | "secret";
  scope: ApiKeyScope;
  creatorless: boolean;
  creator: Role | null;
}

/**
 * A secret key may do what its scope grants AND its creator may do now. Write keys only ingest
 * and are not capped by their creator: they ship inside apps, and a changed role must not stop
 * an app's data (revoke them instead).
 */
export function keyMay(holder: KeyHolder, action: Action): boolean {
  if (!scopeGrants(holder.kind, holder.scope, action)) return false;
  if (holder.kind === "write" || holder.creatorless) return true;
  return holder.creator !== null && roleMay(holder.creator, action);
}

/**
 * The management REST API's routes and the action each method needs. The role-matrix test checks
 * that this covers every app/routes/api.v1.* file and every path of the OpenAPI document, and that
 * each route answers as the table says.
 */
export type RestMethod = "GET" | "POST" | "DELETE";

export const restRoutes: Record<string, Partial<Record<RestMethod, Action | "public">>> = {
  "/api/v1/identify": { POST: "events.ingest" },
  "/api/v1/track": { POST: "events.ingest" },
  "/api/v1/page": { POST: "events.ingest" },
  "/api/v1/screen": { POST: "events.ingest" },
  "/api/v1/group": { POST: "events.ingest" },
  "/api/v1/alias": { POST: "events.ingest" },
  "/api/v1/batch": { POST: "events.ingest" },
  "/api/v1/openapi.json": { GET: "public" },
  "/api/v1/users/{userId}": { GET: "users.read", DELETE: "users.erase" },
  "/api/v1/users/{userId}/messages": { GET: "users.read" },
  "/api/v1/users/{userId}/journeys": { GET: "users.read" },
  "/api/v1/users/{userId}/events": { GET: "users.read" },
  "/api/v1/segments": { GET: "segments.read" },
  "/api/v1/segments/{segmentId}": { GET: "segments.read" },
  "/api/v1/segments/{segmentId}/count": { GET: "segments.read" },
  "/api/v1/journeys": { GET: "journeys.read", POST: "journeys.edit" },
  "/api/v1/journeys/{journeyId}": { GET: "journeys.read" },
  "/api/v1/journeys/{journeyId}/export": { GET: "journeys.read" },
  "/api/v1/journeys/{journeyId}/stats": { GET: "journeys.read" },
  "/api/v1/journeys/{journeyId}/publish": { POST: "journeys.publish" },
  "/api/v1/journeys/{journeyId}/pause": { POST: "journeys.pause" },
  "/api/v1/journeys/{journeyId}/resume": { POST: "journeys.resume" },
  "/api/v1/journeys/{journeyId}/trigger": { POST: "journeys.trigger" },
};

const routePatterns = Object.keys(restRoutes).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+")}/?$`),
}));

/** The route template a path belongs to ("/api/v1/users/{userId}"), if any. */
export function restRouteOf(pathname: string): string | undefined {
  return routePatterns.find((r) => r.pattern.test(pathname))?.template;
}

/**
 * The action a REST request needs: undefined when the route or method has no row, which the
 * management API refuses (fail closed) and the role-matrix test reports.
 */
export function restActionFor(pathname: string, method: string): Action | "public" | undefined {
  const template = restRouteOf(pathname);
  return template ? restRoutes[template][method.toUpperCase() as RestMethod] : undefined;
}

/** Why a key may not do an action, for the 403 answer (null when it may). */
export function keyRefusal(holder: KeyHolder, action: Action): string | null {
  if (keyMay(holder, action)) return null;
  const needed = permissions[action].key;
  if (needed === null) return `No API key may do ${action}; it is only available signed in.`;
  if (!scopeGrants(holder.kind, holder.scope, action)) {
    return needed === "write"
      ? `${action} needs a write key.`
      : `${action} needs a secret key with the ${needed} scope or wider; this ${holder.kind} key ${holder.kind === "secret" ? `has the ${holder.scope} scope` : "only sends events"}.`;
  }
  if (holder.creator === null) return `The operator who created this key was deactivated or left the workspace, so the key may no longer do ${action}; create a new key.`;
  return `This key may do no more than its creator, who is now a ${holder.creator}; ${action} needs the ${rolesFor(action).join(" or ")} role.`;
}
