// A fleet on loopback for the tests: a throwaway PostgreSQL and redis-server, and `warden serve`
// hosts sharing them, each with its own home and API port.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll } from "vitest";
import { raw, type RawResponse } from "./api.js";
import { serveInBackground, warden, type CliResult, type Serving } from "./cli.js";
import { tempDir, writeModule } from "./modules.js";
import { createDatabase, startPostgres, startRedis, type Postgres, type Redis } from "./servers.js";

export interface FleetHost {
  home: string;
  serving: Serving;
  base: URL;
  cli(args: string[], stdin?: string): CliResult;
  /** A REST request to this host, from `from` (a 127.0.0.0/8 address: each is its own client). */
  call(path: string, o?: { token?: string; method?: string; body?: unknown; from?: string; headers?: Record<string, string> }): Promise<RawResponse>;
}

export interface Fleet {
  pg: Postgres;
  redis: Redis;
  storeUrl: string;
  env: Record<string, string>;
  hosts: FleetHost[];
  /** Starts one more host on the shared backends (`env`: extra environment for its process). */
  start(env?: Record<string, string>): Promise<FleetHost>;
  stop(): Promise<void>;
}

let dbs = 0;

/** undefined (the caller skips, loudly) only where the servers cannot be had, never in CI. */
export async function startFleet(n: number, o: { redisArgs?: string[]; before?: (cli: (args: string[]) => CliResult) => void } = {}): Promise<Fleet | undefined> {
  const pg = await startPostgres();
  let redis: Redis | undefined;
  try {
    redis = await startRedis(o.redisArgs ?? []);
  } catch (e) {
    await pg?.stop();
    throw e;
  }
  if (!pg || !redis) {
    await pg?.stop();
    await redis?.stop();
    if (process.env.CI === "true") throw new Error("the fleet tests need PostgreSQL and redis-server in CI");
    console.warn("\n*** fleet tests skipped: install Debian's `postgresql` and `redis-server` packages ***\n");
    return undefined;
  }
  const storeUrl = await createDatabase(pg, `fleet_${process.pid}_${++dbs}`);
  // The fleet's shared key: it seals what the hosts verify in the store (and the module secrets).
  const env = { WARDEN_STORE_URL: storeUrl, WARDEN_REDIS_URL: redis.url, WARDEN_SECRET_KEY: randomBytes(32).toString("base64") };
  const first = tempDir("warden-fleet-");
  const init = warden(["--home", first, "init"], env);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const cli0 = (args: string[]) => warden(["--home", first, ...args], env);
  expectOk(cli0(["config", "set", "api.enabled", "true"]));
  o.before?.(cli0);
  const hosts: FleetHost[] = [];
  const start = async (home = tempDir("warden-fleet-"), extra: Record<string, string> = {}): Promise<FleetHost> => {
    const serving = await serveInBackground(["--home", home], { ...env, ...extra });
    const m = /REST API on (http:\/\/[0-9.:]+)/.exec(serving.output());
    if (!m) throw new Error(`no API address: ${serving.output()}`);
    const base = new URL(m[1]!);
    const h: FleetHost = {
      home,
      serving,
      base,
      cli: (args, stdin) => warden(["--home", home, ...args], env, stdin),
      call: (path, c = {}) =>
        raw(base, {
          method: c.method ?? (c.body === undefined ? "GET" : "POST"),
          path,
          headers: { ...(c.token ? { authorization: `Bearer ${c.token}` } : {}), ...(c.body === undefined ? {} : { "content-type": "application/json" }), ...c.headers },
          ...(c.body === undefined ? {} : { body: JSON.stringify(c.body) }),
          ...(c.from ? { from: c.from } : {}),
        }),
    };
    hosts.push(h);
    return h;
  };
  await start(first);
  for (let i = 1; i < n; i++) await start();
  const fleet: Fleet = {
    pg,
    redis,
    storeUrl,
    env,
    hosts,
    start: (extra) => start(undefined, extra),
    stop: async () => {
      await Promise.all(hosts.map((h) => stopHost(h)));
      await redis.stop();
      await pg.stop();
    },
  };
  afterAll(() => fleet.stop(), 180_000);
  return fleet;
}

/**
 * SIGTERM, as an operator's Ctrl-C; a host that has not exited 45 s later is named loudly and
 * killed, so one stuck host does not take the rest of the suite's teardown with it (whether one
 * SIGTERM stops a host is test/fleet/shutdown.test.ts's subject).
 */
async function stopHost(h: FleetHost): Promise<void> {
  // serving.stop(): SIGTERM unless it already exited (a test may have SIGKILLed it), and its exit.
  const stopped = h.serving.stop().then(() => "stopped" as const);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), 45_000)));
  if ((await Promise.race([stopped, late])) === "late") {
    console.warn(`\n*** fleet host ${h.home} (pid ${h.serving.proc.pid}) did not exit within 45 s of SIGTERM; killed. Its last output:\n${h.serving.output().slice(-2000)}\n`);
    h.serving.proc.kill("SIGKILL");
    await stopped;
  }
  clearTimeout(timer);
}

export function expectOk(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`warden failed (${r.code}): ${r.stderr || r.stdout}`);
  return r;
}

export { eventually } from "./eventually.js";
import { eventually } from "./eventually.js";

/**
 * Installs `ledger` through `h` (storage writes over REST: `put {key, value}`, `get {key}`) and a
 * token for it; resolves once every host of the fleet answers it.
 */
export async function installLedger(fleet: Fleet, h: FleetHost): Promise<string> {
  const src = tempDir();
  const any = { type: "object" };
  writeModule(src, {
    id: "ledger",
    capabilities: ["commands.register", "storage.read", "storage.write"],
    commands: { put: { description: "p", input: any }, get: { description: "g", input: any } },
    code: `export function activate(ctx) {
      ctx.commands.register("put", async ({ key, value }) => { await ctx.storage.set(key, value); return "ok"; });
      ctx.commands.register("get", async ({ key }) => (await ctx.storage.get(key)) ?? null);
    }`,
  });
  expectOk(h.cli(["module", "install", `${src}/ledger`]));
  const token = expectOk(h.cli(["auth", "grant", "--name", `ledger-${Date.now()}`, "--scopes", "ledger.*", "--json"])).json.token as string;
  for (const x of fleet.hosts) await eventually(async () => (await x.call("/api/v1/ledger/get", { token, body: { key: "-" } })).status === 200, `ledger on ${x.home}`);
  return token;
}

/** Runs `fn` on a connection of its own to the fleet's PostgreSQL: what someone who can write the database does. */
export async function sqlOn<T>(storeUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: storeUrl });
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
