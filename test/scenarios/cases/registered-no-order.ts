import { registeredNoOrderJourney } from "../../../workflows/demo-journeys";
import type { Scenario } from "../format";

const signedUp = (userId: string, at: string) => ({ at, userId, event: { name: "signed_up", properties: { channel: "app" } } });
const ordered = (userId: string, at: string) => ({ at, userId, event: { name: "order_completed", properties: { amount: 39, order_count: 1 } } });

/**
 * PRODUCT.md journey 2. rn-late converts after the SMS: the user has reached Exit but the goal
 * window (7 days from entry) is still open, so the conversion counts and is attributed to the SMS.
 */
export const registeredNoOrder: Scenario = {
  name: "注册未下单 registered, no order in 24 h: SMS 红包 on timeout, conversions attributed",
  covers: ["journey:registered-no-order", "trigger:event", "node:core.wait-for-event", "node:core.sms", "goal", "entry:once"],
  journeyId: "scenario-registered",
  document: registeredNoOrderJourney(),
  workspaceTimezone: "Asia/Shanghai",
  start: "2024-05-06T00:00:00.000Z",
  until: "2024-05-20T00:00:00.000Z",
  users: [
    { id: "rn-quick", traits: { name: "张三" }, timezone: "Asia/Shanghai" },
    { id: "rn-sms", traits: {}, timezone: "Asia/Shanghai" },
    { id: "rn-late", traits: { name: "王五" }, timezone: "Asia/Shanghai" },
  ],
  timeline: [
    signedUp("rn-quick", "2024-05-06T01:00:00.000Z"),
    signedUp("rn-sms", "2024-05-06T02:00:00.000Z"),
    signedUp("rn-late", "2024-05-06T03:00:00.000Z"),
    ordered("rn-quick", "2024-05-06T05:00:00.000Z"),
    ordered("rn-late", "2024-05-08T00:00:00.000Z"),
    signedUp("rn-sms", "2024-05-09T00:00:00.000Z"), // entry rule "once"
  ],
  expect: {
    paths: {
      "rn-quick": [["trigger:next", "wait_order"]],
      "rn-sms": [["trigger:next", "wait_order:timed_out", "sms_hongbao:sent", "exit"]],
      "rn-late": [["trigger:next", "wait_order:timed_out", "sms_hongbao:sent", "exit"]],
    },
    outcomes: { "rn-quick": ["goal"], "rn-sms": ["exit_node"], "rn-late": ["goal"] },
    messages: [
      { user: "rn-sms", node: "sms_hongbao", channel: "sms", at: "2024-05-07T02:00:00.000Z", status: "sent" },
      { user: "rn-late", node: "sms_hongbao", channel: "sms", at: "2024-05-07T03:00:00.000Z", status: "sent" },
    ],
    nodeCounts: {
      trigger: { entered: 3, left: { next: 3 } },
      wait_order: { entered: 3, left: { timed_out: 2 } },
      sms_hongbao: { entered: 2, left: { sent: 2 } },
      exit: { entered: 2, left: {} },
    },
    recordCounts: { conversion: 2 },
    rejections: [{ user: "rn-sms", at: "2024-05-09T00:00:00.000Z", reason: "already_entered" }],
  },
};
