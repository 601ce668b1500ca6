// The vitest settings `warden module test` runs a module folder's own tests with, wherever that
// folder is. The SDK and its test harness resolve to the host that runs the tests (this file's own
// package), so the harness and the host always match. Plain JavaScript that imports nothing: the
// vitest loading it is the module folder's own, and this file may sit in an installed package.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const at = (p) => fileURLToPath(new URL(p, import.meta.url));
// In a checkout this file is core/authoring/; in the package's build it is dist/author/.
const fromSource = existsSync(at("./testing.ts"));
const alias = fromSource
  ? { "@warden/sdk/testing": at("./testing.ts"), "@warden/sdk": at("../../sdk/index.ts") }
  : { "@warden/sdk/testing": at("../cli/testing.js"), "@warden/sdk": at("../../sdk/dist/index.js") };

export default {
  resolve: { alias },
  test: { include: ["**/*.test.ts"], exclude: ["**/node_modules/**"], testTimeout: 30_000, hookTimeout: 60_000 },
};
