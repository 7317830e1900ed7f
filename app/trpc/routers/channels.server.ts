import { TRPCError } from "@trpc/server";
import { z, ZodError, type ZodIssue } from "zod";
import { recordAudit } from "../../lib/accounts.server";
import { callbackUrls } from "../../channels/http.server";
import { messageSearchInput, searchMessageLog } from "../../channels/messages.server";
import { channelsOf } from "../../../nodes/channels/runtime.server";
import { loadPolicySettings, listProviderSettings, savePolicySettings, saveProviderSettings, schemasOf, type ProviderId } from "../../../nodes/channels/settings.server";
import { listChannelProviderDefinitions } from "../../../nodes/channels/custom-providers.server";
import { providerCallbackUrl } from "../../channels/provider-callbacks.server";
import { channels } from "../../../nodes/channels/provider";
import { requireAction, router } from "../init.server";

/** Zod issues under a prefix ("config.host"), so the form marks the right field. */
function invalid(issues: ZodIssue[], prefix: string[] = []): TRPCError {
  return new TRPCError({
    code: "BAD_REQUEST",
    message: issues.map((i) => `${[...prefix, ...i.path].join(".")}: ${i.message}`).join("; "),
    cause: new ZodError(issues.map((i) => ({ ...i, path: [...prefix, ...i.path] }))),
  });
}

/** Settings' view of a custom provider an extension added (decision 0930). */
function objectKeys(schema: unknown): string[] {
  const shape = (schema as { shape?: Record<string, unknown> }).shape;
  return shape && typeof shape === "object" ? Object.keys(shape) : [];
}

/**
 * The FCM form takes the service-account JSON key as downloaded from Firebase; only the three
 * fields we use are kept (project_id, client_email, private_key).
 */
function parseServiceAccount(text: string): { projectId: string; clientEmail: string; privateKey: string } {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw invalid([{ code: "custom", path: [], message: "not JSON: paste the whole service-account key file" }], ["serviceAccountJson"]);
  }
  const issues: ZodIssue[] = [];
  const field = (name: string) => {
    const v = parsed[name];
    if (typeof v !== "string" || !v) issues.push({ code: "custom", path: [], message: `the key file has no "${name}"` });
    return typeof v === "string" ? v : "";
  };
  const out = { projectId: field("project_id"), clientEmail: field("client_email"), privateKey: field("private_key") };
  if (parsed.type !== undefined && parsed.type !== "service_account") issues.push({ code: "custom", path: [], message: `"type" is ${String(parsed.type)}, expected service_account` });
  if (out.privateKey && !out.privateKey.includes("PRIVATE KEY")) issues.push({ code: "custom", path: [], message: "private_key is not a PEM private key" });
  if (issues.length) throw invalid(issues, ["serviceAccountJson"]);
  return out;
}

const testContent = z.object({
  title: z.string().max(200).optional(),
  body: z.string().max(2000).optional(),
  subject: z.string().max(300).optional(),
  html: z.string().max(20_000).optional(),
  templateCode: z.string().max(100).optional(),
  /** SMS template variables as JSON text ({"code":"1234"}). */
  templateParams: z.string().max(2000).optional(),
});

export const channelsRouter = router({
  /** Providers (config and which secrets are set, never their values), policy, callback URLs. */
  settings: requireAction("channels.manage")
    .input(z.object({ origin: z.string().url().optional() }).optional())
    .query(async ({ ctx, input }) => {
      const runtime = channelsOf(ctx.services);
      const workspaceId = ctx.session.workspaceId;
      const [providers, policy] = await Promise.all([listProviderSettings(ctx.services.db, runtime.key(), workspaceId), loadPolicySettings(ctx.services.db, workspaceId)]);
      return {
        providers: channels.map((channel) => {
          const row = providers.find((p) => p.channel === channel);
          return row ?? { channel, provider: "sandbox" as ProviderId, config: {}, secretsSet: [] as string[], updatedAt: null };
        }),
        policy,
        callbacks: await callbackUrls(ctx.services, workspaceId, input?.origin ?? `http://localhost:${ctx.services.config.PORT}`),
        /** Providers extensions added: choosable per channel, configured as JSON plus their secrets. */
        customProviders: await Promise.all(
          listChannelProviderDefinitions().map(async (d) => ({
            id: d.id,
            channel: d.channel,
            version: d.version ?? null,
            label: d.label,
            description: d.description ?? null,
            configFields: objectKeys(d.config),
            secretFields: objectKeys(d.secrets),
            callbackUrl: d.capabilities.deliveryReports === "callback" || d.capabilities.deliveryReports === "poll-and-callback"
              ? await providerCallbackUrl(ctx.services, workspaceId, input?.origin ?? `http://localhost:${ctx.services.config.PORT}`, d.id)
              : null,
          })),
        ),
      };
    }),

  saveProvider: requireAction("channels.manage")
    .input(
      z.object({
        channel: z.enum(channels),
        /** A built-in provider id or one an extension registered (checked below, 400 naming it). */
        provider: z.string().min(1).max(100),
        config: z.record(z.string(), z.unknown()).default({}),
        /** Empty or missing: keep what is stored. */
        secrets: z.record(z.string(), z.string()).default({}),
        serviceAccountJson: z.string().optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const schema = schemasOf(input.provider);
      if (!schema) throw invalid([{ code: "custom", path: [], message: `unknown provider "${input.provider}" (not built in, and no loaded extension adds it)` }], ["provider"]);
      if (schema.channel && schema.channel !== input.channel) {
        throw invalid([{ code: "custom", path: [], message: `${input.provider} cannot send ${input.channel}` }], ["provider"]);
      }
      const config = { ...input.config };
      const secrets = { ...input.secrets };
      if (input.provider === "fcm" && input.serviceAccountJson?.trim()) {
        const account = parseServiceAccount(input.serviceAccountJson);
        config.projectId = account.projectId;
        secrets.clientEmail = account.clientEmail;
        secrets.privateKey = account.privateKey;
      }
      // Validate everything before anything is written: a bad field saves nothing.
      const checked = schema.config.safeParse(config);
      if (!checked.success) throw invalid(checked.error.issues, input.provider === "fcm" && !input.serviceAccountJson ? ["serviceAccountJson"] : ["config"]);
      const runtime = channelsOf(ctx.services);
      try {
        await saveProviderSettings(ctx.services.db, runtime.key(), {
          workspaceId: ctx.session.workspaceId,
          channel: input.channel,
          provider: input.provider,
          config,
          secrets,
          updatedBy: ctx.session.operatorId,
        });
      } catch (error) {
        // Config passed above, so this is a secret missing (never stored before, none given).
        if (error instanceof ZodError) throw invalid(error.issues, input.provider === "fcm" ? ["serviceAccountJson"] : ["secrets"]);
        throw error;
      }
      await runtime.registry.invalidate(ctx.session.workspaceId);
      await recordAudit(ctx.services.db, {
        workspaceId: ctx.session.workspaceId,
        operatorId: ctx.session.operatorId,
        action: "channels.provider_saved",
        target: `${input.channel}:${input.provider}`,
        // Names of replaced secrets only, never values.
        details: { config: checked.data, secretsReplaced: Object.keys(secrets).filter((k) => secrets[k]) },
      });
      return { ok: true };
    }),

  /**
   * New callback URLs (SMS reports/replies, bounces); the old ones answer 403 from now on
   * (decision 0704). The same people who see the URLs may replace them.
   */
  rotateCallbackTokens: requireAction("channels.manage")
    .input(z.object({ origin: z.string().url().optional() }).optional())
    .mutation(async ({ ctx, input }) => {
      const workspaceId = ctx.session.workspaceId;
      const { generation } = await channelsOf(ctx.services).rotateCallbackTokens(workspaceId, ctx.session.operatorId);
      await recordAudit(ctx.services.db, { workspaceId, operatorId: ctx.session.operatorId, action: "channels.callbacks_rotated", details: { generation } });
      return { callbacks: await callbackUrls(ctx.services, workspaceId, input?.origin ?? `http://localhost:${ctx.services.config.PORT}`) };
    }),

  savePolicy: requireAction("channels.manage")
    .input(z.unknown())
    .mutation(async ({ ctx, input }) => {
      try {
        const policy = await savePolicySettings(ctx.services.db, ctx.session.workspaceId, input, ctx.session.operatorId);
        await recordAudit(ctx.services.db, { workspaceId: ctx.session.workspaceId, operatorId: ctx.session.operatorId, action: "channels.policy_saved", details: policy as unknown as Record<string, unknown> });
        return policy;
      } catch (error) {
        if (error instanceof ZodError) throw invalid(error.issues);
        throw error;
      }
    }),

  /** Straight to the configured provider (no policies); answers with the provider's own code. */
  sendTest: requireAction("channels.manage")
    .input(z.object({ channel: z.enum(channels), to: z.string().trim().min(1, "Enter where to send the test").max(4096), content: testContent.default({}) }))
    .mutation(async ({ ctx, input }) => {
      const c = input.content;
      let content: Record<string, unknown>;
      if (input.channel === "push") content = { title: c.title || "Waypost test", body: c.body || "测试推送 · test push from Waypost" };
      else if (input.channel === "email") {
        if (!z.string().email().safeParse(input.to).success) throw invalid([{ code: "custom", path: [], message: "Enter a valid email address" }], ["to"]);
        content = { subject: c.subject || "Waypost test email · 测试邮件", html: c.html || "<p>This is a test email from Waypost.</p><p>这是一封来自 Waypost 的测试邮件。</p>" };
      } else {
        let params: Record<string, unknown> = {};
        if (c.templateParams?.trim()) {
          try {
            params = JSON.parse(c.templateParams) as Record<string, unknown>;
          } catch {
            throw invalid([{ code: "custom", path: [], message: 'not JSON, e.g. {"code":"1234"}' }], ["content", "templateParams"]);
          }
        }
        content = { templateCode: c.templateCode ?? "", templateParams: params, body: c.body ?? "" };
      }
      const result = await channelsOf(ctx.services).messaging.sendTestMessage(ctx.session.workspaceId, input.channel, input.to, content);
      return { status: result.status, messageId: result.messageId ?? null, reason: result.reason ?? null, providerCode: result.providerCode ?? null, detail: result.detail ?? null };
    }),

  /** The Messages page. Any signed-in operator (support reads it). */
  messages: requireAction("messages.read").input(messageSearchInput).query(({ ctx, input }) => searchMessageLog(ctx.services.db, ctx.session.workspaceId, input)),
});
