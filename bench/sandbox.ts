// Sandbox costs, each beside its physical floor measured in the same run: an isolate in a child
// process reached over the same framed pipes, entered with applySync (./floor/). Latency is
// compared with the floor's latency, throughput with the floor's throughput.
//
// Pinning: this process (the host), its sandbox processes and the floor's child all run on one
// core (`taskset`), so a call's figures are the CPU work of both sides plus the switches between
// them, not the wake-up latency of an idle second core (which swings 20-120 µs on these VMs).
// Rounds alternate between the floor and Warden; each figure is the best of its rounds.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openBenchHost, wardenIsolateFile, writeBenchModule } from "./bench-host.js";
import { takeShell } from "../core/sandbox/isolate-shell.js";
import { IsolateFloor } from "./floor/isolate-floor.js";
import { pin, SERVER_CORE } from "./proc.js";
import { percentile, row, type BenchRow } from "./report.js";

const ROUNDS = 3;
const IN_FLIGHT = 64;

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

export async function run(): Promise<BenchRow[]> {
  pin(process.pid, SERVER_CORE); // children started from here inherit the core
  const rows: BenchRow[] = [];
  const floor = new IsolateFloor();
  const wardenModule = await wardenIsolateFile();
  const wardenFloor = new IsolateFloor(1, wardenModule);
  await Promise.all([floor.ready, wardenFloor.ready]);

  const root = mkdtempSync(join(tmpdir(), "warden-bench-sbx-"));
  writeBenchModule(root, "bench");
  const { host } = await openBenchHost(root);
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
    let wardenFloorRate = 0;
    for (let r = 0; r < ROUNDS; r++) {
      floorRate = Math.max(floorRate, await throughput(30_000, () => floor.call("{}")));
      wardenFloorRate = Math.max(wardenFloorRate, await throughput(30_000, () => wardenFloor.call("{}")));
      callRate = Math.max(callRate, await throughput(30_000, () => call("bench.noop")));
    }
    rows.push(row("sandbox", `sandboxed calls/s, ${IN_FLIGHT} in flight (one module)`, callRate, "calls/s", `floor calls/s, ${IN_FLIGHT} in flight`, floorRate, ">= 0.7x"));
    rows.push(
      row(
        "sandbox",
        "ablation: the floor holding a Warden isolate (prelude, module, bridge), one module",
        wardenFloorRate,
        "calls/s",
        "floor calls/s",
        floorRate,
        "(what the isolate's contents cost)",
      ),
    );
    rows.push(row("sandbox", "ablation: Warden against that floor, one module", callRate, "calls/s", "floor holding a Warden isolate", wardenFloorRate, "(what the host and its bookkeeping cost)"));

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

    // Cold activation with the bundle cached, on an idle host (every sandbox process has answered
    // a round trip first, so the spare isolate shell it makes after an activation is ready); and,
    // as the ablation, what making that shell (isolate, context, prelude) costs, in this process.
    const idle: number[] = [];
    const shells: number[] = [];
    for (let i = 0; i < 40; i++) {
      await host.loader.deactivate("bench");
      await host.kernel.ledger.refresh();
      const s = performance.now();
      await host.loader.ensureActive("bench");
      idle.push(performance.now() - s);
      const spare = takeShell(64); // the spare, if one is made: the next has to be made now
      const t = performance.now();
      const made = takeShell(64);
      shells.push(performance.now() - t);
      spare.isolate.dispose();
      made.isolate.dispose();
    }
    const median = (v: number[]) =>
      percentile(
        v.sort((a, b) => a - b),
        50,
      );
    rows.push(row("sandbox", "cold activation on an idle host, bundle cached (p50)", median(idle), "ms", "floor p50", floorUs / 1000, "<= 3 ms"));
    rows.push(
      row(
        "sandbox",
        "ablation: making an isolate shell (isolate, context, prelude), p50",
        median(shells),
        "ms",
        "cold activation on an idle host",
        median(idle),
        "(what the spare shell takes off an activation)",
      ),
    );
  } finally {
    await host.close();
  }

  // Throughput as active modules grow: 64 callers spread round-robin over 10, then 500 modules,
  // beside the floor with the same spread (one child holding 10, then 500 isolates: what entering
  // a different isolate, its heap cold in the CPU caches, costs whatever the design) and, as
  // ablations, that floor holding Warden isolates and Warden on one sandbox process.
  const rates: Record<number, { warden: number; floor: number; wardenFloor: number }> = {};
  let perModuleRss = 0;
  let baseRss = 0;
  let procs = 0;
  for (const n of [10, 500]) {
    const many = mkdtempSync(join(tmpdir(), `warden-bench-${n}-`));
    for (let i = 0; i < n; i++) writeBenchModule(many, `m${i}`);
    const { host: h, runtime } = await openBenchHost(many);
    const floors = [new IsolateFloor(n), new IsolateFloor(n, wardenModule)];
    try {
      await h.run("m0.noop");
      const before = runtime.stats().reduce((s, p) => s + rssOf(p.pid), 0);
      for (let i = 1; i < n; i++) await h.run(`m${i}.noop`);
      for (const f of floors) {
        await f.ready;
        for (let i = 0; i < n; i++) await f.call("{}", i);
      }
      const r = (rates[n] = { warden: 0, floor: 0, wardenFloor: 0 });
      for (let round = 0; round < ROUNDS; round++) {
        r.floor = Math.max(r.floor, await throughput(30_000, (i) => floors[0]!.call("{}", i % n)));
        r.wardenFloor = Math.max(r.wardenFloor, await throughput(30_000, (i) => floors[1]!.call("{}", i % n)));
        r.warden = Math.max(r.warden, await throughput(30_000, (i) => h.run(`m${i % n}.noop`)));
      }
      if (n === 500) {
        await new Promise((r) => setTimeout(r, 500));
        const after = runtime.stats().reduce((s, p) => s + rssOf(p.pid), 0);
        perModuleRss = (after - before) / (n - 1);
        baseRss = before;
        procs = runtime.stats().length;
      }
    } finally {
      for (const f of floors) f.close();
      await h.close();
    }
  }
  // Ablation: the 500 modules on one sandbox process, as the floor's child holds all its isolates.
  let onePool = 0;
  {
    const many = mkdtempSync(join(tmpdir(), "warden-bench-500-pool1-"));
    for (let i = 0; i < 500; i++) writeBenchModule(many, `m${i}`);
    const { host: h } = await openBenchHost(many, 1);
    try {
      for (let i = 0; i < 500; i++) await h.run(`m${i}.noop`);
      onePool = await best("max", () => throughput(30_000, (i) => h.run(`m${i % 500}.noop`)));
    } finally {
      await h.close();
    }
  }
  const spread = `${IN_FLIGHT} in flight, round-robin`;
  rows.push(row("sandbox", `calls/s with 10 active modules (${spread})`, rates[10]!.warden, "calls/s", "floor calls/s with 10 isolates", rates[10]!.floor, ">= 0.6x"));
  rows.push(row("sandbox", `calls/s with 500 active modules (${spread})`, rates[500]!.warden, "calls/s", "floor calls/s with 500 isolates", rates[500]!.floor, ">= 0.5x"));
  rows.push(row("sandbox", "floor calls/s with 500 isolates (same spread)", rates[500]!.floor, "calls/s", "floor calls/s with 10 isolates", rates[10]!.floor, "(reference: the physics)"));
  rows.push(row("sandbox", "calls/s with 500 active modules against 10", rates[500]!.warden, "calls/s", "calls/s with 10 active modules", rates[10]!.warden, "(reference)"));
  for (const n of [10, 500]) {
    rows.push(
      row(
        "sandbox",
        `ablation: the floor holding ${n} Warden isolates (prelude, module, bridge)`,
        rates[n]!.wardenFloor,
        "calls/s",
        `floor calls/s with ${n} isolates`,
        rates[n]!.floor,
        "(what the isolates' contents cost)",
      ),
    );
    rows.push(
      row(
        "sandbox",
        `ablation: Warden with ${n} modules against that floor`,
        rates[n]!.warden,
        "calls/s",
        `floor holding ${n} Warden isolates`,
        rates[n]!.wardenFloor,
        "(what the host and its bookkeeping cost)",
      ),
    );
  }
  rows.push(
    row(
      "sandbox",
      "ablation: 500 active modules on one sandbox process (sandbox.poolSize 1)",
      onePool,
      "calls/s",
      "floor calls/s with 500 isolates",
      rates[500]!.floor,
      "(what the second process costs on one core)",
    ),
  );
  rows.push(row("sandbox", "RSS per idle active module (500 modules)", perModuleRss / 1024 / 1024, "MB", `sandbox processes' RSS with 1 module / ${procs} procs`, baseRss / 1024 / 1024, "<= 2 MB"));
  floor.close();
  wardenFloor.close();
  return rows;
}
