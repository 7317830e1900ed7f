import { z } from "zod";

/**
 * Property filters are shared by triggers, wait-for-event, condition rules, goals and exit
 * criteria, so an operator learns one vocabulary. A list of filters matches when ALL match.
 */
export const filterOps = [
  "eq",
  "neq",
  "gt",
  "gte",
  "lt",
  "lte",
  "contains",
  "not_contains",
  "in",
  "not_in",
  "exists",
  "not_exists",
] as const;
export type FilterOp = (typeof filterOps)[number];

const scalar = z.union([z.string(), z.number(), z.boolean()]);
export const filterValueSchema = z.union([scalar, z.array(scalar)]);
export type FilterValue = z.infer<typeof filterValueSchema>;

const valueless: readonly FilterOp[] = ["exists", "not_exists"];
const listOps: readonly FilterOp[] = ["in", "not_in"];

/** Adds the cross-field rules (value required, list for in/not_in) to any filter-like object. */
export function refineFilterValue(
  filter: { op: FilterOp; value?: FilterValue },
  ctx: z.RefinementCtx,
): void {
  if (valueless.includes(filter.op)) return;
  if (filter.value === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.invalid_type, expected: "string", received: "undefined", path: ["value"], message: "Required" });
  } else if (listOps.includes(filter.op) !== Array.isArray(filter.value)) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ["value"],
      message: listOps.includes(filter.op) ? "expected a list of values" : "expected a single value",
    });
  }
}

export const propertyFilterSchema = z
  .object({
    /** Dot path into the event properties, e.g. `order_count` or `items.0.sku`. */
    property: z.string().min(1),
    op: z.enum(filterOps),
    value: filterValueSchema.optional(),
  })
  .superRefine(refineFilterValue);
export type PropertyFilter = z.infer<typeof propertyFilterSchema>;

/** Event name + filters: the matcher shape used everywhere an event is awaited. */
export const eventMatcherSchema = z.object({
  event: z.string().min(1),
  filters: z.array(propertyFilterSchema).default([]),
});
export type EventMatcherConfig = z.infer<typeof eventMatcherSchema>;

/** Reads a dot path using own properties only (never the prototype chain). */
export function getPath(source: unknown, path: string): unknown {
  let current: unknown = source;
  for (const key of path.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function asNumber(value: unknown): number | null {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return null;
}

/** Numbers compare numerically even when one side arrived as a numeric string (CSV, forms). */
function equals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const na = asNumber(a);
  const nb = asNumber(b);
  return na !== null && nb !== null && na === nb;
}

function compare(a: unknown, b: unknown): number | null {
  const na = asNumber(a);
  const nb = asNumber(b);
  if (na !== null && nb !== null) return na - nb;
  // ISO-8601 timestamps and plain strings order lexicographically.
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return null;
}

export function matchesValue(actual: unknown, op: FilterOp, expected: FilterValue | undefined): boolean {
  switch (op) {
    case "exists":
      return actual !== undefined && actual !== null;
    case "not_exists":
      return actual === undefined || actual === null;
    case "eq":
      return equals(actual, expected);
    case "neq":
      return !equals(actual, expected);
    case "gt":
    case "gte":
    case "lt":
    case "lte": {
      if (actual === undefined || actual === null) return false;
      const c = compare(actual, expected);
      if (c === null) return false;
      return op === "gt" ? c > 0 : op === "gte" ? c >= 0 : op === "lt" ? c < 0 : c <= 0;
    }
    case "contains":
    case "not_contains": {
      const has = Array.isArray(actual)
        ? actual.some((item) => equals(item, expected))
        : typeof actual === "string" && typeof expected === "string" && actual.includes(expected);
      return op === "contains" ? has : !has;
    }
    case "in":
    case "not_in": {
      const list = Array.isArray(expected) ? expected : [];
      const has = list.some((item) => equals(actual, item));
      return op === "in" ? has : !has;
    }
  }
}

export function matchesFilters(properties: unknown, filters: readonly PropertyFilter[]): boolean {
  return filters.every((f) => matchesValue(getPath(properties, f.property), f.op, f.value));
}

const opWords: Record<FilterOp, { en: string; zh: string }> = {
  eq: { en: "=", zh: "=" },
  neq: { en: "≠", zh: "≠" },
  gt: { en: ">", zh: ">" },
  gte: { en: "≥", zh: "≥" },
  lt: { en: "<", zh: "<" },
  lte: { en: "≤", zh: "≤" },
  contains: { en: "contains", zh: "包含" },
  not_contains: { en: "does not contain", zh: "不包含" },
  in: { en: "in", zh: "属于" },
  not_in: { en: "not in", zh: "不属于" },
  exists: { en: "is set", zh: "有值" },
  not_exists: { en: "is not set", zh: "无值" },
};

export function describeFilter(
  subject: string,
  op: FilterOp,
  value: FilterValue | undefined,
  locale: "en" | "zh",
): string {
  const word = opWords[op][locale];
  if (value === undefined) return `${subject} ${word}`;
  const shown = Array.isArray(value) ? `[${value.join(", ")}]` : String(value);
  return `${subject} ${word} ${shown}`;
}
