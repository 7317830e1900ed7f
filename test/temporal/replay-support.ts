import { fileURLToPath } from "node:url";
import { bundleWorkflowCode, Worker, type ReplayResult, type WorkflowBundleWithSourceMap } from "@temporalio/worker";
import { Runtime, makeTelemetryFilterString } from "@temporalio/worker";
import type { SimulateInput } from "../../workflows/simulate";
import type { Scenario } from "../scenarios";
import { REPLAY_TASK_QUEUE, type BuiltHistory } from "./history-builder";

export const WORKFLOWS_PATH = fileURLToPath(new URL("../../workflows/temporal/workflows.ts", import.meta.url));

/** Quiet logger: the bundler and replay workers are chatty at INFO. */
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (message: string, meta?: unknown) => console.error(message, meta) };

let runtimeInstalled = false;
function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: quiet as never, telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: "ERROR" }), forward: {} } } });
  } catch {
    // Already installed by an earlier suite in this process: keep it.
  }
}

export async function bundleJourneyWorkflow(workflowsPath = WORKFLOWS_PATH): Promise<WorkflowBundleWithSourceMap> {
  installQuietRuntime();
  return bundleWorkflowCode({ workflowsPath, logger: quiet as never });
}

export async function replayAll(bundle: WorkflowBundleWithSourceMap, runs: readonly BuiltHistory[]): Promise<ReplayResult[]> {
  installQuietRuntime();
  const results: ReplayResult[] = [];
  const histories = runs.map((r) => ({ workflowId: r.workflowId, history: r.history }));
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle, replayName: REPLAY_TASK_QUEUE }, histories)) {
    results.push(result);
  }
  return results;
}

export function simulateInputOf(scenario: Scenario): SimulateInput {
  return {
    document: scenario.document,
    ...(scenario.versions ? { versions: scenario.versions } : {}),
    users: scenario.users,
    timeline: scenario.timeline,
    start: scenario.start,
    until: scenario.until,
    workspaceTimezone: scenario.workspaceTimezone,
    journeyId: scenario.journeyId,
    ...(scenario.actionOutcomes ? { actionOutcomes: scenario.actionOutcomes } : {}),
    ...(scenario.quietHours ? { quietHours: scenario.quietHours } : {}),
  };
}
