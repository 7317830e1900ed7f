import { describe, expect, it } from "vitest";
import { waitConfigSchema, waitNode } from "./definition";
import { waitAlwaysBlocks, waitUntil, waitUsesUserZone } from "./compute";

const parse = (c: unknown) => waitConfigSchema.parse(c);
const now = Date.parse("2024-05-01T00:00:00Z");

describe("core.wait", () => {
  it("is configured as a 1-day wait when dropped", () => {
    expect(waitNode.summary(parse(waitNode.defaults), "en")).toBe("Wait 1 day");
    expect(waitNode.summary(parse(waitNode.defaults), "zh")).toBe("等待 1 天");
  });

  it("summarises every mode", () => {
    expect(waitNode.summary(parse({ mode: "duration", duration: { amount: 2, unit: "days" } }), "en")).toBe("Wait 2 days");
    expect(waitNode.summary(parse({ mode: "time_of_day", times: ["11:00", "17:00"] }), "en")).toBe("Wait until 11:00 or 17:00 (user's time)");
    expect(waitNode.summary(parse({ mode: "time_of_day", times: ["08:00"], weekdays: [1] }), "zh")).toBe("等待至 周一 08:00（用户时区）");
    expect(waitNode.summary(parse({ mode: "date_trait", trait: "replenish_at", offsetDays: -3 }), "en")).toBe("Wait until replenish_at − 3 days");
    expect(waitNode.summary(parse({ mode: "date_trait", trait: "replenish_at", offsetDays: -3, time: "10:00" }), "zh")).toBe("等待至 replenish_at − 3 天 10:00");
    expect(waitNode.summary(parse({ mode: "calendar_date", date: "2024-12-24", time: "20:00" }), "en")).toBe("Wait until 2024-12-24 20:00");
  });

  it("rejects bad times and weekdays", () => {
    expect(waitConfigSchema.safeParse({ mode: "time_of_day", times: ["7:00"] }).success).toBe(false);
    expect(waitConfigSchema.safeParse({ mode: "time_of_day", times: ["07:00"], weekdays: [0] }).success).toBe(false);
    expect(waitConfigSchema.safeParse({ mode: "time_of_day", times: [] }).success).toBe(false);
    expect(waitConfigSchema.safeParse({ mode: "duration", duration: { amount: 0, unit: "days" } }).success).toBe(false);
  });

  it("computes the end of each mode", () => {
    expect(waitUntil(parse({ mode: "duration", duration: { amount: 90, unit: "minutes" } }), now, "UTC", {})).toBe(now + 90 * 60_000);
    expect(waitUntil(parse({ mode: "time_of_day", times: ["17:00", "11:00"] }), now, "Asia/Shanghai", {})).toBe(Date.parse("2024-05-01T03:00:00Z"));
    const dateTrait = parse({ mode: "date_trait", trait: "renew_at", offsetDays: 1 });
    expect(waitUntil(dateTrait, now, "UTC", { renew_at: "2024-06-01T12:34:56Z" })).toBe(Date.parse("2024-06-02T12:34:56Z"));
    expect(waitUntil(dateTrait, now, "UTC", { renew_at: Date.parse("2024-06-01T00:00:00Z") })).toBe(Date.parse("2024-06-02T00:00:00Z"));
    // Missing or unparsable dates let the user through at once.
    expect(waitUntil(dateTrait, now, "UTC", {})).toBe(now);
    expect(waitUntil(dateTrait, now, "UTC", { renew_at: "soon" })).toBe(now);
    // A bare date is a local date in the user's zone.
    expect(waitUntil(parse({ mode: "date_trait", trait: "d", time: "09:00" }), now, "Asia/Shanghai", { d: "2024-05-10" })).toBe(Date.parse("2024-05-10T01:00:00Z"));
    expect(waitUntil(parse({ mode: "calendar_date", date: "2024-05-02", time: "08:00" }), now, "Europe/Berlin", {})).toBe(Date.parse("2024-05-02T06:00:00Z"));
  });

  it("knows which modes need the user's zone and which always block", () => {
    expect(waitUsesUserZone(parse({ mode: "duration", duration: { amount: 1, unit: "hours" } }))).toBe(false);
    expect(waitUsesUserZone(parse({ mode: "calendar_date", date: "2024-05-02", time: "08:00", zone: "journey" }))).toBe(false);
    expect(waitUsesUserZone(parse({ mode: "time_of_day", times: ["08:00"] }))).toBe(true);
    expect(waitAlwaysBlocks(parse({ mode: "date_trait", trait: "x" }))).toBe(false);
    expect(waitAlwaysBlocks(parse({ mode: "time_of_day", times: ["08:00"] }))).toBe(true);
  });
});
