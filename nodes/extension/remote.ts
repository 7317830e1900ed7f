import { z } from "zod";
import { defineNode as defineInternalNode, type AnyNodeDefinition, type Localized, type NodeCategory } from "../define";
import { defaultSummary } from "./adapt";
import type { FieldHintSpec } from "./index";

/** An extension node as the server describes it to the browser (describe.server.ts). */
export interface RemoteNodeDescriptor {
  type: string;
  version: number;
  category: NodeCategory;
  label: Localized;
  description: Localized;
  icon: string;
  outputs: Array<{ id: string; label: Localized }>;
  defaults: unknown;
  /** JSON Schema (draft 7) of the config. */
  schema: Record<string, unknown>;
  hints: Record<string, FieldHintSpec>;
  /** Where the canvas loads the node's custom inspector module, if it has one. */
  inspectorUrl?: string;
}

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  format?: string;
  default?: unknown;
  description?: string;
};

/**
 * JSON Schema → zod for the canvas: the subset zod-to-json-schema produces for config schemas
 * (objects, text, numbers, booleans, enums, literals, lists, maps, unions, defaults). Anything
 * else is accepted as is and left to the server's compiler, which has the real schema.
 */
export function zodFromJsonSchema(schema: JsonSchema): z.ZodTypeAny {
  let result = core(schema);
  if (schema.description) result = result.describe(schema.description);
  if (schema.default !== undefined) result = result.default(schema.default);
  return result;
}

function core(schema: JsonSchema): z.ZodTypeAny {
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) {
    const nonNull = variants.filter((v) => v.type !== "null");
    const inner = nonNull.length === 1 ? zodFromJsonSchema(nonNull[0]) : nonNull.length > 1 ? z.union(nonNull.map(zodFromJsonSchema) as [z.ZodTypeAny, z.ZodTypeAny, ...z.ZodTypeAny[]]) : z.null();
    return nonNull.length < variants.length ? inner.nullable() : inner;
  }
  if (schema.const !== undefined) return z.literal(schema.const as string | number | boolean);
  if (schema.enum) {
    const strings = schema.enum.filter((v): v is string => typeof v === "string");
    if (strings.length === schema.enum.length && strings.length > 0) return z.enum(strings as [string, ...string[]]);
    return z.union(schema.enum.map((v) => z.literal(v as string | number | boolean)) as unknown as [z.ZodTypeAny, z.ZodTypeAny]);
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  const nullable = Array.isArray(schema.type) && schema.type.includes("null");
  let out: z.ZodTypeAny;
  switch (type) {
    case "string": {
      let s = z.string();
      if (schema.minLength !== undefined) s = s.min(schema.minLength);
      if (schema.maxLength !== undefined) s = s.max(schema.maxLength);
      if (schema.format === "uri") s = s.url();
      if (schema.format === "email") s = s.email();
      if (schema.format === "date-time") s = s.datetime({ offset: true });
      out = s;
      break;
    }
    case "integer":
    case "number": {
      let n = type === "integer" ? z.number().int() : z.number();
      if (schema.minimum !== undefined) n = n.min(schema.minimum);
      if (schema.maximum !== undefined) n = n.max(schema.maximum);
      if (schema.exclusiveMinimum !== undefined) n = n.gt(schema.exclusiveMinimum);
      if (schema.exclusiveMaximum !== undefined) n = n.lt(schema.exclusiveMaximum);
      out = n;
      break;
    }
    case "boolean":
      out = z.boolean();
      break;
    case "null":
      out = z.null();
      break;
    case "array": {
      let a = z.array(schema.items ? zodFromJsonSchema(schema.items) : z.unknown());
      if (schema.minItems !== undefined) a = a.min(schema.minItems);
      if (schema.maxItems !== undefined) a = a.max(schema.maxItems);
      out = a;
      break;
    }
    case "object": {
      if (!schema.properties && schema.additionalProperties && typeof schema.additionalProperties === "object") {
        out = z.record(zodFromJsonSchema(schema.additionalProperties));
        break;
      }
      const required = new Set(schema.required ?? []);
      const shape: Record<string, z.ZodTypeAny> = {};
      for (const [key, property] of Object.entries(schema.properties ?? {})) {
        const field = zodFromJsonSchema(property);
        shape[key] = required.has(key) || property.default !== undefined ? field : field.optional();
      }
      out = z.object(shape);
      break;
    }
    default:
      out = z.unknown();
  }
  return nullable ? out.nullable() : out;
}

/** The canvas's definition of an extension node: palette, inspector form, client-side checks. */
export function remoteNodeDefinition(descriptor: RemoteNodeDescriptor): AnyNodeDefinition {
  const outputs = descriptor.outputs;
  return defineInternalNode({
    type: descriptor.type,
    version: descriptor.version,
    kind: "action",
    category: descriptor.category,
    label: descriptor.label,
    description: descriptor.description,
    icon: descriptor.icon,
    config: zodFromJsonSchema(descriptor.schema as JsonSchema),
    defaults: descriptor.defaults,
    outputs: () => outputs,
    summary: (config, locale) => defaultSummary(descriptor.label[locale], config),
  });
}
