import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts", "**/*.test.tsx"],
    exclude: [".*-scratch/**", "node_modules/**", "build/**", "test/e2e/**", "**/*.e2e.test.ts", "test/live/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    setupFiles: ["test/support/setup.ts"],
    // Tests that serve pages need the Remix build; made once when missing.
    globalSetup: ["test/e2e/global-setup.ts"],
  },
});
