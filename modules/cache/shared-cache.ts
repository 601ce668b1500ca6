// The cache of a fleet, in Redis: one namespace per module, shared by every host, with TTLs and
// tags, and the same budgets as the in-memory cache, checked in the script that writes, so they hold
// exactly whichever host a module's call lands on: a value's size, a module's total, the whole
// cache's bytes and entries (the entries that end soonest make room, as the LRU's least recent do).
//
// The books are fleet-wide: a sorted set of every entry by its expiry (member `<ns>:<key>`), a hash
// of their sizes and one of their tags, a total, and a total per module. Each write first drops what
// has expired, so no total counts bytes Redis already let go. An entry's size counts its value, its
// key, each of its tags and a fixed overhead for Redis's own books; a replaced or deleted entry
// leaves its tags' sets. Every key carries a TTL.
import type { Redis } from "ioredis";
import { scanKeys } from "../../sdk/system/fleet.js";
import { budgetRefusal, type Budgets, type SetOptions } from "./cache-manager.js";

const P = "warden:cache:";
/** What Redis spends on an entry beyond its bytes (keys, sorted-set and hash fields), and per tag. */
export const ENTRY_OVERHEAD = 128;
export const TAG_OVERHEAD = 32;

// The books and how an entry leaves them (ARGV[1] is the prefix P).
const BOOKS = `
local P = ARGV[1]
local z, s, g, total = P .. 'z', P .. 's', P .. 'g', P .. 'total'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function split(m)
  local at = string.find(m, ':', 1, true)
  return string.sub(m, 1, at - 1), string.sub(m, at + 1)
end
local function forget(m)
  local ns, key = split(m)
  local b = tonumber(redis.call('HGET', s, m) or '0')
  local tags = redis.call('HGET', g, m)
  if tags then
    for _, tag in ipairs(cjson.decode(tags)) do redis.call('SREM', P .. 't:' .. ns .. ':' .. tag, key) end
    redis.call('HDEL', g, m)
  end
  redis.call('HDEL', s, m)
  redis.call('ZREM', z, m)
  redis.call('DECRBY', P .. 'u:' .. ns, b)
  redis.call('DECRBY', total, b)
  return redis.call('DEL', P .. 'v:' .. m)
end
local function keep(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', z, '-inf', now, 'LIMIT', 0, 1000)) do forget(m) end
`;

// ARGV: prefix, ns, key, text, bytes, ttl_ms, max_per_ns, max_bytes, max_entries, tags...
const SET = `${BOOKS}
local ns, key = ARGV[2], ARGV[3]
local m = ns .. ':' .. key
local bytes, ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
local old = tonumber(redis.call('HGET', s, m) or '0')
local after = tonumber(redis.call('GET', P .. 'u:' .. ns) or '0') - old + bytes
if after > tonumber(ARGV[7]) then return {'over', after} end
if redis.call('HEXISTS', s, m) == 1 then forget(m) end
local max_bytes, max_entries = tonumber(ARGV[8]), tonumber(ARGV[9])
while tonumber(redis.call('GET', total) or '0') + bytes > max_bytes or redis.call('ZCARD', z) >= max_entries do
  local first = redis.call('ZRANGE', z, 0, 0)[1]
  if not first then break end
  forget(first)
end
redis.call('SET', P .. 'v:' .. m, ARGV[4], 'PX', ttl)
redis.call('ZADD', z, now + ttl, m)
redis.call('HSET', s, m, bytes)
redis.call('INCRBY', P .. 'u:' .. ns, bytes)
redis.call('INCRBY', total, bytes)
if #ARGV > 9 then
  local tags = {}
  for i = 10, #ARGV do
    tags[#tags + 1] = ARGV[i]
    local tk = P .. 't:' .. ns .. ':' .. ARGV[i]
    redis.call('SADD', tk, key)
    keep(tk, ttl)
  end
  redis.call('HSET', g, m, cjson.encode(tags))
  keep(g, ttl)
end
keep(z, ttl); keep(s, ttl); keep(total, ttl); keep(P .. 'u:' .. ns, ttl)
return {'ok', after}
`;

// ARGV: prefix, ns, keys...
const DELETE = `${BOOKS}
local n = 0
for i = 3, #ARGV do
  local m = ARGV[2] .. ':' .. ARGV[i]
  if redis.call('HEXISTS', s, m) == 1 then n = n + forget(m) end
end
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
    // The scripts name their keys from the prefix they are given (one Redis, not Redis Cluster).
    redis.defineCommand("wardenCacheSet", { numberOfKeys: 0, lua: SET });
    redis.defineCommand("wardenCacheDelete", { numberOfKeys: 0, lua: DELETE });
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
        const text = await this.#r.get(`${P}v:${ns}:${key}`);
        if (text === null) this.misses++;
        else this.hits++;
        return text === null ? undefined : JSON.parse(text);
      },
      set: async (key: string, value: unknown, o: SetOptions = {}): Promise<void> => {
        if (!this.enabled) return;
        const text = JSON.stringify(value ?? null);
        const tags = [...new Set(o.tags ?? [])];
        const keyBytes = Buffer.byteLength(key) + ns.length + 1;
        const bytes = Buffer.byteLength(text) + keyBytes + ENTRY_OVERHEAD + tags.reduce((n, t) => n + Buffer.byteLength(t) + keyBytes + TAG_OVERHEAD, 0);
        const b = this.#budgets;
        if (bytes > b.maxValueBytes) {
          throw budgetRefusal(`a cache value of ${bytes} bytes (with its key and tags) is over cache.max_value_bytes (${b.maxValueBytes}); cache smaller values`, {
            budget: "cache.value_bytes",
            requested: bytes,
            allowed: b.maxValueBytes,
          });
        }
        const [outcome, after] = await this.#r.wardenCacheSet(P, ns, key, text, bytes, o.ttlMs ?? b.defaultTtlMs, b.maxBytesPerNamespace, b.maxBytes, b.maxEntries, ...tags);
        if (outcome === "over") {
          throw budgetRefusal(
            `module '${ns}' would hold ${after} bytes of cache; cache.max_bytes_per_module allows ${b.maxBytesPerNamespace}: delete entries, use shorter TTLs, or have an operator raise the limit`,
            { budget: "cache.bytes_per_module", requested: Number(after), allowed: b.maxBytesPerNamespace },
          );
        }
      },
      delete: async (key: string): Promise<boolean> => (await this.#delete(ns, [key])) > 0,
      invalidateTag: async (tag: string): Promise<number> => {
        const keys = await this.#r.smembers(`${P}t:${ns}:${tag}`);
        const n = await this.#delete(ns, keys);
        await this.#r.del(`${P}t:${ns}:${tag}`);
        return n;
      },
    };
  }

  #delete(ns: string, keys: string[]): Promise<number> {
    return this.#r.wardenCacheDelete(P, ns, ...keys);
  }

  /** Removes every entry (all namespaces). */
  async clear(): Promise<number> {
    let n = 0;
    for (const key of await scanKeys(this.#r, `${P}v:*`)) n += await this.#r.del(key);
    for (const pattern of [`${P}u:*`, `${P}t:*`]) for (const key of await scanKeys(this.#r, pattern)) await this.#r.del(key);
    await this.#r.del(`${P}z`, `${P}s`, `${P}g`, `${P}total`);
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
      enabled: this.enabled,
      backend: "redis",
      size: await this.#r.zcard(`${P}z`),
      bytes: Number((await this.#r.get(`${P}total`)) ?? 0),
      max_bytes: this.#budgets.maxBytes,
      hits: this.hits,
      misses: this.misses,
      namespaces,
    };
  }
}
