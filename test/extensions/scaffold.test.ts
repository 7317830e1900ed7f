import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { newExtension } from "../../cli/extension";
import { loadExtension } from "../../nodes/extension/loader.server";
import { runTutorialTest } from "./tutorial-support";

// `waypost extension new` writes a folder that loads as an extension and whose test passes with
// `waypost extension test`, as docs/extensions.md step 6 promises.

it("scaffolds an extension that loads and passes its own test", async () => {
  const dir = newExtension("acme-alerts", { dir: join(mkdtempSync(join(tmpdir(), "scaffold-")), "acme-alerts") });
  expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))).toMatchObject({ name: "acme-alerts", type: "module" });
  expect(() => newExtension("acme-alerts", { dir })).toThrow(/already exists/);
  expect(() => newExtension("Bad Name")).toThrow(/not a valid package name/);
  expect(existsSync(join(dir, "index.test.ts"))).toBe(true);

  expect(await loadExtension(dir)).toMatchObject({ status: "loaded", name: "acme-alerts", nodes: [{ id: "acme-alerts.hello", version: 1 }] });
  const { code, stdout } = await runTutorialTest(dir);
  expect(stdout).toMatch(/# pass 1\n# fail 0/);
  expect(code).toBe(0);
});
