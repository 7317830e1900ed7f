import type { Client } from "@temporalio/client";
import { bundleWorkflowCode, NativeConnection, type WorkflowBundleWithSourceMap } from "@temporalio/worker";
import { connectClient, connectionOptions, type TemporalSettings } from "../../workflows/temporal/client";
import { WORKFLOWS_PATH } from "../../workflows/temporal/worker";
import { createTestDb, type TestDb } from "../support/db";

/** The Temporal server the live suites run against (`npm test` starts one and sets this). */
export const temporalAddress = process.env.TEMPORAL_ADDRESS;

/** Connection settings from the environment the app itself reads; each suite picks its own task queues. */
export function liveTemporalSettings(): TemporalSettings {
  if (!temporalAddress) throw new Error("TEMPORAL_ADDRESS is not set");
  return {
    address: temporalAddress,
    namespace: process.env.TEMPORAL_NAMESPACE ?? "default",
    taskQueue: "unused",
    tls: process.env.TEMPORAL_TLS === "true",
    ...(process.env.TEMPORAL_TLS_CERT_PATH ? { tlsCertPath: process.env.TEMPORAL_TLS_CERT_PATH } : {}),
    ...(process.env.TEMPORAL_TLS_KEY_PATH ? { tlsKeyPath: process.env.TEMPORAL_TLS_KEY_PATH } : {}),
    ...(process.env.TEMPORAL_API_KEY ? { apiKey: process.env.TEMPORAL_API_KEY } : {}),
  };
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
