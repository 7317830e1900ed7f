import { firstOrderJourney } from "../../../workflows/demo-journeys";
import type { Scenario } from "../format";

const order = (userId: string, at: string, count: number) => ({ at, userId, event: { name: "order_completed", properties: { amount: 59, order_count: count } } });

/**
 * PRODUCT.md journey 3. The reminder goes at 10:00 local three days before `replenish_at`;
 * without the trait the date wait lets the user through at once.
 */
export const firstOrder: Scenario = {
  name: "首单复购 after the first order: bundle coupon after 24 h, reminder at replenish_at − 3 days",
  covers: ["journey:first-order", "trigger:event-filter", "node:core.wait", "wait:date_trait", "node:core.push", "goal"],
  journeyId: "scenario-first-order",
  document: firstOrderJourney(),
  workspaceTimezone: "Asia/Shanghai",
  start: "2024-05-06T00:00:00.000Z",
  until: "2024-07-10T00:00:00.000Z",
  users: [
    { id: "fo-a", traits: { name: "小美", replenish_at: "2024-06-01" }, timezone: "Asia/Shanghai" },
    { id: "fo-b", traits: { replenish_at: "2024-06-15" }, timezone: "Asia/Shanghai" },
    { id: "fo-repeat", traits: {}, timezone: "Asia/Shanghai" },
    { id: "fo-noreplenish", traits: {}, timezone: "Asia/Shanghai" },
  ],
  timeline: [
    order("fo-a", "2024-05-06T02:00:00.000Z", 1),
    order("fo-b", "2024-05-06T03:00:00.000Z", 1),
    order("fo-repeat", "2024-05-06T04:00:00.000Z", 3), // not a first order: no entry
    order("fo-noreplenish", "2024-05-06T05:00:00.000Z", 1),
    order("fo-b", "2024-05-10T00:00:00.000Z", 2), // second order: goal
  ],
  expect: {
    paths: {
      "fo-a": [["trigger:next", "wait_24h:next", "push_bundle:sent", "wait_replenish:next", "push_reminder:sent", "exit"]],
      "fo-b": [["trigger:next", "wait_24h:next", "push_bundle:sent", "wait_replenish"]],
      "fo-noreplenish": [["trigger:next", "wait_24h:next", "push_bundle:sent", "wait_replenish:next", "push_reminder:sent", "exit"]],
    },
    outcomes: { "fo-a": ["exit_node"], "fo-b": ["goal"], "fo-noreplenish": ["exit_node"] },
    messages: [
      { user: "fo-a", node: "push_bundle", channel: "push", at: "2024-05-07T02:00:00.000Z", status: "sent" },
      { user: "fo-b", node: "push_bundle", channel: "push", at: "2024-05-07T03:00:00.000Z", status: "sent" },
      { user: "fo-noreplenish", node: "push_bundle", channel: "push", at: "2024-05-07T05:00:00.000Z", status: "sent" },
      { user: "fo-noreplenish", node: "push_reminder", channel: "push", at: "2024-05-07T05:00:00.000Z", status: "sent" },
      // 2024-06-01 − 3 days = 2024-05-29, 10:00 in Shanghai.
      { user: "fo-a", node: "push_reminder", channel: "push", at: "2024-05-29T02:00:00.000Z", status: "sent" },
    ],
    nodeCounts: {
      trigger: { entered: 3, left: { next: 3 } },
      wait_24h: { entered: 3, left: { next: 3 } },
      push_bundle: { entered: 3, left: { sent: 3 } },
      wait_replenish: { entered: 3, left: { next: 2 } },
      push_reminder: { entered: 2, left: { sent: 2 } },
      exit: { entered: 2, left: {} },
    },
    recordCounts: { conversion: 1 },
  },
};
