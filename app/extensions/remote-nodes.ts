import * as React from "react";
import type { ComponentType } from "react";
import { getNodeDefinition, registerNode } from "../../nodes/registry";
import { remoteNodeDefinition, type RemoteNodeDescriptor } from "../../nodes/extension/remote";
import { registerInspector, type InspectorProps } from "../canvas/inspector/registry";
import { SchemaForm } from "../canvas/inspector/SchemaForm";

type InspectorFactory = (host: { React: typeof React; SchemaForm: typeof SchemaForm }) => ComponentType<InspectorProps>;

/** Loads a node's custom inspector (a browser module served by the app) and puts it in place of the generated form. */
async function loadInspector(type: string, url: string): Promise<void> {
  const module = (await import(/* @vite-ignore */ url)) as { default?: unknown };
  if (typeof module.default !== "function") throw new Error(`${url} must default-export (host) => Component`);
  registerInspector(type, { component: (module.default as InspectorFactory)({ React, SchemaForm }) });
}

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
    if (descriptor.inspectorUrl && typeof window !== "undefined") {
      // Until it arrives (or if it fails) the generated form stands in.
      loadInspector(descriptor.type, descriptor.inspectorUrl).catch((error) => console.error(`inspector of ${descriptor.type}:`, error));
    }
  }
}
