// The Lua scripts the fleet's security state runs in Redis: each decision is one atomic script
// (admit a request, count a failed authentication, set a decision with the TTL that ends it), so no
// counter is ever left without its TTL and two hosts never decide on half-updated state.
import type { Redis, Result } from "ioredis";
import { REVOCATION_EPOCH_KEY } from "../../sdk/system/fleet.js";

// KEYS: block, client window, failed window (this client's); the fleet-wide keys (lockdown, global
// window, revocation epoch, seed marker) are fixed names under ARGV[1] (their prefix).
// ARGV[2..6]: rate_limit, global_limit, window_ms, block_ms, lockdown_ms.
// Each window key gets its TTL in the INCR that creates it (scripts run atomically: a counter can
// never be left without one). Reasons are composed only when a limit is crossed.
const ADMIT = `
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local p = ARGV[1]
local lockdown, global = p .. 'lockdown', p .. 'g'
local state = redis.call('MGET', '${REVOCATION_EPOCH_KEY}', p .. 'seeded', lockdown, KEYS[1])
local epoch = state[1] or ''
if not state[2] then return {'unseeded', 0, epoch} end
if state[3] then return {'locked', now(), epoch, state[3]} end
if state[4] then return {'blocked', now(), epoch, state[4]} end
local rate, glimit, window, block_ms, lock_ms = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6]
local g = redis.call('INCR', global)
if g == 1 then redis.call('PEXPIRE', global, window) end
if g > tonumber(glimit) then
  local ms = tonumber(lock_ms)
  local at = now()
  local d = cjson.encode({['until'] = at + ms, reason = 'global limit of ' .. glimit .. ' requests per minute crossed', by = 'limits'})
  redis.call('SET', lockdown, d, 'PX', ms)
  redis.call('DEL', global)
  return {'lockdown_now', at, epoch, d}
end
local c = redis.call('INCR', KEYS[2])
local ttl = window
if c == 1 then redis.call('PEXPIRE', KEYS[2], window) else ttl = redis.call('PTTL', KEYS[2]) end
if c > tonumber(rate) then
  local ms = tonumber(block_ms)
  local at = now()
  local d = cjson.encode({['until'] = at + ms, reason = 'more than ' .. rate .. ' requests per minute', by = 'limits'})
  redis.call('SET', KEYS[1], d, 'PX', ms)
  redis.call('DEL', KEYS[2], KEYS[3])
  return {'block_now', at, epoch, d}
end
return {'ok', 0, epoch, c, ttl}
`;

// KEYS: block, failed window, client window; ARGV: failed_limit, window_ms, block_ms, reason
const FAILED = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = redis.call('INCR', KEYS[2])
if f == 1 then redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2])) end
if f >= tonumber(ARGV[1]) then
  local ms = tonumber(ARGV[3])
  local d = cjson.encode({['until'] = now + ms, reason = string.format(ARGV[4], f), by = 'limits'})
  local old = redis.call('GET', KEYS[1])
  if not (old and string.find(old, '"by":"operator"', 1, true)) then redis.call('SET', KEYS[1], d, 'PX', ms) end
  redis.call('DEL', KEYS[2], KEYS[3])
  return {'block_now', now, d}
end
return {'ok', now}
`;

// KEYS: key; ARGV: json, until (ms) — set with the TTL that ends it, by Redis's clock
const SET_UNTIL = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = tonumber(ARGV[2]) - now
if ms <= 0 then redis.call('DEL', KEYS[1]); return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ms)
return 1
`;

// The scripts defined below, as ioredis's own types learn of custom commands: on a connection
// and in a pipeline alike (ioredis's documented way, declaration merging on RedisCommander).
declare module "ioredis" {
  interface RedisCommander<Context> {
    wardenAdmit(...args: Array<string | number>): Result<Array<string | number>, Context>;
    wardenFailed(...args: Array<string | number>): Result<Array<string | number>, Context>;
    wardenSetUntil(...args: Array<string | number>): Result<number, Context>;
  }
}

/** Loads the scripts on a connection (once; then EVALSHA, and EVAL only if Redis lost them). */
export function defineScripts(redis: Redis): void {
  redis.defineCommand("wardenAdmit", { numberOfKeys: 3, lua: ADMIT });
  redis.defineCommand("wardenFailed", { numberOfKeys: 3, lua: FAILED });
  redis.defineCommand("wardenSetUntil", { numberOfKeys: 1, lua: SET_UNTIL });
}
