import { describe, expect, it } from "vitest";
import { listNodeDefinitions } from "../../nodes/registry";
import { simulate } from "../../workflows/simulate";
import { recordProblems } from "./accounting";
import { observe } from "./format";
import { scenarios } from "./index";

describe("scenarios on the simulator", () => {
  for (const scenario of scenarios) {
    it(scenario.name, () => {
      const trace = simulate({
        document: scenario.document,
        versions: scenario.versions,
        users: scenario.users,
        timeline: scenario.timeline,
        start: scenario.start,
        until: scenario.until,
        workspaceTimezone: scenario.workspaceTimezone,
        journeyId: scenario.journeyId,
        actionOutcomes: scenario.actionOutcomes,
        quietHours: scenario.quietHours,
      });
      const observed = observe(trace.records);
      expect(recordProblems(trace.records), "every user accounted for").toEqual([]);
      expect(observed.paths).toEqual(scenario.expect.paths);
      expect(observed.outcomes).toEqual(scenario.expect.outcomes);
      expect(observed.messages).toEqual(scenario.expect.messages);
      expect(observed.nodeCounts).toEqual(scenario.expect.nodeCounts);
      for (const [kind, count] of Object.entries(scenario.expect.recordCounts ?? {})) {
        expect(observed.recordCounts[kind] ?? 0, `records of kind ${kind}`).toBe(count);
      }
      if (scenario.expect.rejections) {
        const rejections = trace.users
          .flatMap((u) => u.rejectedEntries.map((r) => ({ user: u.userId, at: r.at, reason: r.reason })))
          .sort((a, b) => (a.at !== b.at ? (a.at < b.at ? -1 : 1) : a.user < b.user ? -1 : 1));
        expect(rejections).toEqual(scenario.expect.rejections);
      }
    });
  }

  it("cover the four product journeys, every node type and the required behaviours", () => {
    const covered = new Set(scenarios.flatMap((s) => s.covers));
    const required = [
      "journey:win-back",
      "journey:registered-no-order",
      "journey:first-order",
      "journey:fare-notice",
      ...listNodeDefinitions().map((d) => `node:${d.type}`),
      "entry:once",
      "entry:cooldown",
      "entry:concurrent",
      "entry:caps",
      "goal",
      "exit_criteria",
      "holdout",
      "dst:America/New_York",
      "dst:Europe/Berlin",
      "weekday:non-utc",
      "tz:fallback",
      "version:edit-while-inside",
    ];
    expect(required.filter((tag) => !covered.has(tag))).toEqual([]);
  });
});
