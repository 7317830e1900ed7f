import type { ComponentType } from "react";
import type { ZodTypeAny } from "zod";
import type { AnyNodeDefinition, Localized } from "../../../nodes/define";
import type { JourneySettings } from "../../../workflows/document";
import type { FieldNode, Path } from "./introspect";

/**
 * The inspector's extension points. A node type gets a generated form for free; its author can
 * refine it with field hints, replace editors for particular schemas, or take over the whole
 * panel. Registration happens at module load, from `app/canvas/inspector/extensions.ts`.
 */

/** Per-field presentation, keyed by path pattern (`headers.*`, `branches.*.label`). */
export interface FieldHint {
  label?: Localized;
  /** A label from the `canvas` i18n namespace, for hints that ship with Waypost itself. */
  labelKey?: string;
  help?: Localized;
  placeholder?: Localized;
  /**
   * A built-in editor for a plain field: multi-line text (copy, HTML), a date, milliseconds as
   * amount + unit, an IANA time zone, or an event/trait name or segment key with suggestions.
   */
  widget?: "textarea" | "date" | "durationMs" | "timezone" | "event" | "trait" | "segment";
  hidden?: boolean;
  /** Shown only when this holds for the object the field belongs to (e.g. a cooldown only for the cooldown rule). */
  when?: (parent: Record<string, unknown>) => boolean;
}

export interface FieldEditorProps {
  id: string;
  value: unknown;
  onChange(value: unknown): void;
  node: FieldNode;
  path: Path;
  disabled: boolean;
  invalid: boolean;
}

/** What a whole-node inspector gets: the node's config and a way to change it. */
export interface InspectorProps {
  nodeId: string;
  definition: AnyNodeDefinition;
  config: unknown;
  /** `field` groups keystrokes into one undo step per field. */
  onChange(config: unknown, field?: string): void;
  readOnly: boolean;
  settings: JourneySettings;
  onSettingsChange(settings: JourneySettings): void;
  /** Switches the side panel to the journey settings. */
  openSettings(): void;
  workspaceTimezone: string;
  /** Field hints registered for this node type, to pass on to `<SchemaForm>`. */
  hints: Record<string, FieldHint>;
}

export interface InspectorExtension {
  /** Replaces the generated form; it may still render `<SchemaForm>` for parts of the config. */
  component?: ComponentType<InspectorProps>;
  fields?: Record<string, FieldHint>;
}

const inspectors = new Map<string, InspectorExtension>();
const editors = new WeakMap<ZodTypeAny, ComponentType<FieldEditorProps>>();
const listEditors = new WeakMap<ZodTypeAny, ComponentType<FieldEditorProps>>();

export function registerInspector(nodeType: string, extension: InspectorExtension): void {
  const existing = inspectors.get(nodeType);
  inspectors.set(nodeType, { ...existing, ...extension, fields: { ...existing?.fields, ...extension.fields } });
}

export function inspectorFor(nodeType: string): InspectorExtension | undefined {
  return inspectors.get(nodeType);
}

/**
 * Uses `component` wherever `schema` (the same schema object) appears in any config: register
 * `durationSchema` once and every duration in every node gets the amount + unit editor.
 * With `list: true` the editor is used for arrays of that schema instead (weekday pickers).
 */
export function registerFieldEditor(schema: ZodTypeAny, component: ComponentType<FieldEditorProps>, options: { list?: boolean } = {}): void {
  (options.list ? listEditors : editors).set(schema, component);
}

export function fieldEditorFor(node: FieldNode): ComponentType<FieldEditorProps> | undefined {
  for (const schema of node.schemas) {
    const found = editors.get(schema);
    if (found) return found;
  }
  if (node.field.kind === "array") {
    for (const schema of node.field.item.schemas) {
      const found = listEditors.get(schema);
      if (found) return found;
    }
  }
  return undefined;
}
