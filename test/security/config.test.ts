import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../app/config.server";
import { resolveAllowed } from "../../nodes/net/outbound.server";

describe("WAYPOST_OUTBOUND_ALLOW", () => {
  it("is empty by default: public addresses only", async () => {
    const config = loadConfig({});
    expect(config.WAYPOST_OUTBOUND_ALLOW.entries).toEqual([]);
    await expect(resolveAllowed("10.1.2.3", { allow: config.WAYPOST_OUTBOUND_ALLOW })).rejects.toMatchObject({ code: "destination_refused" });
  });

  it("parses names, suffixes, addresses and ranges into the guard's allowlist", async () => {
    const config = loadConfig({ WAYPOST_OUTBOUND_ALLOW: "billing.internal, *.corp.example 10.20.0.0/16,fd00::7" });
    expect(config.WAYPOST_OUTBOUND_ALLOW.entries).toHaveLength(4);
    await expect(resolveAllowed("10.20.9.9", { allow: config.WAYPOST_OUTBOUND_ALLOW })).resolves.toHaveLength(1);
    await expect(resolveAllowed("10.21.9.9", { allow: config.WAYPOST_OUTBOUND_ALLOW })).rejects.toMatchObject({ code: "destination_refused" });
  });

  it("refuses bad entries at start, naming the variable and each bad entry", () => {
    let error: unknown;
    try {
      loadConfig({ WAYPOST_OUTBOUND_ALLOW: "ok.example,10.0.0.0/40,127.1" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.variable)).toEqual(["WAYPOST_OUTBOUND_ALLOW"]);
    expect((error as ConfigError).message).toMatch(/WAYPOST_OUTBOUND_ALLOW: .*"10\.0\.0\.0\/40", "127\.1"/);
  });
});
