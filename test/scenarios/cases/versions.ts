import { buildJourney } from "../../../workflows/builder";
import type { JourneyDocumentInput } from "../../../workflows/document";
import type { Scenario } from "../format";

const signedUp = (userId: string, at: string) => ({ at, userId, event: { name: "signed_up", properties: {} } });

function version(days: number, action: { id: string; type: string; config: unknown }): JourneyDocumentInput {
  return buildJourney({
    name: "新人欢迎 · Welcome",
    settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "event", event: "signed_up", filters: [] } },
      { id: "wait", type: "core.wait", config: { mode: "duration", duration: { amount: days, unit: "days" } } },
      { ...action },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "wait"],
      ["wait", "next", action.id],
      [action.id, "sent", "exit"],
      [action.id, "failed", "exit"],
    ],
  });
}

/**
 * Version 2 (published 2024-05-07) waits 1 day and sends an SMS instead of waiting 2 days for a
 * push. ver-old entered version 1 and keeps it; ver-new enters version 2.
 */
export const editedWhileInside: Scenario = {
  name: "journey edited while users are inside: old users stay on their version",
  covers: ["version:edit-while-inside"],
  journeyId: "scenario-versions",
  document: version(2, { id: "push", type: "core.push", config: { body: "v1 欢迎 · Welcome" } }),
  versions: [{ at: "2024-05-07T00:00:00.000Z", document: version(1, { id: "sms", type: "core.sms", config: { body: "v2 欢迎 · Welcome" } }) }],
  workspaceTimezone: "Asia/Shanghai",
  start: "2024-05-06T00:00:00.000Z",
  until: "2024-05-12T00:00:00.000Z",
  users: [
    { id: "ver-old", traits: {}, timezone: "Asia/Shanghai" },
    { id: "ver-new", traits: {}, timezone: "Asia/Shanghai" },
  ],
  timeline: [signedUp("ver-old", "2024-05-06T00:00:00.000Z"), signedUp("ver-new", "2024-05-07T06:00:00.000Z")],
  expect: {
    paths: {
      "ver-old": [["trigger:next", "wait:next", "push:sent", "exit"]],
      "ver-new": [["trigger:next", "wait:next", "sms:sent", "exit"]],
    },
    outcomes: { "ver-old": ["exit_node"], "ver-new": ["exit_node"] },
    messages: [
      { user: "ver-old", node: "push", channel: "push", at: "2024-05-08T00:00:00.000Z", status: "sent" },
      { user: "ver-new", node: "sms", channel: "sms", at: "2024-05-08T06:00:00.000Z", status: "sent" },
    ],
    nodeCounts: {
      trigger: { entered: 2, left: { next: 2 } },
      wait: { entered: 2, left: { next: 2 } },
      push: { entered: 1, left: { sent: 1 } },
      sms: { entered: 1, left: { sent: 1 } },
      exit: { entered: 2, left: {} },
    },
  },
};
