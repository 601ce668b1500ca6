// vitest's settings (kept under test/: the repository's top level is fixed).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL("..", import.meta.url)),
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup-env.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Sandbox and CLI suites start child processes; two workers match the 2-core machines.
    pool: "forks",
    maxWorkers: 2,
  },
});
