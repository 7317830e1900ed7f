import { winBackJourney } from "../../../workflows/demo-journeys";
import type { Scenario } from "../format";

const entered = (userId: string, at: string) => ({ at, userId, event: { name: "$segment.entered", properties: { segment: "churned_buyers" } } });
const ordered = (userId: string, at: string) => ({ at, userId, event: { name: "order_completed", properties: { amount: 88, currency: "CNY", order_count: 5 } } });

/**
 * PRODUCT.md journey 1. Times: Asia/Shanghai is UTC+8, so 11:00 local = 03:00Z, 17:00 = 09:00Z.
 * wb-holdout-25 and wb-holdout-40 fall in the 10% holdout for this journey id; the others do not.
 */
export const winBack: Scenario = {
  name: "流失召回 win-back: send hour, push → SMS fallback, wait, email, goal, holdout, cooldown",
  covers: ["journey:win-back", "node:core.trigger", "trigger:segment_entry", "node:core.wait", "node:core.push", "node:core.sms", "node:core.wait-for-event", "node:core.email", "node:core.exit", "goal", "holdout", "entry:cooldown", "tz:fallback"],
  journeyId: "scenario-win-back",
  document: winBackJourney(),
  workspaceTimezone: "Asia/Shanghai",
  start: "2024-05-06T00:00:00.000Z",
  until: "2024-05-20T00:00:00.000Z",
  users: [
    { id: "wb-convert", traits: { name: "小王" }, timezone: "Asia/Shanghai" },
    { id: "wb-fallback", traits: { name: "李雷" }, timezone: "Asia/Shanghai" },
    { id: "wb-pushfail", traits: { name: "韩梅梅" }, timezone: "Mars/Base" },
    { id: "wb-holdout-25", traits: {}, timezone: "Asia/Shanghai" },
    { id: "wb-holdout-40", traits: {}, timezone: "Asia/Shanghai" },
  ],
  timeline: [
    entered("wb-convert", "2024-05-06T01:00:00.000Z"), // 09:00 local → push at 11:00
    entered("wb-holdout-25", "2024-05-06T01:00:00.000Z"),
    entered("wb-holdout-40", "2024-05-06T02:00:00.000Z"),
    entered("wb-fallback", "2024-05-06T06:00:00.000Z"), // 14:00 local → push at 17:00
    entered("wb-pushfail", "2024-05-06T10:00:00.000Z"), // 18:00 local → push next day 11:00
    ordered("wb-convert", "2024-05-07T02:00:00.000Z"),
    ordered("wb-pushfail", "2024-05-08T00:00:00.000Z"),
    ordered("wb-holdout-25", "2024-05-09T00:00:00.000Z"),
    entered("wb-convert", "2024-05-10T00:00:00.000Z"), // within the 30-day cooldown
  ],
  actionOutcomes: [
    { nodeId: "push_winback", userId: "wb-fallback", result: "sent", delivery: "none" },
    { nodeId: "push_winback", userId: "wb-pushfail", result: "failed", reason: "invalid_token" },
  ],
  expect: {
    paths: {
      "wb-convert": [["trigger:next", "send_time:next", "push_winback:sent", "wait_order"]],
      "wb-holdout-25": [["trigger"]],
      "wb-holdout-40": [["trigger"]],
      "wb-fallback": [["trigger:next", "send_time:next", "push_winback:failed", "sms_fallback:sent", "wait_order:timed_out", "wait_3d:next", "email_winback:sent", "exit"]],
      "wb-pushfail": [["trigger:next", "send_time:next", "push_winback:failed", "sms_fallback:sent", "wait_order"]],
    },
    outcomes: {
      "wb-convert": ["goal"],
      "wb-holdout-25": ["goal"],
      "wb-holdout-40": ["holdout"],
      "wb-fallback": ["exit_node"],
      "wb-pushfail": ["goal"],
    },
    messages: [
      { user: "wb-convert", node: "push_winback", channel: "push", at: "2024-05-06T03:00:00.000Z", status: "sent" },
      { user: "wb-fallback", node: "push_winback", channel: "push", at: "2024-05-06T09:00:00.000Z", status: "sent" },
      // Not delivered within 2 h: 短信补量.
      { user: "wb-fallback", node: "sms_fallback", channel: "sms", at: "2024-05-06T11:00:00.000Z", status: "sent" },
      { user: "wb-pushfail", node: "push_winback", channel: "push", at: "2024-05-07T03:00:00.000Z", status: "failed" },
      { user: "wb-pushfail", node: "sms_fallback", channel: "sms", at: "2024-05-07T03:00:00.000Z", status: "sent" },
      { user: "wb-fallback", node: "email_winback", channel: "email", at: "2024-05-11T11:00:00.000Z", status: "sent" },
    ],
    nodeCounts: {
      trigger: { entered: 5, left: { next: 3 } },
      send_time: { entered: 3, left: { next: 3 } },
      push_winback: { entered: 3, left: { sent: 1, failed: 2 } },
      sms_fallback: { entered: 2, left: { sent: 2 } },
      wait_order: { entered: 3, left: { timed_out: 1 } },
      wait_3d: { entered: 1, left: { next: 1 } },
      email_winback: { entered: 1, left: { sent: 1 } },
      exit: { entered: 1, left: {} },
    },
    recordCounts: { conversion: 3, holdout: 2, tz_fallback: 1, exit: 5 },
    rejections: [{ user: "wb-convert", at: "2024-05-10T00:00:00.000Z", reason: "cooldown" }],
  },
};
