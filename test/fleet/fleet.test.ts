// Three `warden serve` hosts on loopback sharing one PostgreSQL and one Redis: one policy
// everywhere. Limits are exact across hosts, a lockdown or a revoke through one host holds on the
// others by their next request (Redis started with pub/sub disabled: nothing relies on it), and a
// module installed, approved or revoked through any host takes effect on all of them.
import { Redis as RedisClient } from "ioredis";
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { warden } from "../helpers/cli.js";
import { tempDir, writeModule } from "../helpers/modules.js";
import { eventually, expectOk, startFleet, type FleetHost } from "../helpers/fleet.js";

// Pub/sub commands do not exist on this Redis: revocation and lockdown must not need them.
const NO_PUBSUB = ["PUBLISH", "SUBSCRIBE", "PSUBSCRIBE", "SPUBLISH", "SSUBSCRIBE"].flatMap((c) => ["--rename-command", c, ""]);

// The decision deadline (backend_timeout_ms, 150 ms by default) is raised to its maximum here: these
// tests count admissions exactly, and on a busy machine a slow Redis reply must not turn one into a
// 503 (outages.test.ts is where that deadline is tested).
const fleet = await startFleet(3, {
  redisArgs: NO_PUBSUB,
  before: (cli) => {
    expectOk(cli(["config", "set", "security.rate_limit", "100"]));
    expectOk(cli(["config", "set", "security.backend_timeout_ms", "10000"]));
    // Budgets are under test, not a call's time limit: twenty 500 KB cache writes into Redis on a
    // busy machine must not turn into timeouts.
    expectOk(cli(["config", "set", "sandbox.maxTimeoutMs", "30000"]));
    expectOk(cli(["config", "set", "sandbox.defaultTimeoutMs", "30000"]));
  },
});
const d = fleet ? describe : describe.skip;

const tokenOn = (h: FleetHost, name: string, scopes = "*") => expectOk(h.cli(["auth", "grant", "--name", name, "--scopes", scopes, "--json"])).json.token as string;

// Each test runs several CLI commands and waits in a row; every wait has its own bound (eventually),
// so the test's own limit is only a backstop, wide enough for a busy machine.
d("a fleet of three hosts", { timeout: 180_000 }, () => {
  const [a, b, c] = fleet?.hosts ?? [];

  it("admits exactly rate_limit requests of one client across the hosts, and every Redis key has a TTL", async () => {
    const token = tokenOn(a!, "limits");
    const from = "127.0.0.2";
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => [a, b, c][i % 3]!.call("/api/v1/config/get?key=api.enabled", { token, from })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    expect(statuses.filter((s) => s === 429)).toHaveLength(200);
    expect(new Set(results.filter((r) => r.status === 429).map((r) => r.json.error.code))).toEqual(new Set(["rate_limited", "blocked"]));
    // Every host answers the blocked client the same way now.
    for (const h of [a, b, c]) expect((await h!.call("/api/v1/config/get?key=api.enabled", { token, from })).json.error.code).toBe("blocked");

    const r = new RedisClient(fleet!.redis.url);
    try {
      const keys = await r.keys("*");
      expect(keys).toEqual(expect.arrayContaining(["warden:sec:b:127.0.0.2", "warden:sec:g"]));
      for (const k of keys) expect(await r.pttl(k), k).toBeGreaterThan(0);
    } finally {
      r.disconnect();
    }
  });

  it("a lockdown through A closes B and C on their next request; an unlock through A opens them", async () => {
    const token = tokenOn(a!, "lock");
    for (const h of [b, c]) expect((await h!.call("/api/v1/config/get?key=api.enabled", { token, from: "127.0.0.3" })).status).toBe(200);
    expectOk(a!.cli(["security", "lockdown", "--seconds", "300"]));
    for (const h of [b, c]) {
      const r = await h!.call("/api/v1/config/get?key=api.enabled", { token, from: "127.0.0.3" });
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe("locked_down");
      expect(Number(r.headers["retry-after"])).toBeGreaterThan(200);
    }
    expectOk(a!.cli(["security", "unlock"]));
    for (const h of [b, c]) expect((await h!.call("/api/v1/config/get?key=api.enabled", { token, from: "127.0.0.3" })).status).toBe(200);
  });

  it("a token revoked through A is refused by B and C on their next request (their caches re-check it)", async () => {
    const token = tokenOn(a!, "doomed");
    // Verified and cached on every host first.
    for (const h of [a, b, c]) expect((await h!.call("/api/v1/config/get?key=api.enabled", { token, from: "127.0.0.4" })).status).toBe(200);
    expectOk(a!.cli(["auth", "revoke", "--yes", "doomed"]));
    for (const h of [b, c]) {
      const r = await h!.call("/api/v1/config/get?key=api.enabled", { token, from: "127.0.0.4" });
      expect(r.status).toBe(401);
      expect(r.json.error.code).toBe("token_revoked");
    }
    // A rotation through B likewise: the old secret stops on A and C at once.
    const rotated = tokenOn(a!, "rotating");
    for (const h of [a, c]) expect((await h!.call("/api/v1/config/get?key=api.enabled", { token: rotated, from: "127.0.0.4" })).status).toBe(200);
    const fresh = expectOk(b!.cli(["auth", "rotate", "rotating", "--json"])).json.token as string;
    for (const h of [a, c]) {
      expect((await h!.call("/api/v1/config/get?key=api.enabled", { token: rotated, from: "127.0.0.4" })).status).toBe(401);
      expect((await h!.call("/api/v1/config/get?key=api.enabled", { token: fresh, from: "127.0.0.4" })).status).toBe(200);
    }
  });

  it("a trusted client (exempt from limits) or security disabled is still not exempt from a revoke on another host", async () => {
    expectOk(a!.cli(["security", "config", "--set", "trusted=127.0.0.7"]));
    for (const h of [b, c]) await eventually(() => expectOk(h!.cli(["config", "get", "security.trusted", "--json"])).json.value[0] === "127.0.0.7", `trusted on ${h!.home}`);
    const trusted = tokenOn(a!, "trusted-doomed");
    for (const h of [b, c]) expect((await h!.call("/api/v1/config/get?key=api.enabled", { token: trusted, from: "127.0.0.7" })).status).toBe(200);
    expectOk(a!.cli(["auth", "revoke", "--yes", "trusted-doomed"]));
    for (const h of [b, c]) expect((await h!.call("/api/v1/config/get?key=api.enabled", { token: trusted, from: "127.0.0.7" })).status).toBe(401);
    expectOk(a!.cli(["security", "config", "--set", "trusted="]));

    expectOk(a!.cli(["security", "disable", "--yes"]));
    try {
      for (const h of [b, c]) await eventually(() => expectOk(h!.cli(["config", "get", "security.enabled", "--json"])).json.value === false, `disabled on ${h!.home}`);
      const t = tokenOn(a!, "unlimited-doomed");
      for (const h of [b, c]) expect((await h!.call("/api/v1/config/get?key=api.enabled", { token: t, from: "127.0.0.8" })).status).toBe(200);
      expectOk(a!.cli(["auth", "revoke", "--yes", "unlimited-doomed"]));
      for (const h of [b, c]) expect((await h!.call("/api/v1/config/get?key=api.enabled", { token: t, from: "127.0.0.8" })).status).toBe(401);
    } finally {
      expectOk(a!.cli(["security", "enable"]));
    }
  });

  it("a module installed through A answers on B and C; an approval and a revoke through B hold on A", async () => {
    const src = tempDir();
    const any = { type: "object" };
    writeModule(src, {
      id: "tally",
      capabilities: ["commands.register", "storage.read", "storage.write", { name: "config.read", keys: ["api.port"] }],
      commands: { put: { description: "p", input: any }, get: { description: "g", input: any } },
      code: `export function activate(ctx) {
        ctx.commands.register("put", async ({ key, value }) => { await ctx.storage.set(key, value); return "ok"; });
        ctx.commands.register("get", async ({ key }) => (await ctx.storage.get(key)) ?? null);
      }`,
    });
    const token = tokenOn(a!, "tally", "tally.*");
    expectOk(a!.cli(["module", "install", `${src}/tally`]));
    // Pending approval everywhere: config.read of another owner's key is elevated.
    for (const h of [a, b, c]) {
      await eventually(async () => (await h!.call("/api/v1/tally/get", { token, body: { key: "k" }, from: "127.0.0.5" })).json?.error?.code === "approval_required", `tally pending on ${h!.home}`);
    }
    expectOk(b!.cli(["module", "approve", "tally"]));
    for (const h of [a, b, c]) {
      await eventually(async () => (await h!.call("/api/v1/tally/put", { token, body: { key: "k", value: h!.home }, from: "127.0.0.5" })).status === 200, `tally approved on ${h!.home}`);
    }
    // The files each host runs are the ones installed, checked against their hashes.
    const inspect = expectOk(c!.cli(["module", "inspect", "tally", "--json"])).json;
    expect(inspect.state).toBe("active");

    expectOk(b!.cli(["module", "revoke", "--yes", "tally", "storage.write"]));
    const refused = await eventually(async () => {
      const r = await a!.call("/api/v1/tally/put", { token, body: { key: "k2", value: 1 }, from: "127.0.0.5" });
      return r.status === 403 ? r : undefined;
    }, "storage.write revoked on A");
    expect(refused.json.error.code).toBe("capability_denied");
    // Reading still works, and every host sees the same storage.
    expect((await c!.call("/api/v1/tally/get", { token, body: { key: "k" }, from: "127.0.0.5" })).status).toBe(200);

    expectOk(c!.cli(["module", "remove", "tally", "--yes"]));
    for (const h of [a, b]) {
      await eventually(async () => (await h!.call("/api/v1/tally/get", { token, body: { key: "k" }, from: "127.0.0.5" })).status === 404, `tally removed on ${h!.home}`);
    }
  });

  it("the cache is one for the fleet: set through A, read through B and C, a tag invalidated through C, budgets held", async () => {
    const src = tempDir();
    const any = { type: "object" };
    writeModule(src, {
      id: "memo",
      capabilities: ["commands.register", "cache.use"],
      commands: { put: { description: "p", input: any }, get: { description: "g", input: any }, drop: { description: "d", input: any }, fill: { description: "f", input: any } },
      code: `export function activate(ctx) {
        ctx.commands.register("put", async ({ key, value, tag }) => { await ctx.cache.set(key, value, { ttlMs: 60000, tags: [tag] }); return "ok"; });
        ctx.commands.register("get", async ({ key }) => (await ctx.cache.get(key)) ?? null);
        ctx.commands.register("drop", async ({ tag }) => ctx.cache.invalidateTag(tag));
        ctx.commands.register("fill", async () => {
          const out = {};
          for (let i = 0; i < 20; i++) { try { await ctx.cache.set("big" + i, "z".repeat(500000)); out.ok = (out.ok || 0) + 1; } catch (e) { out[e.code] = (out[e.code] || 0) + 1; } }
          return out;
        });
      }`,
    });
    const token = tokenOn(a!, "memo", "memo.*");
    expectOk(a!.cli(["module", "install", `${src}/memo`]));
    for (const h of [a, b, c]) await eventually(async () => (await h!.call("/api/v1/memo/get", { token, body: { key: "x" }, from: "127.0.0.6" })).status === 200, `memo on ${h!.home}`);
    expect((await a!.call("/api/v1/memo/put", { token, body: { key: "x", value: { n: 1 }, tag: "t1" }, from: "127.0.0.6" })).status).toBe(200);
    for (const h of [b, c]) expect((await h!.call("/api/v1/memo/get", { token, body: { key: "x" }, from: "127.0.0.6" })).json).toEqual({ n: 1 });
    expect((await c!.call("/api/v1/memo/drop", { token, body: { tag: "t1" }, from: "127.0.0.6" })).json).toBe(1);
    for (const h of [a, b]) expect((await h!.call("/api/v1/memo/get", { token, body: { key: "x" }, from: "127.0.0.6" })).json).toBeNull();
    // cache.max_bytes_per_module (8 MiB by default) holds across hosts: 16 of 500 KB fit, not 20.
    const first = (await a!.call("/api/v1/memo/fill", { token, body: {}, from: "127.0.0.6" })).json;
    expect(first.ok, JSON.stringify(first)).toBeLessThanOrEqual(16);
    expect(first.quota_exceeded).toBeGreaterThanOrEqual(4);
    const again = (await b!.call("/api/v1/memo/fill", { token, body: {}, from: "127.0.0.6" })).json;
    expect(again.ok).toBe(first.ok); // the same keys, replaced: the total stays within the budget

    const r = new RedisClient(fleet!.redis.url);
    try {
      for (const key of await r.keys("warden:cache:*")) expect(await r.pttl(key), key).toBeGreaterThan(0);
      expect(Number(await r.get("warden:cache:u:memo"))).toBeLessThanOrEqual(8 * 1024 * 1024);
    } finally {
      r.disconnect();
    }
  });

  it("a host whose change notifications were cut still catches up through the change counter", async () => {
    const { default: pg } = await import("pg");
    const admin = new pg.Client({ connectionString: fleet!.storeUrl });
    admin.on("error", () => {});
    await admin.connect();
    try {
      const cut = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'warden-listen'");
      expect(cut.rowCount).toBe(3);
    } finally {
      await admin.end();
    }
    // Made before any host listens again: no notification carries it.
    expectOk(a!.cli(["config", "set", "log.keep", "9"]));
    for (const h of [b, c]) await eventually(() => expectOk(h!.cli(["config", "get", "log.keep", "--json"])).json.value === 9, `log.keep on ${h!.home}`);
  });

  it("status names each part's backend and says it is reachable; no password is shown", async () => {
    const s = expectOk(b!.cli(["status", "--json"])).json;
    expect(s.mode).toBe("serving");
    expect(s.backends.store).toMatchObject({ backend: "postgres", reachable: true });
    expect(s.backends.redis).toMatchObject({ reachable: true });
    expect(s.backends.parts).toMatchObject({ config: "postgres", tokens: "postgres", audit: "postgres", security: "redis" });
  });

  it("a home's own config can name the store; passwords in URLs reach no log, error, status or config list", async () => {
    // The throwaway server trusts loopback, so a password in the URL is carried but not needed.
    const secret = "hunter2-do-not-print";
    const withPassword = fleet!.storeUrl.replace("postgres://warden@", `postgres://warden:${secret}@`);
    const redisWithPassword = fleet!.redis.url.replace("redis://", `redis://:${secret}@`);
    const home = tempDir("warden-fleet-local-");
    const local = (args: string[], env: Record<string, string> = {}) =>
      warden(["--home", home, ...args], { WARDEN_STORE_URL: "", WARDEN_REDIS_URL: "", WARDEN_SECRET_KEY: fleet!.env.WARDEN_SECRET_KEY!, ...env });
    expectOk(local(["init"]));
    // fleet.store in this home's own system.brain points it at the fleet's PostgreSQL.
    expectOk(local(["config", "set", "fleet.store", withPassword]));
    const status = local(["status", "--json"]);
    expect(status.json.backends.store).toMatchObject({ backend: "postgres", reachable: true });
    const list = expectOk(local(["config", "list", "--json"]));
    expect(list.json.find((e: { key: string }) => e.key === "api.enabled").value).toBe(true); // the fleet's config
    // A Redis password given on the command line, and a PostgreSQL that cannot be reached.
    const viaFlag = local(["--redis", redisWithPassword, "status", "--json"]);
    expect(viaFlag.json.backends.redis).toMatchObject({ reachable: true });
    const down = local(["--store", withPassword.replace(/:\d+\//, ":1/"), "config", "list", "--json"]);
    expect(down.code).not.toBe(0);
    expect(JSON.parse(down.stderr || down.stdout).error.code).toBe("store_unavailable");
    const set = expectOk(a!.cli(["config", "set", "fleet.redis", redisWithPassword, "--json"])).stdout;
    const shown = expectOk(b!.cli(["config", "list", "--json"])).stdout;
    expect(shown).toContain("redis://:***@");
    // As a query parameter, and with an '@' inside the password: masked whole all the same.
    const inQuery = expectOk(a!.cli(["config", "set", "fleet.redis", `${fleet!.redis.url}/0?password=${secret}`, "--json"])).stdout;
    const withAt = expectOk(a!.cli(["config", "set", "fleet.redis", fleet!.redis.url.replace("redis://", `redis://u:${secret.slice(0, 6)}@${secret.slice(6)}@`), "--json"])).stdout;
    expectOk(a!.cli(["config", "set", "fleet.redis", ""]));
    const audit = expectOk(a!.cli(["audit", "tail", "-n", "50", "--json"])).stdout;
    for (const out of [status.stdout, list.stdout, viaFlag.stdout, down.stdout + down.stderr, set, shown, inQuery, withAt, audit]) {
      expect(out).not.toContain(secret);
      expect(out).not.toContain(secret.slice(6));
    }
    for (const h of [home, a!.home, b!.home]) {
      for (const f of readdirSync(join(h, "logs"))) expect(readFileSync(join(h, "logs", f), "utf8"), `${h}/logs/${f}`).not.toContain(secret);
    }
  });

  it("a security list entry that is not an address is refused by any config path (running and restarting hosts would disagree)", async () => {
    const r = a!.cli(["config", "set", "security.deny", '["127.0.0.9","127.0.0.300"]', "--json"]);
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.stderr || r.stdout).error.code).toBe("config_invalid");
    expect(expectOk(b!.cli(["config", "get", "security.deny", "--json"])).json.value).toEqual([]);
  });

  it("a fleet host without WARDEN_SECRET_KEY does not start, and says why: it could verify nothing the store holds, nor open a secret", async () => {
    const r = warden(["--home", tempDir("warden-keyless-"), "init", "--json"], { ...fleet!.env, WARDEN_SECRET_KEY: "" });
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.stderr || r.stdout).error).toMatchObject({ code: "secret_unavailable", message: expect.stringContaining("WARDEN_SECRET_KEY") });
  });

  it("one audit chain for the fleet, verified through any host", async () => {
    const v = expectOk(c!.cli(["audit", "verify", "--json"])).json;
    expect(v.ok).toBe(true);
    expect(v.count).toBeGreaterThan(10);
  });
});
