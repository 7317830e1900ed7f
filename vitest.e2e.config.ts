import { defineConfig } from "vitest/config";

/** Browser tests: real Chromium driven by playwright-core against a real server. One at a time. */
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    pool: "forks",
    fileParallelism: false,
    globalSetup: ["test/e2e/global-setup.ts"],
    setupFiles: ["test/support/setup.ts"],
  },
});
