import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decryptSecret, deriveSecretKey, deriveTrackingSecret, encryptSecret, loadSecretKey } from "./secrets.server";

describe("secrets at rest", () => {
  it("round-trips, uses a fresh IV each time and refuses another row's context or a tampered value", () => {
    const key = deriveSecretKey("x".repeat(40));
    const a = encryptSecret(key, "s3cret", "ws-1/sms");
    const b = encryptSecret(key, "s3cret", "ws-1/sms");
    expect(a).not.toBe(b);
    expect(decryptSecret(key, a, "ws-1/sms")).toBe("s3cret");
    expect(() => decryptSecret(key, a, "ws-2/sms")).toThrow();
    expect(() => decryptSecret(deriveSecretKey("y".repeat(40)), a, "ws-1/sms")).toThrow();
    const [v, iv, tag, body] = a.split(".");
    const flipped = Buffer.from(body!, "base64url");
    flipped[0]! ^= 1;
    expect(() => decryptSecret(key, [v, iv, tag, flipped.toString("base64url")].join("."), "ws-1/sms")).toThrow();
  });

  it("generates a development key once, 0600, and keeps using it", () => {
    const dir = mkdtempSync(join(tmpdir(), "wp-key-"));
    const first = loadSecretKey({ dataDir: dir });
    const second = loadSecretKey({ dataDir: dir });
    expect(first.equals(second)).toBe(true);
    expect(statSync(join(dir, "secret.key")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, "secret.key"), "utf8").trim().length).toBeGreaterThanOrEqual(43);
    expect(loadSecretKey({ dataDir: dir, env: "z".repeat(32) }).equals(first)).toBe(false);
    expect(deriveTrackingSecret(first)).toBe(deriveTrackingSecret(second));
  });
});
