import { buildJourney } from "../../../workflows/builder";
import type { Scenario } from "../format";

const at = (userId: string, time: string, name: string, properties: Record<string, unknown> = {}) => ({ at: time, userId, event: { name, properties } });

/**
 * Goal: order_completed with amount > 0 within 5 days of entry. Exit criteria: unsubscribed.
 * Everyone enters at 2024-05-06T00:00Z: push at +1 day, email at +3 days, window ends at +5 days.
 */
export const goalAndExit: Scenario = {
  name: "goal exit and exit criteria: conversions inside the window (also after Exit), early exits",
  covers: ["goal", "exit_criteria", "goal:after-exit", "goal:window"],
  journeyId: "scenario-goal-exit",
  document: buildJourney({
    name: "目标与退出 · Goal and exit",
    settings: {
      entry: { rule: "once" },
      holdoutPercent: 0,
      goal: { event: "order_completed", filters: [{ property: "amount", op: "gt", value: 0 }], windowMs: 5 * 86_400_000 },
      exitEvents: [{ event: "unsubscribed", filters: [] }],
    },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "event", event: "signed_up", filters: [] } },
      { id: "wait_1d", type: "core.wait", config: { mode: "duration", duration: { amount: 1, unit: "days" } } },
      { id: "push", type: "core.push", config: { body: "欢迎 · Welcome" } },
      { id: "wait_2d", type: "core.wait", config: { mode: "duration", duration: { amount: 2, unit: "days" } } },
      { id: "email", type: "core.email", config: { subject: "新人礼包 · Welcome pack", html: "<p>🎁</p>" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "wait_1d"],
      ["wait_1d", "next", "push"],
      ["push", "sent", "wait_2d"],
      ["push", "failed", "wait_2d"],
      ["wait_2d", "next", "email"],
      ["email", "sent", "exit"],
      ["email", "failed", "exit"],
    ],
  }),
  workspaceTimezone: "Asia/Shanghai",
  start: "2024-05-06T00:00:00.000Z",
  until: "2024-05-20T00:00:00.000Z",
  users: ["ge-goal", "ge-exit", "ge-after", "ge-late", "ge-zero"].map((id) => ({ id, traits: {}, timezone: "Asia/Shanghai" })),
  timeline: [
    ...["ge-goal", "ge-exit", "ge-after", "ge-late", "ge-zero"].map((id) => at(id, "2024-05-06T00:00:00.000Z", "signed_up")),
    at("ge-exit", "2024-05-06T12:00:00.000Z", "unsubscribed"),
    at("ge-goal", "2024-05-08T00:00:00.000Z", "order_completed", { amount: 66 }),
    at("ge-zero", "2024-05-08T00:00:00.000Z", "order_completed", { amount: 0 }), // filtered out
    at("ge-after", "2024-05-10T00:00:00.000Z", "order_completed", { amount: 18 }), // after Exit, inside the window
    at("ge-zero", "2024-05-10T00:00:00.000Z", "unsubscribed"), // after Exit: no effect
    at("ge-late", "2024-05-12T00:00:00.000Z", "order_completed", { amount: 18 }), // after the window
  ],
  expect: {
    paths: {
      "ge-goal": [["trigger:next", "wait_1d:next", "push:sent", "wait_2d"]],
      "ge-exit": [["trigger:next", "wait_1d"]],
      "ge-after": [["trigger:next", "wait_1d:next", "push:sent", "wait_2d:next", "email:sent", "exit"]],
      "ge-late": [["trigger:next", "wait_1d:next", "push:sent", "wait_2d:next", "email:sent", "exit"]],
      "ge-zero": [["trigger:next", "wait_1d:next", "push:sent", "wait_2d:next", "email:sent", "exit"]],
    },
    outcomes: { "ge-goal": ["goal"], "ge-exit": ["exit_criteria"], "ge-after": ["goal"], "ge-late": ["exit_node"], "ge-zero": ["exit_node"] },
    messages: [
      { user: "ge-after", node: "push", channel: "push", at: "2024-05-07T00:00:00.000Z", status: "sent" },
      { user: "ge-goal", node: "push", channel: "push", at: "2024-05-07T00:00:00.000Z", status: "sent" },
      { user: "ge-late", node: "push", channel: "push", at: "2024-05-07T00:00:00.000Z", status: "sent" },
      { user: "ge-zero", node: "push", channel: "push", at: "2024-05-07T00:00:00.000Z", status: "sent" },
      { user: "ge-after", node: "email", channel: "email", at: "2024-05-09T00:00:00.000Z", status: "sent" },
      { user: "ge-late", node: "email", channel: "email", at: "2024-05-09T00:00:00.000Z", status: "sent" },
      { user: "ge-zero", node: "email", channel: "email", at: "2024-05-09T00:00:00.000Z", status: "sent" },
    ],
    nodeCounts: {
      trigger: { entered: 5, left: { next: 5 } },
      wait_1d: { entered: 5, left: { next: 4 } },
      push: { entered: 4, left: { sent: 4 } },
      wait_2d: { entered: 4, left: { next: 3 } },
      email: { entered: 3, left: { sent: 3 } },
      exit: { entered: 3, left: {} },
    },
    recordCounts: { conversion: 2, exit: 5 },
  },
};
