#!/usr/bin/env node
// The `warden` binary. `--version` is answered before any TypeScript loads, because start-up time
// is part of the product; everything else loads the CLI through tsx.
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  process.stdout.write(`${pkg.version}\n`);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  const { main } = await import("./main.ts");
  process.exitCode = await main(args);
}
