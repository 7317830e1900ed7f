import { getNodeDefinition, registerNode } from "../../nodes/registry";
import { remoteNodeDefinition, type RemoteNodeDescriptor } from "../../nodes/extension/remote";
import { registerInspector } from "../canvas/inspector/registry";

/**
 * Makes the server's extension node types known to this page (palette, cards, inspector,
 * client-side checks). Idempotent; on the server the real definitions are already registered.
 */
export function registerRemoteNodes(descriptors: ReadonlyArray<unknown>): void {
  // Loader data arrives JSON-typed; it is exactly what describeExtensionNodes() produced.
  for (const descriptor of descriptors as RemoteNodeDescriptor[]) {
    if (getNodeDefinition(descriptor.type)) continue;
    registerNode(remoteNodeDefinition(descriptor));
    registerInspector(descriptor.type, { fields: descriptor.hints });
  }
}
