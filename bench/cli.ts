// CLI start-up: wall time of `warden --version` and of a `warden hello greet` call, beside the
// cost of starting node itself and of starting node with tsx, measured in the same run.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installedHost } from "./installed.js";
import { percentile, row, type BenchRow } from "./report.js";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "core/cli/bin.mjs");

function wall(args: string[], runs: number, command = process.execPath, cwd = ROOT): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(command, args, { cwd, encoding: "utf8" });
    times.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`bench command failed: ${args.join(" ")}\n${r.stderr}`);
  }
  return percentile(
    times.sort((a, b) => a - b),
    50,
  );
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
  // The installed package's binary, and the same through npx in a project that installed it locally.
  const installed = await installedHost();
  const installedVersion = wall(["--version"], runs, installed.bin);
  const npxVersion = wall(["--no-install", "warden", "--version"], runs, "npx", installed.project);
  const greet = wall([BIN, "--home", home, "--modules", examples, "hello", "greet", "Ada"], runs);
  // Through a serving host: one process start plus one control-socket round trip.
  const served = mkdtempSync(join(tmpdir(), "warden-bench-serve-"));
  const server = spawn(process.execPath, [BIN, "--home", served, "--modules", examples, "serve"], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, WARDEN_API_PORT: "0" } });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    server.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("host serving")) resolve();
    });
    server.once("exit", (code) => reject(new Error(`serve exited with ${code}`)));
  });
  let viaSocket: number;
  try {
    wall([BIN, "--home", served, "hello", "greet", "Ada"], 1);
    viaSocket = wall([BIN, "--home", served, "hello", "greet", "Ada"], runs);
  } finally {
    server.kill("SIGTERM");
  }
  return [
    row("cli", "warden --version (p50 wall)", version, "ms", "node -e 0", node, "<= 250 ms"),
    row("cli", "warden --version, installed package's bin (p50 wall)", installedVersion, "ms", "node -e 0", node, "about node's own start"),
    row("cli", "npx warden --version, host installed in the project (p50 wall)", npxVersion, "ms", "node -e 0", node, "npx's own cost on top"),
    row("cli", "warden hello greet, in-process (p50 wall)", greet, "ms", "node --import tsx -e 0", tsx, "<= 500 ms"),
    row("cli", "warden hello greet via a serving host (p50 wall)", viaSocket, "ms", "warden --version", version, "one start + one socket round trip"),
  ];
}
