import type { z } from "zod";
import { defineNode as defineInternalNode, truncate, type AnyNodeDefinition, type NodeDefinitionInput } from "../define";
import { processShared } from "../shared-state";
import type { ExtensionNode } from "./index";

/**
 * A public-API node as the runtime sees it: an action node definition for the palette, the
 * inspector and the compiler. Client-safe; `run` is adapted separately (run.server.ts).
 */
const sources = processShared("extension-node-sources", () => new WeakMap<AnyNodeDefinition, ExtensionNode>());

/** `extras.preview`: for nodes shipped with Waypost, a rendering preview in the inspector (not part of the public API yet). */
export function toNodeDefinition(node: ExtensionNode, extras: { preview?: NodeDefinitionInput<z.ZodTypeAny>["preview"] } = {}): AnyNodeDefinition {
  const outputs = node.outputs.map((o) => ({ id: o.id, label: { en: o.label.en, zh: o.label.zh } }));
  const definition = defineInternalNode<z.ZodTypeAny>({
    type: node.id,
    version: node.version,
    kind: "action",
    category: node.category,
    label: node.title,
    description: node.description,
    icon: node.icon,
    config: node.config,
    defaults: node.defaults,
    outputs: () => outputs,
    summary: (config, locale) => (node.summary ? node.summary(config, locale) : defaultSummary(node.title[locale], config)),
    ...(node.migrate ? { migrate: (old: unknown, from: number) => node.migrate!(old, from) } : {}),
    ...(extras.preview ? { preview: extras.preview } : {}),
  });
  sources.set(definition, node);
  return definition;
}

/** The public-API node a definition was made from (undefined for built-in nodes). */
export function extensionNodeOf(definition: AnyNodeDefinition): ExtensionNode | undefined {
  return sources.get(definition);
}

/** "Title · first text value": enough to tell two cards apart without the author writing a summary. */
export function defaultSummary(title: string, config: unknown): string {
  const first = config && typeof config === "object" ? Object.values(config).find((v) => typeof v === "string" && v !== "") : undefined;
  return typeof first === "string" ? `${title} · ${truncate(first, 24)}` : title;
}
