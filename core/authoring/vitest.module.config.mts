// The vitest settings `warden module test` runs a module folder's own tests with, wherever that
// folder is: Warden's SDK resolves to this checkout (installed as the module's devDependency or
// not), so an author needs nothing but Warden itself.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: { alias: { "warden/sdk/testing": here("./testing.ts"), "warden/sdk": here("../../sdk/index.ts") } },
  test: { include: ["**/*.test.ts"], exclude: ["**/node_modules/**"], testTimeout: 30_000, hookTimeout: 60_000 },
});
