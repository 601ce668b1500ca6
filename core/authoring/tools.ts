// The author's tools as the module folder has them: its own vitest and TypeScript (its
// devDependencies, the versions its editor uses), else this host's when it has them (a checkout).
// An installed host carries neither: they belong to the author kit, not to a running host.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { ROOT } from "../base/paths.js";

function resolveFrom(dir: string, request: string): string | undefined {
  try {
    return createRequire(join(dir, "package.json")).resolve(request);
  } catch {
    return undefined;
  }
}

/** Whether the module folder itself has the package installed (its package.json resolves there). */
export function installedIn(moduleDir: string, name: string): boolean {
  return resolveFrom(moduleDir, `${name}/package.json`) !== undefined;
}

/** A package's file, resolved from the module folder first, then from the host. */
export function authorTool(moduleDir: string, request: string): string | undefined {
  return resolveFrom(moduleDir, request) ?? resolveFrom(ROOT, request);
}

/** vitest's CLI script. */
export function vitestFor(moduleDir: string): string | undefined {
  const pkg = authorTool(moduleDir, "vitest/package.json");
  return pkg ? join(dirname(pkg), "vitest.mjs") : undefined;
}
