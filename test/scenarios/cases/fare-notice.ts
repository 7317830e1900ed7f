import { fareNoticeJourney } from "../../../workflows/demo-journeys";
import type { Scenario } from "../format";

const ride = (userId: string, at: string, fare: number) => ({
  at,
  userId,
  event: { name: "ride_completed", properties: { fare, from_station: "人民广场", to_station: "陆家嘴" } },
});

/** PRODUCT.md journey 4: one transactional push per ride, quiet hours do not apply. */
export const fareNotice: Scenario = {
  name: "扣费通知 fare deducted: one transactional push per ride, even in quiet hours",
  covers: ["journey:fare-notice", "entry:concurrent", "node:core.push", "message:transactional", "quiet-hours"],
  journeyId: "scenario-fare",
  document: fareNoticeJourney(),
  workspaceTimezone: "Asia/Shanghai",
  start: "2024-05-06T00:00:00.000Z",
  until: "2024-05-08T00:00:00.000Z",
  quietHours: { start: "22:00", end: "07:00" },
  users: [
    { id: "rider-1", traits: {}, timezone: "Asia/Shanghai" },
    { id: "rider-2", traits: {}, timezone: "Asia/Shanghai" },
  ],
  timeline: [
    ride("rider-2", "2024-05-06T10:00:00.000Z", 3),
    ride("rider-1", "2024-05-06T15:30:00.000Z", 4), // 23:30 local
    ride("rider-1", "2024-05-07T01:00:00.000Z", 5),
  ],
  actionOutcomes: [{ nodeId: "push_fare", userId: "rider-2", result: "failed", reason: "invalid_token" }],
  expect: {
    paths: {
      "rider-2": [["trigger:next", "push_fare:failed", "exit"]],
      "rider-1": [
        ["trigger:next", "push_fare:sent", "exit"],
        ["trigger:next", "push_fare:sent", "exit"],
      ],
    },
    outcomes: { "rider-2": ["exit_node"], "rider-1": ["exit_node", "exit_node"] },
    messages: [
      { user: "rider-2", node: "push_fare", channel: "push", at: "2024-05-06T10:00:00.000Z", status: "failed" },
      { user: "rider-1", node: "push_fare", channel: "push", at: "2024-05-06T15:30:00.000Z", status: "sent" },
      { user: "rider-1", node: "push_fare", channel: "push", at: "2024-05-07T01:00:00.000Z", status: "sent" },
    ],
    nodeCounts: {
      trigger: { entered: 3, left: { next: 3 } },
      push_fare: { entered: 3, left: { sent: 2, failed: 1 } },
      exit: { entered: 3, left: {} },
    },
  },
};
