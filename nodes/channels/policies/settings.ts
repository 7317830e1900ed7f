import { z } from "zod";
import { categories, channels } from "../provider";

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "expected HH:MM");

/**
 * A workspace's sending policy. Stored as JSON in channel_settings (policy row) and parsed with
 * this schema on read, so an old row missing new fields still gets today's defaults.
 */
export const policySettingsSchema = z.object({
  /**
   * Whether marketing needs an explicit opt-in (consent[channel].marketing === true) or only the
   * absence of an opt-out. Push defaults to opt-out because the OS permission prompt already is
   * the user's opt-in; SMS and email default to opt-in as Chinese and EU rules expect.
   */
  marketingConsent: z
    .object({
      push: z.enum(["opt-in", "opt-out"]).default("opt-out"),
      sms: z.enum(["opt-in", "opt-out"]).default("opt-in"),
      email: z.enum(["opt-in", "opt-out"]).default("opt-in"),
    })
    .default({}),
  /** Marketing messages are not delivered in these local hours (免打扰时段). */
  quietHours: z
    .object({
      enabled: z.boolean().default(true),
      start: hhmm.default("21:00"),
      end: hhmm.default("08:00"),
      /** Transactional notices (fare deducted, OTP) must arrive whatever the hour. */
      appliesTo: z.array(z.enum(categories)).default(["marketing"]),
    })
    .default({}),
  /** Caps across all journeys, counted per user in the user's calendar day or ISO week. */
  frequencyCaps: z
    .array(
      z.object({
        channel: z.enum([...channels, "any"]),
        category: z.enum(categories).default("marketing"),
        limit: z.number().int().min(0),
        period: z.enum(["day", "week"]),
      }),
    )
    .default([{ channel: "push", category: "marketing", limit: 2, period: "day" }]),
  /** Provider send rates (messages per second, burst) so we stay under the provider's own limits. */
  rateLimits: z
    .record(z.string(), z.object({ perSecond: z.number().positive(), burst: z.number().int().positive() }))
    .default({}),
  /** How long a send may wait for a rate-limit token before it is deferred instead. */
  rateLimitMaxWaitMs: z.number().int().min(0).default(2_000),
});

export type PolicySettings = z.infer<typeof policySettingsSchema>;
export type FrequencyCap = PolicySettings["frequencyCaps"][number];

export const defaultPolicySettings: PolicySettings = policySettingsSchema.parse({});
