import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DateTime } from "luxon";
import type { UserSnapshot } from "../nodes/runtime";
import { buildJourney } from "./builder";
import { step } from "./interpreter";
import { addDays, computeNextTimeOfDay, fromLocal, nextTimeOfDay, resolveZone, shiftLocal, toLocal } from "./time";
import { bodiesOf, mustCompile, nonRecords } from "./testing";

const DAY = 86_400_000;
const at = (iso: string) => Date.parse(iso);

function waitProgram(config: unknown, timezone?: string) {
  return mustCompile(
    buildJourney({
      name: "tz",
      settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [], ...(timezone ? { timezone } : {}) },
      nodes: [
        { id: "trigger", type: "core.trigger", config: { source: "api" } },
        { id: "wait", type: "core.wait", config },
        { id: "exit", type: "core.exit", config: {} },
      ],
      edges: [
        ["trigger", "next", "wait"],
        ["wait", "next", "exit"],
      ],
    }),
  );
}

function sleepUntil(program: ReturnType<typeof waitProgram>, now: number, user: UserSnapshot, workspaceTimezone = "Asia/Shanghai") {
  const { commands } = step(program, null, { type: "start", now, user, instanceId: "i", workspaceTimezone });
  const sleep = nonRecords(commands).find((c) => c.type === "sleep");
  return { until: sleep && sleep.type === "sleep" ? new Date(sleep.until).toISOString() : null, records: bodiesOf(commands) };
}

describe("local wall time → instant (DST policy)", () => {
  it("moves a nonexistent local time forward by the gap", () => {
    // 2024-03-10 02:30 does not exist in New York: 03:30 EDT.
    expect(new Date(fromLocal({ year: 2024, month: 3, day: 10, hour: 2, minute: 30 }, "America/New_York")).toISOString()).toBe("2024-03-10T07:30:00.000Z");
    // 2024-03-31 02:30 does not exist in Berlin: 03:30 CEST.
    expect(new Date(fromLocal({ year: 2024, month: 3, day: 31, hour: 2, minute: 30 }, "Europe/Berlin")).toISOString()).toBe("2024-03-31T01:30:00.000Z");
  });

  it("takes the first occurrence of an ambiguous local time, whatever today's date is", () => {
    // 2024-11-03 01:30 happens twice in New York: first at EDT (-4).
    expect(new Date(fromLocal({ year: 2024, month: 11, day: 3, hour: 1, minute: 30 }, "America/New_York")).toISOString()).toBe("2024-11-03T05:30:00.000Z");
    // 2024-10-27 02:30 happens twice in Berlin: first at CEST (+2).
    expect(new Date(fromLocal({ year: 2024, month: 10, day: 27, hour: 2, minute: 30 }, "Europe/Berlin")).toISOString()).toBe("2024-10-27T00:30:00.000Z");
  });

  it("finds the next allowed local time strictly after now", () => {
    const now = at("2024-06-03T03:00:00Z"); // 11:00 in Shanghai exactly
    expect(new Date(nextTimeOfDay(now, "Asia/Shanghai", ["11:00", "17:00"], [])).toISOString()).toBe("2024-06-03T09:00:00.000Z");
  });
});

describe("time-of-day waits across DST", () => {
  const nine = waitProgram({ mode: "time_of_day", times: ["09:00"], weekdays: [] });
  const ny: UserSnapshot = { id: "ny", traits: {}, timezone: "America/New_York" };
  const berlin: UserSnapshot = { id: "be", traits: {}, timezone: "Europe/Berlin" };

  it("New York, spring forward: Saturday 10:00 EST → Sunday 09:00 EDT (23 h later)", () => {
    const { until } = sleepUntil(nine, at("2024-03-09T15:00:00Z"), ny);
    expect(until).toBe("2024-03-10T13:00:00.000Z");
  });

  it("New York, fall back: Saturday 10:00 EDT → Sunday 09:00 EST (24 h + 1 h later)", () => {
    const { until } = sleepUntil(nine, at("2024-11-02T14:00:00Z"), ny);
    expect(until).toBe("2024-11-03T14:00:00.000Z");
  });

  it("Berlin, spring forward and fall back", () => {
    expect(sleepUntil(nine, at("2024-03-30T09:00:00Z"), berlin).until).toBe("2024-03-31T07:00:00.000Z");
    expect(sleepUntil(nine, at("2024-10-26T08:00:00Z"), berlin).until).toBe("2024-10-27T08:00:00.000Z");
  });

  it("a time inside the spring-forward gap fires after the gap, on that day", () => {
    const half2 = waitProgram({ mode: "time_of_day", times: ["02:30"], weekdays: [] });
    expect(sleepUntil(half2, at("2024-03-10T05:00:00Z"), ny).until).toBe("2024-03-10T07:30:00.000Z");
  });

  it("a duration wait is absolute: 2 days is 48 h even across the change", () => {
    const twoDays = waitProgram({ mode: "duration", duration: { amount: 2, unit: "days" } });
    const now = at("2024-03-09T15:00:00Z");
    expect(sleepUntil(twoDays, now, ny).until).toBe(new Date(now + 2 * DAY).toISOString());
  });

  it("a date-trait wait keeps the local time across the change", () => {
    const replenish = waitProgram({ mode: "date_trait", trait: "replenish_at", offsetDays: -3, time: "10:00" });
    // 3 days before 2024-11-05 (EST) is 2024-11-02 (EDT): 10:00 local = 14:00Z.
    const user: UserSnapshot = { id: "ny", traits: { replenish_at: "2024-11-05" }, timezone: "America/New_York" };
    expect(sleepUntil(replenish, at("2024-10-01T00:00:00Z"), user).until).toBe("2024-11-02T14:00:00.000Z");
    expect(new Date(shiftLocal(at("2024-11-05T15:00:00Z"), "America/New_York", -3)).toISOString()).toBe("2024-11-02T14:00:00.000Z");
  });
});

describe("weekdays are the user's local weekdays", () => {
  const mondayEight = waitProgram({ mode: "time_of_day", times: ["08:00"], weekdays: [1] });

  it("Monday 08:00 Asia/Tokyo fires on the Tokyo Monday, which is still Sunday in UTC", () => {
    // Sunday 2024-06-02 20:00Z is Monday 05:00 in Tokyo: fire at Monday 08:00 JST = Sunday 23:00Z.
    const tokyo: UserSnapshot = { id: "jp", traits: {}, timezone: "Asia/Tokyo" };
    expect(sleepUntil(mondayEight, at("2024-06-02T20:00:00Z"), tokyo).until).toBe("2024-06-02T23:00:00.000Z");
  });

  it("Monday 08:00 America/Los_Angeles waits for the LA Monday even when it is Monday in UTC", () => {
    // Monday 2024-06-03 02:00Z is still Sunday 19:00 in LA.
    const la: UserSnapshot = { id: "la", traits: {}, timezone: "America/Los_Angeles" };
    expect(sleepUntil(mondayEight, at("2024-06-03T02:00:00Z"), la).until).toBe("2024-06-03T15:00:00.000Z");
  });

  it("after Monday 08:00 has passed, waits a full week", () => {
    const tokyo: UserSnapshot = { id: "jp", traits: {}, timezone: "Asia/Tokyo" };
    expect(sleepUntil(mondayEight, at("2024-06-03T00:00:00Z"), tokyo).until).toBe("2024-06-09T23:00:00.000Z");
  });
});

describe("time zone fallback", () => {
  const eleven = waitProgram({ mode: "time_of_day", times: ["11:00"], weekdays: [] });
  const now = at("2024-06-03T00:00:00Z");

  it("an invalid zone falls back to the workspace zone and is recorded", () => {
    const { until, records } = sleepUntil(eleven, now, { id: "x", traits: {}, timezone: "Mars/Olympus" });
    expect(until).toBe("2024-06-03T03:00:00.000Z"); // 11:00 Asia/Shanghai
    expect(records).toContainEqual({ kind: "tz_fallback", nodeId: "wait", reason: "invalid", given: "Mars/Olympus", zone: "Asia/Shanghai" });
  });

  it("a missing zone falls back too, and the journey zone beats the workspace zone", () => {
    const withJourneyZone = waitProgram({ mode: "time_of_day", times: ["11:00"], weekdays: [] }, "Europe/Berlin");
    const { until, records } = sleepUntil(withJourneyZone, now, { id: "x", traits: {} });
    expect(until).toBe("2024-06-03T09:00:00.000Z"); // 11:00 CEST
    expect(records.filter((r) => r.kind === "tz_fallback")).toEqual([{ kind: "tz_fallback", nodeId: "wait", reason: "missing", given: null, zone: "Europe/Berlin" }]);
  });

  it("reads the zone from the timezone trait when the snapshot has none", () => {
    const { until, records } = sleepUntil(eleven, now, { id: "x", traits: { timezone: "Asia/Tokyo" } });
    expect(until).toBe("2024-06-03T02:00:00.000Z");
    expect(records.some((r) => r.kind === "tz_fallback")).toBe(false);
  });

  it("duration waits never need a zone, so they never record a fallback", () => {
    const { records } = sleepUntil(waitProgram({ mode: "duration", duration: { amount: 1, unit: "hours" } }), now, { id: "x", traits: {}, timezone: "bogus" });
    expect(records.some((r) => r.kind === "tz_fallback")).toBe(false);
  });

  it("an invalid workspace zone falls back to UTC", () => {
    expect(resolveZone(undefined, "UTC")).toEqual({ zone: "UTC", fallback: { reason: "missing", given: null } });
    expect(sleepUntil(eleven, now, { id: "x", traits: {} }, "Not/AZone").until).toBe("2024-06-03T11:00:00.000Z");
  });

  it("calendar dates in journey mode use the journey zone without a fallback record", () => {
    const program = waitProgram({ mode: "calendar_date", date: "2024-12-24", time: "20:00", zone: "journey" }, "Asia/Shanghai");
    const { until, records } = sleepUntil(program, now, { id: "x", traits: {}, timezone: "nope" });
    expect(until).toBe("2024-12-24T12:00:00.000Z");
    expect(records.some((r) => r.kind === "tz_fallback")).toBe(false);
  });
});

describe("cached zone offsets", () => {
  // toLocal reads offsets from a per-quarter-hour cache instead of asking luxon each time; it
  // must agree with luxon everywhere, including the minutes around DST transitions.
  const zones = ["America/New_York", "Europe/Berlin", "Asia/Shanghai", "Australia/Lord_Howe", "Asia/Kathmandu", "America/Santiago", "UTC"];
  const fromLuxon = (ts: number, zone: string) => {
    const dt = DateTime.fromMillis(ts, { zone });
    return { year: dt.year, month: dt.month, day: dt.day, hour: dt.hour, minute: dt.minute, weekday: dt.weekday };
  };

  it("agrees with luxon at random instants, twice (cold and cached)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...zones), fc.integer({ min: Date.parse("1990-01-01"), max: Date.parse("2040-01-01") }), (zone, ts) => {
        expect(toLocal(ts, zone)).toEqual(fromLuxon(ts, zone));
        expect(toLocal(ts, zone)).toEqual(fromLuxon(ts, zone));
      }),
      { numRuns: 3000 },
    );
  });

  it("agrees with luxon minute by minute across transitions", () => {
    for (const [zone, iso] of [
      ["America/New_York", "2024-03-10T06:00:00Z"],
      ["America/New_York", "2024-11-03T05:00:00Z"],
      ["Europe/Berlin", "2024-03-31T00:00:00Z"],
      ["Europe/Berlin", "2024-10-27T00:00:00Z"],
      ["Australia/Lord_Howe", "2024-04-06T14:30:00Z"],
      ["Australia/Lord_Howe", "2024-10-05T15:30:00Z"],
    ] as const) {
      const start = Date.parse(iso);
      for (let ts = start - 2 * 3_600_000; ts <= start + 2 * 3_600_000; ts += 60_000) expect(toLocal(ts, zone)).toEqual(fromLuxon(ts, zone));
    }
  });

  it("the cached next time of day equals the computed one along random walks of the clock, DST weeks included", () => {
    const walk = fc.array(fc.integer({ min: -3 * DAY, max: 3 * DAY }), { minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.constantFrom(Date.parse("2024-03-08T00:00:00Z"), Date.parse("2024-10-25T00:00:00Z"), Date.parse("2024-04-04T00:00:00Z")),
        fc.subarray(["00:00", "02:30", "08:00", "11:00", "23:59"], { minLength: 1 }),
        fc.subarray([1, 2, 3, 4, 5, 6, 7]),
        walk,
        (zone, start, times, weekdays, steps) => {
          let now = start;
          for (const step of steps) {
            now += step;
            expect(nextTimeOfDay(now, zone, times, weekdays)).toBe(computeNextTimeOfDay(now, zone, times, weekdays));
            // The answer itself and the instant just before it: the edges of the cached interval.
            const next = computeNextTimeOfDay(now, zone, times, weekdays);
            expect(nextTimeOfDay(next - 1, zone, times, weekdays)).toBe(next);
            expect(nextTimeOfDay(next, zone, times, weekdays)).toBe(computeNextTimeOfDay(next, zone, times, weekdays));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("adds calendar days across months, leap days and years", () => {
    expect(addDays({ year: 2024, month: 2, day: 28 }, 1)).toEqual({ year: 2024, month: 2, day: 29, weekday: 4 });
    expect(addDays({ year: 2024, month: 12, day: 31 }, 1)).toEqual({ year: 2025, month: 1, day: 1, weekday: 3 });
    expect(addDays({ year: 2024, month: 3, day: 1 }, -1)).toEqual({ year: 2024, month: 2, day: 29, weekday: 4 });
  });
});
