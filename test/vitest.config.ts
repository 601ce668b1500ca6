// vitest's settings (kept under test/: the repository's top level is fixed).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The package test (it compiles the native addons, minutes of CPU) starts first, so the rest of
 * the suite runs beside it instead of after it; the rest keep vitest's own order.
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const first = (f: TestSpecification) => (f.moduleId.endsWith("/test/package.test.ts") ? 0 : 1);
    return [...sorted].sort((a, b) => first(a) - first(b));
  }
}

export default defineConfig({
  root: fileURLToPath(new URL("..", import.meta.url)),
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup-env.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Sandbox and CLI suites start child processes; two workers match the 2-core machines.
    pool: "forks",
    sequence: { sequencer: LongestFirst },
    maxWorkers: 2,
  },
});
