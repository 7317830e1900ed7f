import fc from "fast-check";

/**
 * fast-check arbitraries from JSON Schema: the REST routes' schemas come from the app's own
 * OpenAPI document, the tRPC procedures' from their zod inputs (through zod-to-json-schema), so
 * one generator serves both (docs/decisions/0762). Values mostly follow the schema, so requests
 * get past the first check and into the handlers and the database; at every leaf a hostile value
 * may stand in (NUL, lone surrogates, huge strings, deep nesting, wrong types, SQL and path text).
 */

export type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema | JsonSchema[];
  minItems?: number;
  maxItems?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  not?: JsonSchema;
  default?: unknown;
  $ref?: string;
  definitions?: Record<string, JsonSchema>;
  $defs?: Record<string, JsonSchema>;
};

/** Values that have broken real servers; none of them contains what the leak check looks for. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "\u0000",
    "a\u0000b",
    "\ud800",
    "x\udfff",
    "",
    " ",
    "%00",
    "__proto__",
    "constructor",
    "' or '1'='1",
    "\\",
    "\\u0000",
    "1e999",
    "NaN",
    "-1",
    "0",
    "99999999999999999999999999",
    "2026-13-45T99:99:99Z",
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    "$segment.entered",
    "../../../etc/passwd",
    "a".repeat(300),
    "x".repeat(70_000),
    "p.".repeat(5000) + "p",
    "🙂".repeat(100),
    "Robert'); --",
  ),
  fc.string({ unit: "binary", maxLength: 24 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 12 }),
);

const deep = fc.tuple(fc.integer({ min: 20, max: 3000 }), fc.boolean()).map(([depth, arrays]) => {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = arrays ? [value] : { k: value };
  return value;
});

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(null, true, false, 0, -1, 1e308, -1e308, 2 ** 53 + 2, 0.5, [], {}, [null], { "": "" }) },
  { weight: 1, arbitrary: fc.double({ noNaN: true }) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: fc.dictionary(hostileString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 300 }) },
);

export interface Pools {
  /** uuids of things that exist (journeys, versions, segments, instances, imports, keys). */
  uuids: string[];
  /** other ids that exist (user ids, segment keys). */
  ids: string[];
}

export interface FromSchemaOptions {
  pools: Pools;
  /** What to generate instead of `{}` (an unknown value) for a property of this name. */
  hints?: Record<string, fc.Arbitrary<unknown>>;
  /** Chance (weight out of 10) that a leaf is replaced by a hostile value. */
  hostileWeight?: number;
}

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (!schema.$ref) return schema;
  const parts = schema.$ref.replace(/^#\/?/, "").split("/").filter(Boolean);
  let target: unknown = root;
  for (const p of parts) target = (target as Record<string, unknown>)?.[decodeURIComponent(p)];
  return (target as JsonSchema) ?? {};
}

export function fromSchema(schema: JsonSchema, options: FromSchemaOptions): fc.Arbitrary<unknown> {
  const { pools, hints = {}, hostileWeight = 1 } = options;
  const build = (raw: JsonSchema, root: JsonSchema, depth: number, name?: string): fc.Arbitrary<unknown> => {
    const s = resolve(raw, root);
    const conforming = depth > 8 ? fc.constant(null) : plain(s, root, depth, name);
    return fc.oneof({ weight: 10 - hostileWeight, arbitrary: conforming }, { weight: hostileWeight, arbitrary: hostileValue });
  };
  const plain = (s: JsonSchema, root: JsonSchema, depth: number, name?: string): fc.Arbitrary<unknown> => {
    if (name && hints[name] && Object.keys(s).length === 0) return hints[name];
    if (s.const !== undefined) return fc.constant(s.const);
    if (s.enum) return fc.constantFrom(...s.enum);
    const alternatives = s.anyOf ?? s.oneOf;
    if (alternatives) {
      const usable = alternatives.filter((a) => !a.not);
      return usable.length ? fc.oneof(...usable.map((a) => build(a, root, depth + 1, name))) : fc.constant(undefined);
    }
    if (s.allOf?.length) return build(s.allOf[0], root, depth + 1, name);
    const type = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
    if (type.length > 1) return fc.oneof(...type.map((t) => plain({ ...s, type: t }, root, depth, name)));
    switch (type[0]) {
      case "string":
        return stringOf(s, pools);
      case "integer":
      case "number": {
        const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1_000_000);
        const max = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : 1_000_000);
        return type[0] === "integer"
          ? fc.integer({ min: Math.ceil(Math.max(min, -2_000_000_000)), max: Math.floor(Math.min(max, 2_000_000_000)) })
          : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
      }
      case "boolean":
        return fc.boolean();
      case "null":
        return fc.constant(null);
      case "array": {
        const items = Array.isArray(s.items) ? s.items[0] : s.items;
        return fc.array(items ? build(items, root, depth + 1) : hostileValue, { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 4, 4) });
      }
      case "object": {
        const props = s.properties ?? {};
        const required = new Set(s.required ?? []);
        const model: Record<string, fc.Arbitrary<unknown>> = {};
        for (const [key, sub] of Object.entries(props)) model[key] = build(sub, root, depth + 1, key);
        const record = fc.record(model, { requiredKeys: Object.keys(props).filter((k) => required.has(k)) });
        const extra = typeof s.additionalProperties === "object" ? build(s.additionalProperties, root, depth + 1) : undefined;
        if (Object.keys(props).length === 0) return fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), hostileString), extra ?? fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
        // Sometimes an unknown key rides along (strict schemas must refuse it with a 400).
        return fc.tuple(record, fc.option(fc.tuple(hostileString, hostileValue), { freq: 8 })).map(([r, more]) => (more ? { ...r, [more[0]]: more[1] } : r));
      }
      default:
        return fc.oneof(fc.jsonValue({ maxDepth: 3 }), hostileValue);
    }
  };
  return build(schema, schema, 0);
}

function stringOf(s: JsonSchema, pools: Pools): fc.Arbitrary<string> {
  switch (s.format) {
    case "uuid":
      return pools.uuids.length ? fc.oneof(fc.constantFrom(...pools.uuids), fc.uuid()) : fc.uuid();
    case "email":
      return fc.emailAddress();
    case "uri":
      return fc.webUrl();
    case "date-time":
      return fc.date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true }).map((d) => d.toISOString());
  }
  const min = s.minLength ?? 0;
  const max = Math.min(s.maxLength ?? 40, 40);
  const text = fc.string({ minLength: min, maxLength: Math.max(min, max) });
  return pools.ids.length ? fc.oneof(text, fc.constantFrom(...pools.ids)) : text;
}

/** Every leaf path of a JSON value, as key lists. */
function leafPaths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) leafPaths(v, [...prefix, Array.isArray(value) ? Number(k) : k], out);
  }
  return out;
}

/** A valid example with one value (or the whole) replaced by a hostile one: gets furthest into the handler. */
export function mutated(base: unknown): fc.Arbitrary<unknown> {
  const paths = leafPaths(base);
  return fc.tuple(fc.constantFrom(...paths), hostileValue).map(([path, value]) => {
    if (path.length === 0) return value;
    const copy = structuredClone(base) as Record<string | number, unknown>;
    let holder = copy;
    for (const key of path.slice(0, -1)) holder = holder[key] as Record<string | number, unknown>;
    holder[path[path.length - 1]] = value;
    return copy;
  });
}
