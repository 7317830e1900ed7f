import { sql } from "drizzle-orm";
import type { AppServices } from "../../app/services.server";
import { createMessagingService, type InternalUserEvent } from "../../nodes/channels/send.server";
import { loadSecretKey } from "../../nodes/channels/secrets.server";
import { lazySecrets, messageStateRecorder } from "../../nodes/channels/runtime.server";
import { createProviderRegistry, type ProviderResolver } from "../../nodes/channels/settings.server";
import type { UpdateUserRequest } from "../../nodes/runtime";
import { notifyProfileChanged } from "../../app/segments/membership.server";
import { createEmbeddedEngine, type EmbeddedEngine, type EmbeddedEngineOptions } from "./engine.server";
import { iso, rows } from "./db.server";
import { createUserUpdater } from "./user-updates.server";

/**
 * The embedded engine as the app runs it: message nodes send through the channels' messaging
 * service (consent, quiet hours, caps, the workspace's configured providers, the sandbox when none
 * is configured), and the delivery reports that service emits come back to the engine as
 * `$message.delivered` user events, stored like any other event.
 */
export function createAppEngine(services: AppServices, options: EmbeddedEngineOptions = {}): EmbeddedEngine {
  // Built on the first send, so commands that never send (migrate, create-admin) touch no key file.
  let registry: ReturnType<typeof createProviderRegistry> | null = null;
  const providers: ProviderResolver = (workspaceId, channel) => {
    registry ??= createProviderRegistry({
      db: services.db,
      key: loadSecretKey({ env: services.config.WAYPOST_SECRET_KEY, dataDir: services.config.WAYPOST_DATA_DIR }),
    });
    return registry.resolve(workspaceId, channel);
  };
  // The engine is created below; reports arriving before that (none can) would have nowhere to go.
  let engine: EmbeddedEngine | null = null;
  const emitEvent = async (event: InternalUserEvent) => {
    await storeInternalEvent(services, event);
    await engine?.handleEvents([
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
  const messaging = createMessagingService({ db: services.db, providers, now: services.now, emitEvent, recordNodeEvent: messageStateRecorder(services), trackingSecret: lazySecrets(services.config).trackingSecret });
  // An "Update user" node changes traits like an identify call does: segments that read them are
  // re-evaluated for that user (segment entries from journeys' own updates start journeys too).
  const updater = createUserUpdater(services.db, () => services.now().getTime());
  const updateUser = (workspaceId: string) => async (request: UpdateUserRequest) => {
    await updater(workspaceId)(request);
    const traits = request.operations.map((o) => (o.op === "add_tag" || o.op === "remove_tag" ? "tags" : o.trait.split(".")[0]));
    notifyProfileChanged(services, workspaceId, [request.userId], { traits });
  };
  engine = createEmbeddedEngine(
    { db: services.db, now: services.now, log: services.log, database: services.database },
    { actionServices: (workspaceId) => ({ sendMessage: messaging.forWorkspace(workspaceId), updateUser: updateUser(workspaceId) }), ...options },
  );
  return engine;
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
