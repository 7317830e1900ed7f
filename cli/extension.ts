import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { tsImport } from "tsx/esm/api";
import { installResolveHook } from "../nodes/extension/loader.server";

/**
 * `waypost extension new <name>` and `waypost extension test <dir>` (docs/extensions.md).
 */

const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

export function scaffoldFiles(name: string, nodeId: string): Record<string, string> {
  const short = nodeId.split(".").slice(1).join(".");
  const title = short.replace(/[-.]/g, " ").replace(/^\w/, (c) => c.toUpperCase());
  return {
    "package.json": JSON.stringify({ name, version: "0.1.0", type: "module", exports: "./index.ts" }, null, 2) + "\n",
    "index.ts": `import { defineExtension, defineNode, fail, output, z } from "waypost/extension";

export const node = defineNode({
  id: ${JSON.stringify(nodeId)},
  version: 1,
  title: { en: ${JSON.stringify(title)}, zh: ${JSON.stringify(title)} },
  description: { en: "Calls an HTTP endpoint for the user.", zh: "为该用户调用一个 HTTP 接口。" },
  icon: "🧩",
  config: z.object({ url: z.string().url() }),
  defaults: { url: "" },
  outputs: [{ id: "done", label: { en: "Done", zh: "完成" } }],
  async run(ctx) {
    const response = await ctx.fetch(ctx.config.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": ctx.idempotencyKey },
      body: JSON.stringify({ user: ctx.user.id }),
    });
    if (!response.ok) return fail(\`http_\${response.status}\`);
    return output("done");
  },
});

export default defineExtension({ apiVersion: 1, nodes: [node] });
`,
    "index.test.ts": `import assert from "node:assert/strict";
import { test } from "node:test";
import { runNodeForTest } from "waypost/extension/testing";
import { node } from "./index.ts";

test("leaves by done when the endpoint answers 2xx", async () => {
  const fetch = async () => ({ status: 200, ok: true, text: async () => "" });
  const result = await runNodeForTest(node, { url: "https://example.com/hook" }, { id: "u1" }, { fetch });
  assert.equal(result.output, "done");
  assert.equal(result.requests[0].body, JSON.stringify({ user: "u1" }));
});
`,
    "README.md": `# ${name}\n\nA Waypost extension (docs/extensions.md). Test: \`npx waypost extension test .\` from the Waypost folder. Load: \`WAYPOST_EXTENSIONS=${"/path/to/"}${name}\`.\n`,
  };
}

/** Writes a new extension folder; refuses to touch an existing one. */
export function newExtension(name: string, options: { dir?: string; id?: string } = {}): string {
  if (!PACKAGE_NAME.test(name)) throw new Error(`"${name}" is not a valid package name (lowercase letters, digits, - . _ ~)`);
  const dir = resolve(options.dir ?? basename(name));
  if (existsSync(dir)) throw new Error(`${dir} already exists`);
  const namespace = basename(name).replace(/[^a-z0-9-]/g, "-").replace(/^[^a-z]+/, "") || "ext";
  const nodeId = options.id ?? `${namespace}.hello`;
  if (!/^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/.test(nodeId)) throw new Error(`--id "${nodeId}" must look like "namespace.name"`);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(scaffoldFiles(name, nodeId))) writeFileSync(join(dir, file), text);
  return dir;
}

/** Loads every *.test.ts / *.test.js of the folder in this process; node:test runs them and sets the exit code. */
export async function testExtension(dir: string): Promise<number> {
  const root = resolve(dir);
  const files = readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((f) => /\.test\.(ts|mts|js|mjs)$/.test(f) && !f.split(/[\\/]/).includes("node_modules"))
    .sort();
  if (files.length === 0) throw new Error(`no *.test.ts or *.test.js files in ${root}`);
  installResolveHook();
  for (const file of files) await tsImport(pathToFileURL(join(root, file)).href, import.meta.url);
  return files.length;
}
