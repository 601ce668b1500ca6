// `npm run build` (and `prepack`, before `npm pack`): the JavaScript an installed host runs, in
// dist/. A checkout runs its TypeScript sources and never reads dist/. Not `prepare`: npm 11 counts
// that as an install script of a package installed from a tarball, and warns.
//
//   dist/cli/            the CLI and the test harness (`@warden/host/testing`), split into chunks
//   dist/sandbox/        the sandbox process's script
//   dist/modules/<id>/   each system module as one ESM file beside its module.json (entry rewritten)
//   dist/modules/examples/  the example modules, as sources (user modules are bundled at load)
//   dist/author/         the vitest configuration `warden module test` runs a module's tests with
//   sdk/dist/            the SDK, compiled (scripts/build-sdk.mjs), which the host uses too
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { buildCli } from "../core/cli/build-cli.mjs";
import { buildSdk } from "./build-sdk.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(ROOT, "dist");

rmSync(DIST, { recursive: true, force: true });
await buildSdk();
await buildCli(ROOT, join(DIST, "cli"), { testing: join(ROOT, "core/authoring/testing.ts") });

const node = { bundle: true, format: "esm", platform: "node", target: "node20", packages: "external", logLevel: "warning" };
await esbuild.build({ ...node, entryPoints: [join(ROOT, "core/sandbox/process-main.ts")], outfile: join(DIST, "sandbox", "process-main.mjs") });

for (const d of readdirSync(join(ROOT, "modules"), { withFileTypes: true })) {
  if (!d.isDirectory() || d.name === "examples") continue;
  const src = join(ROOT, "modules", d.name);
  const out = join(DIST, "modules", d.name);
  const manifest = JSON.parse(readFileSync(join(src, "module.json"), "utf8"));
  await esbuild.build({ ...node, entryPoints: [join(src, manifest.entry)], outfile: join(out, "index.mjs") });
  writeFileSync(join(out, "module.json"), JSON.stringify({ ...manifest, entry: "index.mjs" }, null, 2) + "\n");
  // Files a module reads at run time from its folder (the console's page and scripts).
  for (const f of readdirSync(src, { withFileTypes: true })) if (f.isDirectory()) cpSync(join(src, f.name), join(out, f.name), { recursive: true });
}
cpSync(join(ROOT, "modules", "examples"), join(DIST, "modules", "examples"), { recursive: true });

mkdirSync(join(DIST, "author"), { recursive: true });
cpSync(join(ROOT, "core/authoring/vitest.module.config.mjs"), join(DIST, "author", "vitest.module.config.mjs"));
if (!existsSync(join(DIST, "cli", "main.js"))) throw new Error("build: dist/cli/main.js was not written");
process.stderr.write(`built ${DIST}\n`);
