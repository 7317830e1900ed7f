import { defineConfig } from "vitest/config";

/**
 * Suites against a real Temporal server (test/live): the last phase of `npm test`, which starts
 * the server (scripts/temporal-server.sh) unless TEMPORAL_ADDRESS points at one. Each suite skips
 * itself, saying why, when no server is configured. One file at a time: they share the server and
 * measure journey time against real time.
 */
export default defineConfig({
  test: {
    include: ["test/live/**/*.live.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: "forks",
    fileParallelism: false,
    // Every scenario of a file at once: each has its own task queue and workspace.
    maxConcurrency: 32,
    globalSetup: ["test/e2e/global-setup.ts"],
    setupFiles: ["test/support/setup.ts"],
  },
});
