import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

/**
 * Suites against a real Temporal server (test/live): the last phase of `npm test`, which starts
 * the server (scripts/temporal-server.sh) unless TEMPORAL_ADDRESS points at one. Each suite skips
 * itself, saying why, when no server is configured.
 *
 * Two groups, one after the other (decision 1202). First every suite but the crash test, three
 * files at a time (at least): they wait on journey clocks and Temporal timers far more than they
 * compute, and each has its own task queues and workspaces. Then the crash test alone: it keeps
 * both cores busy for minutes, and the scenario suites, which compare journey time with real
 * time, should not run beside it.
 */
const CRASH_TEST = "test/live/temporal-crash.live.test.ts";

export default defineConfig({
  test: {
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: "forks",
    maxWorkers: Math.max(3, availableParallelism() - 1),
    // Every scenario of a file at once: each has its own task queue and workspace.
    maxConcurrency: 32,
    globalSetup: ["test/e2e/global-setup.ts"],
    setupFiles: ["test/support/setup.ts"],
    projects: [
      { extends: true, test: { name: "live", include: ["test/live/**/*.live.test.ts"], exclude: [CRASH_TEST], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: "live-crash", include: [CRASH_TEST], sequence: { groupOrder: 1 } } },
    ],
  },
});
