import { readdirSync } from "node:fs";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import type { Role } from "../../db/schema";
import { openApiDocument } from "../../app/api/openapi.server";
import { createScopedApiKey } from "../../app/ingest/keys.server";
import { createApiKey, openSession, SESSION_COOKIE } from "../../app/lib/auth.server";
import { createJourney, publishJourney } from "../../app/lib/journeys.server";
import { isAction, keyMay, restRoutes, roleMay, type Action, type KeyHolder, type RestMethod } from "../../app/lib/permissions";
import { appRouter } from "../../app/trpc/router.server";
import { registeredNoOrderJourney } from "../../workflows/demo-journeys";
import { startTestApp, type TestApp } from "../support/app";

/**
 * The role matrix (issue 13): every tRPC procedure (enumerated from the router) and every REST
 * route (enumerated from app/routes/api.v1.* and the OpenAPI document) called as anonymous, each
 * role, and each API key, over real HTTP against the built app (Express + Remix, as `npm start`
 * serves it) on real PostgreSQL. The expectation of every cell comes from the permission table;
 * the table is printed; any unexpected allow or deny fails. It reads build/: after changing a
 * procedure or route, rebuild first (`npm test` does; alone: `flock .build.lock npx remix build`),
 * or the missing procedure shows as "404 UNEXPECTED".
 *
 * "Allowed" means the permission check let the call through (any answer but 401/403: bad input
 * then answers 400, a missing id 404, a state conflict 409); "denied" means 401 or 403.
 */

type Identity =
  | { name: string; kind: "anonymous" }
  | { name: string; kind: "session"; role: Role; operatorId: string }
  | { name: string; kind: "key"; key: string; holder: KeyHolder };

interface Cell {
  status: number;
  expected: boolean;
  allowed: boolean;
}

const ROUTES_DIR = new URL("../../app/routes/", import.meta.url);

/** "api.v1.journeys.$journeyId.pause.ts" -> "/api/v1/journeys/{journeyId}/pause" (Remix flat routes). */
function routeOfFile(file: string): string {
  // "[.]" escapes a dot inside a segment: split on the other dots only.
  const parts = file.replace(/\.tsx?$/, "").split(/(?<!\[)\.(?!\])/);
  return "/" + parts.map((part) => (part.startsWith("$") ? `{${part.slice(1)}}` : part.replace("[.]", "."))).join("/");
}

/** Parameter names differ between files and the OpenAPI document ({segmentId} / {segment}). */
const shape = (template: string) => template.replace(/\{[^}]+\}/g, "{}");

describe("role matrix: every procedure and route × anonymous, roles and key scopes", () => {
  let app: TestApp;
  let journeyId: string;
  const identities: Identity[] = [];
  const table: Array<{ surface: string; action: string; cells: Cell[] }> = [];

  beforeAll(async () => {
    app = await startTestApp({ serve: true });
    const db = app.services.db;
    identities.push({ name: "anonymous", kind: "anonymous" });
    for (const role of ["marketer", "developer", "admin"] as const) {
      const op = await app.addOperator(role);
      identities.push({ name: role, kind: "session", role, operatorId: op.id });
    }
    const keymaker = await app.addOperator("admin", "keymaker@example.com");
    const key = async (kind: "write" | "secret", scope: "read" | "edit" | "full", createdBy = keymaker.id) =>
      (await createScopedApiKey(db, { workspaceId: app.workspaceId, kind, name: `${kind}-${scope}`, scope, createdBy, role: "admin" })).key;
    const holder = (kind: "write" | "secret", scope: "read" | "edit" | "full", creator: Role | null): KeyHolder => ({ kind, scope, creatorless: false, creator });
    identities.push({ name: "write key", kind: "key", key: await key("write", "full"), holder: holder("write", "full", "admin") });
    for (const scope of ["read", "edit", "full"] as const) {
      identities.push({ name: `secret:${scope}`, kind: "key", key: await key("secret", scope), holder: holder("secret", scope, "admin") });
    }
    // A full key whose admin creator became a developer, and one whose creator was deactivated.
    const demoted = await app.addOperator("admin", "demoted@example.com");
    const leaver = await app.addOperator("admin", "leaver@example.com");
    const demotedKey = await key("secret", "full", demoted.id);
    const leaverKey = await key("secret", "full", leaver.id);
    await query(db, sql`update workspace_members set role = 'developer' where operator_id = ${demoted.id}::uuid`);
    await query(db, sql`update operators set disabled_at = now() where id = ${leaver.id}::uuid`);
    identities.push({ name: "full, creator now developer", kind: "key", key: demotedKey, holder: holder("secret", "full", "developer") });
    identities.push({ name: "full, creator deactivated", kind: "key", key: leaverKey, holder: holder("secret", "full", null) });
    // A CLI-made key (no creator): bounded by its scope alone.
    const cliKey = (await createApiKey(db, { workspaceId: app.workspaceId, kind: "secret", name: "cli" })).key;
    identities.push({ name: "full, made by the CLI", kind: "key", key: cliKey, holder: { kind: "secret", scope: "full", creatorless: true, creator: null } });

    const created = await createJourney(db, { workspaceId: app.workspaceId }, { name: "Matrix", document: registeredNoOrderJourney() });
    journeyId = created.id;
    const published = await publishJourney(db, { workspaceId: app.workspaceId }, { journeyId });
    expect(published.ok).toBe(true);
  });

  afterAll(async () => {
    if (table.length > 0) {
      const names = identities.map((i) => i.name);
      const lines = [`surface | action | ${names.join(" | ")}`];
      let unexpected = 0;
      for (const row of table) {
        const cells = row.cells.map((c) => `${c.expected ? "allow" : "deny"} ${c.status}${c.allowed === c.expected ? "" : " UNEXPECTED"}`);
        unexpected += row.cells.filter((c) => c.allowed !== c.expected).length;
        lines.push(`${row.surface} | ${row.action} | ${cells.join(" | ")}`);
      }
      const allows = table.flatMap((r) => r.cells).filter((c) => c.allowed && !c.expected).length;
      lines.push(`${table.length} surfaces × ${names.length} identities = ${table.length * names.length} calls; ${unexpected} unexpected (${allows} unexpected allows)`);
      console.log(lines.join("\n"));
    }
    await app?.close();
  });

  /** A fresh session per call: a procedure such as "sign out everywhere" must not spoil the next call. */
  async function headersFor(identity: Identity): Promise<Record<string, string>> {
    if (identity.kind === "session") {
      const { token } = await openSession(app.services.db, { operatorId: identity.operatorId, workspaceId: app.workspaceId, ttlHours: 1, now: new Date() });
      return { cookie: `${SESSION_COOKIE}=${token}` };
    }
    if (identity.kind === "key") return { authorization: `Bearer ${identity.key}` };
    return {};
  }

  async function call(url: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<number> {
    return (await fetch(`${app.url}${url}`, { ...init, redirect: "manual" })).status;
  }

  it("names an action for every tRPC procedure, and every route file and OpenAPI operation has a row in restRoutes", () => {
    const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { meta?: { action?: unknown } } }>;
    expect(Object.entries(procedures).filter(([, p]) => !isAction(p._def.meta?.action)).map(([path]) => path)).toEqual([]);

    const files = readdirSync(ROUTES_DIR).filter((f) => f.startsWith("api.v1."));
    const fromFiles = files.map(routeOfFile).map(shape).sort();
    const inTable = Object.keys(restRoutes).map(shape).sort();
    expect(fromFiles).toEqual(inTable);

    const document = openApiDocument("http://localhost") as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(document.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ["get", "post", "delete", "put", "patch"].includes(m))
        .map((m) => `${m.toUpperCase()} ${shape(path)}`),
    );
    const tabled = Object.entries(restRoutes)
      .filter(([path]) => path !== "/api/v1/openapi.json")
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m} ${shape(path)}`));
    expect(documented.sort()).toEqual(tabled.sort());
  });

  it("tRPC: every procedure answers each identity as the table says", async () => {
    const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string; meta?: { action?: Action } } }>;
    for (const [path, procedure] of Object.entries(procedures).sort(([a], [b]) => a.localeCompare(b))) {
      const action = procedure._def.meta!.action!;
      const cells: Cell[] = [];
      for (const identity of identities) {
        const headers = { ...(await headersFor(identity)), "content-type": "application/json" };
        // An empty object as input: allowed callers mostly get 400 for it, so nothing is changed.
        const status =
          procedure._def.type === "query"
            ? await call(`/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`, { method: "GET", headers })
            : await call(`/api/trpc/${path}`, { method: "POST", headers, body: JSON.stringify({ json: {} }) });
        // tRPC takes sessions only: keys and anonymous callers are signed out.
        const expected = identity.kind === "session" && roleMay(identity.role, action);
        cells.push({ status, expected, allowed: status !== 401 && status !== 403 });
      }
      table.push({ surface: `trpc ${path}`, action, cells });
    }
    const wrong = table.filter((r) => r.surface.startsWith("trpc ")).flatMap((r) => r.cells.map((c, i) => ({ surface: r.surface, who: identities[i].name, ...c }))).filter((c) => c.allowed !== c.expected);
    expect(wrong).toEqual([]);
  });

  it("REST: every route and method answers each identity as the table says", async () => {
    const files = readdirSync(ROUTES_DIR).filter((f) => f.startsWith("api.v1."));
    const bodies: Record<string, unknown> = {
      "/api/v1/identify": { userId: "matrix-user", traits: { name: "Matrix" } },
      "/api/v1/track": { userId: "matrix-user", event: "matrix_event" },
      "/api/v1/page": { userId: "matrix-user", name: "Home" },
      "/api/v1/screen": { userId: "matrix-user", name: "Home" },
      "/api/v1/group": { userId: "matrix-user", groupId: "g1" },
      "/api/v1/alias": { userId: "matrix-user", previousId: "matrix-anon" },
      "/api/v1/batch": { batch: [{ type: "track", userId: "matrix-user", event: "matrix_event" }] },
    };
    const params: Record<string, string> = { userId: "matrix-user", journeyId: "", segmentId: "nobody" };
    const rows: typeof table = [];
    for (const file of files.sort()) {
      const template = routeOfFile(file);
      const methods = restRoutes[template];
      expect(methods, `${file} has a row in restRoutes`).toBeDefined();
      for (const [method, action] of Object.entries(methods) as Array<[RestMethod, Action | "public"]>) {
        const cells: Cell[] = [];
        for (const [index, identity] of identities.entries()) {
          // Erasing uses a throwaway user so the next identity still finds "matrix-user" to read.
          const values: Record<string, string> = { ...params, journeyId, ...(method === "DELETE" ? { userId: `erase-${index}` } : {}) };
          const url = template.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeURIComponent(values[name] ?? "x"));
          const headers = { ...(await headersFor(identity)), "content-type": "application/json" };
          const body = method === "GET" ? undefined : JSON.stringify(bodies[template] ?? {});
          const status = await call(url, { method, headers, body });
          let expected: boolean;
          if (action === "public") expected = true;
          else if (identity.kind !== "key") expected = false;
          else expected = keyMay(identity.holder, action);
          cells.push({ status, expected, allowed: status !== 401 && status !== 403 });
        }
        rows.push({ surface: `${method} ${template}`, action, cells });
      }
    }
    table.push(...rows);
    const wrong = rows.flatMap((r) => r.cells.map((c, i) => ({ surface: r.surface, who: identities[i].name, ...c }))).filter((c) => c.allowed !== c.expected);
    expect(wrong).toEqual([]);
  });
});
