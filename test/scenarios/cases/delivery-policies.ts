import { buildJourney } from "../../../workflows/builder";
import type { Scenario } from "../format";

const cart = (userId: string, at: string) => ({ at, userId, event: { name: "added_to_cart", properties: { sku: "A1" } } });

/**
 * Quiet hours 21:00–08:00 local (Asia/Shanghai, UTC+8). The push skips quiet hours, the SMS
 * defers to their end. pol-retry's first two push attempts fail transiently: retries after
 * 30 s and 60 s, on the same idempotency key.
 */
export const deliveryPolicies: Scenario = {
  name: "quiet hours (skip / defer) and retries with backoff",
  covers: ["quiet-hours", "retry", "node:core.push", "node:core.sms"],
  journeyId: "scenario-policies",
  quietHours: { start: "21:00", end: "08:00" },
  document: buildJourney({
    name: "加购提醒 · Cart reminder",
    settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "event", event: "added_to_cart", filters: [] } },
      { id: "push_skip", type: "core.push", config: { body: "购物车有宝贝 · Items in your cart", quietHours: "skip" } },
      { id: "sms_defer", type: "core.sms", config: { body: "【Waypost】购物车商品即将售罄 回TD退订", quietHours: "defer" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "push_skip"],
      ["push_skip", "sent", "exit"],
      ["push_skip", "failed", "sms_defer"],
      ["sms_defer", "sent", "exit"],
      ["sms_defer", "failed", "exit"],
    ],
  }),
  workspaceTimezone: "Asia/Shanghai",
  start: "2024-05-06T00:00:00.000Z",
  until: "2024-05-08T00:00:00.000Z",
  users: ["pol-day", "pol-retry", "pol-night"].map((id) => ({ id, traits: {}, timezone: "Asia/Shanghai" })),
  timeline: [cart("pol-day", "2024-05-06T04:00:00.000Z"), cart("pol-retry", "2024-05-06T05:00:00.000Z"), cart("pol-night", "2024-05-06T15:00:00.000Z")],
  actionOutcomes: [
    { nodeId: "push_skip", userId: "pol-retry", attempt: 1, result: "retry", reason: "provider 503" },
    { nodeId: "push_skip", userId: "pol-retry", attempt: 2, result: "retry", reason: "provider 503" },
  ],
  expect: {
    paths: {
      "pol-day": [["trigger:next", "push_skip:sent", "exit"]],
      "pol-retry": [["trigger:next", "push_skip:sent", "exit"]],
      "pol-night": [["trigger:next", "push_skip:failed", "sms_defer:sent", "exit"]],
    },
    outcomes: { "pol-day": ["exit_node"], "pol-retry": ["exit_node"], "pol-night": ["exit_node"] },
    messages: [
      { user: "pol-day", node: "push_skip", channel: "push", at: "2024-05-06T04:00:00.000Z", status: "sent" },
      { user: "pol-retry", node: "push_skip", channel: "push", at: "2024-05-06T05:01:30.000Z", status: "sent" },
      { user: "pol-night", node: "push_skip", channel: "push", at: "2024-05-06T15:00:00.000Z", status: "failed" },
      { user: "pol-night", node: "sms_defer", channel: "sms", at: "2024-05-07T00:00:00.000Z", status: "sent" },
    ],
    nodeCounts: {
      trigger: { entered: 3, left: { next: 3 } },
      push_skip: { entered: 3, left: { sent: 2, failed: 1 } },
      sms_defer: { entered: 1, left: { sent: 1 } },
      exit: { entered: 3, left: {} },
    },
    recordCounts: { retry: 2, message: 5 },
  },
};
