/**
 * Custom channel providers at run time: the process-wide list of definitions extensions registered,
 * turning a workspace's settings row into a live `ChannelProvider` (validated settings, guarded
 * fetch, a send that never throws, the quota check), and applying the receipts a provider's
 * callback yields. The settings registry (settings.server.ts) calls `buildCustomProvider` for any
 * provider id that is not built in.
 */
import type { Db } from "../../db/client";
import { builtInProviderIds, isChannelProviderDefinition, type AnyChannelProviderDefinition, type ProviderFetch, type ProviderLogger } from "./provider-api";
import {
  failure,
  isFailure,
  sendEachInParallel,
  type Channel,
  type ChannelProvider,
  type OutboundMessage,
  type ProviderOutcome,
  type ProviderReceipt,
  type QuotaReading,
  type RenderedContent,
} from "./provider";
import type { ProviderLimitResult } from "./provider-api";
import type { MessagingService } from "./send.server";
import * as store from "./store.server";
import { processShared } from "../shared-state";

// One registry per process: the Remix server build bundles its own copy of this module, and the
// extension loader registers through the source copy (decision 0901).
const definitions = processShared("channelProviders", () => new Map<string, AnyChannelProviderDefinition>());

/** Adds a provider definition (the extension loader calls this). Same definition twice is a no-op. */
export function registerChannelProvider(def: AnyChannelProviderDefinition): void {
  if ((builtInProviderIds as readonly string[]).includes(def.id)) throw new Error(`channel provider "${def.id}" is built in`);
  const existing = definitions.get(def.id);
  if (existing === def) return;
  if (existing) throw new Error(`channel provider "${def.id}" is already registered`);
  definitions.set(def.id, def);
}

/** Tests and extension reloads only. */
export function unregisterChannelProvider(id: string): void {
  definitions.delete(id);
}

/**
 * The extension loader's hook (nodes/extension/loader.server.ts): registers an extension's
 * `providers`, all or none, and answers how to undo it. Throws — which refuses the extension with
 * this message on Settings › Extensions — for anything that is not a `defineChannelProvider` result
 * or an id already taken.
 */
export function installExtensionProviders(extension: { providers: readonly unknown[] }): () => void {
  const added: string[] = [];
  try {
    extension.providers.forEach((p, i) => {
      if (!isChannelProviderDefinition(p)) throw new Error(`providers[${i}] is not a defineChannelProvider(...) result`);
      if (definitions.has(p.id)) throw new Error(`providers[${i}]: channel provider "${p.id}" is already registered (by Waypost or another extension)`);
      registerChannelProvider(p);
      added.push(p.id);
    });
  } catch (error) {
    added.forEach(unregisterChannelProvider);
    throw error;
  }
  return () => added.forEach(unregisterChannelProvider);
}

export function getChannelProviderDefinition(id: string): AnyChannelProviderDefinition | undefined {
  return definitions.get(id);
}

export function listChannelProviderDefinitions(channel?: Channel): AnyChannelProviderDefinition[] {
  return [...definitions.values()].filter((d) => !channel || d.channel === channel);
}

/** A custom provider as the send service holds it: the provider plus its length rules. */
export interface BuiltCustomProvider {
  provider: ChannelProvider;
  limits?: (content: RenderedContent, options: { truncate: boolean; platform?: OutboundMessage["platform"] }) => ProviderLimitResult;
}

export interface BuildOptions {
  workspaceId: string;
  config: unknown;
  secrets: unknown;
  /** Outbound requests: the guard (nodes/net) in the app; tests pass one that allows loopback fakes. */
  fetch: ProviderFetch;
  log?: ProviderLogger;
  timeoutMs?: number;
  now?: () => Date;
  /** Test harness: a thrown error or an outcome outside the contract throws instead of mapping. */
  strict?: boolean;
}

const silent: ProviderLogger = { info() {}, warn() {}, error() {} };

/** Wraps `fetch` so every request is abandoned after `timeoutMs` (AbortError → the provider maps it). */
function withFetchTimeout(fetch: ProviderFetch, timeoutMs: number): ProviderFetch {
  return (url, init = {}) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    return fetch(url, { ...init, signal });
  };
}

/**
 * Validates the stored settings against the definition and builds the live provider. Throws (with
 * the field named) when the settings no longer fit the definition — the registry reports that as
 * the channel being misconfigured rather than sending with half a config.
 */
export function buildCustomProvider(def: AnyChannelProviderDefinition, options: BuildOptions): BuiltCustomProvider {
  const config = def.config.safeParse(options.config);
  if (!config.success) throw new Error(`${def.id} settings: ${config.error.issues.map((i) => `config.${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const secrets = def.secrets.safeParse(options.secrets ?? {});
  if (!secrets.success) throw new Error(`${def.id} settings: ${secrets.error.issues.map((i) => `secrets.${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const log = options.log ?? silent;
  const instance = def.create({
    workspaceId: options.workspaceId,
    config: config.data,
    secrets: secrets.data,
    fetch: withFetchTimeout(options.fetch, timeoutMs),
    log,
    timeoutMs,
    now: options.now ?? (() => new Date()),
  });

  // The contract says a provider never throws; a bug that does must not lose the message or crash
  // the worker: it becomes a retryable failure with the error as detail.
  const strict = options.strict === true;
  const guardSend = async (message: OutboundMessage): Promise<ProviderOutcome> => {
    if (strict) return checkOutcome(def.id, await instance.send(message), true);
    try {
      return checkOutcome(def.id, await instance.send(message));
    } catch (error) {
      log.error("provider threw", { provider: def.id, error: String(error) });
      return failure("provider_unavailable", { retryable: true, detail: `provider threw: ${error instanceof Error ? error.message : String(error)}` });
    }
  };
  const guardBatch = async (messages: OutboundMessage[]): Promise<ProviderOutcome[]> => {
    if (!instance.sendBatch) return sendEachInParallel({ send: guardSend }, messages);
    if (strict) {
      const outcomes = await instance.sendBatch(messages);
      if (!Array.isArray(outcomes) || outcomes.length !== messages.length) throw new Error(`${def.id}: sendBatch returned ${Array.isArray(outcomes) ? outcomes.length : typeof outcomes} outcomes for ${messages.length} messages`);
      return outcomes.map((o) => checkOutcome(def.id, o, true));
    }
    try {
      const outcomes = await instance.sendBatch(messages);
      if (!Array.isArray(outcomes) || outcomes.length !== messages.length) {
        throw new Error(`sendBatch returned ${Array.isArray(outcomes) ? outcomes.length : typeof outcomes} outcomes for ${messages.length} messages`);
      }
      return outcomes.map((o) => checkOutcome(def.id, o));
    } catch (error) {
      log.error("provider threw", { provider: def.id, error: String(error) });
      const f = failure("provider_unavailable", { retryable: true, detail: `provider threw: ${error instanceof Error ? error.message : String(error)}` });
      return messages.map(() => f);
    }
  };

  const quota = instance.quota ? createQuotaGate(() => instance.quota!(), def.quotaCheck) : null;
  const provider: ChannelProvider = {
    id: def.id,
    channel: def.channel,
    capabilities: def.capabilities,
    async send(message) {
      const refused = quota ? await quota.admit(1) : null;
      if (refused) return refused;
      const outcome = await guardSend(message);
      if (outcome.ok) quota?.spent(1);
      return outcome;
    },
    async sendBatch(messages) {
      const refused = quota ? await quota.admit(messages.length) : null;
      if (refused) return messages.map(() => refused);
      const outcomes = await guardBatch(messages);
      quota?.spent(outcomes.filter((o) => o.ok).length);
      return outcomes;
    },
    ...(instance.quota ? { quota: () => instance.quota!() } : {}),
    ...(instance.handleCallback ? { handleCallback: (request) => instance.handleCallback!(request) } : {}),
    close: async () => {
      await instance.close?.();
    },
  };
  const limits = def.limits;
  return {
    provider,
    ...(limits ? { limits: (content, o) => limits(content, { ...o, config: config.data }) } : {}),
  };
}

/** An outcome that breaks the contract (unknown reason, no id) is a provider bug, reported as such. */
function checkOutcome(providerId: string, outcome: ProviderOutcome, strict = false): ProviderOutcome {
  if (outcome && outcome.ok === true && typeof outcome.providerMessageId === "string" && (outcome.state === "sent" || outcome.state === "delivered")) return outcome;
  if (isFailure(outcome)) return outcome;
  if (strict) throw new Error(`${providerId} returned an outcome outside the contract: ${JSON.stringify(outcome)}`);
  return failure("provider_unavailable", { retryable: false, detail: `${providerId} returned an outcome outside the contract: ${JSON.stringify(outcome)?.slice(0, 200)}` });
}

/**
 * The quota check before sends: one reading per `ttlMs`, a fresh one before a large send, and
 * what was sent since the reading counted down locally (the reading is the provider's, sends from
 * other processes only show at the next reading). A failed reading lets sends through: the
 * provider will refuse them itself if the quota is really gone, and its answer maps to
 * `quota_exceeded` anyway.
 */
export function createQuotaGate(read: () => Promise<QuotaReading>, options: { ttlMs?: number; largeSend?: number } = {}) {
  const ttl = options.ttlMs ?? 60_000;
  const largeSend = options.largeSend ?? 100;
  let reading: { at: number; value: QuotaReading; spent: number } | null = null;
  let pending: Promise<void> | null = null;
  const refresh = async () => {
    pending ??= read()
      .then((value) => void (reading = { at: Date.now(), value, spent: 0 }))
      .catch(() => void (reading = null))
      .finally(() => (pending = null));
    await pending;
  };
  return {
    async admit(count: number): Promise<ReturnType<typeof failure> | null> {
      if (!reading || Date.now() - reading.at >= ttl || count >= largeSend) await refresh();
      if (!reading) return null;
      const { value, spent } = reading;
      if (value.limited) return failure("quota_exceeded", { providerCode: "quota_limited", detail: "the provider reports today's quota used up" });
      if (value.remaining !== null && value.remaining - spent < count) {
        return failure("quota_exceeded", { providerCode: "quota_remaining", detail: `${Math.max(0, value.remaining - spent)} left today, ${count} to send` });
      }
      return null;
    },
    spent(count: number) {
      if (reading) reading.spent += count;
    },
  };
}

/**
 * Applies receipts from a provider's callback for one workspace. A receipt changes a message only
 * if that message was sent by this provider in this workspace (and, when the receipt names an
 * address, to that address). Idempotent and monotonic like every delivery report. Returns how many
 * messages changed.
 */
export async function applyProviderReceipts(
  deps: { db: Db; messaging: Pick<MessagingService, "recordDelivery">; now?: () => Date },
  workspaceId: string,
  providerId: string,
  receipts: ProviderReceipt[],
): Promise<number> {
  let changed = 0;
  for (const receipt of receipts) {
    let row: store.MessageRow | null = null;
    if (receipt.messageId && UUID.test(receipt.messageId)) row = await store.findById(deps.db, receipt.messageId);
    if (!row && receipt.providerMessageId) {
      const rows = await store.findByProviderId(deps.db, providerId, receipt.providerMessageId);
      row = rows.find((r) => !receipt.address || r.address === receipt.address) ?? null;
    }
    if (!row || row.workspace_id !== workspaceId || row.provider !== providerId) continue;
    if (receipt.address && row.address !== receipt.address) continue;
    const at = receipt.at ?? deps.now?.() ?? new Date();
    const applied =
      receipt.state === "failed"
        ? await deps.messaging.recordDelivery(row.id, "failed", at, { reason: receipt.reason ?? "not_delivered", detail: receipt.detail, providerCode: receipt.providerCode })
        : await deps.messaging.recordDelivery(row.id, receipt.state, at);
    if (applied) changed++;
  }
  return changed;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
