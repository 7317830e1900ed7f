import { setTimeout as sleep } from "node:timers/promises";
import { MockActivityEnvironment } from "@temporalio/testing";
import { describe, expect, it } from "vitest";
import { heartbeating } from "../../workflows/temporal/activities";
import type { JourneyActivities } from "../../workflows/temporal/contract";

/**
 * Activities heartbeat while they run when the workflow gave them a heartbeat timeout (decision
 * 1201): that is how the server notices a killed worker quickly (test/live/temporal-crash proves
 * the recovery on a real server). Without a heartbeat timeout an activity must not heartbeat.
 */

const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Activities that each take `ms` and answer with their name. */
function slowActivities(ms: number): JourneyActivities {
  const slow = (name: string) => async () => {
    await sleep(ms);
    return name as never;
  };
  return { executeNode: slow("executeNode"), evaluateCondition: slow("evaluateCondition"), recordProgress: slow("recordProgress") };
}

async function run(heartbeatTimeoutMs: number | undefined, name: keyof JourneyActivities, ms: number) {
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs }, { logger: silent });
  let beats = 0;
  env.on("heartbeat", () => (beats += 1));
  const activities = heartbeating(slowActivities(ms));
  const result = await env.run(activities[name] as () => Promise<unknown>);
  const afterwards = beats;
  await sleep(1_200);
  return { result, beats: afterwards, beatsAfterEnd: beats - afterwards };
}

describe("activity heartbeats", () => {
  it.concurrent.each(["executeNode", "evaluateCondition", "recordProgress"] as const)("%s heartbeats while it runs with a heartbeat timeout, and stops when it ends", async (name) => {
    // Timeout 4 s: a beat every second; the activity runs 2.2 s.
    const { result, beats, beatsAfterEnd } = await run(4_000, name, 2_200);
    expect(result).toBe(name);
    expect(beats).toBeGreaterThanOrEqual(1);
    expect(beatsAfterEnd).toBe(0);
  });

  it.concurrent("does not heartbeat without a heartbeat timeout (older histories scheduled none)", async () => {
    const { result, beats } = await run(undefined, "executeNode", 2_200);
    expect(result).toBe("executeNode");
    expect(beats).toBe(0);
  });

  it.concurrent("runs an activity called outside a worker (no activity context) as it is", async () => {
    await expect(heartbeating(slowActivities(10)).recordProgress({} as never)).resolves.toBe("recordProgress");
  });
});
