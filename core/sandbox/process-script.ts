// The sandbox process's entry, bundled for plain node: the host may itself run under vitest or tsx,
// but a sandbox process starts with nothing but `node --no-node-snapshot <bundle>`. Cached by the
// content of this folder, like any bundle.
import { join } from "node:path";
import { bundleModule } from "./bundle.js";
import { DIST_DIR, FROM_SOURCE, ROOT } from "../base/paths.js";

let script: Promise<string> | undefined;

export function sandboxProcessScript(): Promise<string> {
  // An installed package ships it built (scripts/build-package.mjs): nothing to bundle, nothing to write.
  if (!FROM_SOURCE) return Promise.resolve(join(DIST_DIR, "sandbox", "process-main.mjs"));
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
