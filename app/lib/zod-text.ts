import { z } from "zod";

/**
 * Text PostgreSQL can store and compare (browser-safe; shared by the API schemas, the tRPC
 * inputs and the segment rules). PostgreSQL refuses the NUL character in text and jsonb, and a
 * lone UTF-16 surrogate cannot be encoded as UTF-8: both are refused here, as a 400 naming the
 * field, instead of failing deep inside a query (decision 0763).
 */

export const BAD_TEXT_MESSAGE = "must not contain the NUL character (\\u0000) or invalid Unicode";

export function isStorableText(value: string): boolean {
  return !value.includes("\u0000") && (value as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** Adds the storable-text check to a string schema: `storable(z.string().max(200))`. */
export function storable<T extends z.ZodType<string, z.ZodTypeDef, unknown>>(schema: T) {
  return schema.refine((v) => isStorableText(v), { message: BAD_TEXT_MESSAGE });
}

/** A bounded, storable string: `text(200)`, `text(100, { min: 1 })`. */
export function text(max: number, options: { min?: number } = {}) {
  let schema = z.string().max(max, `must be at most ${max} characters`);
  if (options.min) schema = schema.min(options.min, options.min === 1 ? "must not be empty" : `must be at least ${options.min} characters`);
  return storable(schema);
}

/** Paths of every string or key in a JSON value that is not storable text (for refining whole documents). */
export function badTextPaths(value: unknown, path: (string | number)[] = [], out: (string | number)[][] = [], limit = 20): (string | number)[][] {
  if (out.length >= limit) return out;
  if (typeof value === "string") {
    if (!isStorableText(value)) out.push(path);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => badTextPaths(v, [...path, i], out, limit));
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (!isStorableText(k)) out.push([...path, k]);
      else badTextPaths(v, [...path, k], out, limit);
    }
  }
  return out;
}
