import { buildJourney } from "../../../workflows/builder";
import type { Scenario } from "../format";

const api = (userId: string, at: string) => ({ at, userId, event: { name: "$api.trigger", properties: {} } });

/**
 * Saturday 09:00 then Sunday 09:00 local, entering on a Friday morning: the second wait spans
 * the DST change (23 h in spring, 25 h in autumn) and still lands on 09:00 local.
 */
export const dst: Scenario = {
  name: "waits across DST land on the local wall-clock time (America/New_York, Europe/Berlin)",
  covers: ["dst:America/New_York", "dst:Europe/Berlin", "wait:time_of_day"],
  journeyId: "scenario-dst",
  document: buildJourney({
    name: "夏令时 · DST",
    settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "api" } },
      { id: "wait_9", type: "core.wait", config: { mode: "time_of_day", times: ["09:00"] } },
      { id: "push", type: "core.push", config: { body: "Saturday" } },
      { id: "wait_sunday_9", type: "core.wait", config: { mode: "time_of_day", times: ["09:00"], weekdays: [7] } },
      { id: "push_sunday", type: "core.push", config: { body: "Sunday" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "wait_9"],
      ["wait_9", "next", "push"],
      ["push", "sent", "wait_sunday_9"],
      ["push", "failed", "wait_sunday_9"],
      ["wait_sunday_9", "next", "push_sunday"],
      ["push_sunday", "sent", "exit"],
      ["push_sunday", "failed", "exit"],
    ],
  }),
  workspaceTimezone: "UTC",
  start: "2024-03-01T00:00:00.000Z",
  until: "2024-11-10T00:00:00.000Z",
  users: [
    { id: "ny-spring", traits: {}, timezone: "America/New_York" },
    { id: "ny-fall", traits: {}, timezone: "America/New_York" },
    { id: "be-spring", traits: {}, timezone: "Europe/Berlin" },
    { id: "be-fall", traits: {}, timezone: "Europe/Berlin" },
  ],
  timeline: [
    api("ny-spring", "2024-03-08T15:00:00.000Z"), // Fri 10:00 EST
    api("be-spring", "2024-03-29T09:00:00.000Z"), // Fri 10:00 CET
    api("be-fall", "2024-10-25T08:00:00.000Z"), // Fri 10:00 CEST
    api("ny-fall", "2024-11-01T14:00:00.000Z"), // Fri 10:00 EDT
  ],
  expect: {
    paths: Object.fromEntries(
      ["ny-spring", "be-spring", "be-fall", "ny-fall"].map((u) => [u, [["trigger:next", "wait_9:next", "push:sent", "wait_sunday_9:next", "push_sunday:sent", "exit"]]]),
    ),
    outcomes: { "ny-spring": ["exit_node"], "be-spring": ["exit_node"], "be-fall": ["exit_node"], "ny-fall": ["exit_node"] },
    messages: [
      { user: "ny-spring", node: "push", channel: "push", at: "2024-03-09T14:00:00.000Z", status: "sent" }, // Sat 09:00 EST
      { user: "ny-spring", node: "push_sunday", channel: "push", at: "2024-03-10T13:00:00.000Z", status: "sent" }, // Sun 09:00 EDT
      { user: "be-spring", node: "push", channel: "push", at: "2024-03-30T08:00:00.000Z", status: "sent" }, // Sat 09:00 CET
      { user: "be-spring", node: "push_sunday", channel: "push", at: "2024-03-31T07:00:00.000Z", status: "sent" }, // Sun 09:00 CEST
      { user: "be-fall", node: "push", channel: "push", at: "2024-10-26T07:00:00.000Z", status: "sent" }, // Sat 09:00 CEST
      { user: "be-fall", node: "push_sunday", channel: "push", at: "2024-10-27T08:00:00.000Z", status: "sent" }, // Sun 09:00 CET
      { user: "ny-fall", node: "push", channel: "push", at: "2024-11-02T13:00:00.000Z", status: "sent" }, // Sat 09:00 EDT
      { user: "ny-fall", node: "push_sunday", channel: "push", at: "2024-11-03T14:00:00.000Z", status: "sent" }, // Sun 09:00 EST
    ],
    nodeCounts: {
      trigger: { entered: 4, left: { next: 4 } },
      wait_9: { entered: 4, left: { next: 4 } },
      push: { entered: 4, left: { sent: 4 } },
      wait_sunday_9: { entered: 4, left: { next: 4 } },
      push_sunday: { entered: 4, left: { sent: 4 } },
      exit: { entered: 4, left: {} },
    },
    recordCounts: { tz_fallback: 0 },
  },
};

/** "Monday 08:00" is the user's Monday, which need not be the UTC Monday. */
export const localWeekday: Scenario = {
  name: "Monday 08:00 fires on the user's local Monday (Asia/Tokyo, America/Los_Angeles, Asia/Shanghai)",
  covers: ["weekday:non-utc", "wait:time_of_day"],
  journeyId: "scenario-weekday",
  document: buildJourney({
    name: "周一早八点 · Monday 08:00",
    settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "api" } },
      { id: "wait_monday", type: "core.wait", config: { mode: "time_of_day", times: ["08:00"], weekdays: [1] } },
      { id: "push", type: "core.push", config: { body: "新的一周 · New week" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "wait_monday"],
      ["wait_monday", "next", "push"],
      ["push", "sent", "exit"],
      ["push", "failed", "exit"],
    ],
  }),
  workspaceTimezone: "UTC",
  start: "2024-06-01T00:00:00.000Z",
  until: "2024-06-20T00:00:00.000Z",
  users: [
    { id: "tokyo", traits: {}, timezone: "Asia/Tokyo" },
    { id: "la", traits: {}, timezone: "America/Los_Angeles" },
    { id: "shanghai", traits: {}, timezone: "Asia/Shanghai" },
  ],
  timeline: [
    api("tokyo", "2024-06-02T20:00:00.000Z"), // Sunday in UTC, Monday 05:00 in Tokyo
    api("shanghai", "2024-06-03T01:00:00.000Z"), // Monday 09:00 in Shanghai: 08:00 has passed
    api("la", "2024-06-03T02:00:00.000Z"), // Monday in UTC, Sunday 19:00 in LA
  ],
  expect: {
    paths: Object.fromEntries(["tokyo", "shanghai", "la"].map((u) => [u, [["trigger:next", "wait_monday:next", "push:sent", "exit"]]])),
    outcomes: { tokyo: ["exit_node"], shanghai: ["exit_node"], la: ["exit_node"] },
    messages: [
      { user: "tokyo", node: "push", channel: "push", at: "2024-06-02T23:00:00.000Z", status: "sent" },
      { user: "la", node: "push", channel: "push", at: "2024-06-03T15:00:00.000Z", status: "sent" },
      { user: "shanghai", node: "push", channel: "push", at: "2024-06-10T00:00:00.000Z", status: "sent" },
    ],
    nodeCounts: {
      trigger: { entered: 3, left: { next: 3 } },
      wait_monday: { entered: 3, left: { next: 3 } },
      push: { entered: 3, left: { sent: 3 } },
      exit: { entered: 3, left: {} },
    },
  },
};

/** Invalid and missing zones use the workspace zone (Asia/Shanghai) and are counted. */
export const zoneFallback: Scenario = {
  name: "invalid or missing time zones fall back to the workspace zone and are counted",
  covers: ["tz:fallback"],
  journeyId: "scenario-tz-fallback",
  document: buildJourney({
    name: "时区回退 · Zone fallback",
    settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "api" } },
      { id: "wait_11", type: "core.wait", config: { mode: "time_of_day", times: ["11:00"] } },
      { id: "push", type: "core.push", config: { body: "午安 · Good day" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "wait_11"],
      ["wait_11", "next", "push"],
      ["push", "sent", "exit"],
      ["push", "failed", "exit"],
    ],
  }),
  workspaceTimezone: "Asia/Shanghai",
  start: "2024-06-03T00:00:00.000Z",
  until: "2024-06-05T00:00:00.000Z",
  users: [
    { id: "tz-invalid", traits: {}, timezone: "Mars/Base" },
    { id: "tz-missing", traits: {} },
    { id: "tz-london", traits: {}, timezone: "Europe/London" },
    { id: "tz-trait", traits: { timezone: "Asia/Tokyo" } },
  ],
  timeline: ["tz-invalid", "tz-missing", "tz-london", "tz-trait"].map((u) => api(u, "2024-06-03T00:00:00.000Z")),
  expect: {
    paths: Object.fromEntries(["tz-invalid", "tz-missing", "tz-london", "tz-trait"].map((u) => [u, [["trigger:next", "wait_11:next", "push:sent", "exit"]]])),
    outcomes: { "tz-invalid": ["exit_node"], "tz-missing": ["exit_node"], "tz-london": ["exit_node"], "tz-trait": ["exit_node"] },
    messages: [
      { user: "tz-trait", node: "push", channel: "push", at: "2024-06-03T02:00:00.000Z", status: "sent" }, // 11:00 Tokyo
      { user: "tz-invalid", node: "push", channel: "push", at: "2024-06-03T03:00:00.000Z", status: "sent" }, // 11:00 Shanghai
      { user: "tz-missing", node: "push", channel: "push", at: "2024-06-03T03:00:00.000Z", status: "sent" },
      { user: "tz-london", node: "push", channel: "push", at: "2024-06-03T10:00:00.000Z", status: "sent" }, // 11:00 BST
    ],
    nodeCounts: {
      trigger: { entered: 4, left: { next: 4 } },
      wait_11: { entered: 4, left: { next: 4 } },
      push: { entered: 4, left: { sent: 4 } },
      exit: { entered: 4, left: {} },
    },
    recordCounts: { tz_fallback: 2 },
  },
};
