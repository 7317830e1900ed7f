import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiKeys } from "../../db/schema";
import { createApiKey, sha256, verifyApiKey } from "../../app/lib/auth.server";
import { createCallerFactory } from "../../app/trpc/init.server";
import { appRouter } from "../../app/trpc/router.server";
import { startTestApp, type TestApp } from "../support/app";

describe("API keys", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app?.close());

  it("shows the key once and stores only its hash", async () => {
    const created = await createApiKey(app.services.db, { workspaceId: app.workspaceId, kind: "write", name: "ios" });
    expect(created.key).toMatch(/^wp_write_[A-Za-z0-9_-]{43}$/);
    const rows = await app.services.db.select().from(apiKeys);
    expect(rows).toHaveLength(1);
    expect(rows[0].keyHash).toBe(sha256(created.key));
    expect(JSON.stringify(rows)).not.toContain(created.key);
    expect(rows[0].prefix).toBe(created.key.slice(0, 13));
  });

  it("verifies a key only for its own kind, and not after revocation", async () => {
    const created = await createApiKey(app.services.db, { workspaceId: app.workspaceId, kind: "secret", name: "scripts" });
    expect(await verifyApiKey(app.services.db, created.key, "secret")).toEqual({ workspaceId: app.workspaceId, keyId: created.id });
    expect(await verifyApiKey(app.services.db, created.key, "write")).toBeNull();
    expect(await verifyApiKey(app.services.db, created.key + "x", "secret")).toBeNull();

    const admin = await app.addOperator("admin");
    const caller = createCallerFactory(appRouter)({
      services: app.services,
      session: { operatorId: admin.id, workspaceId: app.workspaceId, email: admin.email, name: "a", role: "admin", locale: null },
    });
    await caller.settings.revokeApiKey({ id: created.id });
    expect(await verifyApiKey(app.services.db, created.key, "secret")).toBeNull();
    const listed = await caller.settings.apiKeys();
    expect(listed.find((k) => k.id === created.id)?.revokedAt).toBeInstanceOf(Date);
    expect(JSON.stringify(listed)).not.toContain("keyHash");
  });
});
