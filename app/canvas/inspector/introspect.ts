import { z, type ZodIssue, type ZodTypeAny } from "zod";

/**
 * Zod introspection, written once: a node's config schema becomes a tree of field descriptions
 * the inspector renders. Wrappers (optional, default, nullable, refinements) are peeled off and
 * remembered, so a field knows it may be left empty or what it starts as, and every schema met
 * on the way is kept for editor lookup (`registerFieldEditor(durationSchema, …)`).
 */

export type ScalarType = "string" | "number" | "boolean";

export type Field =
  | { kind: "string"; format?: "datetime" | "url" | "email"; minLength?: number; maxLength?: number }
  | { kind: "number"; int: boolean; min?: number; max?: number }
  | { kind: "boolean" }
  | { kind: "enum"; options: readonly string[] }
  | { kind: "literal"; value: string | number | boolean | null }
  | { kind: "array"; item: FieldNode; minItems?: number; maxItems?: number }
  | { kind: "object"; fields: Array<{ key: string; node: FieldNode }> }
  | { kind: "record"; value: FieldNode }
  /** A discriminated union: pick a variant, then fill in that variant's object. */
  | { kind: "variant"; discriminator: string; options: Array<{ value: string; node: FieldNode }> }
  /** A union of plain values, e.g. a filter value that may be text, a number or a list. */
  | { kind: "scalar"; types: ScalarType[]; list: boolean; nullable: boolean }
  /** Anything else is edited as JSON. */
  | { kind: "unknown" };

export interface FieldNode {
  field: Field;
  optional: boolean;
  nullable: boolean;
  /** The default zod applies when the value is missing. */
  defaultValue?: () => unknown;
  description?: string;
  /** Every schema from the outermost wrapper to the core type, for editor lookup. */
  schemas: ZodTypeAny[];
}

export type Path = ReadonlyArray<string | number>;

function unwrap(schema: ZodTypeAny) {
  const schemas: ZodTypeAny[] = [];
  let current = schema;
  let optional = false;
  let nullable = false;
  let defaultValue: (() => unknown) | undefined;
  let description: string | undefined;
  for (;;) {
    schemas.push(current);
    description ??= current.description;
    if (current instanceof z.ZodOptional) {
      optional = true;
      current = current.unwrap();
    } else if (current instanceof z.ZodNullable) {
      nullable = true;
      current = current.unwrap();
    } else if (current instanceof z.ZodDefault) {
      defaultValue ??= current._def.defaultValue;
      current = current.removeDefault();
    } else if (current instanceof z.ZodEffects) {
      current = current.innerType();
    } else if (current instanceof z.ZodBranded) {
      current = current.unwrap();
    } else if (current instanceof z.ZodReadonly) {
      current = current.unwrap();
    } else if (current instanceof z.ZodCatch) {
      current = current.removeCatch();
    } else if (current instanceof z.ZodPipeline) {
      current = current._def.in;
    } else if (current instanceof z.ZodLazy) {
      current = current.schema;
    } else {
      return { core: current, schemas, optional, nullable, defaultValue, description };
    }
  }
}

/** Flattens unions of plain values (and lists of them); null for anything richer. */
function scalarUnion(options: readonly ZodTypeAny[]): { types: ScalarType[]; list: boolean; nullable: boolean } | null {
  const types = new Set<ScalarType>();
  let list = false;
  let nullable = false;
  for (const option of options) {
    const { core } = unwrap(option);
    if (core instanceof z.ZodString) types.add("string");
    else if (core instanceof z.ZodNumber) types.add("number");
    else if (core instanceof z.ZodBoolean) types.add("boolean");
    else if (core instanceof z.ZodNull) nullable = true;
    else if (core instanceof z.ZodUnion) {
      const inner = scalarUnion(core.options);
      if (!inner) return null;
      inner.types.forEach((t) => types.add(t));
      list ||= inner.list;
      nullable ||= inner.nullable;
    } else if (core instanceof z.ZodArray) {
      const inner = scalarUnion([core.element]);
      if (!inner || inner.list) return null;
      inner.types.forEach((t) => types.add(t));
      list = true;
    } else return null;
  }
  return types.size > 0 ? { types: [...types], list, nullable } : null;
}

function describeCore(core: ZodTypeAny): Field {
  if (core instanceof z.ZodString) {
    const field: Extract<Field, { kind: "string" }> = { kind: "string" };
    for (const check of core._def.checks) {
      if (check.kind === "min") field.minLength = check.value;
      else if (check.kind === "max") field.maxLength = check.value;
      else if (check.kind === "datetime" || check.kind === "url" || check.kind === "email") field.format = check.kind;
    }
    return field;
  }
  if (core instanceof z.ZodNumber) {
    const field: Extract<Field, { kind: "number" }> = { kind: "number", int: false };
    for (const check of core._def.checks) {
      if (check.kind === "int") field.int = true;
      else if (check.kind === "min") field.min = check.inclusive ? check.value : check.value + Number.EPSILON;
      else if (check.kind === "max") field.max = check.inclusive ? check.value : check.value - Number.EPSILON;
    }
    // An exclusive integer bound (positive()) is the next integer.
    if (field.int && field.min !== undefined) field.min = Math.ceil(field.min);
    if (field.int && field.max !== undefined) field.max = Math.floor(field.max);
    return field;
  }
  if (core instanceof z.ZodBoolean) return { kind: "boolean" };
  if (core instanceof z.ZodEnum) return { kind: "enum", options: core.options as string[] };
  if (core instanceof z.ZodNativeEnum) return { kind: "enum", options: Object.values(core.enum as Record<string, string | number>).filter((v): v is string => typeof v === "string") };
  if (core instanceof z.ZodLiteral) return { kind: "literal", value: core.value as string | number | boolean | null };
  if (core instanceof z.ZodArray) {
    return {
      kind: "array",
      item: describeSchema(core.element),
      ...(core._def.minLength ? { minItems: core._def.minLength.value } : {}),
      ...(core._def.maxLength ? { maxItems: core._def.maxLength.value } : {}),
    };
  }
  if (core instanceof z.ZodObject) {
    return { kind: "object", fields: Object.entries(core.shape as Record<string, ZodTypeAny>).map(([key, schema]) => ({ key, node: describeSchema(schema) })) };
  }
  if (core instanceof z.ZodRecord) return { kind: "record", value: describeSchema(core.valueSchema) };
  if (core instanceof z.ZodDiscriminatedUnion) {
    const discriminator = core.discriminator as string;
    return {
      kind: "variant",
      discriminator,
      options: (core.options as ZodTypeAny[]).map((option) => {
        const node = describeSchema(option);
        const tag = node.field.kind === "object" ? node.field.fields.find((f) => f.key === discriminator)?.node.field : undefined;
        return { value: tag?.kind === "literal" ? String(tag.value) : "?", node };
      }),
    };
  }
  if (core instanceof z.ZodUnion) {
    const scalar = scalarUnion(core.options);
    if (scalar) return { kind: "scalar", ...scalar };
  }
  return { kind: "unknown" };
}

export function describeSchema(schema: ZodTypeAny): FieldNode {
  const { core, schemas, optional, nullable, defaultValue, description } = unwrap(schema);
  return { field: describeCore(core), optional, nullable, schemas, ...(defaultValue ? { defaultValue } : {}), ...(description ? { description } : {}) };
}

/** Whether the value may be left out: optional, or filled in by a default. */
export function isRequired(node: FieldNode): boolean {
  return !node.optional && node.defaultValue === undefined;
}

/** What a new value of this field starts as: the default, else the emptiest valid-looking value. */
export function initialValue(node: FieldNode): unknown {
  if (node.defaultValue) return structuredClone(node.defaultValue());
  if (node.optional) return undefined;
  const field = node.field;
  switch (field.kind) {
    case "string":
      return "";
    case "number":
      return field.min !== undefined && field.min > 0 ? field.min : 0;
    case "boolean":
      return false;
    case "enum":
      return field.options[0];
    case "literal":
      return field.value;
    case "array":
      return [];
    case "record":
      return {};
    case "object":
      return Object.fromEntries(field.fields.map((f) => [f.key, initialValue(f.node)]).filter(([, v]) => v !== undefined));
    case "variant":
      return field.options.length ? initialValue(field.options[0].node) : {};
    case "scalar":
      return field.types.includes("string") ? "" : field.types.includes("number") ? 0 : false;
    case "unknown":
      return undefined;
  }
}

/**
 * Switching variant keeps what the two variants share (an event name stays when "did" becomes
 * "count of"), and starts the rest fresh.
 */
export function switchVariant(field: Extract<Field, { kind: "variant" }>, previous: unknown, value: string): unknown {
  const option = field.options.find((o) => o.value === value);
  if (!option) return previous;
  const fresh = initialValue(option.node) as Record<string, unknown>;
  if (option.node.field.kind !== "object" || previous === null || typeof previous !== "object") return fresh;
  const keys = new Set(option.node.field.fields.map((f) => f.key));
  const kept = Object.fromEntries(Object.entries(previous).filter(([k]) => keys.has(k) && k !== field.discriminator));
  return { ...fresh, ...kept, [field.discriminator]: fresh[field.discriminator] };
}

export function variantOf(field: Extract<Field, { kind: "variant" }>, value: unknown) {
  const tag = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[field.discriminator] : undefined;
  return field.options.find((o) => o.value === String(tag));
}

export function getIn(value: unknown, path: Path): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

/** Immutable set; `undefined` removes an object key so optional fields really are absent. */
export function setIn(value: unknown, path: Path, next: unknown): unknown {
  if (path.length === 0) return next;
  const [key, ...rest] = path;
  if (typeof key === "number") {
    const list = Array.isArray(value) ? [...value] : [];
    list[key] = setIn(list[key], rest, next);
    return list;
  }
  const object = value !== null && typeof value === "object" && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : {};
  const child = setIn(object[key], rest, next);
  if (child === undefined) delete object[key];
  else object[key] = child;
  return object;
}

export const pathKey = (path: Path) => path.join(".");

/** Path with list positions replaced by `*`: the form used by field hints and labels. */
export const pathPattern = (path: Path) => path.map((p) => (typeof p === "number" ? "*" : p)).join(".");

/** Parse issues of a config, by path, for inline display next to each field. */
export function issuesByPath(schema: ZodTypeAny, value: unknown): Map<string, ZodIssue[]> {
  const result = schema.safeParse(value);
  const map = new Map<string, ZodIssue[]>();
  if (result.success) return map;
  for (const issue of result.error.issues) {
    const key = pathKey(issue.path);
    map.set(key, [...(map.get(key) ?? []), issue]);
  }
  return map;
}
