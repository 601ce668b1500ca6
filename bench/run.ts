// `npm run bench [-- SUITE...]`: runs the suites, prints a table and writes bench/results/latest.json
// (and the same table as Markdown, latest.md).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { markdownTable, printTable, type BenchRow } from "./report.js";

const SUITES: Record<string, () => Promise<{ run(): Promise<BenchRow[]> }>> = {
  cli: () => import("./cli.js"),
  security: () => import("./security.js"),
  sandbox: () => import("./sandbox.js"),
  api: () => import("./api.js"),
  lifecycle: () => import("./lifecycle.js"),
  fleet: () => import("./fleet.js"),
  supply: () => import("./supply.js"),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const unknown = wanted.filter((s) => !(s in SUITES));
if (unknown.length) {
  console.error(`unknown suite(s): ${unknown.join(", ")}; known: ${Object.keys(SUITES).join(", ")}`);
  process.exit(2);
}
const rows: BenchRow[] = [];
for (const name of wanted.length ? wanted : Object.keys(SUITES)) {
  process.stderr.write(`running ${name}...\n`);
  rows.push(...(await (await SUITES[name]!()).run()));
}
printTable(rows);
const dir = join(import.meta.dirname, "results");
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "latest.json"), JSON.stringify(rows, null, 2) + "\n");
writeFileSync(join(dir, "latest.md"), markdownTable(rows));
console.log(`\nwrote ${join(dir, "latest.json")} and latest.md`);
