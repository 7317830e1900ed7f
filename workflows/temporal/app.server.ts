import { Client, Connection } from "@temporalio/client";
import type { Worker } from "@temporalio/worker";
import { sql } from "drizzle-orm";
import type { AppServices } from "../../app/services.server";
import { createMessagingService, type InternalUserEvent } from "../../nodes/channels/send.server";
import { loadSecretKey } from "../../nodes/channels/secrets.server";
import { lazySecrets, recordMessageNodeEvent } from "../../nodes/channels/runtime.server";
import { createProviderRegistry, type ProviderResolver } from "../../nodes/channels/settings.server";
import type { ActionServices, FetchLike } from "../../nodes/runtime";
import { iso, rows } from "../embedded/db.server";
import { createUserUpdater } from "../embedded/user-updates.server";
import { createActivities } from "./activities";
import { connectionOptions, temporalGateway, temporalSettings, type WorkflowGateway } from "./client";
import { createTemporalEngine, type TemporalEngine, type TemporalEngineOptions } from "./engine";
import { createTemporalWorker } from "./worker";

/**
 * The Temporal engine as the app runs it (WAYPOST_ENGINE=temporal). Every process gets an engine
 * to hand events and entries to; `start()` (the `start` command with WAYPOST_RUN_WORKER, or
 * `waypost worker`) also runs a Temporal worker in this process, whose message nodes send through
 * the channels' messaging service exactly as the embedded engine's do, and whose delivery reports
 * come back as `$message.delivered` events routed to the waiting workflow.
 */

type Services = Pick<AppServices, "config" | "database" | "db" | "log" | "now">;

export interface TemporalAppEngineOptions extends TemporalEngineOptions {
  /** Replaces the Temporal calls (tests). */
  gateway?: WorkflowGateway;
  /** Overrides parts of the action services, per workspace (tests). */
  actionServices?: (workspaceId: string) => Partial<ActionServices>;
}

export function createTemporalAppEngine(services: Services, options: TemporalAppEngineOptions = {}): TemporalEngine {
  const settings = temporalSettings(services.config);
  // Lazy: commands that never touch journeys (migrate, create-admin) open no connection.
  const gateway = options.gateway ?? temporalGateway(new Client({ connection: Connection.lazy(connectionOptions(settings)), namespace: settings.namespace }), settings.taskQueue);
  const engine = createTemporalEngine({ db: services.db, now: services.now, log: services.log, gateway }, options);

  let running: { worker: Worker; run: Promise<void>; close(): Promise<void> } | null = null;

  const activities = () => {
    let registry: ReturnType<typeof createProviderRegistry> | null = null;
    const providers: ProviderResolver = (workspaceId, channel) => {
      registry ??= createProviderRegistry({
        db: services.db,
        key: loadSecretKey({ env: services.config.WAYPOST_SECRET_KEY, dataDir: services.config.WAYPOST_DATA_DIR }),
      });
      return registry.resolve(workspaceId, channel);
    };
    const emitEvent = async (event: InternalUserEvent) => {
      await storeInternalEvent(services, event);
      await engine.handleEvents([
        {
          workspaceId: event.workspaceId,
          userId: event.userId,
          messageId: event.messageId,
          name: event.name,
          properties: { ...event.properties },
          timestamp: event.timestamp.getTime(),
        },
      ]);
    };
    // Every delivery state becomes a node event for analytics; email tracking needs the secret.
    const messaging = createMessagingService({ db: services.db, providers, now: services.now, emitEvent, recordNodeEvent: (e) => recordMessageNodeEvent(services.db, e), trackingSecret: lazySecrets(services.config).trackingSecret });
    const updater = createUserUpdater(services.db, () => services.now().getTime());
    const fetchLike: FetchLike = (url, init) => fetch(url, init);
    const cache = new Map<string, ActionServices>();
    return createActivities({
      db: services.db,
      now: () => services.now().getTime(),
      actionServices: (workspaceId) => {
        let found = cache.get(workspaceId);
        if (!found) {
          found = { sendMessage: messaging.forWorkspace(workspaceId), updateUser: updater(workspaceId), fetch: fetchLike, ...options.actionServices?.(workspaceId) };
          cache.set(workspaceId, found);
        }
        return found;
      },
    });
  };

  return {
    kind: "temporal",
    handleEvents: (events) => engine.handleEvents(events),
    handleSegmentChanges: (changes) => engine.handleSegmentChanges(changes),
    triggerJourney: (input) => engine.triggerJourney(input),
    runSchedules: () => engine.runSchedules(),
    async start() {
      await engine.start();
      if (running) return;
      const { worker, connection } = await createTemporalWorker({ settings, activities: activities() }).catch((error: unknown) => {
        throw new Error(`cannot run a Temporal worker against ${settings.address} (namespace ${settings.namespace}): ${error instanceof Error ? error.message : String(error)}`);
      });
      const run = worker.run().catch((error: unknown) => {
        services.log.error("temporal worker stopped with an error", { error: error instanceof Error ? error.message : String(error) });
      });
      running = { worker, run, close: () => connection.close() };
      services.log.info("temporal worker running", { address: settings.address, namespace: settings.namespace, taskQueue: settings.taskQueue });
    },
    async stop() {
      await engine.stop();
      if (!running) return;
      const current = running;
      running = null;
      // Lets activities in hand finish; Temporal retries any the shutdown grace period cuts off.
      if (current.worker.getState() === "RUNNING") current.worker.shutdown();
      await current.run;
      await current.close();
    },
  };
}

/** Delivery reports are part of the user's event history (conditions and segments read them). */
async function storeInternalEvent(services: Pick<AppServices, "db">, event: InternalUserEvent): Promise<void> {
  await rows(
    services.db,
    sql`insert into events (workspace_id, message_id, user_id, type, name, properties, timestamp)
        values (${event.workspaceId}::uuid, ${event.messageId}, ${event.userId}, 'track', ${event.name},
                ${JSON.stringify(event.properties)}::jsonb, ${iso(event.timestamp.getTime())}::timestamptz)
        on conflict do nothing`,
  );
}
