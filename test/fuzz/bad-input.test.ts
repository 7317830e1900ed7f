import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { zodToJsonSchema } from "zod-to-json-schema";
import { createApiKey, sha256 } from "../../app/lib/auth.server";
import { createJourney, exportJourney } from "../../app/lib/journeys.server";
import { segmentDefinitionSchema } from "../../app/segments/rules";
import { createSegment } from "../../app/segments/store.server";
import { appRouter } from "../../app/trpc/router.server";
import { sessions } from "../../db/schema";
import { embeddedAppEngine } from "../../cli/engine-services";
import { serverBuildPath } from "../../cli/server";
import { startTestApp, type TestApp } from "../support/app";
import { fromSchema, hostileString, hostileValue, mutated, type JsonSchema, type Pools } from "./arbitrary";
import { changed, fingerprint, settled, type Fingerprint } from "./state";

/**
 * Bad input never answers 5xx (issue 13). Over real HTTP against the built app on a real
 * database: every route of the app's own OpenAPI document, every other resource route of the
 * build (callbacks, tracking links, exports) and every tRPC procedure of the router (all
 * enumerated, so a new one is fuzzed without touching this file) receives generated
 * inputs: mostly schema-shaped with hostile values at the leaves, sometimes junk. For each
 * answer: status < 500; no SQL, stack or server path in the body; and when the request was
 * refused (4xx), every table's fingerprint is unchanged.
 *
 * WAYPOST_FUZZ_RUNS (inputs per route/procedure, default 5) and WAYPOST_FUZZ_SEED make deeper
 * or different local runs: `WAYPOST_FUZZ_RUNS=100 npx vitest run test/fuzz`.
 */

const RUNS = Number(process.env.WAYPOST_FUZZ_RUNS ?? 5);
const SEED = Number(process.env.WAYPOST_FUZZ_SEED ?? 20261203);

/** What must never reach a client: drizzle's "Failed query"/"params:", stack frames, server paths (public /build/ assets are fine). */
const LEAK = /Failed query|\nparams:|\n\s+at \S|\/work\/|node_modules|\/(app|db|nodes|workflows|cli)\/[\w./-]+\.(ts|tsx|mjs)\b|\.(ts|mjs):\d+:\d+/;

let app: TestApp;
let writeKey: string;
let secretKey: string;
let cookie: string;
let operatorId: string;
let pools: Pools;
let segmentDefinition: unknown;
let journeyDocument: unknown;

function basic(key: string) {
  return `Basic ${Buffer.from(`${key}:`).toString("base64")}`;
}

/** A session row for the fuzzing admin (the login form is not what is fuzzed here). */
async function signIn() {
  const token = randomBytes(24).toString("base64url");
  await app.services.db.insert(sessions).values({ tokenHash: sha256(token), operatorId, workspaceId: app.workspaceId, expiresAt: new Date(Date.now() + 3_600_000) });
  cookie = `waypost_session=${token}`;
}

beforeAll(async () => {
  app = await startTestApp({ serve: true });
  // The app's own embedded engine, so routes that hand work to journeys answer as in production.
  app.services.engine = embeddedAppEngine(app.services);
  const admin = await app.addOperator("admin");
  operatorId = admin.id;
  await signIn();
  writeKey = (await createApiKey(app.services.db, { workspaceId: app.workspaceId, kind: "write", name: "fuzz write" })).key;
  secretKey = (await createApiKey(app.services.db, { workspaceId: app.workspaceId, kind: "secret", name: "fuzz secret" })).key;
  for (const id of ["fz-ann", "fz-bob"]) {
    const res = await fetch(`${app.url}/api/v1/identify`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: basic(writeKey) },
      body: JSON.stringify({ userId: id, traits: { email: `${id}@example.com`, plan: "pro" } }),
    });
    expect(res.status).toBe(200);
  }
  const actor = { workspaceId: app.workspaceId, operatorId };
  const journey = await createJourney(app.services.db, actor, { name: "Fuzz journey" });
  journeyDocument = await exportJourney(app.services.db, app.workspaceId, journey.id);
  segmentDefinition = {
    kind: "group",
    match: "all",
    rules: [
      { kind: "trait", trait: "plan", op: "eq", value: "pro" },
      { kind: "event", event: "bought", check: "did", filters: [{ property: "amount", op: "gt", value: 3 }] },
    ],
  };
  const segment = await createSegment(app.services, app.workspaceId, { name: "Fuzz segment", key: "fuzz_segment", definition: segmentDefinition as never });
  pools = { uuids: [journey.id, segment.id], ids: ["fz-ann", "fz-bob", "fuzz_segment", segment.id, journey.id] };
});
afterAll(() => app?.close());

interface Case {
  label: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

/** Percent-encodes UTF-8 bytes (lone surrogates become U+FFFD, as a browser would send them). */
function encodeSegment(value: string): string {
  return [...Buffer.from(value, "utf8")].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`)).join("");
}

/** Path text sent as is: broken escapes and encoded separators. */
const rawPathJunk = fc.constantFrom("%00", "%FF", "%C0%80", "%", "%zz", "..%2F..", "%2e%2e", "a%2Fb", "%E2%80%AE");

function stringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "null";
  } catch {
    return "null";
  }
}

// ---- REST: every operation of the OpenAPI document ----------------------------------------

type Parameter = { name: string; in: string; schema?: JsonSchema };
type Operation = { security?: Record<string, unknown>[]; parameters?: Parameter[]; requestBody?: { content?: Record<string, { schema: JsonSchema }> } };

function restCases(doc: { paths: Record<string, Record<string, unknown>> }): { label: string; arbitrary: fc.Arbitrary<Case> }[] {
  const out: { label: string; arbitrary: fc.Arbitrary<Case> }[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const method of ["get", "post", "put", "patch", "delete"]) {
      const op = item[method] as Operation | undefined;
      if (!op) continue;
      const params = [...((item.parameters as Parameter[] | undefined) ?? []), ...(op.parameters ?? [])];
      const pathParams = params.filter((p) => p.in === "path");
      const queryParams = params.filter((p) => p.in === "query");
      const scheme = Object.keys(op.security?.[0] ?? {})[0];
      const goodAuth = scheme === "writeKey" ? basic(writeKey) : scheme ? `Bearer ${secretKey}` : undefined;
      const bodySchema = op.requestBody?.content?.["application/json"]?.schema;
      const pathValue = fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...pools.ids, ...pools.uuids).map(encodeSegment) },
        { weight: 3, arbitrary: hostileString.filter((s) => s.length > 0 && s.length < 5000).map(encodeSegment) },
        { weight: 1, arbitrary: rawPathJunk },
      );
      const queryValue = (p: Parameter) =>
        fc.option(fromSchema(p.schema ?? {}, { pools }).map((v) => (typeof v === "string" ? v : stringify(v))), { freq: 2 }).map((v) => (v === null ? null : ([p.name, v] as const)));
      const body: fc.Arbitrary<{ text?: string | Uint8Array; gzip?: boolean }> = bodySchema
        ? fc.oneof(
            { weight: 12, arbitrary: fromSchema(bodySchema, { pools, hints: { definition: segmentDefinitionArb(), document: mutated(journeyDocument) } }).map((v) => ({ text: stringify(v) })) },
            { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }).map((text) => ({ text })) },
            { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((text) => ({ text, gzip: true })) },
            { weight: 1, arbitrary: hostileValue.map((v) => ({ text: gzipSync(stringify(v)), gzip: true })) },
          )
        : fc.constant({});
      out.push({
        label: `${method.toUpperCase()} ${template}`,
        arbitrary: fc
          .record({
            path: fc.tuple(...pathParams.map(() => pathValue)),
            query: fc.tuple(...queryParams.map(queryValue), fc.option(fc.tuple(hostileString, hostileString), { freq: 5 })),
            body,
            auth: fc.constantFrom("good", "good", "good", "good", "good", "good", "good", "none", "wrong"),
          })
          .map(({ path, query, body: b, auth }) => {
            let url = template;
            pathParams.forEach((p, i) => (url = url.replace(`{${p.name}}`, path[i])));
            const search = new URLSearchParams();
            for (const q of query) if (q) search.append(q[0].replace(/[\ud800-\udfff]/g, "?"), q[1].replace(/[\ud800-\udfff]/g, "?"));
            const headers: Record<string, string> = { "content-type": "application/json" };
            if (auth === "good" && goodAuth) headers.authorization = goodAuth;
            if (auth === "wrong") headers.authorization = basic("wk_not_a_key\u00e9");
            if (b.gzip) headers["content-encoding"] = "gzip";
            const qs = search.toString();
            return { label: `${method.toUpperCase()} ${template}`, method: method.toUpperCase(), url: `${url}${qs ? `?${qs}` : ""}`, headers, body: b.text } satisfies Case;
          }),
      });
    }
  }
  return out;
}

// ---- the other resource routes: callbacks, tracking links, exports (not in the OpenAPI document) ----

type RouteEntry = { path?: string; parentId?: string; module: Record<string, unknown> };

/** Every route of the built app without a page (a resource route), as a full path with `:params`. */
async function resourceRoutes(): Promise<{ template: string; methods: string[] }[]> {
  const build = (await import(pathToFileURL(serverBuildPath).href)) as { routes: Record<string, RouteEntry> };
  const full = (id: string): string => {
    const r = build.routes[id];
    return [r.parentId ? full(r.parentId) : "", r.path ?? ""].filter(Boolean).join("/");
  };
  return Object.entries(build.routes)
    .filter(([, r]) => !r.module.default && (r.module.loader || r.module.action))
    .map(([id, r]) => ({ template: `/${full(id)}`, methods: [...(r.module.loader ? ["GET"] : []), ...(r.module.action ? ["POST"] : [])] }));
}

function routeCases(routes: { template: string; methods: string[] }[], documented: Set<string>): { label: string; arbitrary: fc.Arbitrary<Case> }[] {
  const out: { label: string; arbitrary: fc.Arbitrary<Case> }[] = [];
  for (const { template, methods } of routes) {
    if (documented.has(template) || template.startsWith("/api/trpc")) continue;
    const params = [...template.matchAll(/:(\w+)/g)].map((m) => m[1]);
    const value = fc.oneof(
      { weight: 2, arbitrary: fc.base64String({ minLength: 8, maxLength: 64 }).map((t) => encodeSegment(t.replace(/[+/=]/g, "_"))) },
      { weight: 3, arbitrary: hostileString.filter((t) => t.length > 0 && t.length < 5000).map(encodeSegment) },
      { weight: 1, arbitrary: rawPathJunk },
    );
    const body = fc.oneof(
      fc.constant<{ text?: string; type?: string }>({}),
      hostileValue.map((v) => ({ text: stringify(v), type: "application/json" })),
      fc.dictionary(hostileString.map(encodeSegment), hostileString.map(encodeSegment), { maxKeys: 4 }).map((d) => ({
        text: Object.entries(d).map(([k, v]) => `${k}=${v}`).join("&"),
        type: "application/x-www-form-urlencoded",
      })),
      fc.string({ unit: "binary", maxLength: 200 }).map((text) => ({ text, type: "text/plain" })),
    );
    for (const method of methods) {
      out.push({
        label: `${method} ${template}`,
        arbitrary: fc.record({ values: fc.tuple(...params.map(() => value)), body, signedIn: fc.boolean(), query: fc.option(fc.tuple(hostileString, hostileString), { freq: 3 }) }).map(({ values, body: b, signedIn, query }) => {
          let url = template;
          params.forEach((p, i) => (url = url.replace(`:${p}`, values[i])));
          if (query) url += `?${encodeSegment(query[0])}=${encodeSegment(query[1])}`;
          const headers: Record<string, string> = {};
          if (signedIn) headers.cookie = cookie;
          if (method === "POST" && b.type) headers["content-type"] = b.type;
          return { label: `${method} ${template}`, method, url, headers, body: method === "POST" ? b.text : undefined } satisfies Case;
        }),
      });
    }
  }
  return out;
}

function segmentDefinitionArb(): fc.Arbitrary<unknown> {
  const schema = zodToJsonSchema(segmentDefinitionSchema, { $refStrategy: "root", effectStrategy: "input" }) as JsonSchema;
  return fc.oneof(mutated(segmentDefinition), fromSchema(schema, { pools }));
}

// ---- tRPC: every procedure of the router ---------------------------------------------------

type ProcedureDef = { _def: { type: "query" | "mutation" | "subscription"; inputs: Parameters<typeof zodToJsonSchema>[0][] } };

function trpcCases(): { label: string; arbitrary: fc.Arbitrary<Case> }[] {
  const procedures = (appRouter as unknown as { _def: { procedures: Record<string, ProcedureDef> } })._def.procedures;
  const hints = { definition: segmentDefinitionArb(), document: mutated(journeyDocument) };
  return Object.entries(procedures)
    .filter(([, p]) => p._def.type !== "subscription")
    .map(([path, p]) => {
      const [input] = p._def.inputs;
      const schema = input ? (zodToJsonSchema(input, { $refStrategy: "root", effectStrategy: "input" }) as JsonSchema) : undefined;
      const value: fc.Arbitrary<unknown> = schema
        ? fc.oneof({ weight: 9, arbitrary: fromSchema(schema, { pools, hints }) }, { weight: 1, arbitrary: hostileValue })
        : fc.oneof(fc.constant(undefined), hostileValue);
      const raw = fc.oneof({ weight: 12, arbitrary: value.map((v) => ({ json: v })) }, { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 80 }).map((text) => ({ text })) });
      return {
        label: `trpc ${path}`,
        arbitrary: raw.map((r) => {
          const text = "text" in r ? r.text : r.json === undefined ? undefined : stringify({ json: r.json });
          const headers: Record<string, string> = { cookie, "content-type": "application/json" };
          if (p._def.type === "query") {
            const url = `/api/trpc/${path}${text === undefined ? "" : `?input=${encodeSegment(text)}`}`;
            return { label: `trpc ${path}`, method: "GET", url, headers } satisfies Case;
          }
          return { label: `trpc ${path}`, method: "POST", url: `/api/trpc/${path}`, headers, body: text ?? "" } satisfies Case;
        }),
      };
    });
}

// ---- the run -------------------------------------------------------------------------------

interface Failure {
  label: string;
  status: number;
  why: string;
  request: string;
  answer: string;
}

function describeCase(c: Case): string {
  const body = typeof c.body === "string" ? c.body : c.body ? `<${c.body.byteLength} bytes${c.headers["content-encoding"] ? ", gzip" : ""}>` : "";
  return `${c.method} ${c.url.slice(0, 300)} ${body.slice(0, 300)}`;
}

/** Whether a 2xx/4xx answer stored something on purpose (a batch stores its valid calls even when it answers 400). */
function accepted(status: number, text: string): boolean {
  if (status < 400) return true;
  return status === 400 && /"status":"stored"/.test(text);
}

describe("bad input never 5xx (fuzz)", () => {
  it("answers every generated input to every REST route and tRPC procedure below 500, leaks nothing, and stores nothing it refused", async () => {
    const doc = (await (await fetch(`${app.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const documented = new Set(Object.keys(doc.paths).map((p) => p.replace(/\{(\w+)\}/g, ":$1")));
    const others = routeCases(await resourceRoutes(), documented);
    const operations = [...restCases(doc), ...others, ...trpcCases()];
    const rest = operations.filter((o) => !o.label.startsWith("trpc")).length;
    expect(rest).toBeGreaterThanOrEqual(20);
    expect(others.length).toBeGreaterThan(0);
    expect(operations.length - rest).toBeGreaterThanOrEqual(50);

    const failures: Failure[] = [];
    const statuses = new Map<number, number>();
    let tried = 0;
    let refused = 0;
    let before: Fingerprint = await settled(app.services.db);
    for (const [n, operation] of operations.entries()) {
      const cases = fc.sample(operation.arbitrary, { seed: SEED + n, numRuns: RUNS });
      for (const c of cases) {
        tried++;
        let status: number;
        let text: string;
        try {
          const res = await fetch(`${app.url}${c.url}`, { method: c.method, headers: c.headers, body: c.body as BodyInit | undefined, redirect: "manual" });
          status = res.status;
          text = await res.text();
        } catch (error) {
          failures.push({ label: c.label, status: 0, why: `no response: ${(error as Error).message}`, request: describeCase(c), answer: "" });
          before = await settled(app.services.db);
          continue;
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const fail = (why: string) => failures.push({ label: c.label, status, why, request: describeCase(c), answer: text.slice(0, 400) });
        if (status >= 500) fail("5xx");
        if (LEAK.test(text)) fail("leaks server detail");
        if (accepted(status, text)) {
          before = await settled(app.services.db);
          continue;
        }
        refused++;
        const after = await fingerprint(app.services.db);
        const diff = changed(before, after);
        if (diff.length > 0) fail(`refused but changed ${diff.join(", ")}`);
        before = after;
        // A procedure such as "sign out everywhere" ended the fuzzing session: open another.
        if (status === 401 && c.label.startsWith("trpc")) {
          await signIn();
          before = await fingerprint(app.services.db);
        }
      }
    }
    console.log(
      `bad-input fuzz: ${tried} inputs to ${rest - others.length} REST operations of the OpenAPI document, ${others.length} other resource routes and ${operations.length - rest} tRPC procedures (seed ${SEED}, ${RUNS} each); ` +
        `${refused} refused; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}; ${failures.length} failures`,
    );
    for (const f of failures.slice(0, 40)) console.log(`  ${f.label} → ${f.status} (${f.why})\n    request: ${f.request}\n    answer:  ${f.answer}`);
    expect(failures).toEqual([]);
    expect(refused).toBeGreaterThan(0);
    // Room for a loaded 2-core machine and deeper WAYPOST_FUZZ_RUNS; the suite's default run takes about 40 s.
  }, 600_000);
});
