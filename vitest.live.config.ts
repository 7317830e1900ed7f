import { defineConfig } from "vitest/config";

/**
 * Suites against real external servers (test/live), kept out of `npm test`. Each skips itself,
 * saying why, when its server is not configured: `npm run test:live` with TEMPORAL_ADDRESS set
 * runs the scenario suite on Temporal.
 */
export default defineConfig({
  test: {
    include: ["test/live/**/*.live.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: "forks",
    setupFiles: ["test/support/setup.ts"],
  },
});
