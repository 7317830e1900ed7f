import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../app/config.server";

describe("environment validation", () => {
  it("uses the embedded defaults when nothing is set", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ PORT: 3000, WAYPOST_DATA_DIR: "./.data", WAYPOST_ENGINE: "embedded", WAYPOST_DEMO_DATA: true });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it.each([
    [{ PORT: "eighty" }, "PORT"],
    [{ DATABASE_URL: "mysql://localhost/db" }, "DATABASE_URL"],
    [{ WAYPOST_ENGINE: "kafka" }, "WAYPOST_ENGINE"],
    [{ WAYPOST_SECRET_KEY: "short" }, "WAYPOST_SECRET_KEY"],
    [{ WAYPOST_ENGINE: "temporal" }, "TEMPORAL_ADDRESS"],
  ])("names the bad variable: %o", (env, variable) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.variable)).toEqual([variable]);
    expect((error as ConfigError).message).toContain(`${variable}:`);
  });

  it("the CLI exits 2 with the variable named", async () => {
    const { spawnSync } = await import("node:child_process");
    const result = spawnSync(process.execPath, ["bin/waypost.mjs", "migrate"], { env: { ...process.env, PORT: "-1" }, encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("PORT:");
  });
});
