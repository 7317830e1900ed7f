import type { Client } from "@temporalio/client";
import { bundleWorkflowCode, NativeConnection, type WorkflowBundleWithSourceMap } from "@temporalio/worker";
import { connectClient, connectionOptions, type TemporalSettings } from "../../workflows/temporal/client";
import { WORKFLOWS_PATH } from "../../workflows/temporal/worker";
import { loadConfig } from "../../app/config.server";
import { temporalSettings } from "../../cli/engine-services";
import { createTestDb, type TestDb } from "../support/db";

/** The Temporal server the live suites run against (`npm test` starts one and sets this). */
export const temporalAddress = process.env.TEMPORAL_ADDRESS;

/** Connection settings read from the environment exactly as the app reads them; each suite picks its own task queues. */
export function liveTemporalSettings(): TemporalSettings {
  return temporalSettings(loadConfig());
}

/** What every live suite shares: a test database, the workflow bundle, a client and a worker connection. */
export interface LiveTemporal {
  db: TestDb;
  bundle: WorkflowBundleWithSourceMap;
  client: Client;
  connection: NativeConnection;
}

export async function openLiveTemporal(): Promise<LiveTemporal> {
  const db = await createTestDb();
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH });
  const client = await connectClient(liveTemporalSettings());
  const connection = await NativeConnection.connect(connectionOptions(liveTemporalSettings()));
  return { db, bundle, client, connection };
}

export async function closeLiveTemporal(live: LiveTemporal | undefined): Promise<void> {
  await live?.connection.close();
  await live?.client.connection.close();
  await live?.db.drop();
}
