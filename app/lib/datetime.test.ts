import { describe, expect, it } from "vitest";
import { formatDateTime } from "./datetime";

const AT = Date.parse("2026-12-03T01:30:05Z");

describe("formatDateTime", () => {
  it("shows the workspace zone in both languages", () => {
    expect(formatDateTime(AT, { locale: "en", timeZone: "Asia/Shanghai" })).toBe("2026-12-03 09:30 GMT+8 (Asia/Shanghai)");
    expect(formatDateTime(AT, { locale: "zh", timeZone: "Asia/Shanghai" })).toBe("2026年12月3日 09:30 (Asia/Shanghai)");
  });

  it("adds seconds for timelines and crosses the date line in the zone, not in UTC", () => {
    expect(formatDateTime(new Date(AT).toISOString(), { locale: "en", timeZone: "America/New_York", seconds: true })).toBe("2026-12-02 20:30:05 EST (America/New_York)");
    expect(formatDateTime(AT, { locale: "zh", timeZone: "UTC", seconds: true })).toBe("2026年12月3日 01:30:05 (UTC)");
  });

  it("falls back to the default zone for an unusable one and shows a dash for nothing", () => {
    expect(formatDateTime(AT, { locale: "en", timeZone: "Mars/Olympus" })).toBe("2026-12-03 09:30 GMT+8 (Asia/Shanghai)");
    expect(formatDateTime(null, { locale: "en" })).toBe("—");
    expect(formatDateTime("not a date", { locale: "zh" })).toBe("—");
  });
});
