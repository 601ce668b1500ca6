// The sandbox process's entry, bundled for plain node: the host may itself run under vitest or tsx,
// but a sandbox process starts with nothing but `node --no-node-snapshot <bundle>`. Cached by the
// content of this folder, like any bundle.
import { join } from "node:path";
import { bundleModule } from "./bundle.js";
import { ROOT } from "../base/paths.js";

let script: Promise<string> | undefined;

export function sandboxProcessScript(): Promise<string> {
  // From ROOT, not import.meta.url: this code may itself run from a bundle in the cache.
  const dir = join(ROOT, "core", "sandbox");
  script ??= bundleModule(join(dir, "process-main.ts"), dir, "node").then(
    (b) => b.file,
    (e) => {
      script = undefined;
      throw e;
    },
  );
  return script;
}
