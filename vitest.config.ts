import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts", "**/*.test.tsx"],
    exclude: [".*-scratch/**", "node_modules/**", "build/**", "test/e2e/**", "**/*.e2e.test.ts", "test/live/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Vitest's default is one file per core but one: a single file at a time on 2 cores. Most
    // files spend much of their time waiting (PostgreSQL, child processes, HTTP), so at least three
    // run at once (decision 1202). Every file has its own database and port 0: none collide.
    maxWorkers: Math.max(3, availableParallelism() - 1),
    setupFiles: ["test/support/setup.ts"],
    // Tests that serve pages need the Remix build; made once when missing.
    globalSetup: ["test/e2e/global-setup.ts"],
  },
});
