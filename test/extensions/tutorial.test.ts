import { afterAll, beforeAll, expect, it } from "vitest";
import { getNodeDefinition } from "../../nodes/registry";
import { extensionStatuses } from "../../nodes/extension/loader.server";
import type { AppServices } from "../../app/services.server";
import type { EmbeddedEngine } from "../../workflows/embedded/engine.server";
import { ExtensionSettingsError, extensionsView, saveExtensionSecret } from "../../app/extensions/settings.server";
import { ensureDefaultWorkspace } from "../../app/lib/accounts.server";
import { createTestDb, type TestDb } from "../support/db";
import { couponNodeEvents, instanceStatuses, runCouponJourney, runTutorialTest, startCouponService, startWithTutorial, tutorialBlocks, writeTutorial, type CouponService } from "./tutorial-support";

// docs/extensions.md followed literally on the embedded engine (the Temporal run of the same
// steps is test/live/extensions-tutorial.live.test.ts).

let db: TestDb;
let services: AppServices;
let service: CouponService;
let dir: string;

beforeAll(async () => {
  db = await createTestDb();
  dir = writeTutorial();
  service = await startCouponService(1);
});
afterAll(async () => {
  await service?.close();
  await db?.drop();
});

it("the doc has the tutorial's files", () => {
  expect(Object.keys(tutorialBlocks()).sort()).toEqual(["index.test.ts", "index.ts", "package.json"]);
});

it("step 3: the doc's test passes with the doc's command", async () => {
  const { code, stdout } = await runTutorialTest(dir);
  expect(stdout).toMatch(/# pass 1\n# fail 0/);
  expect(code).toBe(0);
});

it("step 4: loaded through WAYPOST_EXTENSIONS, the node runs in a journey on the embedded engine like a built-in", async () => {
  services = await startWithTutorial(db, dir);
  expect(extensionStatuses()).toMatchObject([{ name: "acme-coupons", version: "1.0.0", status: "loaded", nodes: [{ id: "acme.coupon", version: 1 }] }]);
  expect(getNodeDefinition("acme.coupon")).toMatchObject({ kind: "action", category: "custom", label: { en: "Issue coupon", zh: "发放优惠券" } });

  const engine = services.engine as EmbeddedEngine;
  const { journeyId, instances } = await runCouponJourney(services, service, async () => {
    await engine.runUntilIdle();
  });
  expect(service.requests).toEqual([
    { authorization: "Bearer k-live", idempotencyKey: `${instances.get("u-first")}:coupon:1`, body: { user: "u-first", campaign: "spring", amount: 20 } },
    { authorization: "Bearer k-live", idempotencyKey: `${instances.get("u-second")}:coupon:1`, body: { user: "u-second", campaign: "spring", amount: 20 } },
  ]);
  expect(await couponNodeEvents(services, journeyId)).toEqual([
    { user_id: "u-first", kind: "entered", output: null },
    { user_id: "u-first", kind: "left", output: "issued" },
    { user_id: "u-second", kind: "entered", output: null },
    { user_id: "u-second", kind: "left", output: "none_left" },
  ]);
  expect(await instanceStatuses(services, journeyId)).toEqual(["completed", "completed"]);
});

it("Settings › Extensions refuses secrets no loaded node declares, naming the field, and changes nothing", async () => {
  const workspace = await ensureDefaultWorkspace(services.db);
  const before = await extensionsView(services, workspace.id);
  const attempt = (input: { nodeType: unknown; name: unknown; value: unknown }) =>
    saveExtensionSecret(services, { workspaceId: workspace.id, operatorId: null, remove: false, ...input }).then(
      () => null,
      (error: unknown) => (error instanceof ExtensionSettingsError ? [error.field, error.message] : error),
    );
  expect(await attempt({ nodeType: "acme.nope", name: "apiKey", value: "x" })).toEqual(["nodeType", 'nodeType: "acme.nope" is not a node type of a loaded extension']);
  expect(await attempt({ nodeType: "core.push", name: "apiKey", value: "x" })).toEqual(["nodeType", 'nodeType: "core.push" is not a node type of a loaded extension']);
  // The webhook is written on the public API too; it declares no secrets.
  expect(await attempt({ nodeType: "example.webhook", name: "apiKey", value: "x" })).toEqual(["name", 'name: "example.webhook" declares no secret "apiKey"']);
  expect(await attempt({ nodeType: "acme.coupon", name: "password", value: "x" })).toEqual(["name", 'name: "acme.coupon" declares no secret "password"']);
  expect(await attempt({ nodeType: "acme.coupon", name: "apiKey", value: "" })).toEqual(["value", "value: enter the secret (or remove it)"]);
  expect(await attempt({ nodeType: "acme.coupon", name: "apiKey", value: "x".repeat(4097) })).toEqual(["value", "value: at most 4096 characters"]);
  expect(await extensionsView(services, workspace.id)).toEqual(before);
  expect(before.extensions[0].nodes[0].secrets).toEqual([{ name: "apiKey", label: { en: "Coupon service API key", zh: "优惠券服务 API 密钥" }, set: true }]);
});
