// A hostile module with plain cache.use against a fleet's Redis: every byte it can make Redis hold
// is inside a cache budget — its tags too (counted, bounded in number, and gone with their entry) —
// and cache.max_entries and cache.max_bytes hold for the whole fleet's cache, as they do in memory.
// (Ported from the attack review's test/attacks-fleet/cache-budgets.test.ts.)
import { Redis as RedisClient } from "ioredis";
import { describe, expect, it } from "vitest";
import { tempDir, writeModule } from "../helpers/modules.js";
import { eventually, expectOk, startFleet, type Fleet, type FleetHost } from "../helpers/fleet.js";

const fleet = await startFleet(2, {
  before: (cli) => {
    for (const [k, v] of [
      ["cache.max_value_bytes", "8192"],
      ["cache.max_bytes_per_module", "16384"],
      ["cache.max_entries", "16"],
      ["security.rate_limit", "100000"],
    ])
      expectOk(cli(["config", "set", k!, v!]));
  },
});
const d = fleet ? describe : describe.skip;

async function installHog(f: Fleet, h: FleetHost, id: string): Promise<string> {
  const src = tempDir();
  const any = { type: "object" };
  writeModule(src, {
    id,
    capabilities: ["commands.register", "cache.use"],
    // A call does hundreds of Redis round trips: on a starved machine that is seconds, and this
    // test is about the cache's budgets, not the call's time limit (the host's maximum).
    limits: { timeoutMs: 5000 },
    commands: { tags: { description: "t", input: any }, tiny: { description: "t", input: any }, fill: { description: "f", input: any } },
    code: `export function activate(ctx) {
      ctx.commands.register("tags", async ({ n, round }) => {
        const tags = [];
        for (let i = 0; i < n; i++) tags.push(String(round).padEnd(12, "-") + String(i).padStart(6, "0") + "x".repeat(170));
        try { await ctx.cache.set("k" + round, 1, { ttlMs: 604800000, tags }); } catch (e) { return e.code; }
        if (round % 2) await ctx.cache.delete("k" + round);
        return "ok";
      });
      ctx.commands.register("tiny", async ({ n }) => { let ok = 0; for (let i = 0; i < n; i++) { try { await ctx.cache.set("e" + i, 0); ok++; } catch {} } return ok; });
      ctx.commands.register("fill", async ({ n, size }) => { let ok = 0; for (let i = 0; i < n; i++) { try { await ctx.cache.set("f" + i, "z".repeat(size)); ok++; } catch {} } return ok; });
    }`,
  });
  expectOk(h.cli(["module", "install", `${src}/${id}`]));
  const token = expectOk(h.cli(["auth", "grant", "--name", `${id}-tok`, "--scopes", `${id}.*`, "--json"])).json.token as string;
  for (const x of f.hosts) await eventually(async () => (await x.call(`/api/v1/${id}/tiny`, { token, body: { n: 0 } })).status === 200, `${id} on ${x.home}`);
  return token;
}

async function held(pattern: string): Promise<{ keys: number; bytes: number }> {
  const r = new RedisClient(fleet!.redis.url);
  try {
    const keys = await r.keys(pattern);
    let bytes = 0;
    for (const k of keys) {
      bytes += Number((await r.memory("USAGE", k)) ?? 0);
      expect(await r.pttl(k), k).toBeGreaterThan(0);
    }
    return { keys: keys.length, bytes };
  } finally {
    r.disconnect();
  }
}

d("cache budgets in a fleet's Redis", () => {
  const [a, b] = fleet?.hosts ?? [];

  it("tags count against the module's budget, are at most 16 an entry, and leave with their entry", async () => {
    const token = await installHog(fleet!, a!, "taghog");
    expect((await a!.call("/api/v1/taghog/tags", { token, body: { n: 17, round: 0 } })).json).toBe("input_invalid");
    const outcomes = [];
    for (let round = 1; round <= 20; round++) outcomes.push((await [a, b][round % 2]!.call("/api/v1/taghog/tags", { token, body: { n: 16, round } })).json);
    expect(outcomes).toContain("quota_exceeded");
    const tagSets = await held("warden:cache:t:taghog:*");
    const values = await held("warden:cache:v:taghog:*");
    // What stays is what the budget admitted: the entries kept and their tags, nothing of the deleted.
    expect(tagSets.keys).toBe(values.keys * 16);
    expect(tagSets.bytes + values.bytes, "bytes Redis holds for the module").toBeLessThanOrEqual(16384 * 2);
  });

  it("cache.max_entries holds for the fleet: the entries that end soonest make room", async () => {
    const token = await installHog(fleet!, a!, "entryhog");
    expect((await b!.call("/api/v1/entryhog/tiny", { token, body: { n: 200 } })).json).toBe(200);
    const r = new RedisClient(fleet!.redis.url);
    try {
      expect(await r.zcard("warden:cache:z")).toBeLessThanOrEqual(16);
      expect((await r.keys("warden:cache:v:*")).length).toBeLessThanOrEqual(16);
    } finally {
      r.disconnect();
    }
  });

  it("cache.max_bytes holds across modules and hosts", async () => {
    expectOk(a!.cli(["config", "set", "cache.max_entries", "10000"]));
    expectOk(a!.cli(["config", "set", "cache.max_bytes", "1048576"]));
    expectOk(a!.cli(["config", "set", "cache.max_bytes_per_module", "1048576"]));
    expectOk(a!.cli(["config", "set", "cache.max_value_bytes", "65536"]));
    for (const h of [a, b]) await eventually(() => expectOk(h!.cli(["config", "get", "cache.max_value_bytes", "--json"])).json.value === 65536, `settings on ${h!.home}`);
    const tokens = [await installHog(fleet!, a!, "fillone"), await installHog(fleet!, a!, "filltwo")];
    expect((await a!.call("/api/v1/fillone/fill", { token: tokens[0], body: { n: 16, size: 60000 } })).json).toBe(16);
    expect((await b!.call("/api/v1/filltwo/fill", { token: tokens[1], body: { n: 16, size: 60000 } })).json).toBe(16);
    const r = new RedisClient(fleet!.redis.url);
    try {
      // 32 x 60 KB asked for, 1 MiB allowed: the soonest-ending entries made room.
      expect(Number(await r.get("warden:cache:total"))).toBeLessThanOrEqual(1048576);
      expect(Number(await r.get("warden:cache:total"))).toBeGreaterThan(1048576 - 70000);
      let sum = 0;
      for (const k of await r.keys("warden:cache:u:*")) sum += Number(await r.get(k));
      expect(sum).toBe(Number(await r.get("warden:cache:total")));
    } finally {
      r.disconnect();
    }
  });
});
