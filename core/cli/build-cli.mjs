// How the CLI becomes JavaScript: one esbuild build of core/cli/main.ts (and, for the package, the
// test harness beside it), split into chunks so that what only some commands need (the host, the
// bundler, TypeScript) loads when they run. Used by bin.mjs for a checkout (into a cache keyed by
// the sources) and by scripts/build-package.mjs for the package (into dist/cli).
import { join } from "node:path";

/** @param {string} root the package root @param {string} outdir @param {Record<string, string>} [extra] more entry points, name -> file */
export async function buildCli(root, outdir, extra = {}) {
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints: { main: join(root, "core/cli/main.ts"), ...extra },
    bundle: true,
    splitting: true,
    outdir,
    outExtension: { ".js": ".js" },
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
}
