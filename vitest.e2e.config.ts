import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

/**
 * Browser tests: real Chromium driven by playwright-core against a real server. Two files at a
 * time (at least): each has its own server, database and browser, and much of a browser test is
 * waiting (decision 1202).
 */
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    pool: "forks",
    maxWorkers: Math.max(2, availableParallelism() - 1),
    globalSetup: ["test/e2e/global-setup.ts"],
    setupFiles: ["test/support/setup.ts"],
  },
});
