import { Client, Connection } from "@temporalio/client";
import type { Worker, WorkflowBundleOption } from "@temporalio/worker";
import type { Db } from "../../db/client";
import type { ActionServices } from "../../nodes/runtime";
import type { JourneyEngine } from "../engine";
import { createActivities } from "./activities";
import { connectionOptions, temporalGateway, type TemporalSettings, type WorkflowGateway } from "./client";
import { createTemporalEngine, type TemporalEngine, type TemporalEngineOptions } from "./engine";
import { createTemporalWorker } from "./worker";

/**
 * The Temporal engine as the app runs it (WAYPOST_ENGINE=temporal). Every process gets an engine
 * to hand events and entries to; `start()` (the `start` command with WAYPOST_RUN_WORKER, or
 * `waypost worker`) also runs a Temporal worker in this process. What its activities do (the
 * channels' messaging service, profile updates that re-evaluate segments) is built by the app,
 * once for both engines (cli/engine-services.ts); delivery reports come back to this engine as
 * `$message.*` events routed to the waiting workflow.
 */

/** Structured log lines (the app passes its logger). */
export interface EngineLog {
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

export interface TemporalAppServices {
  db: Db;
  /** Journey time for entries (workflows run on Temporal's clock). */
  now(): Date;
  log: EngineLog;
  settings: TemporalSettings;
  /** Action services per workspace, given the engine their delivery reports go back to. */
  actionServices(engine: JourneyEngine): (workspaceId: string) => ActionServices;
}

export interface TemporalAppEngineOptions extends TemporalEngineOptions {
  /** Replaces the Temporal calls (tests). */
  gateway?: WorkflowGateway;
  /** The worker's prebuilt workflow bundle (tests share one); by default bundled at start (~10 s). */
  workflowBundle?: WorkflowBundleOption;
}

export function createTemporalAppEngine(services: TemporalAppServices, options: TemporalAppEngineOptions = {}): TemporalEngine {
  const { settings, log } = services;
  // Lazy: commands that never touch journeys (migrate, create-admin) open no connection.
  const gateway = options.gateway ?? temporalGateway(new Client({ connection: Connection.lazy(connectionOptions(settings)), namespace: settings.namespace }), settings.taskQueue);
  const engine = createTemporalEngine({ db: services.db, now: services.now, log, gateway }, options);
  const actionServices = services.actionServices(engine);
  const startEngine = engine.start.bind(engine);
  const stopEngine = engine.stop.bind(engine);

  let running: { worker: Worker; run: Promise<void>; close(): Promise<void> } | null = null;

  // The engine itself, with start and stop extended to this process's worker: every other member
  // of TemporalEngine (operator actions included) reaches the app as the engine defines it.
  return Object.assign(engine, {
    async start() {
      await startEngine();
      if (running) return;
      const activities = createActivities({ db: services.db, now: () => services.now().getTime(), actionServices });
      const { worker, connection } = await createTemporalWorker({
        settings,
        activities,
        ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : {}),
      }).catch((error: unknown) => {
        throw new Error(`cannot run a Temporal worker against ${settings.address} (namespace ${settings.namespace}): ${error instanceof Error ? error.message : String(error)}`);
      });
      const run = worker.run().catch((error: unknown) => {
        log.error("temporal worker stopped with an error", { error: error instanceof Error ? error.message : String(error) });
      });
      running = { worker, run, close: () => connection.close() };
      log.info("temporal worker running", { address: settings.address, namespace: settings.namespace, taskQueue: settings.taskQueue });
    },
    async stop() {
      await stopEngine();
      if (!running) return;
      const current = running;
      running = null;
      // Lets activities in hand finish; Temporal retries any the shutdown grace period cuts off.
      if (current.worker.getState() === "RUNNING") current.worker.shutdown();
      await current.run;
      await current.close();
    },
  });
}
