import { buildJourney } from "../../workflows/builder";

/**
 * One journey that ends users in every way a node card must account for, run on both engines
 * (test/engine/accounting.test.ts, test/live/analytics-accounting.live.test.ts): the demo's
 * "registered, no order" shape, where the goal event is also the awaited event.
 *
 * - u-goal-1..3 order while at the wait: the goal ends them there (goal-at-a-wait; "Happened" stays 0);
 * - u-exit sends `account_deleted` (exit criteria) at the wait; u-cancel is cancelled there;
 * - the rest time out into the SMS: u-sms-fail is refused by the provider (left by "failed"),
 *   u-sms-late is sent and later reported not delivered (a late delivery failure), u-ok and u-ok2
 *   are sent and reach Exit, where they are watched for the goal until its window ends;
 *   u-ok2 orders there (goal at Exit).
 */
export const MINUTE = 60_000;
export const WAIT_MS = 60 * MINUTE;
export const GOAL_WINDOW_MS = 3 * 60 * MINUTE;

export function accountingJourney(name = "accounting") {
  return buildJourney({
    name,
    settings: {
      entry: { rule: "once" },
      holdoutPercent: 0,
      goal: { event: "order_completed", filters: [], windowMs: GOAL_WINDOW_MS },
      exitEvents: [{ event: "account_deleted", filters: [] }],
    },
    nodes: [
      { id: "trigger", type: "core.trigger", config: { source: "api" } },
      { id: "wait_order", type: "core.wait-for-event", config: { event: "order_completed", filters: [], timeout: { amount: 60, unit: "minutes" } } },
      { id: "sms", type: "core.sms", config: { body: "【Waypost】新人红包 ¥15 回TD退订", signName: "Waypost", category: "transactional" } },
      { id: "exit", type: "core.exit", config: {} },
    ],
    edges: [
      ["trigger", "next", "wait_order"],
      ["wait_order", "happened", "exit"],
      ["wait_order", "timed_out", "sms"],
      ["sms", "sent", "exit"],
      ["sms", "failed", "exit"],
    ],
  });
}

export const GOALS = ["u-goal-1", "u-goal-2", "u-goal-3"];
export const USERS = [...GOALS, "u-exit", "u-cancel", "u-sms-fail", "u-sms-late", "u-ok", "u-ok2"];

/** Every node's numbers once u-ok2 has converted at Exit, and after the goal window has closed. */
export function expectedNodes(stage: "watching" | "closed") {
  return {
    trigger: { entered: 9, waiting: 0, left: { next: 9 }, exits: {} },
    wait_order: { entered: 9, waiting: 0, left: { timed_out: 4 }, exits: { goal: 3, exit_criteria: 1, cancelled: 1 } },
    sms: { entered: 4, waiting: 0, left: { sent: 3, failed: 1 }, exits: {} },
    exit: stage === "watching" ? { entered: 4, waiting: 3, left: {}, exits: { goal: 1 } } : { entered: 4, waiting: 0, left: {}, exits: { goal: 1, exit_node: 3 } },
  };
}

/** The SMS card's message numbers: the provider's refusal and the late report are both failures, by reason. */
export const expectedSms = {
  messages: { sent: 3, failed: 2 },
  failureReasons: { provider_rejected: 1, not_delivered: 1 },
};
