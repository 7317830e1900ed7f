import { buildJourney } from "../../../workflows/builder";
import type { Scenario } from "../format";

/** A one-off scheduled send to the members of a segment. */
export const scheduled: Scenario = {
  name: "schedule trigger: a segment enters at the scheduled time",
  covers: ["trigger:schedule", "node:core.trigger"],
  journeyId: "scenario-schedule",
  document: buildJourney({
    name: "大促预告 · Sale announcement",
    settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "schedule", segment: "高消费水平", schedule: { type: "once", at: "2024-06-01T02:00:00Z" } } },
      { id: "push", type: "core.push", config: { title: "618 大促 · 618 sale", body: "今晚 8 点开抢 · Starts 20:00 tonight" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "push"],
      ["push", "sent", "exit"],
      ["push", "failed", "exit"],
    ],
  }),
  workspaceTimezone: "Asia/Shanghai",
  start: "2024-06-01T00:00:00.000Z",
  until: "2024-06-02T00:00:00.000Z",
  users: [
    { id: "s-1", traits: {}, timezone: "Asia/Shanghai", segments: ["高消费水平"] },
    { id: "s-2", traits: {}, timezone: "Asia/Shanghai", segments: ["旅游人群", "高消费水平"] },
    { id: "s-3", traits: {}, timezone: "Asia/Shanghai", segments: ["旅游人群"] },
  ],
  timeline: [],
  expect: {
    paths: { "s-1": [["trigger:next", "push:sent", "exit"]], "s-2": [["trigger:next", "push:sent", "exit"]] },
    outcomes: { "s-1": ["exit_node"], "s-2": ["exit_node"] },
    messages: [
      { user: "s-1", node: "push", channel: "push", at: "2024-06-01T02:00:00.000Z", status: "sent" },
      { user: "s-2", node: "push", channel: "push", at: "2024-06-01T02:00:00.000Z", status: "sent" },
    ],
    nodeCounts: {
      trigger: { entered: 2, left: { next: 2 } },
      push: { entered: 2, left: { sent: 2 } },
      exit: { entered: 2, left: {} },
    },
  },
};
