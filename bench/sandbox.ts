// Sandbox costs, each beside its physical floor measured in the same run: an isolate in a child
// process reached over the same framed pipes, entered with applySync (./floor/). Latency is
// compared with the floor's latency, throughput with the floor's throughput.
//
// Pinning: this process (the host), its sandbox processes and the floor's child all run on one
// core (`taskset`), so a call's figures are the CPU work of both sides plus the switches between
// them, not the wake-up latency of an idle second core (which swings 20-120 µs on these VMs).
// Rounds alternate between the floor and Warden; each figure is the best of its rounds.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Host } from "../core/host.js";
import { silentLogger } from "../core/log/index.js";
import { SandboxSupervisor } from "../core/sandbox/supervisor.js";
import { IsolateFloor } from "./floor/isolate-floor.js";
import { pin, SERVER_CORE } from "./proc.js";
import { percentile, row, type BenchRow } from "./report.js";

const ROUNDS = 3;
const IN_FLIGHT = 64;

function writeBenchModule(root: string, id: string): void {
  const dir = join(root, id);
  mkdirSync(dir, { recursive: true });
  const input = { type: "object", additionalProperties: true };
  writeFileSync(
    join(dir, "module.json"),
    JSON.stringify({
      id,
      version: "1.0.0",
      host: "^0.1.0",
      description: "bench",
      entry: "index.js",
      capabilities: ["commands.register", "storage.read"],
      limits: { memoryMb: 64, timeoutMs: 5000 },
      commands: { noop: { description: "n", input }, get1: { description: "g", input }, echo: { description: "e", input } },
    }),
  );
  writeFileSync(
    join(dir, "index.js"),
    `export function activate(ctx) {
  ctx.commands.register("noop", async () => 1);
  ctx.commands.register("get1", async () => ctx.storage.get("k"));
  ctx.commands.register("echo", async (input) => input);
}\n`,
  );
}

/** Median latency of `n` sequential calls, in µs, after a warm-up. */
async function p50(n: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(500, n); i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    await fn();
    t.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  return percentile(
    t.sort((a, b) => a - b),
    50,
  );
}

/** Calls per second with `inFlight` callers, each calling again as soon as its call returns. */
async function throughput(total: number, fn: (i: number) => Promise<unknown>, inFlight = IN_FLIGHT): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < total) await fn(next++);
  };
  await Promise.all(Array.from({ length: inFlight }, worker)); // warm-up round
  next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return total / ((performance.now() - t0) / 1000);
}

/** Best of alternating rounds: min for latencies, max for rates. */
async function best(kind: "min" | "max", fn: () => Promise<number>): Promise<number> {
  let b = kind === "min" ? Infinity : -Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const v = await fn();
    b = kind === "min" ? Math.min(b, v) : Math.max(b, v);
  }
  return b;
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

async function openHost(modules: string): Promise<{ host: Host; runtime: SandboxSupervisor }> {
  const runtime = new SandboxSupervisor({ poolSize: 2, maxMemoryMb: 1024, maxTimeoutMs: 600_000, breaker: { failures: 1000, windowMs: 60_000 } });
  const host = await Host.open({
    home: mkdtempSync(join(tmpdir(), "warden-bench-home-")),
    modulePaths: [modules],
    logger: silentLogger(),
    userRuntime: runtime,
    systemDir: mkdtempSync(join(tmpdir(), "nosys-")),
  });
  return { host, runtime };
}

export async function run(): Promise<BenchRow[]> {
  pin(process.pid, SERVER_CORE); // children started from here inherit the core
  const rows: BenchRow[] = [];
  const floor = new IsolateFloor();
  await floor.ready;

  const root = mkdtempSync(join(tmpdir(), "warden-bench-sbx-"));
  writeBenchModule(root, "bench");
  const { host } = await openHost(root);
  try {
    const call = (command: string, input: unknown = {}) => host.run(command, input);
    // Sequential latency, floor and Warden alternating.
    let floorUs = Infinity;
    let callUs = Infinity;
    let get1Us = Infinity;
    for (let r = 0; r < ROUNDS; r++) {
      floorUs = Math.min(floorUs, await p50(5000, () => floor.call("{}")));
      callUs = Math.min(callUs, await p50(5000, () => call("bench.noop")));
      get1Us = Math.min(get1Us, await p50(5000, () => call("bench.get1")));
    }
    rows.push(row("sandbox", "sandboxed command call p50 (bus -> sandbox process -> isolate -> back)", callUs, "µs", "floor: isolate in a child, same pipes, applySync, p50", floorUs, "<= 1.3x"));
    // A capability call's round trip: what one storage.get adds to a call.
    rows.push(row("sandbox", "capability call round trip (storage.get) p50", Math.max(0, get1Us - callUs), "µs", "floor p50", floorUs, "<= 1.5x"));

    let floorRate = 0;
    let callRate = 0;
    for (let r = 0; r < ROUNDS; r++) {
      floorRate = Math.max(floorRate, await throughput(30_000, () => floor.call("{}")));
      callRate = Math.max(callRate, await throughput(30_000, () => call("bench.noop")));
    }
    rows.push(row("sandbox", `sandboxed calls/s, ${IN_FLIGHT} in flight`, callRate, "calls/s", `floor calls/s, ${IN_FLIGHT} in flight`, floorRate, ">= 0.9x"));

    // Per-KB cost of a large payload (in and back out) against a small one.
    const perKb = async (kb: number, n: number, fn: (input: { data: string }) => Promise<unknown>) => {
      const input = { data: "x".repeat(kb * 1024) };
      return (await best("min", () => p50(n, () => fn(input)))) / kb;
    };
    const smallKb = await perKb(10, 1000, (i) => call("bench.echo", i));
    const bigKb = await perKb(1024, 30, (i) => call("bench.echo", i));
    const floorSmallKb = await perKb(10, 1000, (i) => floor.call(JSON.stringify(i)));
    const floorBigKb = await perKb(1024, 30, (i) => floor.call(JSON.stringify(i)));
    rows.push(row("sandbox", "per-KB cost of a 1 MB input echoed back", bigKb, "µs/KB", "per-KB cost at 10 KB", smallKb, "<= 1.5x"));
    rows.push(row("sandbox", "same, the floor's per-KB cost at 1 MB", floorBigKb, "µs/KB", "floor per-KB cost at 10 KB", floorSmallKb, "(reference)"));
    rows.push(row("sandbox", "per-KB cost of a 1 MB input, Warden against the floor", bigKb, "µs/KB", "floor per-KB cost at 1 MB", floorBigKb, "(reference)"));

    // Cold activation with the bundle cached.
    const act: number[] = [];
    for (let i = 0; i < 40; i++) {
      await host.loader.deactivate("bench");
      const s = performance.now();
      await host.loader.ensureActive("bench");
      act.push(performance.now() - s);
    }
    rows.push(
      row(
        "sandbox",
        "cold activation, bundle cached (p50)",
        percentile(
          act.sort((a, b) => a - b),
          50,
        ),
        "ms",
        "floor p50",
        floorUs / 1000,
        "<= 5 ms",
      ),
    );
  } finally {
    await host.close();
  }

  // Throughput as active modules grow: 64 callers spread over 10, then 500 modules.
  const rates: Record<number, number> = {};
  let perModuleRss = 0;
  let baseRss = 0;
  let procs = 0;
  for (const n of [10, 500]) {
    const many = mkdtempSync(join(tmpdir(), `warden-bench-${n}-`));
    for (let i = 0; i < n; i++) writeBenchModule(many, `m${i}`);
    const { host: h, runtime } = await openHost(many);
    try {
      await h.run("m0.noop");
      const before = runtime.stats().reduce((s, p) => s + rssOf(p.pid), 0);
      for (let i = 1; i < n; i++) await h.run(`m${i}.noop`);
      rates[n] = await best("max", () => throughput(30_000, (i) => h.run(`m${i % n}.noop`)));
      if (n === 500) {
        await new Promise((r) => setTimeout(r, 500));
        const after = runtime.stats().reduce((s, p) => s + rssOf(p.pid), 0);
        perModuleRss = (after - before) / (n - 1);
        baseRss = before;
        procs = runtime.stats().length;
      }
    } finally {
      await h.close();
    }
  }
  // The same spread on the floor: one child holding 10, then 500 isolates, entered round-robin.
  // What entering a different isolate (its heap cold in the CPU caches) costs whatever the design.
  const floorRates: Record<number, number> = {};
  for (const n of [10, 500]) {
    const many = new IsolateFloor(n);
    await many.ready;
    for (let i = 0; i < n; i++) await many.call("{}", i);
    floorRates[n] = await best("max", () => throughput(30_000, (i) => many.call("{}", i % n)));
    many.close();
  }
  rows.push(row("sandbox", `calls/s with 500 active modules (${IN_FLIGHT} in flight, round-robin)`, rates[500]!, "calls/s", "calls/s with 10 active modules", rates[10]!, ">= 0.8x"));
  rows.push(row("sandbox", "floor calls/s with 500 isolates (same spread)", floorRates[500]!, "calls/s", "floor calls/s with 10 isolates", floorRates[10]!, "(reference: the physics)"));
  rows.push(row("sandbox", "calls/s with 500 active modules, Warden against the floor", rates[500]!, "calls/s", "floor calls/s with 500 isolates", floorRates[500]!, "(reference)"));
  rows.push(row("sandbox", "RSS per idle active module (500 modules)", perModuleRss / 1024 / 1024, "MB", `sandbox processes' RSS with 1 module / ${procs} procs`, baseRss / 1024 / 1024, "<= 2 MB"));
  floor.close();
  return rows;
}
