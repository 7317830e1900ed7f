import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../db/client";
import { sessions } from "../../db/schema";
import { startTestApp, type TestApp } from "../support/app";

/** Over real HTTP against the built app, so cookies, redirects and status codes are the real ones. */
describe("authentication and roles", () => {
  let app: TestApp;
  let admin: { email: string; password: string };
  let marketer: { email: string; password: string };

  beforeAll(async () => {
    app = await startTestApp({ serve: true });
    admin = await app.addOperator("admin");
    marketer = await app.addOperator("marketer");
  });
  afterAll(() => app?.close());

  async function signIn(who: { email: string; password: string }): Promise<string> {
    const response = await fetch(`${app.url}/login`, {
      method: "POST",
      body: new URLSearchParams({ email: who.email, password: who.password, next: "/journeys" }),
      redirect: "manual",
    });
    expect(response.status).toBe(302);
    const cookie = response.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/waypost_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax/);
    return cookie.split(";")[0];
  }

  const trpc = (path: string, cookie?: string, input?: unknown) =>
    fetch(`${app.url}/api/trpc/${path}`, {
      method: input === undefined ? "GET" : "POST",
      headers: { ...(cookie ? { cookie } : {}), "content-type": "application/json" },
      body: input === undefined ? undefined : JSON.stringify({ json: input }),
    });

  const countSessions = async () => (await query<{ n: number }>(app.services.db, sql`select count(*)::int as n from ${sessions}`))[0].n;

  it("refuses a wrong password with 401 and a clear message, creating no session", async () => {
    const before = await countSessions();
    const response = await fetch(`${app.url}/login`, {
      method: "POST",
      headers: { "accept-language": "en" },
      body: new URLSearchParams({ email: admin.email, password: "wrong password" }),
      redirect: "manual",
    });
    expect(response.status).toBe(401);
    expect(await response.text()).toContain("Email or password is not correct.");
    expect(response.headers.get("set-cookie")).toBeNull();
    expect(await countSessions()).toBe(before);
  });

  it("answers 401 to API calls without a session and redirects pages to the login", async () => {
    const response = await trpc("settings.me");
    expect(response.status).toBe(401);
    expect(JSON.stringify(await response.json())).toContain("Sign in to continue");
    const page = await fetch(`${app.url}/settings`, { redirect: "manual" });
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toBe("/login?next=%2Fsettings");
  });

  it("treats an expired session as signed out", async () => {
    const cookie = await signIn(marketer);
    expect((await trpc("settings.me", cookie)).status).toBe(200);
    await app.services.db.update(sessions).set({ expiresAt: new Date(Date.now() - 1000) });
    const response = await trpc("settings.me", cookie);
    expect(response.status).toBe(401);
    const page = await fetch(`${app.url}/journeys`, { headers: { cookie }, redirect: "manual" });
    expect(page.headers.get("location")).toBe("/login?next=%2Fjourneys&expired=1");
  });

  it("answers 403 naming the needed role when a marketer creates an API key, and stores nothing", async () => {
    const cookie = await signIn(marketer);
    const response = await trpc("settings.createApiKey", cookie, { kind: "write", name: "ios app" });
    expect(response.status).toBe(403);
    expect(JSON.stringify(await response.json())).toContain("This needs the admin or developer role; you are signed in as marketer.");
    const keys = await query<{ n: number }>(app.services.db, sql`select count(*)::int as n from api_keys`);
    expect(keys[0].n).toBe(0);
  });

  it("validates input with a field-level message and stores nothing", async () => {
    const cookie = await signIn(admin);
    const response = await trpc("settings.createApiKey", cookie, { kind: "write", name: "  " });
    expect(response.status).toBe(400);
    const body = JSON.stringify(await response.json());
    expect(body).toContain('"path":"name"');
    expect(body).toContain("Give the key a name");
    const keys = await query<{ n: number }>(app.services.db, sql`select count(*)::int as n from api_keys`);
    expect(keys[0].n).toBe(0);
  });

  it("refuses cookie-authenticated writes from another origin", async () => {
    const cookie = await signIn(admin);
    const response = await fetch(`${app.url}/api/trpc/settings.createApiKey`, {
      method: "POST",
      headers: { cookie, origin: "https://evil.example", "content-type": "application/json" },
      body: JSON.stringify({ json: { kind: "write", name: "x" } }),
    });
    expect(response.status).toBe(403);
  });

  it("signs out by deleting the session", async () => {
    const cookie = await signIn(admin);
    const response = await fetch(`${app.url}/logout`, { method: "POST", headers: { cookie }, redirect: "manual" });
    expect(response.status).toBe(302);
    expect(response.headers.get("set-cookie")).toContain("Max-Age=0");
    expect((await trpc("settings.me", cookie)).status).toBe(401);
  });
});
