import { sql } from "drizzle-orm";
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import type { Role } from "../../db/schema";
import type { SessionInfo } from "../../app/lib/auth.server";
import { createCallerFactory } from "../../app/trpc/init.server";
import { appRouter } from "../../app/trpc/router.server";
import { startTestApp, type TestApp } from "../support/app";

/**
 * API keys are never wider than their creator (issue 13, item 3): creating a wider scope is
 * refused with 403; a developer who may not erase users in the UI cannot erase them with a key
 * either; a creator's lowered role or deactivation narrows their secret keys on the very next call (no
 * cache for secret keys); write keys keep sending events (decision 0741).
 */
describe("API key scopes", () => {
  let app: TestApp;
  const sessions = new Map<string, SessionInfo>();
  const as = (email: string) => createCallerFactory(appRouter)({ services: app.services, session: sessions.get(email)! });

  beforeAll(async () => {
    app = await startTestApp();
    for (const [role, email] of [
      ["developer", "dev@example.com"],
      ["admin", "ada@example.com"],
      ["admin", "leaving@example.com"],
    ] as Array<[Role, string]>) {
      const op = await app.addOperator(role, email);
      sessions.set(email, { operatorId: op.id, workspaceId: app.workspaceId, email, name: email, role, locale: null } as SessionInfo);
    }
    await query(app.services.db, sql`insert into users (workspace_id, id, traits) values (${app.workspaceId}::uuid, 'keep-me', '{}'::jsonb), (${app.workspaceId}::uuid, 'erase-me', '{}'::jsonb)`);
  });
  afterAll(() => app?.close());

  const keyCount = async () => (await query<{ n: number }>(app.services.db, sql`select count(*)::int as n from api_keys`))[0].n;
  const userExists = async (id: string) => (await query<{ n: number }>(app.services.db, sql`select count(*)::int as n from users where id = ${id}`))[0].n === 1;

  async function rest(method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
    const module = path.startsWith("/api/v1/users/")
      ? await import("../../app/routes/api.v1.users.$userId")
      : path.endsWith("/track")
        ? await import("../../app/routes/api.v1.track")
        : await import("../../app/routes/api.v1.journeys");
    const request = new Request(`http://localhost${path}`, { method, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const handler = method === "GET" ? module.loader : module.action;
    const response = await handler({ request, context: { services: app.services }, params: { userId: path.split("/")[4] ?? "" } } as never);
    return { status: response.status, body: (await response.json()) as { error?: { code: string; message: string } } };
  }

  it("refuses a developer's full-scope key with 403 naming what it would add, storing nothing; narrower scopes work", async () => {
    const before = await keyCount();
    const error = await as("dev@example.com").settings.createApiKey({ kind: "secret", name: "too wide", scope: "full" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCError);
    expect(error).toMatchObject({
      code: "FORBIDDEN",
      message: "A developer cannot create a key with the full scope: it would allow journeys.pause, journeys.resume, users.erase, which your role does not. Choose a narrower scope.",
    });
    expect(await keyCount()).toBe(before);
    const edit = await as("dev@example.com").settings.createApiKey({ kind: "secret", name: "scripts", scope: "edit" });
    expect((await as("dev@example.com").settings.apiKeys()).find((k) => k.id === edit.id)?.scope).toBe("edit");
    // Without a scope a secret key is read-only.
    const plain = await as("ada@example.com").settings.createApiKey({ kind: "secret", name: "plain" });
    expect((await as("ada@example.com").settings.apiKeys()).find((k) => k.id === plain.id)?.scope).toBe("read");
  });

  it("the reported case: a developer refused users.erase in the UI cannot erase over REST with their own key", async () => {
    await expect(as("dev@example.com").users.erase({ userId: "keep-me" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    const key = (await as("dev@example.com").settings.createApiKey({ kind: "secret", name: "dev scripts", scope: "edit" })).key;
    const answer = await rest("DELETE", "/api/v1/users/keep-me", key);
    expect(answer.status).toBe(403);
    expect(answer.body.error).toEqual({ code: "forbidden", message: "users.erase needs a secret key with the full scope or wider; this secret key has the edit scope." });
    expect(await userExists("keep-me")).toBe(true);
    // Reading is within the edit scope.
    expect((await rest("GET", "/api/v1/users/keep-me", key)).status).toBe(200);
  });

  it("an admin's full key erases; after the admin becomes a developer it may not, and after deactivation it may do nothing", async () => {
    const ada = sessions.get("ada@example.com")!;
    const key = (await as("ada@example.com").settings.createApiKey({ kind: "secret", name: "admin scripts", scope: "full" })).key;
    expect((await rest("DELETE", "/api/v1/users/erase-me", key)).status).toBe(200);
    expect(await userExists("erase-me")).toBe(false);

    await query(app.services.db, sql`update workspace_members set role = 'developer' where operator_id = ${ada.operatorId}::uuid`);
    const demoted = await rest("DELETE", "/api/v1/users/keep-me", key);
    expect(demoted.status).toBe(403);
    expect(demoted.body.error?.message).toBe("This key may do no more than its creator, who is now a developer; users.erase needs the admin role.");
    expect(await userExists("keep-me")).toBe(true);
    expect((await rest("GET", "/api/v1/users/keep-me", key)).status).toBe(200);

    await query(app.services.db, sql`update operators set disabled_at = now() where id = ${ada.operatorId}::uuid`);
    const gone = await rest("GET", "/api/v1/users/keep-me", key);
    expect(gone.status).toBe(403);
    expect(gone.body.error?.message).toContain("was deactivated or left the workspace");
  });

  it("a deactivated creator's write key keeps sending events (apps ship it; revoke it to stop it)", async () => {
    const leaving = sessions.get("leaving@example.com")!;
    const write = (await as("leaving@example.com").settings.createApiKey({ kind: "write", name: "ios" })).key;
    await query(app.services.db, sql`update operators set disabled_at = now() where id = ${leaving.operatorId}::uuid`);
    expect((await rest("POST", "/api/v1/track", write, { userId: "keep-me", event: "app_opened" })).status).toBe(200);
  });
});
