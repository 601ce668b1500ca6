// Where things are on disk. The package root is found by walking up to Warden's package.json, so
// the answer is the same whether this file runs from source (tsx, vitest), from a bundle in the
// cache, or from the build an installed package ships (dist/).
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The host package's name; the SDK is `@warden/sdk`. */
export const HOST_PACKAGE = "@warden/host";

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, "utf8")).name === HOST_PACKAGE) return dir;
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
/**
 * A checkout runs its TypeScript sources; an installed package carries only the build (dist/),
 * which `npm pack` makes (scripts/build-package.mjs).
 */
export const FROM_SOURCE = existsSync(join(ROOT, "core", "host.ts"));
/** What the build puts beside the sources: compiled system modules, the sandbox's script, the examples. */
export const DIST_DIR = join(ROOT, "dist");
export const SYSTEM_MODULES_DIR = FROM_SOURCE ? join(ROOT, "modules") : join(DIST_DIR, "modules");
export const EXAMPLES_DIR = join(SYSTEM_MODULES_DIR, "examples");
export const MANIFESTS_DIR = join(ROOT, "manifests");
/** The SDK's entry: its sources in a checkout, its compiled JavaScript in an installed package. */
export const SDK_ENTRY = FROM_SOURCE ? join(ROOT, "sdk", "index.ts") : join(ROOT, "sdk", "dist", "index.js");
export const SDK_DIR = dirname(SDK_ENTRY);
/**
 * Bundles of user modules, by content hash. In a checkout, under its node_modules; an installed
 * package may sit in a folder its users cannot write (a global prefix), so there the cache is the
 * user's own ($WARDEN_CACHE_DIR, else $XDG_CACHE_HOME/warden, else ~/.cache/warden).
 */
export const CACHE_DIR = process.env.WARDEN_CACHE_DIR ?? (FROM_SOURCE ? join(ROOT, "node_modules", ".cache", "warden") : join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "warden"));

export const HOST_VERSION: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;

/** `--home`, then WARDEN_HOME, then ./.warden. */
export function resolveHome(explicit?: string): string {
  return resolve(explicit ?? process.env.WARDEN_HOME ?? ".warden");
}
