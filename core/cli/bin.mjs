#!/usr/bin/env node
// The `warden` binary. Start-up time is part of the product, so this file is plain JavaScript:
// `--version` is answered before anything loads. An installed package runs its build (dist/cli,
// made by `npm pack`); a checkout runs one esbuild bundle of its sources, cached by the sources'
// stamps (rebuilt in ~0.2 s when a source changes), never a TypeScript loader on every call.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const args = process.argv.slice(2);

if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  process.stdout.write(`${JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version}\n`);
} else {
  const fromSource = existsSync(join(ROOT, "core", "cli", "main.ts"));
  const entry = fromSource ? await cliBundle() : join(ROOT, "dist", "cli", "main.js");
  const { main } = await import(pathToFileURL(entry).href);
  process.exitCode = await main(args);
}

async function cliBundle() {
  const hash = createHash("sha256");
  // The sources' stamps; never a build's output (sdk/dist), which `npm pack` may be rewriting.
  const walk = (dir) => {
    for (const d of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const file = join(dir, d.name);
      if (d.isDirectory()) {
        if (d.name !== "dist" && d.name !== "node_modules") walk(file);
      } else if (d.isFile()) {
        const st = statSync(file);
        hash.update(`${file}\0${st.size}\0${st.mtimeMs}\n`);
      }
    }
  };
  for (const dir of ["core", "sdk", "manifests"]) walk(join(ROOT, dir));
  hash.update(readFileSync(join(ROOT, "package.json")));
  const dir = join(ROOT, "node_modules", ".cache", "warden", "cli", `main-${hash.digest("hex").slice(0, 24)}`);
  const out = join(dir, "main.js");
  if (existsSync(out)) return out;
  const { buildCli } = await import("./build-cli.mjs");
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = `${dir}.${process.pid}.tmp`;
  await buildCli(ROOT, tmp);
  try {
    renameSync(tmp, dir);
  } catch (e) {
    // Another process built it first: theirs is as good.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(out)) throw e;
  }
  return out;
}
