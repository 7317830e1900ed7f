import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { loadExtension } from "../extension/loader.server";
import { buildCustomProvider, createQuotaGate, getChannelProviderDefinition, installExtensionProviders } from "./custom-providers.server";
import { defineChannelProvider, type ProviderInstance } from "./provider-api";
import type { OutboundMessage } from "./provider";

/** The custom-provider contract as the send service relies on it, without a database. */
const message: OutboundMessage = { messageId: "m1", idempotencyKey: "k1", channel: "push", category: "marketing", to: "device-1", content: { title: "t", body: "b" } };
const capabilities = { batch: false, maxBatchSize: 1, idempotency: "none", deliveryReports: "none" } as const;
const noFetch = async () => {
  throw new Error("no network in this test");
};

function provider(id: string, instance: ProviderInstance) {
  return defineChannelProvider({ id, channel: "push", label: { en: id, zh: id }, config: z.object({}), secrets: z.object({}), capabilities, create: () => instance });
}

describe("defineChannelProvider", () => {
  it("refuses definitions the registry could not use, naming what is wrong", () => {
    const base = { channel: "push" as const, label: { en: "x", zh: "x" }, config: z.object({}), secrets: z.object({}), capabilities, create: () => ({ send: async () => ({ ok: true as const, providerMessageId: "p", state: "sent" as const }) }) };
    expect(() => defineChannelProvider({ ...base, id: "getui" })).toThrow(/namespace\.name/);
    expect(() => defineChannelProvider({ ...base, id: "acme.push", label: { en: "x", zh: "" } })).toThrow(/label needs en and zh/);
    expect(() => defineChannelProvider({ ...base, id: "acme.push", capabilities: { ...capabilities, maxBatchSize: 0 } })).toThrow(/maxBatchSize/);
    expect(() => defineChannelProvider({ ...base, id: "acme.push", config: {} as never })).toThrow(/config must be a zod schema/);
  });
});

describe("installing an extension's providers", () => {
  it("is all or none, and refuses anything that is not a definition or an id already taken", () => {
    const a = provider("acme.a", { send: async () => ({ ok: true, providerMessageId: "p", state: "sent" }) });
    expect(() => installExtensionProviders({ providers: [a, { id: "acme.b" }] })).toThrow(/providers\[1\] is not a defineChannelProvider/);
    expect(getChannelProviderDefinition("acme.a")).toBeUndefined();
    const undo = installExtensionProviders({ providers: [a] });
    expect(getChannelProviderDefinition("acme.a")).toBe(a);
    expect(() => installExtensionProviders({ providers: [provider("acme.a", { send: a.create({} as never).send })] })).toThrow(/already registered/);
    undo();
    expect(getChannelProviderDefinition("acme.a")).toBeUndefined();
  });

  it("a broken extension's providers refuse the extension with the error, loaded from a folder outside the repository", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wp-broken-provider-"));
    mkdirSync(join(dir, "src"));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "broken-provider", version: "0.0.1", type: "module", main: "src/index.ts" }));
    writeFileSync(join(dir, "src/index.ts"), `import { defineExtension } from "waypost/extension";\nexport default defineExtension({ apiVersion: 1, providers: [{ id: "broken.push" }] });\n`);
    const status = await loadExtension(dir);
    expect(status).toMatchObject({ status: "refused", name: "broken-provider", error: "providers[0] is not a defineChannelProvider(...) result" });
    expect(getChannelProviderDefinition("broken.push")).toBeUndefined();
  });
});

describe("a built provider keeps the contract even when its code does not", () => {
  const build = (instance: ProviderInstance) => buildCustomProvider(provider("acme.flaky", instance), { workspaceId: "w", config: {}, secrets: {}, fetch: noFetch }).provider;

  it("a throw becomes a retryable provider_unavailable; an answer outside the taxonomy a final one", async () => {
    const throwing = build({ send: async () => Promise.reject(new Error("boom")) });
    expect(await throwing.send(message)).toMatchObject({ ok: false, reason: "provider_unavailable", retryable: true, detail: "provider threw: boom" });
    const odd = build({ send: async () => ({ ok: false, reason: "exploded", retryable: false }) as never });
    expect(await odd.send(message)).toMatchObject({ ok: false, reason: "provider_unavailable", retryable: false });
    const short = build({ send: async () => ({ ok: true, providerMessageId: "p", state: "sent" }), sendBatch: async () => [] });
    expect(await short.sendBatch([message, message])).toEqual([
      expect.objectContaining({ reason: "provider_unavailable", detail: expect.stringMatching(/0 outcomes for 2 messages/) }),
      expect.objectContaining({ reason: "provider_unavailable" }),
    ]);
  });

  it("config that no longer fits the definition is refused naming the field", () => {
    const strict = defineChannelProvider({ id: "acme.strict", channel: "sms", label: { en: "s", zh: "s" }, config: z.object({ endpoint: z.string().url() }), secrets: z.object({ key: z.string() }), capabilities, create: () => ({ send: async () => ({ ok: true, providerMessageId: "p", state: "sent" }) }) });
    expect(() => buildCustomProvider(strict, { workspaceId: "w", config: { endpoint: "nope" }, secrets: { key: "k" }, fetch: noFetch })).toThrow(/config\.endpoint/);
  });
});

describe("the quota gate", () => {
  it("a failed quota reading lets sends through (the provider's own refusal still maps to quota_exceeded)", async () => {
    const gate = createQuotaGate(async () => Promise.reject(new Error("push_count down")));
    expect(await gate.admit(1)).toBeNull();
  });

  it("counts down between readings and reads again after the TTL or for a large send", async () => {
    let reads = 0;
    const gate = createQuotaGate(async () => (reads++, { remaining: 3, limited: false }), { ttlMs: 60_000, largeSend: 10 });
    expect(await gate.admit(2)).toBeNull();
    gate.spent(2);
    expect(await gate.admit(2)).toMatchObject({ reason: "quota_exceeded", detail: "1 left today, 2 to send" });
    expect(reads).toBe(1);
    expect(await gate.admit(10)).toMatchObject({ reason: "quota_exceeded" });
    expect(reads).toBe(2);
  });
});
