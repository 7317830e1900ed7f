import { describe, expect, it } from "vitest";
import { entryDecision, type EntryCounters } from "./entry";

const HOUR = 3_600_000;
const now = Date.parse("2024-05-06T12:00:00Z");
const none: EntryCounters = { lastHour: 0, lastDay: 0, total: 0 };

describe("entryDecision", () => {
  it("once: only the first entry ever", () => {
    expect(entryDecision({ entry: { rule: "once" } }, [], now, none)).toEqual({ enter: true });
    expect(entryDecision({ entry: { rule: "once" } }, [{ enteredAt: now - 90 * 24 * HOUR, active: false }], now, none)).toEqual({ enter: false, reason: "already_entered" });
  });

  it("cooldown: never while inside, then only once the cooldown since the last entry has passed", () => {
    const settings = { entry: { rule: "cooldown" as const, cooldownMs: 24 * HOUR } };
    expect(entryDecision(settings, [{ enteredAt: now - 48 * HOUR, active: true }], now, none)).toEqual({ enter: false, reason: "active" });
    expect(entryDecision(settings, [{ enteredAt: now - 23 * HOUR, active: false }], now, none)).toEqual({ enter: false, reason: "cooldown" });
    expect(entryDecision(settings, [{ enteredAt: now - 24 * HOUR, active: false }, { enteredAt: now - 100 * HOUR, active: false }], now, none)).toEqual({ enter: true });
  });

  it("concurrent: even while another run is active", () => {
    expect(entryDecision({ entry: { rule: "concurrent" } }, [{ enteredAt: now - 1, active: true }], now, none)).toEqual({ enter: true });
  });

  it("caps per hour, per day and in total, checked after the user's own rule", () => {
    const settings = { entry: { rule: "concurrent" as const, caps: { perHour: 10, perDay: 100, total: 1000 } } };
    expect(entryDecision(settings, [], now, { lastHour: 9, lastDay: 99, total: 999 })).toEqual({ enter: true });
    expect(entryDecision(settings, [], now, { lastHour: 10, lastDay: 10, total: 10 })).toEqual({ enter: false, reason: "cap_hour" });
    expect(entryDecision(settings, [], now, { lastHour: 1, lastDay: 100, total: 100 })).toEqual({ enter: false, reason: "cap_day" });
    expect(entryDecision(settings, [], now, { lastHour: 1, lastDay: 1, total: 1000 })).toEqual({ enter: false, reason: "cap_total" });
    const once = { entry: { rule: "once" as const, caps: { total: 1 } } };
    expect(entryDecision(once, [{ enteredAt: 0, active: false }], now, { lastHour: 0, lastDay: 0, total: 5 })).toEqual({ enter: false, reason: "already_entered" });
  });
});
