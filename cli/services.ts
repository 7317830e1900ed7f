import { join } from "node:path";
import { migrate, openDatabase, type Database } from "../db/client";
import type { Config } from "../app/config.server";
import { createLogger } from "../app/lib/log.server";
import type { AppServices } from "../app/services.server";
import { embeddedAppEngine, temporalAppEngine } from "./engine-services";
import { loadExtensions } from "../nodes/extension/loader.server";
import { notifyProfileChanged } from "../app/segments/membership.server";

/** Opens the configured database (PostgreSQL when DATABASE_URL is set, PGlite otherwise). */
export function openConfiguredDatabase(config: Config): Promise<Database> {
  return openDatabase({
    url: config.DATABASE_URL,
    dataDir: join(config.WAYPOST_DATA_DIR, "pglite"),
    connectTimeoutMs: config.WAYPOST_DB_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: config.WAYPOST_DB_STATEMENT_TIMEOUT_MS,
  });
}

/** Builds the services the server, workers and CLI commands share. Migrations run first. */
export async function createServices(config: Config, options: { database?: Database; now?: () => Date } = {}): Promise<AppServices> {
  const database = options.database ?? (await openConfiguredDatabase(config));
  await migrate(database);
  const services: AppServices = {
    config,
    database,
    db: database.db,
    log: createLogger(config.WAYPOST_LOG_LEVEL),
    now: options.now ?? (() => new Date()),
  };
  // The runtime's "profile changed" hook (channels' message states → segments with message rules).
  services.profileChanged = (workspaceId, userIds, signals) => notifyProfileChanged(services, workspaceId, userIds, signals);
  // Extensions first: the engines' workers (embedded and Temporal activities) run their nodes, and a
  // refused extension is logged and listed on Settings › Extensions without stopping the process.
  await loadExtensions(config.WAYPOST_EXTENSIONS, { log: services.log });
  // Created here, started only by `start` (WAYPOST_RUN_WORKER) and `worker`: every process can
  // hand events to the engine, and any number of them may run its worker.
  if (config.WAYPOST_ENGINE === "embedded") services.engine = embeddedAppEngine(services);
  if (config.WAYPOST_ENGINE === "temporal") services.engine = temporalAppEngine(services);
  return services;
}
