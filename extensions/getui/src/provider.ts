/**
 * Getui (个推) as a Waypost push provider. Choose it on Settings › Channels for push; every push
 * node then sends through Getui with Waypost's consent, quiet hours, caps, truncation, delivery
 * states and loss reasons. Device tokens are Getui client ids (cid) registered with the user.
 */
import { defineChannelProvider, z, type OutboundMessage } from "waypost/extension";
import { applyGetuiLimits, VENDOR_RULES } from "./limits";
import { call, networkOutcome, parseReceipts, pushBody, pushOutcome, quotaReading, TokenCache, type GetuiSettings } from "./wire";

const vendor = z.enum(Object.keys(VENDOR_RULES) as [string, ...string[]]);

export const getuiConfig = z.object({
  appId: z.string().min(1),
  appKey: z.string().min(1),
  /** RestAPI v2 base, without the appId. */
  baseUrl: z.string().url().default("https://restapi.getui.com/v2"),
  /** notification: Getui shows it; transmission: the app gets the payload (vendor channels still show title/body offline). */
  messageType: z.enum(["notification", "transmission"]).default("notification"),
  /** settings.strategy: per channel 1 Getui first, 2 vendor only, 3 Getui only, 4 vendor first. */
  strategy: z
    .record(z.enum(["default", "ios", "st", "hw", "ho", "xm", "vv", "op", "mz"]), z.number().int().min(1).max(4))
    .default({ default: 1 }),
  /** Vendor channels the app has enabled: copy must fit the strictest of them. */
  vendors: z.array(vendor).default(["hw", "xm", "op", "vv", "ho"]),
  /** Vendors whose daily quota stops sends when used up (default: all enabled). */
  quotaVendors: z.array(vendor).optional(),
  /** How long Getui keeps the push for an offline device (ms, −1 none, at most 3 days). */
  ttlMs: z.number().int().min(-1).max(3 * 86_400_000).default(2 * 3_600_000),
  /** Xiaomi message category channel id (required by Xiaomi's new classification). */
  xiaomiChannelId: z.string().optional(),
});

export const getuiSecrets = z.object({ masterSecret: z.string().min(1) });

export const getuiPush = defineChannelProvider({
  id: "getui.push",
  version: "1.0.0",
  channel: "push",
  label: { en: "Getui push (个推)", zh: "个推推送" },
  description: {
    en: "Push to Android vendor channels and iOS through Getui RestAPI v2; receipts by callback.",
    zh: "通过个推 RestAPI v2 推送到安卓厂商通道和 iOS；回执回调。",
  },
  config: getuiConfig,
  secrets: getuiSecrets,
  // One cid per call (toSingle); request_id de-duplicates retries; receipts come by callback.
  capabilities: { batch: false, maxBatchSize: 1, idempotency: "native", deliveryReports: "callback" },
  limits: (content, { truncate, config, platform }) => applyGetuiLimits(content, { truncate, vendors: config.vendors, platform, providerId: "getui.push" }),
  // push_count is rate limited ("请不要频繁调用"): read it at most once a minute, and before any
  // batch of 100 or more.
  quotaCheck: { ttlMs: 60_000, largeSend: 100 },
  create(ctx) {
    const settings: GetuiSettings = { ...ctx.config, masterSecret: ctx.secrets.masterSecret };
    const tokens = new TokenCache(settings, ctx.fetch, () => ctx.now().getTime());
    return {
      async send(message: OutboundMessage) {
        try {
          const { http, answer } = await call(tokens, settings, ctx.fetch, "POST", "/push/single/cid", pushBody(message, settings));
          const outcome = pushOutcome(http, answer, message.to);
          if (!outcome.ok) ctx.log.warn("getui push refused", { code: answer.code, msg: answer.msg, reason: outcome.reason });
          return outcome;
        } catch (error) {
          return networkOutcome(error);
        }
      },
      async quota() {
        const { answer } = await call(tokens, settings, ctx.fetch, "GET", "/report/push/count");
        return quotaReading(answer, settings.quotaVendors ?? settings.vendors);
      },
      async handleCallback(request) {
        const { receipts, refused } = parseReceipts(request.body, settings);
        if (refused) ctx.log.warn("getui receipts refused", { refused });
        // Getui does not retry whatever we answer; 403 only when nothing in the body was genuine.
        const ok = receipts.length > 0 || refused === 0;
        return { receipts, response: { status: ok ? 200 : 403, body: JSON.stringify({ result: ok ? "ok" : "bad sign" }), contentType: "application/json" } };
      },
    };
  },
});
