/**
 * Per-workspace provider settings: validation, encrypted storage, and the registry that turns a
 * row into a live provider (sandbox when nothing is configured).
 */
import type { Agent } from "node:https";
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../../db/client";
import { channelSettings } from "../../db/schema";
import { createAliyunSmsProvider } from "./aliyun-sms/provider.server";
import { createFcmProvider } from "./fcm/provider.server";
import { defaultPolicySettings, policySettingsSchema, type PolicySettings } from "./policies/settings";
import type { Channel, ChannelProvider } from "./provider";
import { createSandboxProvider } from "./sandbox/provider";
import { decryptSecret, encryptSecret, type SecretKey } from "./secrets.server";
import { createSmtpProvider } from "./smtp/provider.server";
import { secretsMayStay } from "./destination";
import { guardProvider } from "./guarded-provider.server";
import { buildCustomProvider, getChannelProviderDefinition, type BuiltCustomProvider } from "./custom-providers.server";
import type { ProviderFetch, ProviderLogger } from "./provider-api";
import { guardedFetch, type OutboundAllowlist } from "../net/outbound.server";

export const providerSchemas = {
  fcm: {
    channel: "push" as const,
    config: z.object({ projectId: z.string().min(1), androidChannelId: z.string().optional() }),
    secrets: z.object({ clientEmail: z.string().email(), privateKey: z.string().min(1) }),
  },
  "aliyun-sms": {
    channel: "sms" as const,
    config: z.object({
      accessKeyId: z.string().min(1),
      signName: z.string().min(1),
      endpoint: z.string().optional(),
      /** Most SMS parts a message may cost (null: Alibaba's maximum). */
      maxParts: z.number().int().positive().optional(),
    }),
    secrets: z.object({ accessKeySecret: z.string().min(1) }),
  },
  smtp: {
    channel: "email" as const,
    config: z.object({
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535),
      secure: z.boolean().default(false),
      user: z.string().optional(),
      from: z.string().min(3),
      /** Public URL of this Waypost, for open/click/unsubscribe links; tracking is off without it. */
      trackingBaseUrl: z.string().url().optional(),
      unsubscribeMailto: z.string().email().optional(),
    }),
    secrets: z.object({ pass: z.string().optional() }),
  },
  sandbox: {
    channel: undefined,
    config: z.object({}),
    secrets: z.object({}),
  },
} as const;
export type ProviderId = keyof typeof providerSchemas;

/**
 * The schemas of a provider id: a built-in one, or a custom provider an extension registered
 * (decision 0930). Undefined for an id nobody knows.
 */
export function schemasOf(provider: string): { channel: Channel | undefined; config: z.ZodTypeAny; secrets: z.ZodTypeAny } | undefined {
  if (Object.hasOwn(providerSchemas, provider)) return providerSchemas[provider as ProviderId];
  const custom = getChannelProviderDefinition(provider);
  return custom ? { channel: custom.channel, config: custom.config, secrets: custom.secrets } : undefined;
}

/** Associated data for the ciphertext: a sealed value only opens in its own row. */
const aad = (workspaceId: string, kind: string) => `${workspaceId}/${kind}`;

export interface SaveProviderInput {
  workspaceId: string;
  channel: Channel;
  /** A built-in provider id, or a custom provider's (`getui.push`). */
  provider: ProviderId | (string & {});
  config: Record<string, unknown>;
  /** Omitted or empty fields keep the stored value: the browser never gets secrets back to resend. */
  secrets?: Record<string, string | undefined>;
  updatedBy?: string;
}

export async function saveProviderSettings(db: Db, key: SecretKey, input: SaveProviderInput): Promise<void> {
  const schema = schemasOf(input.provider);
  if (!schema) throw new Error(`unknown provider ${input.provider}`);
  if (schema.channel && schema.channel !== input.channel) throw new Error(`${input.provider} cannot send ${input.channel}`);
  const config = schema.config.parse(input.config) as Record<string, unknown>;
  const [existing] = await db
    .select({ provider: channelSettings.provider, secrets: channelSettings.secrets, config: channelSettings.config })
    .from(channelSettings)
    .where(and(eq(channelSettings.workspaceId, input.workspaceId), eq(channelSettings.kind, input.channel)));
  // Stored secrets stay only with the destination they were entered for (decision 0703).
  const previous =
    existing?.secrets && secretsMayStay(existing, input.provider, config)
      ? (JSON.parse(decryptSecret(key, existing.secrets, aad(input.workspaceId, input.channel))) as Record<string, string>)
      : {};
  const given = Object.fromEntries(Object.entries(input.secrets ?? {}).filter(([, v]) => v !== undefined && v !== ""));
  const secrets = schema.secrets.parse({ ...previous, ...given }) as Record<string, unknown>;
  const sealed = Object.keys(secrets).length ? encryptSecret(key, JSON.stringify(secrets), aad(input.workspaceId, input.channel)) : null;
  const row = { provider: input.provider, config, secrets: sealed, updatedAt: new Date(), updatedBy: input.updatedBy ?? null };
  await db
    .insert(channelSettings)
    .values({ workspaceId: input.workspaceId, kind: input.channel, ...row })
    .onConflictDoUpdate({ target: [channelSettings.workspaceId, channelSettings.kind], set: row });
}

export async function savePolicySettings(db: Db, workspaceId: string, policy: unknown, updatedBy?: string): Promise<PolicySettings> {
  const parsed = policySettingsSchema.parse(policy);
  const row = { provider: null, config: parsed as unknown as Record<string, unknown>, secrets: null, updatedAt: new Date(), updatedBy: updatedBy ?? null };
  await db
    .insert(channelSettings)
    .values({ workspaceId, kind: "policy", ...row })
    .onConflictDoUpdate({ target: [channelSettings.workspaceId, channelSettings.kind], set: row });
  return parsed;
}

export async function loadPolicySettings(db: Db, workspaceId: string): Promise<PolicySettings> {
  const [row] = await db
    .select({ config: channelSettings.config })
    .from(channelSettings)
    .where(and(eq(channelSettings.workspaceId, workspaceId), eq(channelSettings.kind, "policy")));
  return row ? policySettingsSchema.parse(row.config) : defaultPolicySettings;
}

/** What the Settings page may show: config and which secrets are set, never their values. */
export interface ProviderSettingsView {
  channel: Channel;
  provider: ProviderId;
  config: Record<string, unknown>;
  secretsSet: string[];
  updatedAt: Date;
}

export async function listProviderSettings(db: Db, key: SecretKey, workspaceId: string): Promise<ProviderSettingsView[]> {
  const rows = await db.select().from(channelSettings).where(eq(channelSettings.workspaceId, workspaceId));
  return rows
    .filter((r) => r.kind !== "policy")
    .map((r) => ({
      channel: r.kind as Channel,
      provider: r.provider as ProviderId,
      config: r.config,
      secretsSet: r.secrets
        ? Object.entries(JSON.parse(decryptSecret(key, r.secrets, aad(workspaceId, r.kind))) as Record<string, string>)
            .filter(([, v]) => v)
            .map(([k]) => k)
        : [],
      updatedAt: r.updatedAt,
    }));
}

export interface ResolvedProvider {
  provider: ChannelProvider;
  /** SMTP tracking and SMS part limits ride along with the provider. */
  options: { trackingBaseUrl?: string; unsubscribeMailto?: string; smsMaxParts?: number; signName?: string; limits?: BuiltCustomProvider["limits"] };
}

export type ProviderResolver = (workspaceId: string, channel: Channel) => Promise<ResolvedProvider>;

export interface RegistryOptions {
  db: Db;
  key: SecretKey;
  /** Cache lifetime; saving settings through `invalidate` takes effect at once. */
  ttlMs?: number;
  /** Test hooks: route FCM to a loopback fake, shorter timeouts. */
  fcmHttpAgent?: Agent;
  fcmCredential?: Parameters<typeof createFcmProvider>[0]["credential"];
  aliyunProtocol?: "http" | "https";
  timeoutMs?: number;
  /** Outbound requests of custom providers; default: the guard with `outboundAllow`. */
  providerFetch?: ProviderFetch;
  /** WAYPOST_OUTBOUND_ALLOW: destinations the guard lets custom providers call although private. */
  outboundAllow?: OutboundAllowlist;
  log?: ProviderLogger;
}

export interface ProviderRegistry {
  resolve: ProviderResolver;
  invalidate(workspaceId: string): Promise<void>;
  close(): Promise<void>;
}

/** Builds providers from channel_settings, once per workspace and channel, and caches them. */
export function createProviderRegistry(options: RegistryOptions): ProviderRegistry {
  const ttl = options.ttlMs ?? 30_000;
  const cache = new Map<string, { at: number; version: number; value: Promise<ResolvedProvider> }>();

  const build = async (workspaceId: string, channel: Channel): Promise<ResolvedProvider> => {
    const [row] = await options.db
      .select()
      .from(channelSettings)
      .where(and(eq(channelSettings.workspaceId, workspaceId), eq(channelSettings.kind, channel)));
    if (!row || !row.provider || row.provider === "sandbox") return { provider: createSandboxProvider(channel), options: {} };
    const secrets = row.secrets ? (JSON.parse(decryptSecret(options.key, row.secrets, aad(workspaceId, channel))) as Record<string, string>) : {};
    switch (row.provider as ProviderId) {
      case "fcm": {
        const config = providerSchemas.fcm.config.parse(row.config);
        const s = providerSchemas.fcm.secrets.parse(secrets);
        return {
          provider: createFcmProvider({
            projectId: config.projectId,
            serviceAccount: options.fcmCredential ? undefined : { clientEmail: s.clientEmail, privateKey: s.privateKey },
            credential: options.fcmCredential,
            httpAgent: options.fcmHttpAgent,
            timeoutMs: options.timeoutMs,
            android: { channelId: config.androidChannelId },
          }),
          options: {},
        };
      }
      case "aliyun-sms": {
        const config = providerSchemas["aliyun-sms"].config.parse(row.config);
        const s = providerSchemas["aliyun-sms"].secrets.parse(secrets);
        return {
          // The endpoint is checked by the outbound-request guard before every call.
          provider: guardProvider(
            createAliyunSmsProvider({
              accessKeyId: config.accessKeyId,
              accessKeySecret: s.accessKeySecret,
              signName: config.signName,
              endpoint: config.endpoint,
              protocol: options.aliyunProtocol,
              timeoutMs: options.timeoutMs,
            }),
            config.endpoint ?? "dysmsapi.aliyuncs.com",
            { allow: options.outboundAllow },
          ),
          options: { smsMaxParts: config.maxParts, signName: config.signName },
        };
      }
      case "smtp": {
        const config = providerSchemas.smtp.config.parse(row.config);
        const s = providerSchemas.smtp.secrets.parse(secrets);
        return {
          provider: createSmtpProvider({
            host: config.host,
            port: config.port,
            secure: config.secure,
            auth: config.user ? { user: config.user, pass: s.pass ?? "" } : undefined,
            from: config.from,
            timeoutMs: options.timeoutMs,
            // Connects only to an address the outbound-request guard checked.
            outbound: { allow: options.outboundAllow },
          }),
          options: { trackingBaseUrl: config.trackingBaseUrl, unsubscribeMailto: config.unsubscribeMailto },
        };
      }
      default: {
        const definition = getChannelProviderDefinition(row.provider);
        if (!definition) throw new Error(`unknown provider ${row.provider} (is its extension loaded? WAYPOST_EXTENSIONS)`);
        if (definition.channel !== channel) throw new Error(`${row.provider} cannot send ${channel}`);
        const built: BuiltCustomProvider = buildCustomProvider(definition, {
          workspaceId,
          config: row.config,
          secrets,
          fetch: options.providerFetch ?? ((url, init) => guardedFetch(url, init ?? {}, { allow: options.outboundAllow, timeoutMs: options.timeoutMs ?? 10_000 })),
          log: options.log,
          timeoutMs: options.timeoutMs,
        });
        return { provider: built.provider, options: built.limits ? { limits: built.limits } : {} };
      }
    }
  };

  const drop = async (key: string, graceMs = 0) => {
    const entry = cache.get(key);
    cache.delete(key);
    const resolved = await entry?.value.catch(() => undefined);
    if (!resolved?.provider.close) return;
    // Sends already holding the old provider finish before its connections close.
    if (graceMs) setTimeout(() => void resolved.provider.close?.(), graceMs).unref();
    else await resolved.provider.close();
  };

  const updatedAt = async (workspaceId: string, channel: Channel): Promise<number> => {
    const [row] = await options.db
      .select({ updatedAt: channelSettings.updatedAt })
      .from(channelSettings)
      .where(and(eq(channelSettings.workspaceId, workspaceId), eq(channelSettings.kind, channel)));
    return row?.updatedAt.getTime() ?? 0;
  };

  return {
    async resolve(workspaceId, channel) {
      const key = `${workspaceId}/${channel}`;
      const entry = cache.get(key);
      if (entry && Date.now() - entry.at < ttl) return entry.value;
      const version = await updatedAt(workspaceId, channel);
      if (entry && entry.version === version) {
        entry.at = Date.now();
        return entry.value;
      }
      if (entry) await drop(key, 30_000);
      const value = build(workspaceId, channel);
      cache.set(key, { at: Date.now(), version, value });
      value.catch(() => cache.delete(key));
      return value;
    },
    async invalidate(workspaceId) {
      await Promise.all([...cache.keys()].filter((k) => k.startsWith(`${workspaceId}/`)).map(drop));
    },
    async close() {
      await Promise.all([...cache.keys()].map(drop));
    },
  };
}
