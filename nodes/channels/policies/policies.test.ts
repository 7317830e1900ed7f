import { describe, expect, it } from "vitest";
import { checkConsent } from "./consent";
import { capsFor, counterKey } from "./frequency";
import { quietHours, resolveZone } from "./quiet-hours";
import { RateLimiter, TokenBucket } from "./rate-limit";
import { defaultPolicySettings as settings } from "./settings";

describe("consent", () => {
  const base = { settings, suppressions: [] };
  it("requires an opt-in for marketing SMS and email, only the absence of an opt-out for push", () => {
    expect(checkConsent({ ...base, channel: "sms", category: "marketing", consent: {} })).toBe("no_consent");
    expect(checkConsent({ ...base, channel: "email", category: "marketing", consent: {} })).toBe("no_consent");
    expect(checkConsent({ ...base, channel: "push", category: "marketing", consent: {} })).toBeNull();
    expect(checkConsent({ ...base, channel: "push", category: "marketing", consent: { push: { marketing: false } } })).toBe("no_consent");
    expect(checkConsent({ ...base, channel: "sms", category: "marketing", consent: { sms: { marketing: true } } })).toBeNull();
  });

  it("lets transactional messages bypass marketing consent and marketing unsubscribes, but not hard stops", () => {
    const noMarketing = { sms: { marketing: false } };
    expect(checkConsent({ ...base, channel: "sms", category: "transactional", consent: noMarketing })).toBeNull();
    expect(checkConsent({ ...base, channel: "sms", category: "transactional", consent: {}, suppressions: [{ scope: "marketing", reason: "unsubscribed" }] })).toBeNull();
    expect(checkConsent({ ...base, channel: "sms", category: "marketing", consent: { sms: { marketing: true } }, suppressions: [{ scope: "marketing", reason: "unsubscribed" }] })).toBe("unsubscribed");
    expect(checkConsent({ ...base, channel: "email", category: "transactional", consent: {}, suppressions: [{ scope: "all", reason: "complaint" }] })).toBe("unsubscribed");
    expect(checkConsent({ ...base, channel: "email", category: "transactional", consent: {}, suppressions: [{ scope: "all", reason: "bounced" }] })).toBe("invalid_address");
    expect(checkConsent({ ...base, channel: "push", category: "transactional", consent: { push: { transactional: false } } })).toBe("no_consent");
  });
});

describe("quiet hours across time zones", () => {
  const q = settings.quietHours; // 21:00–08:00, marketing only
  const at = (iso: string) => new Date(iso);

  it("is quiet at 23:00 in Shanghai and ends at 08:00 Shanghai time the next morning", () => {
    const decision = quietHours(at("2024-06-01T15:00:00Z"), "Asia/Shanghai", "marketing", q);
    expect(decision).toEqual({ quiet: true, endsAt: at("2024-06-02T00:00:00Z") });
  });

  it("the same instant is daytime in Berlin and early morning in Los Angeles", () => {
    const instant = at("2024-06-01T13:00:00Z"); // 21:00 Shanghai, 15:00 Berlin, 06:00 Los Angeles
    expect(quietHours(instant, "Asia/Shanghai", "marketing", q)).toEqual({ quiet: true, endsAt: at("2024-06-02T00:00:00Z") });
    expect(quietHours(instant, "Europe/Berlin", "marketing", q)).toEqual({ quiet: false });
    expect(quietHours(instant, "America/Los_Angeles", "marketing", q)).toEqual({ quiet: true, endsAt: at("2024-06-01T15:00:00Z") });
  });

  it("ends at 08:00 local across a DST change inside the window", () => {
    // Berlin springs forward at 02:00 on 2024-03-31: 08:00 local is 06:00Z, not 07:00Z.
    expect(quietHours(at("2024-03-30T22:30:00Z"), "Europe/Berlin", "marketing", q)).toEqual({ quiet: true, endsAt: at("2024-03-31T06:00:00Z") });
  });

  it("never holds transactional notices and honours a same-day window", () => {
    expect(quietHours(at("2024-06-01T15:00:00Z"), "Asia/Shanghai", "transactional", q)).toEqual({ quiet: false });
    const lunch = { ...q, start: "12:00", end: "13:30" };
    expect(quietHours(at("2024-06-01T04:10:00Z"), "Asia/Shanghai", "marketing", lunch)).toEqual({ quiet: true, endsAt: at("2024-06-01T05:30:00Z") });
    expect(quietHours(at("2024-06-01T05:30:00Z"), "Asia/Shanghai", "marketing", lunch)).toEqual({ quiet: false });
  });

  it("falls back to the workspace zone for missing or invalid zones", () => {
    expect(resolveZone("Mars/Olympus", "Asia/Shanghai")).toEqual({ zone: "Asia/Shanghai", fellBack: true });
    expect(resolveZone(null, "Asia/Shanghai")).toEqual({ zone: "Asia/Shanghai", fellBack: true });
    expect(resolveZone("Europe/Paris", "Asia/Shanghai")).toEqual({ zone: "Europe/Paris", fellBack: false });
    expect(resolveZone(undefined, "Bad/Zone")).toEqual({ zone: "UTC", fellBack: true });
  });
});

describe("frequency caps", () => {
  it("counts per local calendar day and week", () => {
    const cap = { channel: "push" as const, category: "marketing" as const, limit: 2, period: "day" as const };
    // 23:30 UTC on May 31 is already June 1 in Shanghai.
    expect(counterKey(cap, new Date("2024-05-31T23:30:00Z"), "Asia/Shanghai")).toEqual({ capKey: "push:marketing:day", windowStart: "2024-06-01" });
    expect(counterKey(cap, new Date("2024-05-31T23:30:00Z"), "Europe/London")).toEqual({ capKey: "push:marketing:day", windowStart: "2024-06-01" });
    expect(counterKey(cap, new Date("2024-05-31T22:30:00Z"), "Europe/London")).toEqual({ capKey: "push:marketing:day", windowStart: "2024-05-31" });
    expect(counterKey({ ...cap, period: "week" }, new Date("2024-06-01T04:00:00Z"), "Asia/Shanghai").windowStart).toBe("2024-05-27");
  });

  it("selects the caps of a channel and category, including 'any channel' caps", () => {
    const caps = [
      { channel: "push" as const, category: "marketing" as const, limit: 2, period: "day" as const },
      { channel: "any" as const, category: "marketing" as const, limit: 5, period: "week" as const },
    ];
    expect(capsFor(caps, "push", "marketing")).toHaveLength(2);
    expect(capsFor(caps, "sms", "marketing")).toEqual([caps[1]]);
    expect(capsFor(caps, "push", "transactional")).toEqual([]);
  });
});

describe("rate limit", () => {
  it("lets a burst through, then paces at the configured rate", () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([0, 0, 0]);
    expect(bucket.take(0)).toBe(100);
    expect(bucket.take(0)).toBe(200);
    bucket.refund();
    expect(bucket.take(200)).toBe(0);
  });

  it("keeps one bucket per key and none without a limit", () => {
    let t = 0;
    const limiter = new RateLimiter(() => t);
    expect(limiter.take("a", undefined)).toBe(0);
    expect(limiter.take("a", { perSecond: 1, burst: 1 })).toBe(0);
    expect(limiter.take("a", { perSecond: 1, burst: 1 })).toBe(1000);
    expect(limiter.take("b", { perSecond: 1, burst: 1 })).toBe(0);
    t = 3000;
    expect(limiter.take("a", { perSecond: 1, burst: 1 })).toBe(0);
  });
});
