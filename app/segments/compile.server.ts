import { sql, type SQL } from "drizzle-orm";
import { durationMs, type Duration } from "../../nodes/duration";
import type { FilterOp, FilterValue, PropertyFilter } from "../../nodes/filters";
import type { Comparison, LeafRule, MessageRule, Rule } from "./rules";

/**
 * Compiles segment rules to ONE parameterised boolean SQL expression over `users u`. Every
 * operator-supplied string (trait names, event names, values, tags) is a bound parameter; only
 * whitelisted operators and fixed column names are written into the SQL text. Each rule yields
 * true/false, never NULL, so NOT and OR behave as an operator expects.
 *
 * The value semantics follow nodes/filters.ts (the journey condition node): numbers compare
 * numerically even when one side is a numeric string; other strings compare in code-point order.
 */

export interface CompileOptions {
  /** Evaluation time: windows ("in the last 30 days") are measured back from here. */
  now: Date;
  /**
   * Evaluating a handful of known users (after their events): every event rule becomes a
   * per-user index probe (a scalar subquery the planner cannot turn into a join over all
   * users' events). Without it (whole-segment recompute) the planner may hash-join instead.
   */
  scoped?: boolean;
}

const comparisonSql: Record<Comparison | "gt" | "gte" | "lt" | "lte", string> = { gt: ">", gte: ">=", eq: "=", lte: "<=", lt: "<" };

function asNumber(value: unknown): number | null {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return null;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function ts(ms: number): SQL {
  return sql`${iso(ms)}::timestamptz`;
}

function num(n: number): SQL {
  return sql`${String(n)}::numeric`;
}

function or(parts: SQL[]): SQL {
  if (parts.length === 0) return sql`false`;
  return sql`(${sql.join(parts, sql` or `)})`;
}

/** `source -> 'a' -> 'b'` for a dot path, each key bound as a parameter. */
export function jsonPath(source: SQL, path: string): SQL {
  let expr = source;
  for (const key of path.split(".")) expr = sql`(${expr} -> ${key}::text)`;
  return expr;
}

type Scalar = string | number | boolean;

function equals(v: SQL, expected: Scalar): SQL {
  if (typeof expected === "boolean") return sql`(${v} = ${expected ? "true" : "false"}::jsonb)`;
  const parts: SQL[] = [];
  if (typeof expected === "string") parts.push(sql`(jsonb_typeof(${v}) = 'string' and (${v} #>> '{}') = ${expected}::text)`);
  const n = asNumber(expected);
  if (n !== null) parts.push(sql`(waypost_try_numeric(${v}) = ${num(n)})`);
  return or(parts);
}

function compare(v: SQL, op: "gt" | "gte" | "lt" | "lte", expected: Scalar): SQL {
  const operator = sql.raw(comparisonSql[op]);
  const n = asNumber(expected);
  const branches: SQL[] = [];
  if (n !== null) branches.push(sql`when waypost_try_numeric(${v}) is not null then waypost_try_numeric(${v}) ${operator} ${num(n)}`);
  if (typeof expected === "string") {
    branches.push(sql`when jsonb_typeof(${v}) = 'string' then (${v} #>> '{}') collate "C" ${operator} ${expected}::text collate "C"`);
  }
  if (branches.length === 0) return sql`false`;
  return sql`(case ${sql.join(branches, sql` `)} else false end)`;
}

function contains(v: SQL, expected: Scalar): SQL {
  const parts = [sql`(jsonb_typeof(${v}) = 'array' and exists (select 1 from jsonb_array_elements(${v}) as el(value) where ${equals(sql`el.value`, expected)}))`];
  if (typeof expected === "string") parts.push(sql`(jsonb_typeof(${v}) = 'string' and strpos(${v} #>> '{}', ${expected}::text) > 0)`);
  return or(parts);
}

function nonNull(expr: SQL): SQL {
  return sql`coalesce(${expr}, false)`;
}

/** One filter operator applied to a jsonb value expression (a trait or an event property). */
export function valueMatches(v: SQL, op: FilterOp, value: FilterValue | undefined): SQL {
  const single = (Array.isArray(value) ? value[0] : value) as Scalar | undefined;
  switch (op) {
    case "exists":
      return nonNull(sql`(${v} is not null and jsonb_typeof(${v}) <> 'null')`);
    case "not_exists":
      return sql`not ${nonNull(sql`(${v} is not null and jsonb_typeof(${v}) <> 'null')`)}`;
    case "eq":
      return single === undefined ? sql`false` : nonNull(equals(v, single));
    case "neq":
      return single === undefined ? sql`true` : sql`not ${nonNull(equals(v, single))}`;
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return single === undefined ? sql`false` : nonNull(compare(v, op, single));
    case "contains":
      return single === undefined ? sql`false` : nonNull(contains(v, single));
    case "not_contains":
      return single === undefined ? sql`true` : sql`not ${nonNull(contains(v, single))}`;
    case "in":
    case "not_in": {
      const list = (Array.isArray(value) ? value : value === undefined ? [] : [value]) as Scalar[];
      const any = nonNull(or(list.map((item) => equals(v, item))));
      return op === "in" ? any : sql`not ${any}`;
    }
  }
}

function propertyFilters(filters: readonly PropertyFilter[]): SQL {
  if (filters.length === 0) return sql``;
  return sql` and ${sql.join(
    filters.map((f) => valueMatches(jsonPath(sql`e.properties`, f.property), f.op, f.value)),
    sql` and `,
  )}`;
}

function since(within: Duration | undefined, now: Date): number | null {
  return within ? now.getTime() - durationMs(within) : null;
}

/** The user's events with this name (and filters, and window): the body of every event rule. */
function eventsOf(rule: { event: string; filters: PropertyFilter[] }, from: number | null): SQL {
  return sql`from events e where e.workspace_id = u.workspace_id and e.user_id = u.id and e.name = ${rule.event}::text${
    from !== null ? sql` and e.timestamp >= ${ts(from)}` : sql``
  }${propertyFilters(rule.filters)}`;
}

/** When a message reached the state (null if it never did): an open proves delivery, a click an open. */
function messageStateTime(state: MessageRule["state"]): SQL {
  switch (state) {
    case "sent":
      return sql`coalesce(m.sent_at, m.delivered_at, m.opened_at, m.clicked_at)`;
    case "delivered":
      return sql`coalesce(m.delivered_at, m.opened_at, m.clicked_at)`;
    case "opened":
      return sql`coalesce(m.opened_at, m.clicked_at)`;
    case "clicked":
      return sql`m.clicked_at`;
    case "failed":
      return sql`(case when m.state = 'failed' then coalesce(m.failed_at, m.updated_at) end)`;
  }
}

/** "Some row exists": EXISTS for set-based plans, a LIMIT 1 probe when scoped to a few users. */
function anyRow(body: SQL, options: CompileOptions): SQL {
  return options.scoped ? sql`((select true ${body} limit 1) is not null)` : sql`exists (select 1 ${body})`;
}

function compileLeaf(rule: LeafRule, options: CompileOptions): SQL {
  const now = options.now.getTime();
  switch (rule.kind) {
    case "trait":
      return valueMatches(jsonPath(sql`u.traits`, rule.trait), rule.op, rule.value);
    case "trait_date": {
      const t = sql`waypost_try_timestamptz(${jsonPath(sql`u.traits`, rule.trait)})`;
      const d = rule.within ? durationMs(rule.within) : 0;
      switch (rule.op) {
        case "within_last":
          return nonNull(sql`(${t} >= ${ts(now - d)} and ${t} <= ${ts(now)})`);
        case "within_next":
          return nonNull(sql`(${t} >= ${ts(now)} and ${t} <= ${ts(now + d)})`);
        case "more_than_ago":
          return nonNull(sql`(${t} < ${ts(now - d)})`);
        case "more_than_ahead":
          return nonNull(sql`(${t} > ${ts(now + d)})`);
        case "before":
          return nonNull(sql`(${t} < ${ts(Date.parse(rule.date!))})`);
        case "after":
          return nonNull(sql`(${t} > ${ts(Date.parse(rule.date!))})`);
      }
      break;
    }
    case "tag": {
      // The cardinality test lets the planner use the partial GIN index on non-empty tags.
      const has = sql`(cardinality(u.tags) > 0 and u.tags @> array[${rule.tag}::text])`;
      return rule.op === "has" ? has : sql`not ${has}`;
    }
    case "event": {
      const exists = anyRow(eventsOf(rule, since(rule.within, options.now)), options);
      return rule.check === "did" ? exists : sql`not ${exists}`;
    }
    case "event_count": {
      // Counting at most value + 1 rows decides every comparison with `value` and bounds the
      // work per user, however many events they have.
      const capped = sql`(select count(*) from (select 1 ${eventsOf(rule, since(rule.within, options.now))} limit ${rule.value + 1}) as capped)`;
      return sql`(${capped} ${sql.raw(comparisonSql[rule.op])} ${rule.value})`;
    }
    case "event_value": {
      const value = sql`waypost_try_numeric(${jsonPath(sql`e.properties`, rule.property)})`;
      const fn = sql.raw({ sum: "sum", avg: "avg", min: "min", max: "max" }[rule.aggregate]);
      const aggregate = sql`(select ${fn}(${value}) ${eventsOf(rule, since(rule.within, options.now))})`;
      // A user without such events has spent 0; their average/min/max is unknown (never matches).
      const subject = rule.aggregate === "sum" ? sql`coalesce(${aggregate}, 0)` : aggregate;
      return nonNull(sql`(${subject} ${sql.raw(comparisonSql[rule.op])} ${num(rule.value)})`);
    }
    case "last_event": {
      const exists = anyRow(eventsOf(rule, since(rule.within, options.now)), options);
      return rule.op === "within" ? exists : sql`not ${exists}`;
    }
    case "last_seen":
    case "first_seen": {
      const column = rule.kind === "last_seen" ? sql`u.last_seen_at` : sql`u.first_seen_at`;
      const bound = ts(now - durationMs(rule.within));
      return rule.op === "within" ? sql`(${column} >= ${bound})` : sql`(${column} < ${bound})`;
    }
    case "message": {
      const at = messageStateTime(rule.state);
      const from = since(rule.within, options.now);
      const exists = anyRow(
        sql`from messages m where m.workspace_id = u.workspace_id and m.user_id = u.id${rule.channel ? sql` and m.channel = ${rule.channel}::text` : sql``}${
          rule.journeyId ? sql` and m.journey_id = ${rule.journeyId}::text` : sql``
        } and ${at} is not null${from !== null ? sql` and ${at} >= ${ts(from)}` : sql``}`,
        options,
      );
      return rule.check === "did" ? exists : sql`not ${exists}`;
    }
  }
  return sql`false`;
}

/** The whole rule tree as one boolean expression over `users u`. */
export function compileRule(rule: Rule, options: CompileOptions): SQL {
  if (rule.kind !== "group") return sql`(${compileLeaf(rule, options)})`;
  const parts = rule.rules.map((child) => compileRule(child, options));
  const body =
    parts.length === 0 ? sql.raw(rule.match === "all" ? "true" : "false") : sql`(${sql.join(parts, sql.raw(rule.match === "all" ? " and " : " or "))})`;
  return rule.negate ? sql`(not ${body})` : body;
}
