import { fileURLToPath } from "node:url";
import { NativeConnection, Worker, type WorkflowBundleOption } from "@temporalio/worker";
import { connectionOptions, type TemporalSettings } from "./client";
import type { JourneyActivities } from "./contract";

/**
 * The Temporal worker: polls the task queue, runs `journeyWorkflow` in Temporal's sandbox and the
 * journey activities in this process. `waypost worker --engine temporal` runs one (so does
 * `waypost start` when WAYPOST_RUN_WORKER is on); run as many as the load needs.
 */

export const WORKFLOWS_PATH = fileURLToPath(new URL("./workflows.ts", import.meta.url));

export interface TemporalWorkerOptions {
  settings: TemporalSettings;
  activities: JourneyActivities;
  /** A prebuilt bundle (`bundleWorkflowCode`); by default workflows.ts is bundled at start (~10 s). */
  workflowBundle?: WorkflowBundleOption;
  /** Activities run at once by this worker. Default 200: sends wait on providers, not CPU. */
  maxConcurrentActivities?: number;
}

export async function createTemporalWorker(options: TemporalWorkerOptions): Promise<{ worker: Worker; connection: NativeConnection }> {
  const { settings } = options;
  const connection = await NativeConnection.connect(connectionOptions(settings));
  try {
    const worker = await Worker.create({
      connection,
      namespace: settings.namespace,
      taskQueue: settings.taskQueue,
      activities: options.activities,
      ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
      maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 200,
      // On shutdown, sends in hand get time to finish (startToClose is 2 min; most take < 1 s).
      // One cut off is retried by Temporal with the same idempotency key.
      shutdownGraceTime: "30 seconds",
      // Heartbeats reach the server at least this often (the SDK's default is 80% of the
      // heartbeat timeout, up to 60 s), so it knows within seconds when an activity last ran
      // (decision 1201).
      maxHeartbeatThrottleInterval: "5 seconds",
    });
    return { worker, connection };
  } catch (error) {
    await connection.close();
    throw error;
  }
}
