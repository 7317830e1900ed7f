import type { Config } from "../app/config.server";
import { notifyProfileChanged } from "../app/segments/membership.server";
import { extensionSecretsOf } from "../app/extensions/extensions.server";
import type { AppServices } from "../app/services.server";
import { lazySecrets, messageEventEmitter, messageStateRecorder } from "../nodes/channels/runtime.server";
import { createMessagingService } from "../nodes/channels/send.server";
import { createProviderRegistry, type ProviderRegistry } from "../nodes/channels/settings.server";
import { createGuardedFetch } from "../nodes/net/outbound.server";
import type { ActionServices, FetchLike } from "../nodes/runtime";
import { createAppEngine } from "../workflows/embedded/app.server";
import type { EmbeddedEngine, EmbeddedEngineOptions } from "../workflows/embedded/engine.server";
import { createUserUpdater } from "../workflows/embedded/user-updates.server";
import type { JourneyEngine } from "../workflows/engine";
import { createTemporalAppEngine, type TemporalAppEngineOptions } from "../workflows/temporal/app.server";
import type { TemporalSettings } from "../workflows/temporal/client";
import type { TemporalEngine } from "../workflows/temporal/engine";

/**
 * What journeys' action nodes do in the running app, built here once for both engines (decision
 * 0513): message nodes send through the channels' messaging service (consent, quiet hours, caps,
 * the workspace's providers, the sandbox when none is configured); delivery reports are stored as
 * `$message.*` events and handed back to the engine that sent; every message state and every
 * "Update user" node re-evaluates the user's segments, as ingestion does.
 */
export function engineActionServices(services: AppServices): (engine: JourneyEngine) => (workspaceId: string) => ActionServices {
  return (engine) => {
    const secrets = lazySecrets(services.config);
    // Built on the first send, so commands that never send (migrate, create-admin) touch no key file.
    let registry: ProviderRegistry | null = null;
    const messaging = createMessagingService({
      db: services.db,
      providers: (workspaceId, channel) => (registry ??= createProviderRegistry({ db: services.db, key: secrets.key(), outboundAllow: services.config.WAYPOST_OUTBOUND_ALLOW })).resolve(workspaceId, channel),
      now: () => services.now(),
      emitEvent: messageEventEmitter({ db: services.db, engine }),
      recordNodeEvent: messageStateRecorder(services),
      trackingSecret: secrets.trackingSecret,
    });
    const updater = createUserUpdater(services.db, () => services.now().getTime());
    // Webhooks and custom nodes call out through the outbound-request guard (docs/security.md).
    const fetchLike: FetchLike = createGuardedFetch({ allow: services.config.WAYPOST_OUTBOUND_ALLOW });
    const cache = new Map<string, ActionServices>();
    return (workspaceId) => {
      let found = cache.get(workspaceId);
      if (!found) {
        const update = updater(workspaceId);
        found = {
          sendMessage: messaging.forWorkspace(workspaceId),
          // Segments entered through a journey's own update start journeys too.
          async updateUser(request) {
            await update(request);
            const traits = request.operations.map((o) => (o.op === "add_tag" || o.op === "remove_tag" ? "tags" : o.trait.split(".")[0]));
            notifyProfileChanged(services, workspaceId, [request.userId], { traits });
          },
          fetch: fetchLike,
          log: services.log,
          secrets: (nodeType) => extensionSecretsOf(services).forNode(workspaceId, nodeType),
        };
        cache.set(workspaceId, found);
      }
      return found;
    };
  };
}

/** The embedded engine as the app runs it (WAYPOST_ENGINE=embedded). */
export function embeddedAppEngine(services: AppServices, options: EmbeddedEngineOptions = {}): EmbeddedEngine {
  return createAppEngine({ db: services.db, now: services.now, log: services.log, database: services.database, actionServices: engineActionServices(services) }, options);
}

/** The Temporal engine as the app runs it (WAYPOST_ENGINE=temporal); `start()` also runs a worker. */
export function temporalAppEngine(services: AppServices, options: TemporalAppEngineOptions = {}): TemporalEngine {
  return createTemporalAppEngine(
    { db: services.db, now: services.now, log: services.log, settings: temporalSettings(services.config), actionServices: engineActionServices(services) },
    options,
  );
}

export function temporalSettings(config: Config): TemporalSettings {
  if (!config.TEMPORAL_ADDRESS) throw new Error("TEMPORAL_ADDRESS is not set");
  return {
    address: config.TEMPORAL_ADDRESS,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    tls: config.TEMPORAL_TLS,
    ...(config.TEMPORAL_TLS_CERT_PATH ? { tlsCertPath: config.TEMPORAL_TLS_CERT_PATH } : {}),
    ...(config.TEMPORAL_TLS_KEY_PATH ? { tlsKeyPath: config.TEMPORAL_TLS_KEY_PATH } : {}),
    ...(config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY } : {}),
  };
}
