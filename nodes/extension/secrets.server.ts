import { and, eq } from "drizzle-orm";
import type { Db } from "../../db/client";
import { extensionSecrets } from "../../db/schema";
import { decryptSecret, encryptSecret, type SecretKey } from "../channels/secrets.server";
import type { NodeSecrets } from "../runtime";

/**
 * Extension nodes' secrets (Settings › Extensions): sealed with the deployment's secret key and
 * the workspace, node type and name as associated data, so a value copied to another row or
 * workspace does not decrypt. Values are read at run time, cached briefly per process.
 */

const context = (workspaceId: string, nodeType: string, name: string) => `extension:${workspaceId}:${nodeType}:${name}`;

export interface ExtensionSecretStore {
  forNode(workspaceId: string, nodeType: string): NodeSecrets;
  /** A value, or null to remove it. */
  save(input: { workspaceId: string; nodeType: string; name: string; value: string | null; operatorId?: string | null }): Promise<void>;
  /** Names that have a value, per node type (values never leave the server). */
  list(workspaceId: string): Promise<Array<{ nodeType: string; name: string; updatedAt: Date }>>;
}

export function createExtensionSecretStore(options: { db: Db; key: () => SecretKey; cacheMs?: number; now?: () => number }): ExtensionSecretStore {
  const cacheMs = options.cacheMs ?? 30_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { at: number; values: Map<string, string> }>();

  async function valuesOf(workspaceId: string, nodeType: string): Promise<Map<string, string>> {
    const cacheKey = `${workspaceId}\u0000${nodeType}`;
    const hit = cache.get(cacheKey);
    if (hit && now() - hit.at < cacheMs) return hit.values;
    const rows = await options.db
      .select({ name: extensionSecrets.name, sealed: extensionSecrets.sealed })
      .from(extensionSecrets)
      .where(and(eq(extensionSecrets.workspaceId, workspaceId), eq(extensionSecrets.nodeType, nodeType)));
    const values = new Map(rows.map((r) => [r.name, decryptSecret(options.key(), r.sealed, context(workspaceId, nodeType, r.name))]));
    cache.set(cacheKey, { at: now(), values });
    return values;
  }

  return {
    forNode: (workspaceId, nodeType) => ({ get: async (name) => (await valuesOf(workspaceId, nodeType)).get(name) }),
    async save({ workspaceId, nodeType, name, value, operatorId }) {
      cache.delete(`${workspaceId}\u0000${nodeType}`);
      const where = and(eq(extensionSecrets.workspaceId, workspaceId), eq(extensionSecrets.nodeType, nodeType), eq(extensionSecrets.name, name));
      if (value === null) {
        await options.db.delete(extensionSecrets).where(where);
        return;
      }
      const sealed = encryptSecret(options.key(), value, context(workspaceId, nodeType, name));
      await options.db
        .insert(extensionSecrets)
        .values({ workspaceId, nodeType, name, sealed, updatedBy: operatorId ?? null })
        .onConflictDoUpdate({ target: [extensionSecrets.workspaceId, extensionSecrets.nodeType, extensionSecrets.name], set: { sealed, updatedAt: new Date(), updatedBy: operatorId ?? null } });
    },
    async list(workspaceId) {
      return options.db
        .select({ nodeType: extensionSecrets.nodeType, name: extensionSecrets.name, updatedAt: extensionSecrets.updatedAt })
        .from(extensionSecrets)
        .where(eq(extensionSecrets.workspaceId, workspaceId));
    },
  };
}
