import { buildJourney } from "../../../workflows/builder";
import type { JourneyDocumentInput } from "../../../workflows/document";
import type { Scenario } from "../format";

const event = (userId: string, at: string, name: string) => ({ at, userId, event: { name, properties: {} } });

function journey(name: string, trigger: string, entry: JourneyDocumentInput["settings"]["entry"], hours: number): JourneyDocumentInput {
  return buildJourney({
    name,
    settings: { entry, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "event", event: trigger, filters: [] } },
      { id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: hours, unit: "hours" } } },
      { id: "push", type: "core.push", config: { body: "Hi" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "wait"],
      ["wait", "next", "push"],
      ["push", "sent", "exit"],
      ["push", "failed", "exit"],
    ],
  });
}

const base = { workspaceTimezone: "Asia/Shanghai", start: "2024-05-06T00:00:00.000Z", until: "2024-05-09T00:00:00.000Z" };

export const entryOnce: Scenario = {
  ...base,
  name: "entry rule once: a second trigger never re-enters",
  covers: ["entry:once"],
  journeyId: "scenario-entry-once",
  document: journey("once", "app_opened", { rule: "once" }, 1),
  users: [{ id: "eo-1", traits: {}, timezone: "Asia/Shanghai" }],
  timeline: [event("eo-1", "2024-05-06T00:00:00.000Z", "app_opened"), event("eo-1", "2024-05-06T02:00:00.000Z", "app_opened")],
  expect: {
    paths: { "eo-1": [["trigger:next", "wait:next", "push:sent", "exit"]] },
    outcomes: { "eo-1": ["exit_node"] },
    messages: [{ user: "eo-1", node: "push", channel: "push", at: "2024-05-06T01:00:00.000Z", status: "sent" }],
    nodeCounts: {
      trigger: { entered: 1, left: { next: 1 } },
      wait: { entered: 1, left: { next: 1 } },
      push: { entered: 1, left: { sent: 1 } },
      exit: { entered: 1, left: {} },
    },
    rejections: [{ user: "eo-1", at: "2024-05-06T02:00:00.000Z", reason: "already_entered" }],
  },
};

export const entryCooldown: Scenario = {
  ...base,
  name: "entry rule cooldown: not while inside, not within a day of the last entry, then again",
  covers: ["entry:cooldown"],
  journeyId: "scenario-entry-cooldown",
  document: journey("cooldown", "app_opened", { rule: "cooldown", cooldownMs: 86_400_000 }, 2),
  users: [{ id: "ec-1", traits: {}, timezone: "Asia/Shanghai" }],
  timeline: [
    event("ec-1", "2024-05-06T00:00:00.000Z", "app_opened"),
    event("ec-1", "2024-05-06T01:00:00.000Z", "app_opened"), // still inside
    event("ec-1", "2024-05-06T05:00:00.000Z", "app_opened"), // finished, but within the cooldown
    event("ec-1", "2024-05-07T00:30:00.000Z", "app_opened"), // 24.5 h after the first entry
  ],
  expect: {
    paths: {
      "ec-1": [
        ["trigger:next", "wait:next", "push:sent", "exit"],
        ["trigger:next", "wait:next", "push:sent", "exit"],
      ],
    },
    outcomes: { "ec-1": ["exit_node", "exit_node"] },
    messages: [
      { user: "ec-1", node: "push", channel: "push", at: "2024-05-06T02:00:00.000Z", status: "sent" },
      { user: "ec-1", node: "push", channel: "push", at: "2024-05-07T02:30:00.000Z", status: "sent" },
    ],
    nodeCounts: {
      trigger: { entered: 2, left: { next: 2 } },
      wait: { entered: 2, left: { next: 2 } },
      push: { entered: 2, left: { sent: 2 } },
      exit: { entered: 2, left: {} },
    },
    rejections: [
      { user: "ec-1", at: "2024-05-06T01:00:00.000Z", reason: "active" },
      { user: "ec-1", at: "2024-05-06T05:00:00.000Z", reason: "cooldown" },
    ],
  },
};

export const entryConcurrentCaps: Scenario = {
  ...base,
  name: "entry rule concurrent with caps: 2 per hour, 3 in total",
  covers: ["entry:concurrent", "entry:caps"],
  journeyId: "scenario-entry-caps",
  document: journey("caps", "coupon_redeemed", { rule: "concurrent", caps: { perHour: 2, total: 3 } }, 1),
  users: ["cc-1", "cc-2", "cc-3"].map((id) => ({ id, traits: {}, timezone: "Asia/Shanghai" })),
  timeline: [
    event("cc-1", "2024-05-06T00:00:00.000Z", "coupon_redeemed"),
    event("cc-1", "2024-05-06T00:05:00.000Z", "coupon_redeemed"), // concurrent: second run while the first waits
    event("cc-2", "2024-05-06T00:10:00.000Z", "coupon_redeemed"), // third entry within the hour
    event("cc-2", "2024-05-06T01:30:00.000Z", "coupon_redeemed"),
    event("cc-3", "2024-05-06T03:00:00.000Z", "coupon_redeemed"), // fourth entry ever
  ],
  expect: {
    paths: {
      "cc-1": [
        ["trigger:next", "wait:next", "push:sent", "exit"],
        ["trigger:next", "wait:next", "push:sent", "exit"],
      ],
      "cc-2": [["trigger:next", "wait:next", "push:sent", "exit"]],
    },
    outcomes: { "cc-1": ["exit_node", "exit_node"], "cc-2": ["exit_node"] },
    messages: [
      { user: "cc-1", node: "push", channel: "push", at: "2024-05-06T01:00:00.000Z", status: "sent" },
      { user: "cc-1", node: "push", channel: "push", at: "2024-05-06T01:05:00.000Z", status: "sent" },
      { user: "cc-2", node: "push", channel: "push", at: "2024-05-06T02:30:00.000Z", status: "sent" },
    ],
    nodeCounts: {
      trigger: { entered: 3, left: { next: 3 } },
      wait: { entered: 3, left: { next: 3 } },
      push: { entered: 3, left: { sent: 3 } },
      exit: { entered: 3, left: {} },
    },
    rejections: [
      { user: "cc-2", at: "2024-05-06T00:10:00.000Z", reason: "cap_hour" },
      { user: "cc-3", at: "2024-05-06T03:00:00.000Z", reason: "cap_total" },
    ],
  },
};
