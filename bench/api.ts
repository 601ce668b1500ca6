// REST costs: an authenticated, rate-limited call of a system module command and of a sandboxed
// user-module command, beside bare Fastify's hello world and beside a hand-built Fastify +
// @fastify/helmet + @fastify/rate-limit + bearer-token stack, all four measured in the same run.
//
// Pinning: every server (and Warden's sandbox processes) runs on core 1, autocannon (this
// process) on core 0. CPU per request is the server's process tree user+system time from /proc
// over the requests it answered: the figure that says what a request costs, whatever the latency.
import { fork, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { Host } from "../core/host.js";
import { silentLogger } from "../core/log/index.js";
import { LOAD_CORE, pin, serveWarden, SERVER_CORE, treeCpuMs } from "./proc.js";
import { row, type BenchRow } from "./report.js";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "core/cli/bin.mjs");
const DURATION = Number(process.env.BENCH_API_SECONDS ?? 10);
const CONNECTIONS = 50;

interface Figures {
  rps: number;
  p99: number;
  /** Server CPU per request, µs. */
  cpuUs: number;
}

function once(url: string, headers: Record<string, string>, body: string, duration: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url, method: "POST", headers: { "content-type": "application/json", ...headers }, body, connections: CONNECTIONS, duration }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** A short warm-up (JIT, lazily compiled schemas, caches), then the measured run. */
async function load(server: number, url: string, headers: Record<string, string>, body: string): Promise<Figures> {
  await once(url, headers, body, 2);
  const before = treeCpuMs(server);
  const r = await once(url, headers, body, DURATION);
  const cpu = treeCpuMs(server) - before;
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${url}: ${r.non2xx} non-2xx responses, ${r.errors} errors`);
  return { rps: r.requests.average, p99: r.latency.p99, cpuUs: (cpu * 1000) / Math.max(1, r.requests.total) };
}

/** A baseline server script (it reports its address over IPC), on the servers' core. */
async function baseline(script: string, args: string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(join(ROOT, "bench/servers", script), args, { stdio: "inherit" });
  pin(child.pid!, SERVER_CORE);
  const url = await new Promise<string>((r) => child.once("message", (m: { address: string }) => r(m.address)));
  return { child, url };
}

function warden(home: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, "--home", home, "--modules", join(ROOT, "modules/examples"), ...args, "--json"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`warden ${args.join(" ")} failed: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout);
}

function startWarden(home: string): Promise<{ child: ChildProcess; url: string }> {
  return serveWarden([BIN, "--home", home, "--modules", join(ROOT, "modules/examples")]);
}

export async function run(): Promise<BenchRow[]> {
  pin(process.pid, LOAD_CORE);
  const bare = await baseline("bare-fastify.mjs");
  const bareFig = await load(bare.child.pid!, `${bare.url}/hello`, {}, "{}").finally(() => bare.child.kill());
  const stack = await baseline("fastify-stack.mjs", ["bench-token"]);
  const stackFig = await load(stack.child.pid!, `${stack.url}/hello`, { authorization: "Bearer bench-token" }, "{}").finally(() => stack.child.kill());

  const home = mkdtempSync(join(tmpdir(), "warden-bench-api-"));
  warden(home, "config", "set", "api.enabled", "true");
  warden(home, "config", "set", "api.port", "0");
  // Rate-limited, with limits high enough that the load itself is not refused.
  warden(home, "config", "set", "security.rate_limit", "1000000");
  warden(home, "config", "set", "security.global_limit", "100000000");
  const token = warden(home, "auth", "grant", "--name", "bench", "--scopes", "cache.manage,hello.greet").token as string;
  const { child, url } = await startWarden(home);
  let system: Figures;
  let sandboxed: Figures;
  try {
    const auth = { authorization: `Bearer ${token}` };
    system = await load(child.pid!, `${url}/api/v1/cache/status`, auth, "{}");
    sandboxed = await load(child.pid!, `${url}/api/v1/hello/greet`, auth, '{"name":"bench"}');
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
  const inProcess = await dispatchCosts(home);
  const STACK = "Fastify + helmet + rate-limit + bearer";
  const vsStack = (metric: string, value: number, target: string) => row("api", metric, value, "µs", STACK, stackFig.cpuUs, target);
  return [
    vsStack("system command (cache.status): server CPU per request", system.cpuUs, "<= 0.75x"),
    vsStack("sandboxed command (hello.greet): server + sandbox CPU per request", sandboxed.cpuUs, "<= 1.25x"),
    vsStack("ablation: the sandbox hop (sandboxed less system command CPU per request)", sandboxed.cpuUs - system.cpuUs, "(what the hop to the isolate costs)"),
    vsStack("ablation: cache.status dispatched in-process, no HTTP (CPU per call)", inProcess.system, "(what the command path costs)"),
    vsStack("ablation: hello.greet dispatched in-process, no HTTP (host + sandbox CPU per call)", inProcess.sandboxed, "(what the command path costs)"),
    vsStack("ablation: Warden's HTTP layer (system command less its in-process dispatch)", system.cpuUs - inProcess.system, "(what the HTTP layer costs)"),
    row("api", "system command: server CPU per request", system.cpuUs, "µs", "bare Fastify hello", bareFig.cpuUs, "(reference)"),
    row("api", "hand-built stack: CPU per request", stackFig.cpuUs, "µs", "bare Fastify hello", bareFig.cpuUs, "(reference)"),
    row("api", "system command req/s", system.rps, "req/s", "bare Fastify req/s", bareFig.rps, "reported"),
    row("api", "system command p99", system.p99, "ms", "bare Fastify p99", bareFig.p99, "reported"),
    row("api", "sandboxed command req/s", sandboxed.rps, "req/s", "bare Fastify req/s", bareFig.rps, "reported"),
    row("api", "sandboxed command p99", sandboxed.p99, "ms", "bare Fastify p99", bareFig.p99, "reported"),
    row("api", "hand-built stack req/s", stackFig.rps, "req/s", "bare Fastify req/s", bareFig.rps, "reported"),
    row("api", "hand-built stack p99", stackFig.p99, "ms", "bare Fastify p99", bareFig.p99, "reported"),
  ];
}

/**
 * The same two commands dispatched in this process, without HTTP, 50 in flight as the load has:
 * CPU per call of this process and its sandbox processes (the HTTP layer's share is the difference).
 */
async function dispatchCosts(home: string): Promise<{ system: number; sandboxed: number }> {
  const host = await Host.open({ home, modulePaths: [join(ROOT, "modules/examples")], logger: silentLogger() });
  try {
    const per = async (command: string, input: object) => {
      const calls = 20_000;
      let next = 0;
      const worker = async () => {
        while (next++ < calls) await host.run(command, input);
      };
      await Promise.all(Array.from({ length: CONNECTIONS }, worker));
      next = 0;
      const before = treeCpuMs(process.pid);
      await Promise.all(Array.from({ length: CONNECTIONS }, worker));
      return ((treeCpuMs(process.pid) - before) * 1000) / calls;
    };
    return { system: await per("cache.status", {}), sandboxed: await per("hello.greet", { name: "bench" }) };
  } finally {
    await host.close();
  }
}
