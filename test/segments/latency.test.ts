import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSegment } from "../../app/segments/store.server";
import { startTestApp, type TestApp } from "../support/app";
import { basic, writeKey } from "../ingest/helpers";
import { listenTo } from "./helpers";
import { RecordingEngine } from "../ingest/recording-engine";

// Segment-entry latency: an event sent over HTTP that moves a user into a segment reaches the
// journey engine's handleSegmentChanges. This uses a recording JourneyEngine to see exactly what
// the data layer hands over and when; the real engine's entry test (segment entry -> instance)
// lives with the engine (test/engine). The latency is printed, never asserted.

let app: TestApp;
let key: string;
const engine = new RecordingEngine();

beforeAll(async () => {
  app = await startTestApp({ serve: true });
  app.services.engine = engine;
  key = await writeKey(app);
  await createSegment(app.services, app.workspaceId, {
    name: "Churned buyers",
    key: "churned_buyers_test",
    definition: {
      kind: "group",
      match: "all",
      rules: [
        { kind: "event", event: "order_completed", filters: [], check: "did" },
        { kind: "trait", trait: "vip", op: "eq", value: true },
      ],
    },
  });
  await listenTo(app, "churned_buyers_test");
});
afterAll(() => app?.close());

async function post(path: string, body: unknown) {
  const res = await fetch(`${app.url}${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: basic(key) }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
}

describe("event -> segment entry -> engine", () => {
  it("reaches handleSegmentChanges, and prints how long it took", async () => {
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const userId = `lat-${i}`;
      await post("/api/v1/identify", { userId, traits: { vip: true } });
      const entered = engine.nextChange((c) => c.userId === userId && c.change === "entered" && c.segmentId === "churned_buyers_test");
      const sent = performance.now();
      await post("/api/v1/track", { userId, event: "order_completed", properties: { amount: 10 } });
      latencies.push((await entered) - sent);
    }
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
    console.log(
      `event -> segment entry -> engine (HTTP, ${app.services.database.kind}, ${latencies.length} users): ` +
        `first ${latencies[0].toFixed(1)} ms, p50 ${pct(50).toFixed(1)} ms, p95 ${pct(95).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`,
    );
    expect(engine.changes.filter((c) => c.change === "entered")).toHaveLength(20);
  });
});
