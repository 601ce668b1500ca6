// Throwaway PostgreSQL and Redis servers for the fleet tests: each on a free loopback port in a
// temp folder, stopped at the end. PostgreSQL 15's binaries are on these machines (or Debian's
// `postgresql`); it refuses to run as root, so as root it runs as the `postgres` user. Redis is
// Debian's `redis-server` (installed with apt-get when missing and root; `.ci/run` installs it).
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureTool } from "./tools.js";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function pgBin(): string | undefined {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], "bin") : undefined;
}

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL binary, as `postgres` when we are root. */
function pgRun(bin: string, args: string[]): void {
  if (asRoot) execFileSync("runuser", ["-u", "postgres", "--", bin, ...args], { stdio: "pipe" });
  else execFileSync(bin, args, { stdio: "pipe" });
}

/** The same without blocking this process (requests in flight keep running meanwhile). */
async function pgRunAsync(bin: string, args: string[]): Promise<void> {
  if (asRoot) await promisify(execFile)("runuser", ["-u", "postgres", "--", bin, ...args]);
  else await promisify(execFile)(bin, args);
}

export interface Postgres {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Stops (fast: sessions are cut) and starts the same server (same data, same port), without blocking. */
  restart(): Promise<void>;
}

/** undefined (with a loud line) only where PostgreSQL cannot be found or installed, never in CI. */
export async function startPostgres(): Promise<Postgres | undefined> {
  let bin = pgBin();
  if (!bin && ensureTool("pg_ctlcluster", "postgresql")) bin = pgBin();
  if (!bin) {
    if (process.env.CI === "true") throw new Error("PostgreSQL is required in CI (Debian's postgresql package)");
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), "warden-pg-"));
  const data = join(dir, "data");
  if (asRoot) {
    chownSync(dir, uidOf("postgres"), gidOf("postgres"));
    chmodSync(dir, 0o700);
  }
  pgRun(join(bin, "initdb"), ["-D", data, "-U", "warden", "--auth=trust", "--no-sync", "-E", "UTF8"]);
  const port = await freePort();
  const startArgs = ["-D", data, "-l", join(dir, "log"), "-w", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200`, "start"];
  pgRun(join(bin, "pg_ctl"), startArgs);
  const stop = () => pgRun(join(bin!, "pg_ctl"), ["-D", data, "-m", "fast", "-w", "stop"]);
  return {
    url: `postgres://warden@127.0.0.1:${port}/postgres`,
    port,
    stop: async () => {
      try {
        stop();
      } catch {
        // already stopped
      }
    },
    restart: async () => {
      await pgRunAsync(join(bin!, "pg_ctl"), ["-D", data, "-m", "fast", "-w", "stop"]);
      await pgRunAsync(join(bin!, "pg_ctl"), startArgs);
    },
  };
}

function uidOf(user: string): number {
  return Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
}
function gidOf(user: string): number {
  return Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
}

/** A fresh database on the server, for one test's isolation. */
export async function createDatabase(pg: Postgres, name: string): Promise<string> {
  const { default: pgLib } = await import("pg");
  const client = new pgLib.Client({ connectionString: pg.url });
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return pg.url.replace(/\/postgres$/, `/${name}`);
}

export interface Redis {
  url: string;
  port: number;
  proc(): ChildProcess;
  stop(): Promise<void>;
  start(): Promise<void>;
  pause(): void;
  resume(): void;
}

/** `extra`: more redis-server arguments (e.g. `--rename-command PUBLISH ""` to prove pub/sub unused). */
export async function startRedis(extra: string[] = []): Promise<Redis | undefined> {
  const bin = ensureTool("redis-server", "redis-server");
  if (!bin) return undefined;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "warden-redis-"));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(bin, ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--protected-mode", "no", ...extra], { stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      const r = spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" });
      if (r.stdout.trim() === "PONG") return;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error("redis-server did not start");
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    proc: () => child!,
    stop: async () => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child!.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
    start,
    pause: () => child?.kill("SIGSTOP"),
    resume: () => child?.kill("SIGCONT"),
  };
}
