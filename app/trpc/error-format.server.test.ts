import { TRPCError } from "@trpc/server";
import { describe, expect, it } from "vitest";
import type { Logger } from "../lib/log.server";
import { formatTrpcError } from "./error-format.server";

// The formatter alone, with the errors handlers really throw. The HTTP behaviour is covered by
// test/fuzz/known-cases.test.ts against real PostgreSQL.

function logger() {
  const lines: Record<string, unknown>[] = [];
  const log: Logger = { error: (_m, f) => lines.push(f ?? {}), warn: () => {}, info: () => {}, debug: () => {} };
  return { log, lines };
}

const shape = (error: TRPCError) => ({ message: error.message, code: -32603, data: { code: error.code, httpStatus: error.code === "INTERNAL_SERVER_ERROR" ? 500 : 400, path: "x.y", stack: "Error\n    at /work/main/app/x.ts:1:1" } });

function format(error: TRPCError, input: unknown = undefined) {
  const { log, lines } = logger();
  return { out: formatTrpcError({ shape: shape(error), error, path: "x.y", input, ctx: { services: { log } } }), lines };
}

describe("formatTrpcError", () => {
  it("accepts issue paths as strings (SegmentError) and as arrays (zod), and never sends the stack", () => {
    const fromSegments = format(new TRPCError({ code: "BAD_REQUEST", message: "bad", cause: Object.assign(new Error("bad"), { issues: [{ path: "definition.rules.0.op", message: "Required" }] }) }));
    expect(fromSegments.out.data.issues).toEqual([{ path: "definition.rules.0.op", message: "Required" }]);
    expect(fromSegments.out.data).not.toHaveProperty("stack");
    const fromZod = format(new TRPCError({ code: "BAD_REQUEST", message: "bad", cause: Object.assign(new Error("bad"), { issues: [{ path: ["a", 0, "b"], message: "Expected string" }] }) }));
    expect(fromZod.out.data.issues).toEqual([{ path: "a.0.b", message: "Expected string" }]);
  });

  it("turns a database error the input caused into a 400 naming the field", () => {
    const pg = Object.assign(new Error('invalid input syntax for type uuid: "nope"'), { code: "22P02" });
    const wrapped = Object.assign(new Error('Failed query: select 1 where id = $1\nparams: nope'), { cause: pg });
    const { out, lines } = format(new TRPCError({ code: "INTERNAL_SERVER_ERROR", cause: wrapped }), { filter: { journeyId: "nope" } });
    expect(out.data).toMatchObject({ code: "BAD_REQUEST", httpStatus: 400, issues: [{ path: "filter.journeyId" }] });
    expect(out.message).toBe("filter.journeyId is not valid (expected a uuid).");
    expect(lines).toHaveLength(0);
  });

  it("answers anything else with a generic message and a request id, logging the details under it", () => {
    const cause = Object.assign(new Error("Failed query: select secret from t\nparams: 1"), { cause: Object.assign(new Error('relation "t" does not exist'), { code: "42P01" }) });
    const { out, lines } = format(new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: cause.message, cause }));
    expect(out.data.httpStatus).toBe(500);
    expect(out.message).not.toMatch(/select|params|relation/);
    expect(out.message).toContain(out.data.requestId!);
    expect(lines[0]).toMatchObject({ requestId: out.data.requestId, sqlState: "42P01", where: "trpc x.y" });
  });

  it("scrubs SQL from a 4xx message a handler built from a database error", () => {
    const { out, lines } = format(new TRPCError({ code: "CONFLICT", message: "Failed query: insert into api_keys values ($1)\nparams: k" }));
    expect(out.data.httpStatus).toBe(400);
    expect(out.message).not.toMatch(/insert|params/);
    expect(out.data.requestId).toMatch(/^[0-9a-f]{12}$/);
    expect(lines).toHaveLength(1);
  });
});
