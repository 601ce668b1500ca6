// Fleet mode: a system command through 1, 2 and 3 hosts on PostgreSQL + Redis, beside one host on
// its embedded SQLite in the same run; and the cost of the `admit` script per request beside
// rate-limiter-flexible's RateLimiterRedis.consume against the same Redis.
//
// Pinning (2-core machines): the hosts, PostgreSQL and Redis run on core 1 (`taskset -c 1`); the
// load generator (this process) on core 0. CPU time per request is the hosts' user+system time
// (from /proc) over the requests they answered.
import { randomBytes } from "node:crypto";
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { SecurityManager } from "../modules/security/security-manager.js";
import { SharedSecurity } from "../modules/security/shared-security.js";
import { createDatabase, startPostgres, startRedis } from "../test/helpers/servers.js";
import { cpuMs, LOAD_CORE, pin, serveWarden, SERVER_CORE } from "./proc.js";
import { row, type BenchRow } from "./report.js";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "core/cli/bin.mjs");
const DURATION = Number(process.env.BENCH_FLEET_SECONDS ?? 8);
function cli(home: string, env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, "--home", home, ...args, "--json"], { encoding: "utf8", env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`warden ${args.join(" ")} failed: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout);
}

function serve(home: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  return serveWarden([BIN, "--home", home], { ...env, WARDEN_API_PORT: "0" });
}

function cannon(url: string, token: string, duration: number, connections: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url, method: "GET", headers: { authorization: `Bearer ${token}` }, connections, duration }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Load on every host at once (the connections split between them); sums and worst p99. */
async function loadAll(urls: string[], token: string, pids: number[]): Promise<{ rps: number; p99: number; cpuPerReq: number }> {
  const path = "/api/v1/config/get?key=api.enabled";
  await Promise.all(urls.map((u) => cannon(u + path, token, 2, Math.ceil(48 / urls.length))));
  const before = pids.reduce((s, p) => s + cpuMs(p), 0);
  const results = await Promise.all(urls.map((u) => cannon(u + path, token, DURATION, Math.ceil(48 / urls.length))));
  const after = pids.reduce((s, p) => s + cpuMs(p), 0);
  for (const r of results) if (r.non2xx > 0 || r.errors > 0) throw new Error(`${r.non2xx} non-2xx responses, ${r.errors} errors`);
  const total = results.reduce((s, r) => s + r.requests.total, 0);
  return { rps: results.reduce((s, r) => s + r.requests.average, 0), p99: Math.max(...results.map((r) => r.latency.p99)), cpuPerReq: (after - before) / Math.max(1, total) };
}

const SETTINGS = ["security.rate_limit", "1000000", "security.global_limit", "100000000"];

async function single(): Promise<{ rps: number; p99: number; cpuPerReq: number }> {
  const home = mkdtempSync(join(tmpdir(), "warden-bench-sqlite-"));
  cli(home, {}, "config", "set", "api.enabled", "true");
  for (let i = 0; i < SETTINGS.length; i += 2) cli(home, {}, "config", "set", SETTINGS[i]!, SETTINGS[i + 1]!);
  const token = cli(home, {}, "auth", "grant", "--name", "bench", "--scopes", "config.get").token as string;
  const h = await serve(home, {});
  try {
    return await loadAll([h.url], token, [h.child.pid!]);
  } finally {
    h.child.kill("SIGTERM");
  }
}

/** rounds of `admit` against rate-limiter-flexible's consume, same Redis, same concurrency. */
interface AdmitFigures {
  sameUs: number;
  admitUs: number;
  flexibleUs: number;
  admitCalls: number;
  flexibleCalls: number;
  admitRedisUs: number;
  flexibleRedisUs: number;
  admitClientUs: number;
  flexibleClientUs: number;
}

async function admitVersusFlexible(url: string, redisPid: number): Promise<AdmitFigures> {
  const settings = {
    enabled: true,
    rate_limit: 1e9,
    block_duration: 60,
    global_limit: 1e12,
    ddos_lockdown: 60,
    failed_limit: 10,
    failed_block: 60,
    allow: [],
    deny: [],
    trusted: [],
    trusted_proxies: [],
    backend_timeout_ms: 1000,
  };
  // Fails rather than retrying for ever if Redis goes away mid-run.
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  const noop = { write: async () => {}, read: async () => undefined, records: async () => [] };
  const shared = new SharedSecurity(new SecurityManager(settings), client, noop, { onBlock() {}, onLockdown() {}, onDurabilityError() {} });
  const flexible = new RateLimiterRedis({ storeClient: client, points: 1e9, duration: 60, keyPrefix: "bench-rlf" });
  const flexibleGlobal = new RateLimiterRedis({ storeClient: client, points: 1e12, duration: 60, keyPrefix: "bench-rlf-global" });
  const CONCURRENCY = 32;
  const N = 20_000;
  /** Wall time per call, and CPU per call in Redis and in this (the client's) process. */
  const timeIt = async (op: (i: number) => Promise<unknown>) => {
    for (let i = 0; i < 2000; i++) await op(i); // warm-up (script load, JIT)
    let next = 0;
    const redis0 = cpuMs(redisPid);
    const client0 = process.cpuUsage();
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < N) await op(next++);
      }),
    );
    const wall = Number(process.hrtime.bigint() - started) / 1000 / N;
    const client = process.cpuUsage(client0);
    return { wall, redis: ((cpuMs(redisPid) - redis0) * 1000) / N, client: (client.user + client.system) / N };
  };
  // Round trips: commands this client sends (a script is one, whatever it runs inside Redis).
  let sent = 0;
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((...a: Parameters<typeof send>) => {
    sent++;
    return send(...a);
  }) as typeof send;
  try {
    // Alternating rounds, the best of each kept: neither side gains from running second (warm JIT,
    // a warmer Redis) or from a neighbour's burst on the machine.
    type Figures = { wall: number; redis: number; client: number };
    const best = (a: Figures | undefined, b: Figures): Figures => (a && a.wall <= b.wall ? a : b);
    let admit: Awaited<ReturnType<typeof timeIt>> | undefined;
    let flexible_: Awaited<ReturnType<typeof timeIt>> | undefined;
    let same: Figures | undefined;
    let admitCalls = 0;
    let flexibleCalls = 0;
    for (let round = 0; round < 3; round++) {
      sent = 0;
      admit = best(admit, await timeIt((i) => shared.check(`10.${round}.${(i >> 8) & 255}.${i & 255}`)));
      admitCalls = sent / (N + 2000);
      sent = 0;
      flexible_ = best(flexible_, await timeIt((i) => flexible.consume(`10.${round}.${(i >> 8) & 255}.${i & 255}`)));
      flexibleCalls = sent / (N + 2000);
      // What admit decides, with rate-limiter-flexible: the client's and the global window (two
      // consumes, sent together), still without lockdown, block or epoch.
      same = best(same, await timeIt((i) => Promise.all([flexible.consume(`11.${round}.${(i >> 8) & 255}.${i & 255}`), flexibleGlobal.consume("g")])));
    }
    return {
      admitUs: admit!.wall,
      flexibleUs: flexible_!.wall,
      admitCalls,
      flexibleCalls,
      admitRedisUs: admit!.redis,
      flexibleRedisUs: flexible_!.redis,
      admitClientUs: admit!.client,
      flexibleClientUs: flexible_!.client,
      sameUs: same!.wall,
    };
  } finally {
    client.disconnect();
  }
}

async function admitRows(url: string, redisPid: number, rows: BenchRow[]): Promise<BenchRow[]> {
  const a = await admitVersusFlexible(url, redisPid);
  rows.push(
    row("fleet", "admit script per check (32 concurrent, best of 3)", a.admitUs, "us", "RateLimiterRedis.consume", a.flexibleUs, "<= 1.0x (one round trip, no slower)"),
    row("fleet", "admit script per check (the same decision)", a.admitUs, "us", "RateLimiterRedis client + global consume", a.sameUs, "<= 1.0x"),
    row("fleet", "Redis CPU per admit", a.admitRedisUs, "us", "per RateLimiterRedis.consume", a.flexibleRedisUs, "reported"),
    row("fleet", "client CPU per admit (checks, parsing)", a.admitClientUs, "us", "per RateLimiterRedis.consume", a.flexibleClientUs, "reported"),
    row("fleet", "Redis round trips per admit", a.admitCalls, "round trips", "per RateLimiterRedis.consume", a.flexibleCalls, "1"),
  );
  return rows;
}

export async function run(): Promise<BenchRow[]> {
  pin(process.pid, LOAD_CORE);
  const pg = await startPostgres();
  const redis = await startRedis();
  if (!pg || !redis) throw new Error("the fleet bench needs PostgreSQL and redis-server (Debian's postgresql and redis-server)");
  const children: ChildProcess[] = [];
  try {
    // PostgreSQL's processes and Redis share the servers' core.
    for (const line of spawnSync("pgrep", ["-f", `-p ${pg.port}`], { encoding: "utf8" })
      .stdout.split("\n")
      .filter(Boolean))
      pin(Number(line), SERVER_CORE);
    pin(redis.proc().pid!, SERVER_CORE);

    const rows: BenchRow[] = [];
    if (process.env.BENCH_FLEET_ADMIT_ONLY) return await admitRows(redis.url, redis.proc().pid!, rows);
    const baseline = await single();
    const storeUrl = await createDatabase(pg, "bench_fleet");
    const env = { WARDEN_STORE_URL: storeUrl, WARDEN_REDIS_URL: redis.url, WARDEN_SECRET_KEY: randomBytes(32).toString("base64") };
    const first = mkdtempSync(join(tmpdir(), "warden-bench-fleet-"));
    cli(first, env, "init");
    cli(first, env, "config", "set", "api.enabled", "true");
    for (let i = 0; i < SETTINGS.length; i += 2) cli(first, env, "config", "set", SETTINGS[i]!, SETTINGS[i + 1]!);
    const token = cli(first, env, "auth", "grant", "--name", "bench", "--scopes", "config.get").token as string;
    const hosts = [await serve(first, env)];
    children.push(hosts[0]!.child);
    rows.push(row("fleet", "system command, 1 SQLite host req/s (the baseline)", baseline.rps, "req/s", "itself", baseline.rps, "reported"));
    for (const n of [1, 2, 3]) {
      while (hosts.length < n) {
        const h = await serve(mkdtempSync(join(tmpdir(), "warden-bench-fleet-")), env);
        hosts.push(h);
        children.push(h.child);
      }
      const r = await loadAll(
        hosts.map((h) => h.url),
        token,
        hosts.map((h) => h.child.pid!),
      );
      rows.push(
        row(
          "fleet",
          `system command via ${n} fleet host${n > 1 ? "s" : ""} (PostgreSQL + Redis) req/s`,
          r.rps,
          "req/s",
          "1 SQLite host req/s",
          baseline.rps,
          n === 1 ? ">= 0.5x baseline (one Redis round trip per request)" : "reported (all hosts share one core here)",
        ),
        row("fleet", `system command via ${n} fleet host${n > 1 ? "s" : ""} p99`, r.p99, "ms", "1 SQLite host p99", baseline.p99, "reported"),
        row("fleet", `host CPU per request, ${n} fleet host${n > 1 ? "s" : ""}`, r.cpuPerReq, "ms", "1 SQLite host CPU per request", baseline.cpuPerReq, "reported"),
      );
    }
    return await admitRows(redis.url, redis.proc().pid!, rows);
  } finally {
    for (const c of children) c.kill("SIGTERM");
    await redis.stop();
    await pg.stop();
  }
}
