import { describe, expect, it } from "vitest";
import { branchCounts, cohortBounds, funnel, lossReasons, statsFromRows, type RollupRow } from "./analytics.server";

/** Summed rollup rows → canvas numbers and report tables, on hand-made rows with known answers. */

const row = (r: Partial<RollupRow> & Pick<RollupRow, "kind" | "n">): RollupRow => ({
  versionId: null,
  cohort: null,
  nodeId: "",
  output: "",
  reason: "",
  status: "",
  channel: "",
  extra: "",
  ...r,
});

const rows: RollupRow[] = [
  row({ kind: "journey_entered", n: 100 }),
  row({ kind: "holdout", nodeId: "trigger", n: 10 }),
  row({ kind: "entered", nodeId: "trigger", n: 100 }),
  row({ kind: "left", nodeId: "trigger", output: "next", n: 90 }),
  row({ kind: "exit", nodeId: "trigger", reason: "holdout", n: 8 }),
  row({ kind: "exit", nodeId: "trigger", reason: "goal", n: 2 }),
  row({ kind: "conversion_holdout", nodeId: "trigger", n: 2 }),
  row({ kind: "entered", nodeId: "ab", n: 90 }),
  row({ kind: "left", nodeId: "ab", output: "a", n: 45 }),
  row({ kind: "left", nodeId: "ab", output: "b", n: 45 }),
  row({ kind: "entered", nodeId: "push", n: 90 }),
  row({ kind: "message", nodeId: "push", status: "sent", channel: "push", n: 80 }),
  row({ kind: "message", nodeId: "push", status: "failed", channel: "push", reason: "no_consent", n: 6 }),
  row({ kind: "message", nodeId: "push", status: "failed", channel: "push", reason: "provider_rejected", n: 4 }),
  row({ kind: "message", nodeId: "push", status: "deferred", channel: "push", reason: "quiet_hours", n: 12 }),
  row({ kind: "left", nodeId: "push", output: "sent", n: 80 }),
  row({ kind: "left", nodeId: "push", output: "failed", reason: "no_consent", n: 6 }),
  row({ kind: "left", nodeId: "push", output: "failed", reason: "provider_rejected", n: 4 }),
  // The channels: 70 delivered per their delivery events, 72 per the message rows; 5 late failures.
  row({ kind: "delivery", nodeId: "push", status: "delivered", channel: "push", n: 70 }),
  row({ kind: "delivery", nodeId: "push", status: "opened", channel: "push", n: 30 }),
  row({ kind: "message_row", nodeId: "push", status: "delivered", channel: "push", n: 72 }),
  row({ kind: "message_row", nodeId: "push", status: "clicked", channel: "push", n: 9 }),
  row({ kind: "delivery", nodeId: "push", status: "delivery_failed", channel: "push", reason: "invalid_token", n: 5 }),
  row({ kind: "entered", nodeId: "wait", n: 80 }),
  row({ kind: "left", nodeId: "wait", output: "timed_out", n: 50 }),
  row({ kind: "exit", nodeId: "wait", reason: "goal", n: 20 }),
  row({ kind: "exit", nodeId: "wait", reason: "cancelled", n: 1 }),
  row({ kind: "conversion", nodeId: "wait", extra: "push", n: 20 }),
  row({ kind: "conversion_path", nodeId: "ab", output: "a", n: 14 }),
  row({ kind: "conversion_path", nodeId: "ab", output: "b", n: 6 }),
  row({ kind: "tz_fallback", nodeId: "wait", reason: "invalid", n: 3 }),
];

describe("statsFromRows", () => {
  const stats = statsFromRows("j", rows);

  it("accounts for every visit: entered = outputs + waiting + exits, per node", () => {
    expect(stats.nodes.trigger).toMatchObject({ entered: 100, waiting: 0, left: { next: 90 }, exits: { holdout: 8, goal: 2 } });
    expect(stats.nodes.wait).toMatchObject({ entered: 80, waiting: 9, left: { timed_out: 50 }, exits: { goal: 20, cancelled: 1 }, tzFallbacks: { invalid: 3 } });
    expect(stats.nodes.push.waiting).toBe(0);
  });

  it("takes the largest delivery count, adds late failures to failures and their reasons", () => {
    expect(stats.nodes.push.messages).toEqual({ sent: 80, delivered: 72, opened: 30, clicked: 9, failed: 15, deferred: 12 });
    expect(stats.nodes.push.failureReasons).toEqual({ no_consent: 6, provider_rejected: 4, invalid_token: 5 });
    expect(stats.nodes.push.deferReasons).toEqual({ quiet_hours: 12 });
    expect(stats.nodes.push.conversions).toBe(20);
  });

  it("totals: conversion rate outside the holdout, the holdout's own beside it", () => {
    expect(stats.totals).toMatchObject({ entered: 100, completed: 31, inside: 69, converted: 20, conversionRate: 20 / 90 });
    expect(stats.totals.holdout).toEqual({ entered: 10, converted: 2, conversionRate: 0.2 });
    expect(stats.totals.exitReasons).toEqual({ holdout: 8, goal: 22, cancelled: 1 });
  });

  it("report tables: funnel, split counts, loss reasons by stage", () => {
    expect(funnel(stats, [{ nodeId: "push", channel: "push" }])).toEqual({
      entered: 90,
      steps: [{ nodeId: "push", channel: "push", entered: 90, sent: 80, delivered: 72, opened: 30, clicked: 9, failed: 15, deferred: 12, converted: 20 }],
      converted: 20,
    });
    expect(branchCounts(stats, "ab")).toEqual({ nodeId: "ab", branches: { a: { users: 45, converted: 14 }, b: { users: 45, converted: 6 } } });
    expect(lossReasons(rows)).toEqual([
      { nodeId: "push", channel: "push", stage: "sendable", reason: "quiet_hours", n: 12 },
      { nodeId: "push", channel: "push", stage: "sendable", reason: "no_consent", n: 6 },
      { nodeId: "push", channel: "push", stage: "sent", reason: "provider_rejected", n: 4 },
      { nodeId: "push", channel: "push", stage: "delivered", reason: "invalid_token", n: 5 },
    ]);
  });

  it("periods are whole hours, rounded outward", () => {
    expect(cohortBounds({ from: Date.parse("2024-05-06T08:59:59Z"), to: Date.parse("2024-05-06T10:00:01Z") })).toEqual({
      from: Date.parse("2024-05-06T08:00:00Z"),
      to: Date.parse("2024-05-06T11:00:00Z"),
    });
    expect(cohortBounds({})).toEqual({ from: null, to: null });
  });
});
