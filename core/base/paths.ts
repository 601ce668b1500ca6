// Where things are on disk. The repo root is found by walking up to Warden's package.json so the
// answer is the same whether this file runs from source (tsx, vitest) or from a bundle in a cache.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, "utf8")).name === "warden") return dir;
      } catch {
        // not ours; keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find Warden's package.json above " + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const ROOT = findRoot();
export const SYSTEM_MODULES_DIR = join(ROOT, "modules");
export const EXAMPLES_DIR = join(SYSTEM_MODULES_DIR, "examples");
export const MANIFESTS_DIR = join(ROOT, "manifests");
export const CACHE_DIR = join(ROOT, "node_modules", ".cache", "warden");

export const HOST_VERSION: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;

/** `--home`, then WARDEN_HOME, then ./.warden. */
export function resolveHome(explicit?: string): string {
  return resolve(explicit ?? process.env.WARDEN_HOME ?? ".warden");
}
