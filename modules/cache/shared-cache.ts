// The cache of a fleet, in Redis: one namespace per module, shared by every host, with TTLs and
// tags, and the same budgets as the in-memory cache (a value's size, a module's total), checked in
// the script that writes, so they hold exactly whichever host a module's call lands on.
//
// Per namespace: each value under v:<ns>:<key> (PX = its TTL); a sorted set of keys by expiry and a
// hash of their sizes, so a write first drops what has expired from the module's total (the total
// never counts bytes Redis already let go); a set per tag. Every key carries a TTL.
import type { Redis } from "ioredis";
import { scanKeys } from "../../sdk/fleet.js";
import { CacheBudgetError, type Budgets, type SetOptions } from "./cache-manager.js";

const P = "warden:cache:";
const k = {
  value: (ns: string, key: string) => `${P}v:${ns}:${key}`,
  expiries: (ns: string) => `${P}z:${ns}`,
  sizes: (ns: string) => `${P}s:${ns}`,
  usage: (ns: string) => `${P}u:${ns}`,
  tag: (ns: string, tag: string) => `${P}t:${ns}:${tag}`,
};

// Shared by the scripts: Redis's clock, and dropping expired keys from a namespace's books.
const PRUNE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function prune(z, s, u)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  for _, m in ipairs(gone) do
    local b = tonumber(redis.call('HGET', s, m) or '0')
    redis.call('HDEL', s, m)
    redis.call('DECRBY', u, b)
  end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', now) end
end
local function keep(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
`;

// KEYS: value, expiries, sizes, usage; ARGV: member, text, bytes, ttl_ms, max_per_ns, tag prefix, tags...
const SET = `${PRUNE}
prune(KEYS[2], KEYS[3], KEYS[4])
local bytes = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local old = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
local after = tonumber(redis.call('GET', KEYS[4]) or '0') - old + bytes
if after > tonumber(ARGV[5]) then return {'over', after} end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], bytes)
redis.call('SET', KEYS[4], after)
for i = 7, #ARGV do
  local tk = ARGV[6] .. ARGV[i]
  redis.call('SADD', tk, ARGV[1])
  keep(tk, ttl)
end
keep(KEYS[2], ttl); keep(KEYS[3], ttl); keep(KEYS[4], ttl)
return {'ok', after}
`;

// KEYS: expiries, sizes, usage; ARGV: value prefix, members...
const DELETE = `${PRUNE}
local n = 0
for i = 2, #ARGV do
  local m = ARGV[i]
  n = n + redis.call('DEL', ARGV[1] .. m)
  local b = tonumber(redis.call('HGET', KEYS[2], m) or '0')
  redis.call('HDEL', KEYS[2], m)
  redis.call('ZREM', KEYS[1], m)
  redis.call('DECRBY', KEYS[3], b)
end
prune(KEYS[1], KEYS[2], KEYS[3])
return n
`;

type Scripted = Redis & {
  wardenCacheSet(...args: Array<string | number>): Promise<[string, number]>;
  wardenCacheDelete(...args: Array<string | number>): Promise<number>;
};

export class SharedCache {
  enabled = true;
  /** This host's own lookups (the entries are shared; the counts are per host). */
  hits = 0;
  misses = 0;
  #budgets: Budgets & { defaultTtlMs: number };
  readonly #r: Scripted;

  constructor(redis: Redis, budgets: Budgets & { defaultTtlMs: number }) {
    this.#budgets = { ...budgets };
    redis.defineCommand("wardenCacheSet", { numberOfKeys: 4, lua: SET });
    redis.defineCommand("wardenCacheDelete", { numberOfKeys: 3, lua: DELETE });
    this.#r = redis as Scripted;
  }

  get redis(): Redis {
    return this.#r;
  }

  configure(budgets: Budgets & { defaultTtlMs: number }): void {
    this.#budgets = { ...budgets };
  }

  forModule(ns: string) {
    return {
      get: async (key: string): Promise<unknown> => {
        if (!this.enabled) return undefined;
        const text = await this.#r.get(k.value(ns, key));
        if (text === null) this.misses++;
        else this.hits++;
        return text === null ? undefined : JSON.parse(text);
      },
      set: async (key: string, value: unknown, o: SetOptions = {}): Promise<void> => {
        if (!this.enabled) return;
        const text = JSON.stringify(value ?? null);
        const bytes = Buffer.byteLength(text) + Buffer.byteLength(key) + ns.length + 1;
        const b = this.#budgets;
        if (bytes > b.maxValueBytes) {
          throw new CacheBudgetError(`a cache value of ${bytes} bytes is over cache.max_value_bytes (${b.maxValueBytes}); cache smaller values`, { budget: "cache.value_bytes", requested: bytes, allowed: b.maxValueBytes });
        }
        const [outcome, after] = await this.#r.wardenCacheSet(
          k.value(ns, key), k.expiries(ns), k.sizes(ns), k.usage(ns),
          key, text, bytes, o.ttlMs ?? b.defaultTtlMs, b.maxBytesPerNamespace, `${P}t:${ns}:`, ...(o.tags ?? []),
        );
        if (outcome === "over") {
          throw new CacheBudgetError(
            `module '${ns}' would hold ${after} bytes of cache; cache.max_bytes_per_module allows ${b.maxBytesPerNamespace}: delete entries, use shorter TTLs, or have an operator raise the limit`,
            { budget: "cache.bytes_per_module", requested: Number(after), allowed: b.maxBytesPerNamespace },
          );
        }
      },
      delete: async (key: string): Promise<boolean> => (await this.#delete(ns, [key])) > 0,
      invalidateTag: async (tag: string): Promise<number> => {
        const members = await this.#r.smembers(k.tag(ns, tag));
        const n = await this.#delete(ns, members);
        await this.#r.del(k.tag(ns, tag));
        return n;
      },
    };
  }

  #delete(ns: string, members: string[]): Promise<number> {
    return this.#r.wardenCacheDelete(k.expiries(ns), k.sizes(ns), k.usage(ns), `${P}v:${ns}:`, ...members);
  }

  /** Removes every entry (all namespaces). */
  async clear(): Promise<number> {
    let n = 0;
    for (const key of await scanKeys(this.#r, `${P}v:*`)) n += await this.#r.del(key);
    for (const pattern of [`${P}z:*`, `${P}s:*`, `${P}u:*`, `${P}t:*`]) for (const key of await scanKeys(this.#r, pattern)) await this.#r.del(key);
    return n;
  }

  /** Removes the entries carrying the tag, in every namespace. */
  async purgeTag(tag: string): Promise<number> {
    let n = 0;
    for (const key of await scanKeys(this.#r, `${P}t:*`)) {
      const rest = key.slice(`${P}t:`.length);
      const colon = rest.indexOf(":");
      if (colon < 0 || rest.slice(colon + 1) !== tag) continue;
      n += await this.forModule(rest.slice(0, colon)).invalidateTag(tag);
    }
    return n;
  }

  async status(): Promise<Record<string, unknown>> {
    const namespaces: Record<string, number> = {};
    for (const key of await scanKeys(this.#r, `${P}u:*`)) namespaces[key.slice(`${P}u:`.length)] = Number((await this.#r.get(key)) ?? 0);
    return {
      enabled: this.enabled, backend: "redis", bytes: Object.values(namespaces).reduce((a, b) => a + b, 0), max_bytes: this.#budgets.maxBytes,
      hits: this.hits, misses: this.misses, namespaces,
    };
  }
}
