// `npm run bench [-- SUITE...]`: runs the suites, prints a table and writes bench/results/latest.json
// (and the same table as Markdown, latest.md), keeping the rows of suites not run this time.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
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
// Suites not run this time keep their rows from the last run that had them, in suite order, so
// latest.json always holds every row (each suite's rows come from one run, beside their own baselines).
const ran = new Set(rows.map((r) => r.suite));
const kept = previousRows(join(dir, "latest.json")).filter((r) => !ran.has(r.suite));
const order = Object.keys(SUITES);
const all = [...kept, ...rows].sort((a, b) => order.indexOf(a.suite) - order.indexOf(b.suite));
writeFileSync(join(dir, "latest.json"), JSON.stringify(all, null, 2) + "\n");
writeFileSync(join(dir, "latest.md"), markdownTable(all));
console.log(`\nwrote ${join(dir, "latest.json")} and latest.md`);

function previousRows(file: string): BenchRow[] {
  try {
    const rows: unknown = JSON.parse(readFileSync(file, "utf8"));
    return Array.isArray(rows) ? (rows as BenchRow[]) : [];
  } catch {
    return [];
  }
}
