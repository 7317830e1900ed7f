import { recordAudit } from "../lib/accounts.server";
import type { AppServices } from "../services.server";
import { getNodeDefinition } from "../../nodes/registry";
import { extensionNodeOf } from "../../nodes/extension/adapt";
import { EXTENSION_API_VERSION, type Localized } from "../../nodes/extension/index";
import { extensionStatuses } from "../../nodes/extension/loader.server";
import { extensionSecretsOf } from "./extensions.server";

/** Settings › Extensions: what this process loaded or refused, and each node type's secrets. */
export interface ExtensionsView {
  apiVersion: string;
  extensions: Array<{
    spec: string;
    name: string;
    version: string;
    status: "loaded" | "refused";
    error?: string;
    providers: number;
    nodes: Array<{ id: string; version: number; title: Localized; secrets: Array<{ name: string; label: Localized; help?: Localized; set: boolean }> }>;
  }>;
}

export async function extensionsView(services: AppServices, workspaceId: string): Promise<ExtensionsView> {
  const statuses = extensionStatuses();
  const stored = statuses.some((s) => s.nodes.length > 0) ? await extensionSecretsOf(services).list(workspaceId) : [];
  const isSet = new Set(stored.map((s) => `${s.nodeType}\u0000${s.name}`));
  return {
    apiVersion: EXTENSION_API_VERSION,
    extensions: statuses.map((s) => ({
      spec: s.spec,
      name: s.name,
      version: s.version,
      status: s.status,
      ...(s.error ? { error: s.error } : {}),
      providers: s.providers,
      nodes: s.nodes.map((n) => {
        const definition = getNodeDefinition(n.id);
        const node = definition ? extensionNodeOf(definition) : undefined;
        return {
          id: n.id,
          version: n.version,
          title: n.title,
          secrets: (node?.secrets ?? []).map((secret) => ({ name: secret.name, label: secret.label, ...(secret.help ? { help: secret.help } : {}), set: isSet.has(`${n.id}\u0000${secret.name}`) })),
        };
      }),
    })),
  };
}

export class ExtensionSettingsError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_SECRET_LENGTH = 4096;

/** Saves or removes one secret; refuses (naming the field) anything no loaded node declares. */
export async function saveExtensionSecret(
  services: AppServices,
  input: { workspaceId: string; operatorId: string | null; nodeType: unknown; name: unknown; value: unknown; remove: boolean },
): Promise<void> {
  const nodeType = typeof input.nodeType === "string" ? input.nodeType : "";
  const name = typeof input.name === "string" ? input.name : "";
  const definition = getNodeDefinition(nodeType);
  const node = definition ? extensionNodeOf(definition) : undefined;
  if (!node) throw new ExtensionSettingsError("nodeType", `nodeType: "${nodeType}" is not a node type of a loaded extension`);
  if (!(node.secrets ?? []).some((s) => s.name === name)) throw new ExtensionSettingsError("name", `name: "${node.id}" declares no secret "${name}"`);
  let value: string | null = null;
  if (!input.remove) {
    if (typeof input.value !== "string" || input.value === "") throw new ExtensionSettingsError("value", "value: enter the secret (or remove it)");
    if (input.value.length > MAX_SECRET_LENGTH) throw new ExtensionSettingsError("value", `value: at most ${MAX_SECRET_LENGTH} characters`);
    value = input.value;
  }
  await extensionSecretsOf(services).save({ workspaceId: input.workspaceId, nodeType: node.id, name, value, operatorId: input.operatorId });
  await recordAudit(services.db, {
    workspaceId: input.workspaceId,
    operatorId: input.operatorId,
    action: value === null ? "extension.secret.remove" : "extension.secret.set",
    target: `${node.id}:${name}`,
  });
}
