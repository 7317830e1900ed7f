import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppServices } from "../../app/services.server";
import { extensionStatuses } from "../../nodes/extension/loader.server";
import { couponNodeEvents, instanceStatuses, runCouponJourney, startCouponService, startWithTutorial, writeTutorial, type CouponService } from "../extensions/tutorial-support";
import { untilNoActiveInstance } from "../support/instances";
import { createTestDb, type TestDb } from "../support/db";
import { temporalAddress } from "./support";

// docs/extensions.md followed literally on a real Temporal server: the tutorial folder (the doc's
// code blocks, outside the repository) loaded through WAYPOST_EXTENSIONS by createServices, the
// app's Temporal engine with a real worker whose activities run the custom node. The embedded run
// and the doc's own test are test/extensions/tutorial.test.ts.

if (!temporalAddress) console.log("[extensions] TEMPORAL_ADDRESS is not set: the tutorial's Temporal run is skipped (scripts/temporal-server.sh start <dir>).");

describe.skipIf(!temporalAddress)("docs/extensions.md on Temporal", () => {
  let db: TestDb;
  let services: AppServices;
  let service: CouponService;

  beforeAll(async () => {
    db = await createTestDb();
    service = await startCouponService(1);
    services = await startWithTutorial(db, writeTutorial(), { WAYPOST_ENGINE: "temporal", TEMPORAL_ADDRESS: temporalAddress!, TEMPORAL_TASK_QUEUE: `waypost-extensions-${randomUUID()}` });
    await services.engine!.start();
  });
  afterAll(async () => {
    await services?.engine?.stop();
    await service?.close();
    await db?.drop();
  });

  it("the tutorial node runs as an activity and records its node events", async () => {
    expect(extensionStatuses()).toMatchObject([{ name: "acme-coupons", status: "loaded" }]);
    const { journeyId, instances } = await runCouponJourney(services, service, () => untilNoActiveInstance(services.db, { timeoutMs: 60_000, everyMs: 100 }));
    expect(service.requests.map((r) => [r.authorization, r.idempotencyKey, r.body.user])).toEqual([
      ["Bearer k-live", `${instances.get("u-first")}:coupon:1`, "u-first"],
      ["Bearer k-live", `${instances.get("u-second")}:coupon:1`, "u-second"],
    ]);
    expect(await couponNodeEvents(services, journeyId)).toEqual([
      { user_id: "u-first", kind: "entered", output: null },
      { user_id: "u-first", kind: "left", output: "issued" },
      { user_id: "u-second", kind: "entered", output: null },
      { user_id: "u-second", kind: "left", output: "none_left" },
    ]);
    expect(await instanceStatuses(services, journeyId)).toEqual(["completed", "completed"]);
  });
});
