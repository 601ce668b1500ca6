// CLI start-up: wall time of `warden --version` and of a `warden hello greet` call, beside the
// cost of starting node itself and of starting node with tsx, measured in the same run.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { percentile, row, type BenchRow } from "./report.js";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "core/cli/bin.mjs");

function wall(args: string[], runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8" });
    times.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`bench command failed: ${args.join(" ")}\n${r.stderr}`);
  }
  return percentile(times.sort((a, b) => a - b), 50);
}

export async function run(): Promise<BenchRow[]> {
  const home = mkdtempSync(join(tmpdir(), "warden-bench-cli-"));
  const examples = join(ROOT, "modules/examples");
  const runs = 15;
  const node = wall(["-e", "0"], runs);
  const tsx = wall(["--import", "tsx", "-e", "0"], runs);
  // One warm-up call fills the bundle and tsx caches, as on any machine after the first call.
  wall([BIN, "--home", home, "--modules", examples, "hello", "greet", "Ada"], 1);
  const version = wall([BIN, "--version"], runs);
  const greet = wall([BIN, "--home", home, "--modules", examples, "hello", "greet", "Ada"], runs);
  return [
    row("cli", "warden --version (p50 wall)", version, "ms", "node -e 0", node, "<= 250 ms"),
    row("cli", "warden hello greet (p50 wall)", greet, "ms", "node --import tsx -e 0", tsx, "<= 500 ms"),
  ];
}
