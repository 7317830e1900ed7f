import type { TRPCError } from "@trpc/server";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import { INTERNAL_MESSAGE, inputFault, logInternal } from "../lib/errors.server";
import type { Logger } from "../lib/log.server";

/**
 * The tRPC error formatter (docs/api.md "Errors"). Input mistakes answer 400 with
 * `data.issues: [{ path, message }]` so forms can mark the field; database errors the input
 * caused become such a 400 too; every other failure answers 500 with a generic message and a
 * request id (details in the log). The stack is never sent: it names server paths.
 */

export interface Issue {
  path: string;
  message: string;
}

/** drizzle's "Failed query: <sql>\nparams: <values>", or a stack frame. */
const LEAKY = /Failed query|\nparams:|\n\s+at \S/;

const MAX_ISSUES = 50;
const MAX_PATH = 200;

/** Zod issues have array paths, SegmentError and friends string ones: both become dotted strings. */
function issuesOf(cause: unknown): Issue[] | undefined {
  const issues = (cause as { issues?: unknown } | undefined)?.issues;
  if (!Array.isArray(issues)) return undefined;
  return issues.slice(0, MAX_ISSUES).map((raw: unknown) => {
    const i = (raw ?? {}) as { path?: unknown; message?: unknown };
    const path = Array.isArray(i.path) ? i.path.map(String).join(".") : typeof i.path === "string" ? i.path : "";
    return { path: path.length > MAX_PATH ? `${path.slice(0, MAX_PATH)}…` : path, message: typeof i.message === "string" ? i.message : "is not valid" };
  });
}

interface FormatterOptions<Shape> {
  shape: Shape;
  error: TRPCError;
  path: string | undefined;
  input: unknown;
  ctx: { services?: { log?: Logger } } | undefined;
}

type BaseShape = { message: string; code: number; data: { code: string; httpStatus: number; path?: string; stack?: string } };

export function formatTrpcError<Shape extends BaseShape>({ shape, error, path, input, ctx }: FormatterOptions<Shape>) {
  const { stack: _stack, ...data } = shape.data;
  const base = { ...shape, data: { ...data, issues: undefined as Issue[] | undefined, requestId: undefined as string | undefined } };
  if (error.code !== "INTERNAL_SERVER_ERROR") {
    const shaped = error.code === "BAD_REQUEST" ? { ...base, data: { ...base.data, issues: issuesOf(error.cause) } } : base;
    if (!LEAKY.test(error.message)) return shaped;
    // A handler that mapped a database error to a 4xx with its message would still carry the SQL.
    const requestId = logInternal(ctx?.services?.log, `trpc ${path ?? "?"}`, error);
    return { ...shaped, message: `The request was refused (${error.code}); the details are in the server log under request id ${requestId}.`, data: { ...shaped.data, requestId } };
  }
  const fault = inputFault(error.cause ?? error, input);
  if (fault) {
    return {
      ...base,
      code: TRPC_ERROR_CODES_BY_KEY.BAD_REQUEST,
      message: fault.message,
      data: { ...base.data, code: "BAD_REQUEST", httpStatus: 400, issues: [{ path: fault.field ?? "", message: fault.message }] },
    };
  }
  const requestId = logInternal(ctx?.services?.log, `trpc ${path ?? "?"}`, error.cause ?? error);
  return { ...base, message: `${INTERNAL_MESSAGE} ${requestId}.`, data: { ...base.data, requestId } };
}
