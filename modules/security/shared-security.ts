// The security state of a fleet, in Redis: windows (per client, global, failed auth), blocks, the
// lockdown and the revocation epoch, shared by every host, so limits are exact across the fleet and
// a lockdown through one host holds on all of them by their next request.
//
// One round trip per request: the `admit` script reads the lockdown, the client's block and the
// revocation epoch (one MGET), counts the global and client windows, and, when it refuses, dates the
// decision by Redis's clock (TIME), so hosts' clocks never disagree about a block's end. Atomic.
// Failed authentications are one more script. Every key written has a TTL. When Redis does not answer
// within security.backend_timeout_ms (or is down), the request is refused: 503 security_unavailable.
//
// Operator decisions (lockdown, blocks) are written to the module's durable storage first (the
// store: PostgreSQL in a fleet), then to Redis, and reported done only then. A Redis that restarted
// empty is re-seeded from the store before it answers a request again (the `seeded` key).
import type { Redis } from "ioredis";
import { EPOCH_TTL_S, REVOCATION_EPOCH_KEY, scanKeys } from "../../sdk/system/fleet.js";
import { clientKey } from "./client-address.js";
import { randomUUID } from "node:crypto";
import { blocked, iso, lockedDown, unavailable, WINDOW_MS, type Decided, type Decision, type DurableStore, type Refusal, type SecurityManager } from "./security-manager.js";
import { WardenError } from "../../sdk/errors.js";
import { recordKey } from "./security-records.js";
import { defineScripts } from "./redis-scripts.js";

const P = "warden:sec:";
// The admit script names the fleet-wide keys itself (lockdown, g, seeded under P; the epoch).
export const KEYS = {
  lockdown: `${P}lockdown`,
  block: (c: string) => `${P}b:${c}`,
  client: (c: string) => `${P}c:${c}`,
  failed: (c: string) => `${P}f:${c}`,
  global: `${P}g`,
  epoch: REVOCATION_EPOCH_KEY,
  seeded: `${P}seeded`,
};
/** Automatic decisions waiting to be made durable again, at most (each a few hundred bytes). */
const MAX_RETRYING = 10_000;
const RETRY_MS = 500;
/** The seed marker lives this long; when it lapses, the next request re-seeds from the store. */
const SEED_TTL_S = 600;

/** The module's storage, as the source of truth for decisions (and of a re-seed). */
export interface SharedDurable extends DurableStore {
  read(key: string): Promise<Decided | undefined>;
  records(): Promise<Array<[string, Decided]>>;
}

export interface SharedHooks {
  onBlock(client: string, until: number, reason: string): void;
  onLockdown(until: number, reason: string): void;
  onDurabilityError(key: string, e: unknown): void;
  /** Decisions that were retried have all been made durable now (`n` of them). */
  onDurableAgain?(n: number): void;
}

export class SharedSecurity {
  readonly #m: SecurityManager;
  readonly #r: Redis;
  readonly #durable: SharedDurable;
  readonly #hooks: SharedHooks;
  #seeding: Promise<void> | undefined;

  /**
   * `manager` holds the settings and lists (and answers what they decide alone); the state lives
   * in Redis. `durable` is the module's storage, the source a Redis that lost its data is re-seeded from.
   */
  constructor(manager: SecurityManager, redis: Redis, durable: SharedDurable, hooks: SharedHooks) {
    this.#m = manager;
    this.#durable = durable;
    this.#hooks = hooks;
    defineScripts(redis);
    this.#r = redis;
    this.#keepSeeded.unref();
  }

  get redis(): Redis {
    return this.#r;
  }

  async check(ip: string): Promise<Decision> {
    const screened = this.#m.screen(ip);
    if (screened && !screened.allow) return screened;
    try {
      // Exempt from windows and blocks (trusted, or limits disabled) is not exempt from revocation:
      // the epoch is read all the same, and without Redis the request is refused all the same.
      if (screened) return { ...screened, epoch: (await this.#r.get(KEYS.epoch)) ?? "" };
      return await this.#admit(clientKey(ip), true);
    } catch (e) {
      return unavailable(e);
    }
  }

  async #admit(client: string, reseed: boolean): Promise<Decision> {
    const s = this.#m.settings;
    const r = await this.#r.wardenAdmit(KEYS.block(client), KEYS.client(client), KEYS.failed(client), P, s.rate_limit, s.global_limit, WINDOW_MS, s.block_duration * 1000, s.ddos_lockdown * 1000);
    const [what, nowRaw, epoch] = r as [string, number, string];
    const now = Number(nowRaw);
    switch (what) {
      case "unseeded": {
        if (!reseed) throw new Error("redis lost its security state and re-seeding it did not take");
        // The seed runs once for all requests; this one waits for it no longer than any decision
        // may take, and is refused (never admitted unchecked) if it is not done by then.
        const seeded = this.#seed().then(() => true);
        const waited = await Promise.race([seeded, new Promise<false>((r) => setTimeout(() => r(false), s.backend_timeout_ms).unref())]);
        if (!waited) throw new Error("redis is being re-seeded with blocks and lockdowns from the store");
        return this.#admit(client, false);
      }
      case "locked": {
        const l = parse(r[3]);
        this.#durableOnSight(recordKey.lockdown, l);
        return lockedDown(l, now);
      }
      case "blocked": {
        const b = parse(r[3]);
        this.#durableOnSight(recordKey.block(client), b);
        return b.reason.startsWith("more than") ? { ...blocked(b, now), limit: s.rate_limit } : blocked(b, now);
      }
      case "lockdown_now": {
        const l = parse(r[3]);
        this.#persistAuto(recordKey.lockdown, l);
        this.#hooks.onLockdown(l.until, l.reason);
        return lockedDown(l, now);
      }
      case "block_now": {
        const b = parse(r[3]);
        this.#persistAuto(recordKey.block(client), b);
        this.#hooks.onBlock(client, b.until, b.reason);
        const refusal = blocked(b, now);
        return { ...refusal, code: "rate_limited", status: 429, limit: s.rate_limit, message: `rate limit exceeded; retry after ${refusal.retry_after} s` };
      }
      default: {
        const count = Number(r[3]);
        const ttl = Number(r[4]);
        return { allow: true, client, epoch, limit: { limit: s.rate_limit, remaining: s.rate_limit - count, reset: Math.ceil(ttl / 1000) } };
      }
    }
  }

  async recordFailure(ip: string): Promise<Decision> {
    const client = clientKey(ip);
    if (!this.#m.countsFailures(ip)) return { allow: true, client };
    const s = this.#m.settings;
    try {
      const r = await this.#r.wardenFailed(KEYS.block(client), KEYS.failed(client), KEYS.client(client), s.failed_limit, WINDOW_MS, s.failed_block * 1000, "%d failed authentications within a minute");
      if (r[0] !== "block_now") return { allow: true, client };
      const b = parse(r[2]);
      this.#persistAuto(recordKey.block(client), b);
      this.#hooks.onBlock(client, b.until, b.reason);
      return blocked(b, Number(r[1]));
    } catch (e) {
      return unavailable(e);
    }
  }

  /** Re-seeds a Redis that lost its state (restarted empty) from the store: one pipeline, one at a time. */
  #seed(): Promise<void> {
    this.#seeding ??= (async () => {
      try {
        const records = await this.#durable.records();
        for (let i = 0; i < records.length; i += 1000) {
          const batch = this.#r.pipeline();
          for (const [key, d] of records.slice(i, i + 1000)) batch.wardenSetUntil(redisKey(key), JSON.stringify(d), d.until);
          for (const [err] of (await batch.exec()) ?? []) if (err) throw err;
        }
        // A Redis that forgot also forgot the revocation epoch: it gets a value no host has seen,
        // so every cached token verification is checked against the store again (a host that
        // cached before the fleet's first revoke must not find "" again and trust it).
        await this.#r.set(KEYS.epoch, `reseed-${randomUUID()}`, "EX", EPOCH_TTL_S, "NX");
        await this.#r.set(KEYS.seeded, "1", "EX", SEED_TTL_S);
      } finally {
        this.#seeding = undefined;
      }
    })();
    return this.#seeding;
  }

  /**
   * While hosts run, the seed marker is kept alive (only if it is there: XX), so a healthy Redis is
   * never re-seeded in the request path; it lapses only when Redis restarted or no host ran.
   */
  #keepSeeded = setInterval(() => void this.#r.set(KEYS.seeded, "1", "EX", SEED_TTL_S, "XX").catch(() => {}), (SEED_TTL_S * 1000) / 10);

  close(): void {
    clearInterval(this.#keepSeeded);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
  }

  /**
   * Automatic blocks and lockdowns, made durable after the refusal that decided them. A write the
   * store refused (a burst of them can outrun its connection pool) is retried until it lands or the
   * decision ends: Redis holds it meanwhile, and a Redis that forgets is re-seeded from the store.
   * At most MAX_RETRYING wait at once (the latest decision per key); past that, the oldest ends
   * first and the loss is logged.
   */
  readonly #retrying = new Map<string, Decided>();
  #retryTimer: NodeJS.Timeout | undefined;

  /**
   * Blocks and lockdowns this host has made durable (or seen made so), with their end: a decision
   * Redis holds but whose deciding host gave up waiting for its answer (the decision deadline) was
   * never written to the store; the first host to serve the refused client writes it. Bounded.
   */
  readonly #durableSeen = new Map<string, number>();

  #durableOnSight(key: string, d: Decided): void {
    if (this.#durableSeen.get(key) === d.until || this.#retrying.has(key)) return;
    this.#persistAuto(key, d);
  }

  #markDurable(key: string, d: Decided): void {
    this.#durableSeen.delete(key);
    if (this.#durableSeen.size >= MAX_RETRYING) {
      const [oldest] = this.#durableSeen.keys();
      if (oldest !== undefined) this.#durableSeen.delete(oldest);
    }
    this.#durableSeen.set(key, d.until);
  }

  #persistAuto(key: string, d: Decided): void {
    this.#markDurable(key, d); // optimistic: a failed write is retried below, and forgotten only once it lands
    this.#durable.write(key, d).catch((e) => {
      if (!this.#retrying.has(key) && this.#retrying.size === 0) this.#hooks.onDurabilityError(key, e);
      this.#retryLater(key, d);
    });
  }

  #retryLater(key: string, d: Decided): void {
    this.#retrying.delete(key);
    if (this.#retrying.size >= MAX_RETRYING) {
      const [oldest] = this.#retrying.keys();
      if (oldest !== undefined) {
        this.#retrying.delete(oldest);
        this.#hooks.onDurabilityError(oldest, new Error(`more than ${MAX_RETRYING} security decisions wait to be made durable; the oldest is dropped (Redis still holds it)`));
      }
    }
    this.#retrying.set(key, d);
    this.#retryTimer ??= setTimeout(() => void this.#retryWrites(), RETRY_MS);
    this.#retryTimer.unref();
  }

  #retried = 0;

  async #retryWrites(): Promise<void> {
    this.#retryTimer = undefined;
    const batch = [...this.#retrying];
    for (const [key, d] of batch) {
      if (d.until <= Date.now()) {
        this.#retrying.delete(key);
        continue;
      }
      try {
        await this.#durable.write(key, d);
        this.#retried++;
        if (this.#retrying.get(key) === d) this.#retrying.delete(key);
      } catch {
        break; // the store still refuses: try the rest on the next round
      }
    }
    if (this.#retrying.size > 0) {
      this.#retryTimer ??= setTimeout(() => void this.#retryWrites(), RETRY_MS);
      this.#retryTimer.unref();
    } else if (this.#retried > 0) {
      this.#hooks.onDurableAgain?.(this.#retried);
      this.#retried = 0;
    }
  }

  // --- operator actions: durable in the store first, then in Redis; done only when both are ---

  /**
   * An operator's decision: durable in the store, then live in Redis. If Redis cannot take it, the
   * store is put back as it was and the operator is told nothing changed (security_unavailable):
   * what they are told always matches what every host does.
   */
  async #decide(key: string, d: Decided | undefined): Promise<void> {
    const before = await this.#durable.read(key);
    await this.#durable.write(key, d);
    try {
      if (d) await this.#r.wardenSetUntil(redisKey(key), JSON.stringify(d), d.until);
      else await this.#r.del(redisKey(key));
    } catch (e) {
      await this.#durable.write(key, before).catch(() => {});
      throw redisDown(e, "nothing was changed");
    }
  }

  /** A Redis read for an operator command, its failure as security_unavailable. */
  async #ask<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw redisDown(e, "nothing was changed");
    }
  }

  async lockdown(seconds: number, reason = "manual lockdown"): Promise<Decided> {
    const l: Decided = { until: (await this.#ask(() => this.#redisNow())) + seconds * 1000, reason, by: "operator" };
    await this.#decide(recordKey.lockdown, l);
    return l;
  }

  async unlock(): Promise<boolean> {
    const was = (await this.#ask(() => this.#r.exists(KEYS.lockdown))) === 1;
    await this.#decide("lockdown", undefined);
    return was;
  }

  async block(ip: string, seconds: number, reason = "blocked by an operator"): Promise<{ client: string; until: number }> {
    const client = clientKey(ip);
    const d: Decided = { until: (await this.#ask(() => this.#redisNow())) + seconds * 1000, reason, by: "operator" };
    await this.#decide(recordKey.block(client), d);
    return { client, until: d.until };
  }

  async unblock(ip: string): Promise<boolean> {
    const client = clientKey(ip);
    const was = (await this.#ask(() => this.#r.exists(KEYS.block(client)))) === 1;
    await this.#decide(recordKey.block(client), undefined);
    return was;
  }

  /** Removes every window and block, in Redis and the store (a lockdown stays). */
  purge(): Promise<number> {
    return this.#ask(() => this.#purge());
  }

  async #purge(): Promise<number> {
    let n = 0;
    for (const prefix of ["b:", "c:", "f:"]) {
      for (const key of await scanKeys(this.#r, `${P}${prefix}*`, Infinity)) {
        if (prefix === "b:") await this.#durable.write(key.slice(P.length), undefined);
        n += await this.#r.del(key);
      }
    }
    n += await this.#r.del(KEYS.global);
    return n;
  }

  status(): Promise<Record<string, unknown>> {
    return this.#ask(() => this.#status());
  }

  async #status(): Promise<Record<string, unknown>> {
    const s = this.#m.settings;
    const now = await this.#redisNow();
    const lock = await this.#r.get(KEYS.lockdown);
    const l = lock ? parse(lock) : undefined;
    const blockedList = [];
    for (const key of await scanKeys(this.#r, `${P}b:*`, 1000)) {
      const raw = await this.#r.get(key);
      if (!raw) continue;
      const b = parse(raw);
      blockedList.push({ client: key.slice(`${P}b:`.length), until: iso(b.until), reason: b.reason, by: b.by });
    }
    const windows = async (prefix: "c:" | "f:", limit: number) => {
      const out = [];
      for (const key of await scanKeys(this.#r, `${P}${prefix}*`, 1000)) {
        const [count, ttl] = await Promise.all([this.#r.get(key), this.#r.pttl(key)]);
        if (count !== null && ttl > 0) out.push({ client: key.slice(P.length + prefix.length), count: Number(count), limit, resets_at: iso(now + ttl) });
      }
      return out;
    };
    const [g, gTtl] = await Promise.all([this.#r.get(KEYS.global), this.#r.pttl(KEYS.global)]);
    return {
      active: s.enabled,
      backend: "redis",
      lockdown: { active: l !== undefined, until: l ? iso(l.until) : null, reason: l?.reason ?? null },
      blocked: blockedList,
      windows: {
        global: { count: Number(g ?? 0), limit: s.global_limit, resets_at: gTtl > 0 ? iso(now + gTtl) : null },
        clients: await windows("c:", s.rate_limit),
        failed_auth: await windows("f:", s.failed_limit),
      },
    };
  }

  async #redisNow(): Promise<number> {
    const [sec, micro] = await this.#r.time();
    return Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
  }
}

function redisDown(e: unknown, outcome: string): Error {
  return new WardenError("security_unavailable", `the fleet's security state (Redis) cannot be reached (${e instanceof Error ? e.message : String(e)}); ${outcome}: retry once it is back`, {
    retryAfter: 2,
    cause: e,
  });
}

/** The storage key of a decision (`lockdown`, `b:<client>`) as its Redis key. */
function redisKey(storageKey: string): string {
  return storageKey === "lockdown" ? KEYS.lockdown : `${P}${storageKey}`;
}

function parse(raw: unknown): Decided {
  const d = JSON.parse(String(raw)) as Decided;
  return { until: Number(d.until), reason: String(d.reason), by: d.by === "operator" ? "operator" : "limits" };
}

export type { Refusal };
