import { zodToJsonSchema } from "zod-to-json-schema";
import { getNodeDefinition } from "../registry";
import { extensionNodeOf } from "./adapt";
import type { RemoteNodeDescriptor } from "./remote";
import { extensionStatuses, inspectorModuleOf } from "./loader.server";

/**
 * What the browser needs of the node types loaded from extensions: the prebuilt bundle cannot
 * contain them, so the server sends their palette data and config schema as JSON Schema
 * (zod-to-json-schema, already used for the OpenAPI document) and the canvas rebuilds a zod
 * schema from it (remote.ts). The server's compiler keeps using the extension's own schema.
 */
export function describeExtensionNodes(): RemoteNodeDescriptor[] {
  const descriptors: RemoteNodeDescriptor[] = [];
  for (const status of extensionStatuses()) {
    if (status.status !== "loaded") continue;
    for (const { id } of status.nodes) {
      const definition = getNodeDefinition(id);
      const node = definition ? extensionNodeOf(definition) : undefined;
      if (!definition || !node) continue;
      descriptors.push({
        type: node.id,
        version: node.version,
        category: node.category,
        label: node.title,
        description: node.description,
        icon: node.icon,
        outputs: node.outputs.map((o) => ({ id: o.id, label: o.label })),
        defaults: node.defaults ?? {},
        schema: zodToJsonSchema(node.config, { target: "jsonSchema7", $refStrategy: "none", effectStrategy: "input" }) as Record<string, unknown>,
        hints: node.inspector?.fields ?? {},
        ...(inspectorModuleOf(node.id) ? { inspectorUrl: `/extensions/inspector/${node.id}.js` } : {}),
      });
    }
  }
  return descriptors;
}
