import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, screenshot } from "../support/browser";

/**
 * The README's first command, as a new user runs it: `waypost start` on embedded defaults (PGlite
 * in a fresh data dir, demo data), then sign in with the login it prints.
 */
describe("quick start: first start prints a login that asks for a new password, then lands on Journeys", () => {
  let child: ChildProcess;
  let output = "";
  let dataDir: string;
  let browser: Browser;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "waypost-quickstart-"));
    const env: NodeJS.ProcessEnv = { ...process.env, WAYPOST_DATA_DIR: dataDir, PORT: "0", WAYPOST_DEMO_USERS: "300", WAYPOST_LOG_LEVEL: "warn", WAYPOST_DEMO_HISTORY_DAYS: "0" };
    // The demo's 30 days of history are replayed (and timed) by demo-first-start.e2e.test.ts.
    delete env.DATABASE_URL; // the quick start runs on embedded PGlite
    child = spawn(process.execPath, ["bin/waypost.mjs", "start"], { env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));
    const started = Date.now();
    while (!/demo data loaded/.test(output)) {
      if (child.exitCode !== null) throw new Error(`waypost start exited early:\n${output}`);
      if (Date.now() - started > 90_000) throw new Error(`waypost start did not finish starting:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    console.log(`waypost start: serving and demo data loaded after ${Date.now() - started} ms`);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    child?.kill("SIGTERM");
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("signs in with the printed credentials, chooses a password and lands on the Journeys page", async () => {
    const url = output.match(/URL:\s+(\S+)\/login/)?.[1];
    const email = output.match(/Email:\s+(\S+)/)?.[1];
    const password = output.match(/Password:\s+(\S+)/)?.[1];
    expect(url && email && password, output).toBeTruthy();

    const health = await (await fetch(`${url}/healthz`)).json();
    expect(health).toMatchObject({ status: "ok", engine: "embedded", database: "pglite" });

    const page = await browser.newPage({ locale: "en-US", viewport: { width: 1280, height: 800 } });
    await page.goto(`${url}/journeys`);
    await page.waitForURL(/\/login\?next=%2Fjourneys/);
    await page.getByLabel("Email").fill(email!);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("Email or password is not correct.");

    await page.getByLabel("Password").fill(password!);
    await page.getByRole("button", { name: "Sign in" }).click();
    // The printed password must be replaced first (decision 0724); then the way on is Journeys.
    await page.waitForURL(/\/settings\/account\?required=1&next=%2Fjourneys$/);
    await page.getByLabel("Current password").fill(password!);
    await page.getByLabel("New password", { exact: true }).fill("my-own-admin-password");
    await page.getByLabel("New password again").fill("my-own-admin-password");
    await page.getByRole("button", { name: "Change password" }).click();
    await page.waitForURL(/\/journeys$/);
    expect(await page.getByTestId("page-title").textContent()).toBe("Journeys");
    expect(await page.getByTestId("signed-in-as").textContent()).toContain(email!);
    await screenshot(page, "quickstart-journeys");

    // Switching to 简体中文 re-renders the same page in Chinese and the choice sticks.
    await page.getByTestId("language-switch").click();
    await page.waitForURL(/\/journeys$/);
    expect(await page.getByTestId("page-title").textContent()).toBe("旅程");
    await screenshot(page, "quickstart-journeys-zh");
  });
});
