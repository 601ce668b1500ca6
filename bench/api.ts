// REST throughput: an authenticated, rate-limited call of a system module command and of a
// sandboxed user-module command, each against a bare fastify hello world in the same run.
// Servers run in child processes; the load generator (autocannon) shares the machine's cores.
import { fork, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { row, type BenchRow } from "./report.js";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "core/cli/bin.mjs");
const DURATION = Number(process.env.BENCH_API_SECONDS ?? 10);

function once(url: string, headers: Record<string, string>, body: string, duration: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url, method: "POST", headers: { "content-type": "application/json", ...headers }, body, connections: 50, duration }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** A short warm-up run first (JIT, lazily compiled schemas, caches), then the measured run. */
async function load(url: string, headers: Record<string, string>, body: string): Promise<autocannon.Result> {
  await once(url, headers, body, 2);
  return once(url, headers, body, DURATION);
}

function warden(home: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, "--home", home, "--modules", join(ROOT, "modules/examples"), ...args, "--json"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`warden ${args.join(" ")} failed: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function startWarden(home: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, "--home", home, "--modules", join(ROOT, "modules/examples"), "serve"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`warden serve did not start: ${out}`)), 30_000);
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /REST API on (http:\/\/[0-9.:]+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
  });
  return { child, url };
}

export async function run(): Promise<BenchRow[]> {
  const bare = fork(join(ROOT, "bench/servers/bare-fastify.mjs"), [], { stdio: "inherit" });
  const bareUrl = await new Promise<string>((r) => bare.once("message", (m: any) => r(m.address)));
  const baseline = await load(`${bareUrl}/hello`, {}, "{}");
  bare.kill();

  const home = mkdtempSync(join(tmpdir(), "warden-bench-api-"));
  warden(home, "config", "set", "api.enabled", "true");
  warden(home, "config", "set", "api.port", "0");
  // Rate-limited, with limits high enough that the load itself is not refused.
  warden(home, "config", "set", "security.rate_limit", "1000000");
  warden(home, "config", "set", "security.global_limit", "100000000");
  const token = warden(home, "auth", "grant", "--name", "bench", "--scopes", "cache.manage,hello.greet").token as string;
  const { child, url } = await startWarden(home);
  try {
    const auth = { authorization: `Bearer ${token}` };
    const system = await load(`${url}/api/v1/cache/status`, auth, "{}");
    const sandboxed = await load(`${url}/api/v1/hello/greet`, auth, '{"name":"bench"}');
    for (const [name, r] of [["system", system], ["sandboxed", sandboxed]] as const) {
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name}: ${r.non2xx} non-2xx responses, ${r.errors} errors`);
    }
    return [
      row("api", "system module command (cache.status) req/s", system.requests.average, "req/s", "bare fastify hello req/s", baseline.requests.average, ">= 0.6x baseline"),
      row("api", "system module command p99 latency", system.latency.p99, "ms", "bare fastify p99", baseline.latency.p99, "reported"),
      row("api", "sandboxed command (hello.greet) req/s", sandboxed.requests.average, "req/s", "bare fastify hello req/s", baseline.requests.average, ">= 0.3x baseline"),
      row("api", "sandboxed command p99 latency", sandboxed.latency.p99, "ms", "bare fastify p99", baseline.latency.p99, "reported"),
    ];
  } finally {
    child.kill("SIGTERM");
  }
}
