import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOperator } from "../../app/lib/accounts.server";
import { passwordsOf } from "../../app/lib/auth.server";
import { startTestApp, type TestApp } from "../support/app";

/**
 * The sign-in page over real HTTP against the built app: status codes, Retry-After, the message in
 * both languages, the client address from the proxy's X-Forwarded-For entry, the busy answer, and
 * the forced password change. The app's clock is injected, so lock windows pass without waiting.
 */
describe("sign-in over HTTP", () => {
  let app: TestApp;
  let clock = Date.now();

  beforeAll(async () => {
    app = await startTestApp({ serve: true, now: () => new Date(clock), env: { WAYPOST_PASSWORD_HASH_CONCURRENCY: "1", WAYPOST_PASSWORD_HASH_QUEUE: "0" } });
  });
  afterAll(() => app?.close());

  const post = (email: string, password: string, headers: Record<string, string> = {}) =>
    fetch(`${app.url}/login`, { method: "POST", headers: { "accept-language": "en", ...headers }, body: new URLSearchParams({ email, password, next: "/journeys" }), redirect: "manual" });

  it("locks an account after 5 wrong passwords with 429, Retry-After and the wait in English and Chinese; signs in once the lock has passed", async () => {
    const who = await app.addOperator("marketer");
    for (let i = 0; i < 4; i++) expect((await post(who.email, "wrong password")).status).toBe(401);
    const fifth = await post(who.email, "wrong password");
    expect(fifth.status).toBe(429);
    expect(fifth.headers.get("retry-after")).toBe("60");
    expect(await fifth.text()).toContain("Too many failed sign-ins for this account. Try again in 1 minute.");

    const right = await post(who.email, who.password, { "accept-language": "zh-CN" });
    expect(right.status).toBe(429);
    expect(right.headers.get("set-cookie")).toBeNull();
    expect(await right.text()).toContain("该账号登录失败次数过多，请在 1 分钟 后重试。");

    clock += 45_000;
    const soon = await post(who.email, who.password);
    expect(soon.headers.get("retry-after")).toBe("15");
    expect(await soon.text()).toContain("Try again in 15 seconds.");

    clock += 16_000;
    const later = await post(who.email, who.password);
    expect(later.status).toBe(302);
    expect(later.headers.get("location")).toBe("/journeys");
  });

  it("locks a client address (the proxy's last X-Forwarded-For entry) after 20 failures; a forged first entry changes nothing", async () => {
    const who = await app.addOperator("developer");
    for (let i = 0; i < 19; i++) expect((await post(`nobody-${i}@example.com`, "guess", { "x-forwarded-for": "203.0.113.9" })).status).toBe(401);
    const twentieth = await post("nobody-19@example.com", "guess", { "x-forwarded-for": "203.0.113.9" });
    expect(twentieth.status).toBe(429);
    expect(await twentieth.text()).toContain("Too many failed sign-ins from your network. Try again in 1 minute.");
    // The client's own claim comes first; the proxy appends the address it saw.
    expect((await post(who.email, who.password, { "x-forwarded-for": "10.1.2.3, 203.0.113.9" })).status).toBe(429);
    expect((await post(who.email, who.password, { "x-forwarded-for": "203.0.113.10" })).status).toBe(302);
    clock += 61_000;
  });

  it("answers 503 with Retry-After while every password-hash slot is taken, without counting a failure", async () => {
    const who = await app.addOperator("developer");
    let release!: () => void;
    const holding = passwordsOf(app.services).run(() => new Promise<void>((resolve) => (release = resolve)));
    try {
      const busy = await post(who.email, who.password);
      expect(busy.status).toBe(503);
      expect(Number(busy.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await busy.text()).toMatch(/Waypost is checking many sign-ins right now. Try again in \d+ seconds?\./);
    } finally {
      release();
      await holding;
    }
    expect((await post(who.email, who.password)).status).toBe(302);
  });

  it("refuses a deactivated account with 403 once the password is right", async () => {
    const who = await app.addOperator("marketer");
    const { operators } = await import("../../db/schema");
    const { eq } = await import("drizzle-orm");
    await app.services.db.update(operators).set({ disabledAt: new Date(clock) }).where(eq(operators.id, who.id));
    const response = await post(who.email, who.password);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("This account has been deactivated.");
  });

  it("sends an operator with a one-time password to My account until they choose their own", async () => {
    const email = "first-start@example.com";
    const created = await createOperator(app.services.db, { workspaceId: app.workspaceId, email, role: "admin" });
    const login = await post(email, created.password);
    expect(login.status).toBe(302);
    expect(login.headers.get("location")).toBe("/settings/account?required=1&next=%2Fjourneys");
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0];

    const page = await fetch(`${app.url}/segments`, { headers: { cookie }, redirect: "manual" });
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toBe("/settings/account?required=1&next=%2Fsegments");
    const account = await fetch(`${app.url}/settings/account?required=1`, { headers: { cookie, "accept-language": "en" } });
    expect(account.status).toBe(200);
    expect(await account.text()).toContain("Choose your own password to continue.");

    const trpc = (path: string, input?: unknown) =>
      fetch(`${app.url}/api/trpc/${path}`, {
        method: input === undefined ? "GET" : "POST",
        headers: { cookie, "content-type": "application/json" },
        body: input === undefined ? undefined : JSON.stringify({ json: input }),
      });
    expect((await trpc("settings.apiKeys")).status).toBe(403);
    // Wrong current passwords count against the account like sign-ins: the fifth locks it, with Retry-After.
    for (let i = 0; i < 4; i++) expect((await trpc("accounts.changePassword", { currentPassword: "not-it-at-all", newPassword: "chosen-by-me-1" })).status).toBe(400);
    expect((await trpc("accounts.changePassword", { currentPassword: "not-it-at-all", newPassword: "chosen-by-me-1" })).status).toBe(400);
    const locked = await trpc("accounts.changePassword", { currentPassword: created.password, newPassword: "chosen-by-me-1" });
    expect(locked.status).toBe(429);
    expect(locked.headers.get("retry-after")).toBe("60");
    clock += 61_000;
    expect((await trpc("accounts.changePassword", { currentPassword: created.password, newPassword: "chosen-by-me-1" })).status).toBe(200);
    expect((await trpc("settings.apiKeys")).status).toBe(200);
    expect((await fetch(`${app.url}/segments`, { headers: { cookie }, redirect: "manual" })).status).toBe(200);
  });
});
