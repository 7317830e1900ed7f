import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { zodToJsonSchema } from "zod-to-json-schema";
import { getNodeDefinition, listNodeDefinitions } from "../registry";
import { executeNode } from "../registry.server";
import { actionContext, fakeServices } from "../testing";
import { defineExtension, defineNode, fail, output, PermanentError, retry, z } from "./index";
import { extensionStatuses, loadExtensions } from "./loader.server";
import { runNodeForTest } from "./testing";
import { describeExtensionNodes } from "./describe.server";
import { remoteNodeDefinition } from "./remote";

const echo = defineNode({
  id: "test.echo",
  version: 1,
  title: { en: "Echo", zh: "回声" },
  description: { en: "Answers by the output named in its config.", zh: "按配置中的输出离开。" },
  icon: "🔁",
  config: z.object({ answer: z.string().min(1), mode: z.enum(["ok", "fail", "retry", "throw", "permanent", "slow"]).default("ok") }),
  defaults: { answer: "" },
  outputs: [{ id: "done", label: { en: "Done", zh: "完成" } }],
  execution: { timeoutMs: 200, maxAttempts: 2 },
  async run(ctx) {
    ctx.log.info("echo", { answer: ctx.config.answer });
    if (ctx.config.mode === "fail") return fail("no_thanks", { why: "asked to" });
    if (ctx.config.mode === "retry") return retry("busy");
    if (ctx.config.mode === "throw") throw new Error("boom");
    if (ctx.config.mode === "permanent") throw new PermanentError("gone", { status: 410 });
    if (ctx.config.mode === "slow") await new Promise((r) => setTimeout(r, 5_000));
    return output(ctx.config.answer, { user: ctx.user.id, key: ctx.idempotencyKey, secret: await ctx.secrets.get("token") });
  },
});

describe("defineNode", () => {
  it("adds a failed output and execution defaults", () => {
    expect(echo.outputs.map((o) => o.id)).toEqual(["done", "failed"]);
    expect(echo.category).toBe("custom");
  });

  it("names every problem of a bad spec", () => {
    expect(() =>
      defineNode({ id: "Bad", version: 0, title: { en: "", zh: "x" }, description: { en: "d", zh: "d" }, icon: "", config: z.object({}), defaults: {}, outputs: [], run: async () => output("x") }),
    ).toThrow(/id "Bad" must look like "namespace.name".*version must be a positive integer.*title needs non-empty en and zh.*icon must be a non-empty string.*outputs must list at least one output/);
    expect(() => defineExtension({ apiVersion: 2, nodes: [echo] })).toThrow(/apiVersion 2 is not supported/);
  });
});

describe("runNodeForTest", () => {
  it("maps outcomes as the engines do", async () => {
    expect(await runNodeForTest(echo, { answer: "done" }, { id: "u9" }, { secrets: { token: "s3" } })).toMatchObject({
      output: "done",
      detail: { user: "u9", key: "test-instance:node:1", secret: "s3" },
      logs: [{ level: "info", message: "echo", fields: { answer: "done", nodeType: "test.echo" } }],
    });
    expect(await runNodeForTest(echo, { answer: "done", mode: "fail" })).toMatchObject({ output: "failed", detail: { reason: "no_thanks", why: "asked to" } });
    expect(await runNodeForTest(echo, { answer: "done", mode: "permanent" })).toMatchObject({ output: "failed", detail: { reason: "gone", status: 410 } });
    expect(await runNodeForTest(echo, { answer: "done", mode: "retry" })).toMatchObject({ retry: "busy" });
    expect(await runNodeForTest(echo, { answer: "done", mode: "throw" })).toMatchObject({ retry: "boom" });
    expect(await runNodeForTest(echo, { answer: "done", mode: "retry" }, {}, { attempt: 2 })).toMatchObject({ output: "failed", detail: { reason: "retries_exhausted", lastReason: "busy" } });
    expect(await runNodeForTest(echo, { answer: "done", mode: "slow" })).toMatchObject({ retry: "timeout" });
    expect(await runNodeForTest(echo, { answer: "elsewhere" })).toMatchObject({ output: "failed", detail: { reason: "unknown_output", output: "elsewhere" } });
    expect(await runNodeForTest(echo, { answer: "" })).toMatchObject({ output: "failed", detail: { reason: "config_invalid", path: "answer" } });
  });
});

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "waypost-ext-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe("loadExtensions", () => {
  it("loads a TypeScript extension from a folder outside the repository, and refuses broken ones with their error", async () => {
    const good = folder({
      "package.json": JSON.stringify({ name: "acme-hello", version: "1.2.3", type: "module" }),
      "index.ts": `import { defineExtension, defineNode, output, z } from "waypost/extension";
const hello = defineNode({
  id: "acme.hello", version: 2,
  title: { en: "Hello", zh: "你好" }, description: { en: "Says hello", zh: "打招呼" }, icon: "👋",
  config: z.object({ greeting: z.string() }), defaults: { greeting: "hi" },
  outputs: [{ id: "said", label: { en: "Said", zh: "已说" } }],
  migrate: (old: any, from: number) => (from === 1 ? { greeting: old.text } : old),
  async run(ctx) { return output("said", { said: ctx.config.greeting + " " + ctx.user.id }); },
});
export default defineExtension({ apiVersion: 1, nodes: [hello] });
`,
    });
    const broken = folder({ "package.json": JSON.stringify({ name: "acme-broken", version: "0.1.0", type: "module" }), "index.ts": `export default { nodes: [] };\n` });
    const throwing = folder({ "package.json": JSON.stringify({ name: "acme-throws", version: "0.0.1", type: "module" }), "index.ts": `throw new Error("cannot start: ACME_TOKEN missing");\n` });
    const duplicate = folder({
      "package.json": JSON.stringify({ name: "acme-dup", version: "1.0.0", type: "module" }),
      "index.ts": `import { defineExtension, defineNode, output, z } from "waypost/extension";
export default defineExtension({ apiVersion: 1, nodes: [defineNode({ id: "acme.hello", version: 1, title: { en: "H", zh: "H" }, description: { en: "H", zh: "H" }, icon: "x", config: z.object({}), defaults: {}, outputs: [{ id: "ok", label: { en: "OK", zh: "好" } }], run: async () => output("ok") })] });
`,
    });
    const commonjs = folder({ "package.json": JSON.stringify({ name: "acme-cjs", version: "1.0.0" }), "index.ts": `export default {};\n` });
    const statuses = await loadExtensions([good, broken, throwing, duplicate, "/nowhere/at-all", "no-such-waypost-extension", commonjs].join(","));
    expect(statuses.map((s) => [s.name, s.status])).toEqual([
      ["acme-hello", "loaded"],
      ["acme-broken", "refused"],
      ["acme-throws", "refused"],
      ["acme-dup", "refused"],
      ["/nowhere/at-all", "refused"],
      ["no-such-waypost-extension", "refused"],
      ["acme-cjs", "refused"],
    ]);
    expect(statuses[6].error).toMatch(/must exist and say "type": "module"/);
    expect(statuses[0]).toMatchObject({ version: "1.2.3", nodes: [{ id: "acme.hello", version: 2 }] });
    expect(statuses[1].error).toMatch(/must default-export defineExtension/);
    expect(statuses[2].error).toBe("cannot start: ACME_TOKEN missing");
    expect(statuses[3].error).toMatch(/"acme.hello" is already registered/);
    expect(statuses[4].error).toMatch(/does not exist/);
    expect(statuses[5].error).toMatch(/package "no-such-waypost-extension" is not installed/);
    expect(extensionStatuses()).toHaveLength(7);

    expect(listNodeDefinitions().map((d) => d.type)).toContain("acme.hello");
    expect(getNodeDefinition("acme.hello")).toMatchObject({ kind: "action", category: "custom", label: { en: "Hello", zh: "你好" } });
    // A config stored by version 1 is migrated before it runs.
    const ctx = actionContext(fakeServices(), { user: { id: "u7", traits: {} } });
    expect(await executeNode("acme.hello", ctx, { text: "hey" }, 1)).toEqual({ output: "said", detail: { said: "hey u7" } });
    expect(await executeNode("acme.hello", ctx, { greeting: "yo" }, 2)).toEqual({ output: "said", detail: { said: "yo u7" } });
  });
});

describe("the browser's copy of an extension node", () => {
  it("rebuilds a config schema that accepts and refuses what the real one does", async () => {
    const [descriptor] = describeExtensionNodes().filter((d) => d.type === "acme.hello");
    expect(descriptor).toMatchObject({ type: "acme.hello", version: 2, category: "custom", outputs: [{ id: "said" }, { id: "failed" }] });
    const remote = remoteNodeDefinition(descriptor);
    const real = getNodeDefinition("acme.hello")!;
    for (const sample of [{ greeting: "hi" }, {}, { greeting: 3 }, { greeting: "hi", extra: true }, null]) {
      expect(remote.config.safeParse(sample).success, JSON.stringify(sample)).toBe(real.config.safeParse(sample).success);
    }
  });

  it("keeps bounds, enums, lists, maps, defaults and optional fields", () => {
    const schema = z.object({
      url: z.string().url(),
      n: z.number().int().min(1).max(5).default(2),
      mode: z.enum(["a", "b"]),
      tags: z.array(z.string().min(1)).max(2),
      headers: z.record(z.string()),
      note: z.string().optional(),
      maybe: z.string().nullable(),
    });
    const node = defineNode({ id: "test.shape", version: 1, title: { en: "S", zh: "S" }, description: { en: "S", zh: "S" }, icon: "S", config: schema, defaults: {}, outputs: [{ id: "ok", label: { en: "OK", zh: "好" } }], run: async () => output("ok") });
    const remote = remoteNodeDefinition({ type: node.id, version: 1, category: "custom", label: node.title, description: node.description, icon: node.icon, outputs: node.outputs, defaults: {}, hints: {}, schema: zodToJsonSchema(schema, { target: "jsonSchema7", $refStrategy: "none", effectStrategy: "input" }) as Record<string, unknown> });
    const good = { url: "https://x.example", mode: "a", tags: ["t"], headers: { A: "1" }, maybe: null };
    const samples = [good, { ...good, n: 0 }, { ...good, n: 6 }, { ...good, n: 2.5 }, { ...good, mode: "c" }, { ...good, tags: ["a", "b", "c"] }, { ...good, tags: [""] }, { ...good, url: "nope" }, { ...good, headers: { A: 1 } }, { ...good, note: 3 }, { ...good, maybe: undefined }];
    for (const sample of samples) expect(remote.config.safeParse(sample).success, JSON.stringify(sample)).toBe(schema.safeParse(sample).success);
    expect(remote.config.parse(good)).toEqual(schema.parse(good));
  });
});
