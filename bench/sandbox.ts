// Sandbox costs, each beside a baseline from the same run: a sandboxed command call end to end
// (host -> sandbox process -> isolate -> host), a capability call from inside the isolate, cold
// activation, and memory per idle module.
import { fork } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ivm from "isolated-vm";
import { Host } from "../core/host.js";
import { silentLogger } from "../core/log/index.js";
import { SandboxRuntime } from "../core/sandbox/sandbox-runtime.js";
import { percentile, row, type BenchRow } from "./report.js";

function writeBenchModule(root: string, id: string): void {
  const dir = join(root, id);
  mkdirSync(dir, { recursive: true });
  const input = { type: "object", additionalProperties: true };
  writeFileSync(join(dir, "module.json"), JSON.stringify({
    id, version: "1.0.0", host: "^0.1.0", description: "bench", entry: "index.js",
    capabilities: ["commands.register", "storage.read"], limits: { memoryMb: 16, timeoutMs: 5000 },
    commands: { noop: { description: "n", input }, get1: { description: "g", input }, get100: { description: "g", input } },
  }));
  writeFileSync(join(dir, "index.js"), `export function activate(ctx) {
  ctx.commands.register("noop", async () => 1);
  ctx.commands.register("get1", async () => ctx.storage.get("k"));
  ctx.commands.register("get100", async () => { for (let i = 0; i < 100; i++) await ctx.storage.get("k"); return 1; });
}\n`);
}

async function p50(n: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(200, n); i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    await fn();
    t.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  return percentile(t.sort((a, b) => a - b), 50);
}

async function ipcBaseline(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "warden-bench-ipc-"));
  const echo = join(dir, "echo.mjs");
  writeFileSync(echo, "process.on('message', (m) => process.send(m));\n");
  const child = fork(echo, [], { stdio: "ignore" });
  let resolve!: () => void;
  child.on("message", () => resolve());
  const once = () => new Promise<void>((r) => { resolve = r; child.send({ t: "x", rq: 1 }); });
  const v = await p50(3000, once);
  child.kill();
  return v;
}

function rssOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  // Baselines.
  const plain = async () => 1;
  const plainUs = await p50(20_000, plain);
  const iso = new ivm.Isolate({ memoryLimit: 16 });
  const ctx = iso.createContextSync();
  const fnRef = iso.compileScriptSync("(function () { return 1; })").runSync(ctx, { reference: true }) as ivm.Reference;
  const rawUs = await p50(20_000, async () => fnRef.applySync(undefined, []));
  const rawAsyncUs = await p50(5_000, () => fnRef.apply(undefined, []));
  iso.dispose();
  const ipcUs = await ipcBaseline();

  const root = mkdtempSync(join(tmpdir(), "warden-bench-sbx-"));
  writeBenchModule(root, "bench");
  const runtime = new SandboxRuntime({ poolSize: 2, breaker: { failures: 1000, windowMs: 60_000 } });
  const host = await Host.open({ home: mkdtempSync(join(tmpdir(), "warden-bench-home-")), modulePaths: [root], logger: silentLogger(), userRuntime: runtime, systemDir: mkdtempSync(join(tmpdir(), "nosys-")) });
  try {
    const call = (command: string) => host.run(command);
    const callUs = await p50(3000, () => call("bench.noop"));
    rows.push(row("sandbox", "sandboxed command call, end to end (p50)", callUs, "µs", "IPC round trip p50", ipcUs, "<= 60 µs"));
    rows.push(row("sandbox", "same, against a plain in-process call", callUs, "µs", "in-process await p50", plainUs, "(ratio)"));
    rows.push(row("sandbox", "same, against a raw isolated-vm call", callUs, "µs", "ivm applySync p50", rawUs, "(ratio)"));

    // Throughput with calls in flight.
    const inFlight = 64;
    const total = 30_000;
    let done = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (done < total) {
        done++;
        await call("bench.noop");
      }
    }));
    const perSec = total / ((performance.now() - t0) / 1000);
    rows.push(row("sandbox", `sandboxed calls/s, ${inFlight} in flight`, perSec, "calls/s", "1 / IPC round trip", 1e6 / ipcUs, ">= 30000 calls/s"));

    // A capability call from inside the isolate: 100 storage.get per call, minus the call itself.
    const hundredUs = await p50(500, () => call("bench.get100"));
    const capUs = (hundredUs - callUs) / 100;
    rows.push(row("sandbox", "capability call from the isolate (storage.get) round trip", capUs, "µs", "raw ivm async apply p50", rawAsyncUs, "<= 60 µs"));

    // Cold activation with the bundle cached.
    const act: number[] = [];
    for (let i = 0; i < 40; i++) {
      await host.loader.deactivate("bench");
      const s = performance.now();
      await host.loader.ensureActive("bench");
      act.push(performance.now() - s);
    }
    rows.push(row("sandbox", "cold activation, bundle cached (p50)", percentile(act.sort((a, b) => a - b), 50), "ms", "IPC round trip p50", ipcUs / 1000, "<= 5 ms"));
  } finally {
    await host.close();
  }

  // Memory per idle active module, 200 modules.
  const many = mkdtempSync(join(tmpdir(), "warden-bench-200-"));
  for (let i = 0; i < 200; i++) writeBenchModule(many, `m${i}`);
  const rt2 = new SandboxRuntime({ poolSize: 2, breaker: { failures: 1000, windowMs: 60_000 } });
  const host2 = await Host.open({ home: mkdtempSync(join(tmpdir(), "warden-bench-home-")), modulePaths: [many], logger: silentLogger(), userRuntime: rt2, systemDir: mkdtempSync(join(tmpdir(), "nosys-")) });
  try {
    await host2.run("m0.noop");
    const before = rt2.stats().reduce((n, p) => n + rssOf(p.pid), 0);
    const emptyPool = rt2.stats().length;
    for (let i = 1; i < 200; i++) await host2.run(`m${i}.noop`);
    await new Promise((r) => setTimeout(r, 500));
    const after = rt2.stats().reduce((n, p) => n + rssOf(p.pid), 0);
    const perModule = (after - before) / 199;
    rows.push(row("sandbox", "RSS per idle active module (200 modules)", perModule / 1024 / 1024, "MB", `sandbox process RSS with 1 module / ${emptyPool} procs`, before / 1024 / 1024, "<= 2 MB"));
  } finally {
    await host2.close();
  }
  return rows;
}
