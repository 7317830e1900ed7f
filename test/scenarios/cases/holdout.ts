import { buildJourney } from "../../../workflows/builder";
import type { Scenario } from "../format";

const at = (userId: string, time: string, name: string) => ({ at: time, userId, event: { name, properties: {} } });

/**
 * 50% holdout. For journey id "scenario-holdout", h-0 and h-1 are held out, h-2 and h-4 are
 * not. Held-out users get no message but their conversions are recorded (holdout: true).
 */
export const holdout: Scenario = {
  name: "holdout (对照组): no messages, conversions still measured until the window ends",
  covers: ["holdout"],
  journeyId: "scenario-holdout",
  document: buildJourney({
    name: "对照组 · Holdout",
    settings: { entry: { rule: "once" }, holdoutPercent: 50, goal: { event: "order_completed", filters: [], windowMs: 3 * 86_400_000 }, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "api" } },
      { id: "push", type: "core.push", config: { body: "限时优惠 · Limited offer" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "push"],
      ["push", "sent", "exit"],
      ["push", "failed", "exit"],
    ],
  }),
  workspaceTimezone: "Asia/Shanghai",
  start: "2024-05-06T00:00:00.000Z",
  until: "2024-05-12T00:00:00.000Z",
  users: ["h-0", "h-1", "h-2", "h-4"].map((id) => ({ id, traits: {}, timezone: "Asia/Shanghai" })),
  timeline: [
    ...["h-0", "h-1", "h-2", "h-4"].map((id) => at(id, "2024-05-06T00:00:00.000Z", "$api.trigger")),
    at("h-0", "2024-05-07T00:00:00.000Z", "order_completed"),
    at("h-2", "2024-05-08T00:00:00.000Z", "order_completed"),
  ],
  expect: {
    paths: {
      "h-0": [["trigger"]],
      "h-1": [["trigger"]],
      "h-2": [["trigger:next", "push:sent", "exit"]],
      "h-4": [["trigger:next", "push:sent", "exit"]],
    },
    outcomes: { "h-0": ["goal"], "h-1": ["holdout"], "h-2": ["goal"], "h-4": ["exit_node"] },
    messages: [
      { user: "h-2", node: "push", channel: "push", at: "2024-05-06T00:00:00.000Z", status: "sent" },
      { user: "h-4", node: "push", channel: "push", at: "2024-05-06T00:00:00.000Z", status: "sent" },
    ],
    nodeCounts: {
      trigger: { entered: 4, left: { next: 2 } },
      push: { entered: 2, left: { sent: 2 } },
      exit: { entered: 2, left: {} },
    },
    recordCounts: { holdout: 2, conversion: 2 },
  },
};
