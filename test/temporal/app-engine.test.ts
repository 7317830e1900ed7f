import { afterAll, beforeAll, expect, it } from "vitest";
import { createLogger } from "../../app/lib/log.server";
import type { JourneyEngine } from "../../workflows/engine";
import { createTemporalAppEngine } from "../../workflows/temporal/app.server";
import { createTemporalEngine } from "../../workflows/temporal/engine";
import { createTestDb, type TestDb } from "../support/db";
import { RecordingGateway } from "./support";

// The app's Temporal engine extends only start/stop (to run a worker): every other member of the
// engine, including the ones TemporalEngine gains later, must reach the app as the engine defines
// it. Its behaviour with a real worker is test/segments/journey-updates.test.ts.

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb({ migrate: false });
});
afterAll(() => db?.drop());

it("is the engine itself: every method but start/stop is the engine's own, and the action services get that engine", async () => {
  const gateway = new RecordingGateway();
  const engineMethods = Object.entries(Object.getOwnPropertyDescriptors(Object.getPrototypeOf(createTemporalEngine({ db: db.db, now: () => new Date(), gateway }))))
    .filter(([name, d]) => typeof d.value === "function" && !["constructor", "start", "stop"].includes(name))
    .map(([name, d]) => [name, d.value as unknown] as const);
  expect(engineMethods.map(([name]) => name)).toEqual(expect.arrayContaining(["handleEvents", "handleSegmentChanges", "triggerJourney", "runSchedules"]));

  let handed: JourneyEngine | null = null;
  const app = createTemporalAppEngine(
    {
      db: db.db,
      now: () => new Date(),
      log: createLogger("silent"),
      settings: { address: "127.0.0.1:1", namespace: "default", taskQueue: "unused", tls: false },
      actionServices: (engine) => {
        handed = engine;
        return () => {
          throw new Error("no action runs in this test");
        };
      },
    },
    { gateway },
  );
  for (const [name, method] of engineMethods) expect((app as unknown as Record<string, unknown>)[name], name).toBe(method);
  expect(app.kind).toBe("temporal");
  // Delivery reports of this engine's sends come back to it.
  expect(handed).toBe(app);
});
