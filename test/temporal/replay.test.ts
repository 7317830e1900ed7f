import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { historyFromJSON } from "@temporalio/common/lib/proto-utils";
import type { WorkflowBundleWithSourceMap } from "@temporalio/worker";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type * as Interpreter from "../../workflows/interpreter";
import { buildJourney } from "../../workflows/builder";
import { observe, scenarios, type Scenario } from "../scenarios";
import type { ObservedRecord } from "../scenarios/format";
import { buildScenarioHistories, countActions, type BuiltHistory, type InstanceHistories } from "./history-builder";
import { bundleJourneyWorkflow, replayAll, simulateInputOf } from "./replay-support";

vi.mock("../../workflows/interpreter", async (importOriginal) => {
  const actual = await importOriginal<typeof Interpreter>();
  const { wrapStep } = await import("./step-recorder");
  return { ...actual, step: wrapStep(actual.step) };
});

/**
 * Every scenario of the suite, replayed through the real workflow bundle from histories the
 * builder derives from the simulator's run. Passing means: the workflow issues exactly the
 * commands the model recorded, and (checked by the builder) walks the simulator's path, storing
 * node records that give the scenario's expected analytics.
 */

let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  bundle = await bundleJourneyWorkflow();
});

function observed(instances: InstanceHistories[]) {
  const records: ObservedRecord[] = instances.flatMap((i) =>
    i.records.map((r) => ({ ...r, userId: i.userId, at: new Date(r.at).toISOString() }) as ObservedRecord),
  );
  return observe(records);
}

function expectAnalytics(scenario: Scenario, instances: InstanceHistories[]) {
  const seen = observed(instances);
  expect(seen.paths).toEqual(scenario.expect.paths);
  expect(seen.outcomes).toEqual(scenario.expect.outcomes);
  expect(seen.messages).toEqual(scenario.expect.messages);
  expect(seen.nodeCounts).toEqual(scenario.expect.nodeCounts);
  for (const [kind, count] of Object.entries(scenario.expect.recordCounts ?? {})) {
    expect(seen.recordCounts[kind] ?? 0, `records of kind ${kind}`).toBe(count);
  }
}

describe("scenario histories replay on journeyWorkflow", () => {
  it("the workflow bundle builds", () => {
    expect(bundle.code.length).toBeGreaterThan(0);
    expect(bundle.code).toContain("journeyWorkflow");
  });

  for (const scenario of scenarios) {
    it(scenario.name, async () => {
      const { instances } = buildScenarioHistories(simulateInputOf(scenario));
      expect(instances.length).toBeGreaterThan(0);
      expectAnalytics(scenario, instances);
      const results = await replayAll(bundle, instances.flatMap((i) => i.runs));
      expect(results.filter((r) => r.error).map((r) => `${r.workflowId}: ${r.error}`)).toEqual([]);
      expect(results).toHaveLength(instances.flatMap((i) => i.runs).length);
    });
  }

  it("continues as new when the history grows and carries the instance across runs", async () => {
    const scenario = scenarios.find((s) => s.journeyId === "scenario-win-back")!;
    const { instances } = buildScenarioHistories(simulateInputOf(scenario), { historyLimit: 12 });
    const runs = instances.flatMap((i) => i.runs);
    expect(runs.length).toBeGreaterThan(instances.length);
    // Same analytics whether or not the instance moved to a new run midway.
    expectAnalytics(scenario, instances);
    const ended = runs.filter((r) => r.json.events.at(-1)!.eventType === "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW");
    expect(ended.length).toBeGreaterThan(0);
    const results = await replayAll(bundle, runs);
    expect(results.filter((r) => r.error).map((r) => `${r.workflowId}: ${r.error}`)).toEqual([]);
  });
});

describe("a profile that changed during a wait", () => {
  // Two entries of one user: the first sets `vip` when its wait ends, so the second wakes holding
  // a profile from before that change. Its first activity refuses the stale step; the workflow
  // redoes it with the fresh profile and takes the other branch, as the simulator does.
  const document = buildJourney({
    name: "vip after wait",
    settings: { entry: { rule: "concurrent" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "event", event: "go", filters: [] } },
      { id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: 1, unit: "days" } } },
      { id: "vip", type: "core.condition", config: { mode: "yes_no", match: "all", rules: [{ kind: "trait", trait: "vip", op: "eq", value: true }] } },
      { id: "push", type: "core.push", config: { title: "VIP", body: "Welcome back", category: "transactional" } },
      { id: "promote", type: "core.update-user", config: { operations: [{ op: "set", trait: "vip", value: true }] } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "wait"],
      ["wait", "next", "vip"],
      ["vip", "yes", "push"],
      ["vip", "no", "promote"],
      ["push", "sent", "exit"],
      ["push", "failed", "exit"],
      ["promote", "next", "exit"],
      ["promote", "failed", "exit"],
    ],
  });

  it("is re-read before the decision, and the histories replay", async () => {
    const { instances, trace } = buildScenarioHistories({
      document,
      users: [{ id: "u", traits: { vip: false }, timezone: "Asia/Shanghai" }],
      timeline: [
        { at: "2024-05-06T00:00:00.000Z", userId: "u", event: { name: "go" } },
        { at: "2024-05-06T01:00:00.000Z", userId: "u", event: { name: "go" } },
      ],
      start: "2024-05-06T00:00:00.000Z",
      until: "2024-05-10T00:00:00.000Z",
      workspaceTimezone: "Asia/Shanghai",
    });
    expect(trace.users[0].instances.map((i) => i.steps.map((s) => `${s.nodeId}:${s.output ?? ""}`))).toEqual([
      ["trigger:next", "wait:next", "vip:no", "promote:next", "exit:"],
      ["trigger:next", "wait:next", "vip:yes", "push:sent", "exit:"],
    ]);
    const second = instances[1];
    const completions = second.runs[0].json.events
      .filter((e) => e.eventType === "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")
      .map((e) => JSON.parse(Buffer.from((e.activityTaskCompletedEventAttributes as { result: { payloads: Array<{ data: string }> } }).result.payloads[0].data, "base64").toString()) as { stale?: boolean });
    expect(completions[0].stale).toBe(true);
    expect(observed(instances).paths.u).toEqual([
      ["trigger:next", "wait:next", "vip:no", "promote:next", "exit"],
      ["trigger:next", "wait:next", "vip:yes", "push:sent", "exit"],
    ]);
    const results = await replayAll(bundle, instances.flatMap((i) => i.runs));
    expect(results.filter((r) => r.error).map((r) => `${r.workflowId}: ${r.error}`)).toEqual([]);
  });
});

/**
 * Histories recorded from an earlier build of the workflow, kept in the repository. Instances
 * in flight when a new version is deployed replay exactly such histories: if this fails, the
 * change must be guarded with `patched()` (docs/engines.md, "Changing the workflow"). Before the
 * first production deployment they may be regenerated with UPDATE_TEMPORAL_HISTORIES=1.
 */
describe("recorded histories still replay", () => {
  const file = new URL("./histories/win-back.json", import.meta.url);

  it("win-back histories recorded by an earlier build", async () => {
    const scenario = scenarios.find((s) => s.journeyId === "scenario-win-back")!;
    if (process.env.UPDATE_TEMPORAL_HISTORIES === "1" || !existsSync(file)) {
      const { instances } = buildScenarioHistories(simulateInputOf(scenario));
      const runs = instances.flatMap((i) => i.runs.map((r) => ({ workflowId: r.workflowId, events: r.json.events })));
      writeFileSync(file, JSON.stringify(runs, null, 1) + "\n");
    }
    const stored = JSON.parse(readFileSync(file, "utf8")) as Array<{ workflowId: string; events: BuiltHistory["json"]["events"] }>;
    const runs: BuiltHistory[] = stored.map((r) => ({ workflowId: r.workflowId, json: { events: r.events }, history: historyFromJSON({ events: r.events }) }));
    const results = await replayAll(bundle, runs);
    expect(results.filter((r) => r.error).map((r) => `${r.workflowId}: ${r.error}`)).toEqual([]);
    expect(results).toHaveLength(stored.length);
  });
});

/**
 * Action budget, counted from the replay-verified history of the win-back full path (push sent
 * but not delivered → SMS → no order within 2 days → wait 3 days → email → exit, then the goal
 * window runs out). Temporal Cloud bills workflow starts, signals, activity attempts and timers;
 * workflow tasks are not billed and are reported separately. docs/engines.md has the breakdown.
 */
describe("action budget", () => {
  it("the lapsed-buyer win-back full path costs at most 12 actions per user", async () => {
    const scenario = scenarios.find((s) => s.journeyId === "scenario-win-back")!;
    const { instances } = buildScenarioHistories(simulateInputOf(scenario));
    const full = instances.find((i) => i.userId === "wb-fallback")!;
    expect(observed([full]).paths["wb-fallback"]).toEqual([
      ["trigger:next", "send_time:next", "push_winback:failed", "sms_fallback:sent", "wait_order:timed_out", "wait_3d:next", "email_winback:sent", "exit"],
    ]);
    const results = await replayAll(bundle, full.runs);
    expect(results.filter((r) => r.error)).toEqual([]);

    const count = countActions(full.runs);
    console.log(`win-back full path, one user: ${JSON.stringify(count)}`);
    expect(count).toEqual({
      workflowStarts: 1,
      // The entry's signal-with-start.
      signals: 1,
      // push, SMS, email; node events stored at the wait_order timeout and at completion.
      activities: 5,
      byActivity: { executeNode: 3, recordProgress: 2 },
      // send hour, delivery window, wait_order timeout, wait 3 days, end of the goal window.
      timers: 5,
      workflowTasks: 11,
      billable: 12,
    });
    expect(count.billable).toBeLessThanOrEqual(12);
  });
});
