import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadExtensions } from "../../nodes/extension/loader.server";
import { startTestApp, type TestApp } from "../support/app";
import { launchBrowser, screenshot } from "../support/browser";
import { writeTutorial } from "../extensions/tutorial-support";

const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

/** An extension that cannot load: its entry module throws at import (a missing setting, a typo...). */
function brokenExtension(): string {
  const dir = mkdtempSync(join(tmpdir(), "acme-broken-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "acme-broken", version: "0.3.0", type: "module" }));
  writeFileSync(join(dir, "index.ts"), `import { defineExtension, defineNode, z } from "waypost/extension";\nexport default defineExtension({ apiVersion: 1, nodes: [defineNode({ id: "acme.Broken" } as never)] });\n`);
  return dir;
}

/** A node whose inspector is the extension's own component (a browser module the canvas loads). */
function extensionWithInspector(): string {
  const dir = mkdtempSync(join(tmpdir(), "acme-banner-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "acme-banner", version: "2.1.0", type: "module" }));
  writeFileSync(
    join(dir, "index.ts"),
    `import { defineExtension, defineNode, output, z } from "waypost/extension";
export default defineExtension({ apiVersion: 1, nodes: [defineNode({
  id: "acme.banner", version: 1, title: { en: "Show banner", zh: "展示横幅" }, description: { en: "Shows an in-app banner", zh: "展示应用内横幅" }, icon: "🏳️",
  config: z.object({ colour: z.enum(["red", "blue"]), text: z.string().min(1) }), defaults: { colour: "red", text: "" },
  outputs: [{ id: "shown", label: { en: "Shown", zh: "已展示" } }],
  inspector: { component: "./inspector.js" },
  run: async () => output("shown"),
})] });
`,
  );
  writeFileSync(
    join(dir, "inspector.js"),
    `export default ({ React, SchemaForm }) => function BannerInspector({ config, onChange, readOnly, definition }) {
  const h = React.createElement;
  return h("div", { "data-testid": "banner-inspector" },
    h("button", { type: "button", disabled: readOnly, onClick: () => onChange({ ...config, colour: "blue" }) }, "Make it blue: " + (config.colour ?? "")),
    h(SchemaForm, { schema: definition.config, value: config, onChange, only: ["text"], idPrefix: "banner" }));
};
`,
  );
  return dir;
}

describe("a broken extension does not stop Waypost", () => {
  let child: ChildProcess;
  let output = "";
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "waypost-ext-start-"));
    const env: NodeJS.ProcessEnv = { ...process.env, WAYPOST_DATA_DIR: dataDir, PORT: "0", WAYPOST_DEMO_DATA: "false", WAYPOST_LOG_LEVEL: "info", WAYPOST_EXTENSIONS: `${writeTutorial()},${brokenExtension()}` };
    delete env.DATABASE_URL;
    child = spawn(process.execPath, ["bin/waypost.mjs", "start"], { env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));
    const started = Date.now();
    while (!/Waypost listening on/.test(output)) {
      if (child.exitCode !== null) throw new Error(`waypost start exited:\n${output}`);
      if (Date.now() - started > 90_000) throw new Error(`waypost start did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  afterAll(() => {
    child?.kill("SIGTERM");
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("`waypost start` serves, logs the refusal with its error, and loads the good extension", async () => {
    const lines = output.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.msg === "extension loaded")).toMatchObject({ level: "info", extension: "acme-coupons", version: "1.0.0", nodes: ["acme.coupon"] });
    expect(lines.find((l) => l.msg === "extension refused")).toMatchObject({ level: "error", extension: "acme-broken", error: expect.stringContaining('id "acme.Broken" must look like "namespace.name"') });
    const url = output.match(/Waypost listening on (\S+)/)![1];
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});

describe("extensions in the UI: Settings › Extensions and the palette", () => {
  let app: TestApp;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    await loadExtensions([writeTutorial(), brokenExtension(), extensionWithInspector()]);
    app = await startTestApp({ serve: true });
    const developer = await app.addOperator("developer");
    browser = await launchBrowser();
    page = await browser.newPage({ locale: "en-US", viewport: { width: 1280, height: 800 } });
    await page.goto(`${app.url}/login?next=/settings`);
    await page.getByLabel("Email").fill(developer.email);
    await page.getByLabel("Password").fill(developer.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/settings$/);
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it("lists each extension with its version and status, the refused one with its error", async () => {
    await page.getByTestId("extensions-settings-link").click();
    await page.waitForURL(/\/settings\/extensions$/);
    const good = page.getByTestId("extension-acme-coupons");
    expect(await good.getAttribute("data-status")).toBe("loaded");
    expect(await good.textContent()).toContain("1.0.0");
    expect(await good.textContent()).toContain("acme.coupon");
    const broken = page.getByTestId("extension-acme-broken");
    expect(await broken.getAttribute("data-status")).toBe("refused");
    expect(await broken.textContent()).toContain("0.3.0");
    expect(await broken.getByTestId("extension-error").textContent()).toContain('id "acme.Broken" must look like "namespace.name"');

    // The operator enters the node's secret; it is stored, never shown again.
    const secret = page.getByTestId("secret-acme.coupon-apiKey");
    expect(await secret.textContent()).toContain("not set");
    await secret.locator("input[name=value]").fill("k-from-the-ui");
    await secret.getByRole("button", { name: "Save" }).click();
    await poll(() => page.getByTestId("secret-acme.coupon-apiKey").textContent()).toContain("(set)");
    expect(await page.content()).not.toContain("k-from-the-ui");
    await screenshot(page, "settings-extensions");
  });

  it("puts the custom node in the palette in both languages, and adds it to the canvas with its form", async () => {
    await page.goto(`${app.url}/journeys`);
    await page.getByTestId("new-journey").click();
    await page.getByTestId("new-journey-name").fill("coupons");
    await page.getByTestId("create-journey").click();
    await page.waitForURL(/\/journeys\/[0-9a-f-]{36}$/);
    const item = page.getByTestId("palette-acme.coupon");
    expect(await item.textContent()).toContain("Issue coupon");
    await item.click();
    await poll(() => page.locator('[data-node-type="acme.coupon"]').count()).toBe(1);
    await page.locator('[data-node-type="acme.coupon"]').click();
    await poll(() => page.getByTestId("inspector").textContent()).toContain("Issue coupon");
    expect(await page.getByTestId("inspector").locator("input").count()).toBeGreaterThanOrEqual(3);
    await screenshot(page, "extension-node-in-canvas");

    // A node with its own inspector component: it replaces the generated form.
    await page.getByTestId("palette-acme.banner").click();
    await poll(() => page.locator('[data-node-type="acme.banner"]').count()).toBe(1);
    await page.locator('[data-node-type="acme.banner"]').click();
    await poll(() => page.getByTestId("banner-inspector").isVisible()).toBe(true);
    await page.getByTestId("banner-inspector").getByRole("button", { name: "Make it blue: red" }).click();
    await poll(() => page.getByTestId("banner-inspector").getByRole("button").first().textContent()).toBe("Make it blue: blue");
    await screenshot(page, "extension-custom-inspector");

    await page.getByTestId("language-switch").click();
    await poll(() => page.getByTestId("palette-acme.coupon").textContent()).toContain("发放优惠券");
  });
});
