/**
 * Provider secrets at rest: AES-256-GCM with a random 96-bit IV per value and the workspace and
 * setting kind as associated data, so a ciphertext copied to another workspace's row fails to
 * decrypt instead of silently working there.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type SecretKey = Buffer & { readonly __secretKey: unique symbol };

/** Derives the 32-byte key from WAYPOST_SECRET_KEY (any string of 32+ characters). */
export function deriveSecretKey(material: string): SecretKey {
  return Buffer.from(hkdfSync("sha256", material, "waypost", "channel-settings v1", 32)) as SecretKey;
}

/**
 * WAYPOST_SECRET_KEY when set; otherwise a random key generated once and kept in
 * `<dataDir>/secret.key` (0600), so a development install works out of the box and keeps
 * decrypting after restarts. See docs/decisions/0204-secret-key.md.
 */
export function loadSecretKey(options: { env?: string; dataDir: string }): SecretKey {
  if (options.env) return deriveSecretKey(options.env);
  const file = join(options.dataDir, "secret.key");
  if (!existsSync(file)) {
    mkdirSync(options.dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString("base64url") + "\n", { mode: 0o600, flag: "wx" });
    chmodSync(file, 0o600);
  }
  return deriveSecretKey(readFileSync(file, "utf8").trim());
}

export function encryptSecret(key: SecretKey, plaintext: string, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(context, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return ["v1", iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), body.toString("base64url")].join(".");
}

export function decryptSecret(key: SecretKey, sealed: string, context: string): string {
  const [version, iv, tag, body] = sealed.split(".");
  if (version !== "v1" || !iv || !tag || body === undefined) throw new Error("unknown secret format");
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
  decipher.setAAD(Buffer.from(context, "utf8"));
  decipher.setAuthTag(Buffer.from(tag, "base64url"));
  return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]).toString("utf8");
}

/** The HMAC key of email tracking links, derived from the same key so there is one secret to keep. */
export function deriveTrackingSecret(key: SecretKey): string {
  return Buffer.from(hkdfSync("sha256", key, "waypost", "email-tracking v1", 32)).toString("base64url");
}
