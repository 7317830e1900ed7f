import { randomBytes } from "node:crypto";
import type { Logger } from "./log.server";

/**
 * The one place that decides what a failed request may tell its client (docs/decisions/0760).
 * Database errors that only the request's own values can cause (a NUL byte, bad UTF-8, a value
 * too long, text that is not a uuid/number/date, nesting past the parser's limits) are the
 * client's mistake: 400, in words, naming the field when it can be found in the input. Anything
 * else is ours: 500 with a generic message and a request id, and the details (SQL, parameters,
 * stack) go to the log under that id, never into the response.
 */

export interface InputFault {
  /** `invalid_value`, `too_long` or `too_deep`. */
  code: "invalid_value" | "too_long" | "too_deep";
  message: string;
  /** Dotted path of the offending value in the request input, when it could be found. */
  field?: string;
}

/**
 * SQLSTATEs a well-formed request cannot cause. Class 22 (data exception) is the client's except
 * for division by zero and friends, which point at our own SQL; 54001 is "stack depth
 * exceeded" (deep JSON or rule trees) and 2201B a bad regular expression.
 */
const INPUT_STATES: Record<string, InputFault["code"]> = {
  "22001": "too_long", // string_data_right_truncation
  "22003": "invalid_value", // numeric_value_out_of_range
  "22007": "invalid_value", // invalid_datetime_format
  "22008": "invalid_value", // datetime_field_overflow
  "22021": "invalid_value", // character_not_in_repertoire (NUL, bad UTF-8)
  "22023": "invalid_value", // invalid_parameter_value
  "22025": "invalid_value", // invalid_escape_sequence
  "2201B": "invalid_value", // invalid_regular_expression
  "22P02": "invalid_value", // invalid_text_representation
  "22P05": "invalid_value", // untranslatable_character (\u0000 in jsonb)
  "22030": "invalid_value", // duplicate_json_object_key_value
  "22032": "invalid_value", // invalid_json_text
  "54000": "too_long", // program_limit_exceeded (an index row too large for a huge id)
  "54001": "too_deep", // statement_too_complex (stack depth)
};

/** The SQLSTATE of a database error, looking through wrappers (drizzle's DrizzleQueryError keeps the driver error as `cause`). */
export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error, i = 0; e && typeof e === "object" && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

const hasBadText = (s: string) => s.includes("\u0000") || !(s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Depth-first search of a request input for the first value matching `test`; its dotted path or undefined. */
export function findField(input: unknown, test: (value: unknown, key: string | undefined) => boolean, limit = 10_000): string | undefined {
  let budget = limit;
  const walk = (value: unknown, path: string, key: string | undefined, depth: number): string | undefined => {
    if (--budget < 0 || depth > 64) return undefined;
    if (test(value, key)) return path || "input";
    if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const child = Array.isArray(value) ? `${path}[${k}]` : path ? `${path}.${k}` : k;
        const found = walk(v, child, k, depth + 1);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(input, "", undefined, 0);
}

function depthOf(value: unknown, limit = 200): number {
  if (!value || typeof value !== "object") return 0;
  let max = 0;
  for (const v of Object.values(value as Record<string, unknown>)) {
    max = Math.max(max, 1 + depthOf(v, limit - 1));
    if (max >= limit) break;
  }
  return max;
}

/** A 400 for a database error the request's values caused; null when the error is not one. */
export function inputFault(error: unknown, input?: unknown): InputFault | null {
  const state = sqlState(error);
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return { code: "too_deep", message: "The request nests too deeply to be read." };
  }
  if (!state || !(state in INPUT_STATES)) return null;
  const code = INPUT_STATES[state];
  switch (state) {
    case "22021":
    case "22P05": {
      const field = findField(input, (v, k) => (typeof v === "string" && hasBadText(v)) || (k !== undefined && hasBadText(k)));
      return { code, message: `${field ?? "A value"} must not contain the NUL character (\\u0000) or invalid Unicode.`, ...(field ? { field } : {}) };
    }
    case "22001":
    case "54000": {
      let longest: string | undefined;
      let best = -1;
      findField(input, (v) => {
        if (typeof v === "string" && v.length > best) best = v.length;
        return false;
      });
      if (best >= 0) longest = findField(input, (v) => typeof v === "string" && v.length === best);
      return { code, message: `${longest ?? "A value"} is longer than can be stored.`, ...(longest ? { field: longest } : {}) };
    }
    case "54001": {
      const field = findField(input, (v) => depthOf(v) > 32 && Object.values(v as object).every((c) => depthOf(c) <= 32));
      return { code, message: `${field ?? "The request"} nests too deeply.`, ...(field ? { field } : {}) };
    }
    default: {
      // Messages such as `invalid input syntax for type uuid: "abc"` quote the value: find it in the input.
      const raw = driverMessage(error);
      const quoted = /: "([^"]*)"$/.exec(raw)?.[1];
      const kind = /for type (\w+)/.exec(raw)?.[1];
      const field = quoted === undefined ? undefined : findField(input, (v) => (typeof v === "string" || typeof v === "number") && String(v) === quoted);
      const what = kind ? ` (expected a ${kind})` : "";
      return { code, message: `${field ?? "A value in the request"} is not valid${what}.`, ...(field ? { field } : {}) };
    }
  }
}

/** The driver's own message (not drizzle's "Failed query: <sql> params: ..."), for the log and for quoting. */
function driverMessage(error: unknown): string {
  for (let e: unknown = error, i = 0; e && typeof e === "object" && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    if (typeof (e as { code?: unknown }).code === "string" && typeof (e as { message?: unknown }).message === "string") return (e as Error).message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Short, unguessable, easy to read out over the phone: 12 hex characters. */
export function newRequestId(): string {
  return randomBytes(6).toString("hex");
}

export const INTERNAL_MESSAGE = "Something went wrong on our side; the request may be retried. Quote this request id when reporting it:";

/** Logs an unexpected failure with everything needed to find it, and returns the id the client is given. */
export function logInternal(log: Logger | undefined, where: string, error: unknown, fields: Record<string, unknown> = {}): string {
  const requestId = newRequestId();
  const details = {
    requestId,
    where,
    ...fields,
    error: error instanceof Error ? error.message : String(error),
    ...(sqlState(error) ? { sqlState: sqlState(error) } : {}),
    ...(error instanceof Error && error.stack ? { stack: error.stack } : {}),
  };
  if (log) log.error("request failed", details);
  else process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: "error", msg: "request failed", ...details })}\n`);
  return requestId;
}
