// What a fleet host offers its system modules (ctx.services.host): the shared Redis. A single host
// offers nothing here, and the modules keep their state in memory.
import type { Redis } from "ioredis";

/** The `backend:redis` host service. */
export interface RedisBackend {
  /** The URL with its password hidden, for status lines. */
  readonly location: string;
  /** A new connection; `timeoutMs` bounds every command (a slow Redis counts as an unreachable one). */
  connect(name: string, o: { timeoutMs: number }): Redis;
  /** PING with a short deadline: true when Redis answered. */
  ping(timeoutMs?: number): Promise<boolean>;
}

/** The `backend:lock` host service: a lock held across the fleet (the shared store's). */
export interface FleetLock {
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * The fleet's revocation epoch: moved (to a fresh random value) by every token revoke, rotate and
 * reset through any host, read by the security check of every request, so a host's cached token
 * verifications are re-checked after a change made elsewhere.
 */
export const REVOCATION_EPOCH_KEY = "warden:auth:epoch";
/** Every epoch value lives this long (each key in the fleet's Redis has a TTL); a lapsed one reads as "", never trusted. */
export const EPOCH_TTL_S = 7 * 24 * 3600;

/** Keys matching `pattern`, by SCAN (never KEYS, which blocks Redis), at most `max` of them. */
export async function scanKeys(redis: Redis, pattern: string, max = Infinity): Promise<string[]> {
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 500);
    cursor = next;
    out.push(...keys);
  } while (cursor !== "0" && out.length < max);
  return max === Infinity ? out : out.slice(0, max);
}

/**
 * Closes a connection for good: QUIT when Redis answers (pending replies arrive first), then an
 * immediate disconnect, which also stops the reconnect timer that would otherwise keep a stopping
 * host alive while Redis is down.
 */
export async function closeRedis(redis: { quit(): Promise<unknown>; disconnect(): void }): Promise<void> {
  await redis.quit().catch(() => {});
  redis.disconnect();
}
