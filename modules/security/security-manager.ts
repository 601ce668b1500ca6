// The SecurityManager: three fixed windows (per client, global, failed auth), blocks and lockdown,
// all kept in the cache under security:* tags so they persist and survive `cache disable`.
//
// Window algorithm: fixed windows of 60 s that start at a key's first request (not aligned to the
// clock). It is exact (exactly `rate_limit` requests pass in a window, however concurrent) and
// cheap (one counter per key); the cost is that a client may send up to 2x the limit across a
// window edge, which the block that follows the first excess caps anyway.
import { AddressList, clientKey } from "./client-address.js";

export const WINDOW_MS = 60_000;

export interface Settings {
  enabled: boolean;
  rate_limit: number;
  block_duration: number;
  global_limit: number;
  ddos_lockdown: number;
  failed_limit: number;
  failed_block: number;
  allow: string[];
  deny: string[];
  trusted: string[];
  trusted_proxies: string[];
}

/** The slice of the cache's namespace API this manager uses (synchronous, in-process). */
export interface Counters {
  get(key: string): unknown;
  set(key: string, value: unknown, options?: { ttlMs?: number; tags?: string[] }): void;
  delete(key: string): boolean;
  keys(prefix?: string): string[];
  touch(key: string): void;
}

export type Refusal = {
  allow: false;
  status: number;
  code: "rate_limited" | "blocked" | "locked_down" | "security_unavailable";
  message: string;
  reason: string;
  retry_after?: number;
  blocked_until?: string;
  locked_until?: string;
};
export type Allowance = { allow: true; client: string; limit?: { limit: number; remaining: number; reset: number } };
export type Decision = Allowance | Refusal;

interface Window { start: number; count: number }
interface Block { until: number; reason: string }
interface Lockdown { until: number; reason: string; manual: boolean }

const TAG_WINDOW = "security:window";
const WINDOW_TAGS = [TAG_WINDOW];
const TAG_BLOCK = "security:block";
const TAG_LOCKDOWN = "security:lockdown";

export class SecurityManager {
  #s!: Settings;
  #allow!: AddressList;
  #deny!: AddressList;
  #trusted!: AddressList;
  #proxies!: AddressList;
  readonly #c: Counters;
  readonly #now: () => number;
  /** Told of each new block, for the audit chain and the security log. */
  onBlock: (client: string, until: number, reason: string) => void = () => {};
  onLockdown: (until: number, reason: string) => void = () => {};

  constructor(counters: Counters, settings: Settings, now: () => number = Date.now) {
    this.#c = counters;
    this.#now = now;
    this.configure(settings);
  }

  configure(s: Settings): void {
    this.#s = { ...s };
    this.#allow = new AddressList(s.allow);
    this.#deny = new AddressList(s.deny);
    this.#trusted = new AddressList(s.trusted);
    this.#proxies = new AddressList(s.trusted_proxies);
  }

  get settings(): Settings {
    return { ...this.#s };
  }

  /** The address that counts: X-Forwarded-For only when the socket peer is a trusted proxy. */
  clientAddress(peer: string, forwardedFor?: string): string {
    if (forwardedFor && this.#proxies.has(peer)) {
      // The right-most address not itself a trusted proxy is the client.
      const hops = forwardedFor.split(",").map((h) => h.trim()).filter(Boolean);
      for (let i = hops.length - 1; i >= 0; i--) if (!this.#proxies.has(hops[i]!)) return hops[i]!;
    }
    return peer;
  }

  /** The per-request decision, before auth. Fails closed. */
  check(ip: string): Decision {
    try {
      return this.#check(ip);
    } catch (e) {
      return unavailable(e);
    }
  }

  /** A failed authentication from this client; may block it. Fails closed. */
  recordFailure(ip: string): Decision {
    try {
      const client = clientKey(ip);
      if (!this.#s.enabled || this.#trusted.has(ip)) return { allow: true, client };
      const now = this.#now();
      const w = this.#bump(`f:${client}`, now);
      if (w.count >= this.#s.failed_limit) {
        return this.#blockNow(client, now, this.#s.failed_block, `${w.count} failed authentications within a minute`, "blocked");
      }
      return { allow: true, client };
    } catch (e) {
      return unavailable(e);
    }
  }

  #check(ip: string): Decision {
    const client = clientKey(ip);
    if (this.#deny.has(ip)) return { allow: false, status: 403, code: "blocked", message: "this client may not call the API", reason: "this client is on the deny list" };
    if (this.#allow.entries.length > 0 && !this.#allow.has(ip)) {
      return { allow: false, status: 403, code: "blocked", message: "this client may not call the API", reason: "this client is not on the allow list" };
    }
    if (!this.#s.enabled || this.#trusted.has(ip)) return { allow: true, client };
    const now = this.#now();

    const lock = this.#c.get("lockdown") as Lockdown | undefined;
    if (lock && lock.until > now) return lockedDown(lock, now);

    const block = this.#c.get(`b:${client}`) as Block | undefined;
    if (block && block.until > now) return blocked(block, now);

    const g = this.#bump("g", now);
    if (g.count > this.#s.global_limit) {
      const until = now + this.#s.ddos_lockdown * 1000;
      const l: Lockdown = { until, reason: `global limit of ${this.#s.global_limit} requests per minute crossed`, manual: false };
      this.#c.set("lockdown", l, { tags: [TAG_LOCKDOWN], ttlMs: until - now });
      // The lockdown is the response to this window; when it lifts, counting starts afresh.
      this.#c.delete("w:g");
      this.onLockdown(until, l.reason);
      return lockedDown(l, now);
    }

    const w = this.#bump(`c:${client}`, now);
    if (w.count > this.#s.rate_limit) {
      return this.#blockNow(client, now, this.#s.block_duration, `more than ${this.#s.rate_limit} requests per minute`, "rate_limited");
    }
    return { allow: true, client, limit: { limit: this.#s.rate_limit, remaining: this.#s.rate_limit - w.count, reset: Math.ceil((w.start + WINDOW_MS - now) / 1000) } };
  }

  #bump(key: string, now: number): Window {
    const k = `w:${key}`;
    const w = this.#c.get(k) as Window | undefined;
    if (w && now < w.start + WINDOW_MS) {
      // The hot path: count in place and let the cache write it behind.
      w.count++;
      this.#c.touch(k);
      return w;
    }
    const fresh = { start: now, count: 1 };
    this.#c.set(k, fresh, { tags: WINDOW_TAGS, ttlMs: WINDOW_MS });
    return fresh;
  }

  #blockNow(client: string, now: number, seconds: number, reason: string, code: "blocked" | "rate_limited"): Refusal {
    const b: Block = { until: now + seconds * 1000, reason };
    this.#c.set(`b:${client}`, b, { tags: [TAG_BLOCK], ttlMs: seconds * 1000 });
    // The block is the penalty; when it ends the client starts with fresh windows.
    this.#c.delete(`w:c:${client}`);
    this.#c.delete(`w:f:${client}`);
    this.onBlock(client, b.until, reason);
    const r = blocked(b, now);
    return { ...r, code, status: 429, message: code === "rate_limited" ? `rate limit exceeded; retry after ${r.retry_after} s` : r.message };
  }

  // --- operator actions ---

  lockdown(seconds: number, reason = "manual lockdown"): Lockdown {
    const now = this.#now();
    const l: Lockdown = { until: now + seconds * 1000, reason, manual: true };
    this.#c.set("lockdown", l, { tags: [TAG_LOCKDOWN], ttlMs: seconds * 1000 });
    return l;
  }

  unlock(): boolean {
    return this.#c.delete("lockdown");
  }

  block(ip: string, seconds: number, reason = "blocked by an operator"): { client: string; until: number } {
    const client = clientKey(ip);
    const until = this.#now() + seconds * 1000;
    this.#c.set(`b:${client}`, { until, reason }, { tags: [TAG_BLOCK], ttlMs: seconds * 1000 });
    return { client, until };
  }

  unblock(ip: string): boolean {
    return this.#c.delete(`b:${clientKey(ip)}`);
  }

  /** Removes every window counter and block (a lockdown stays until its end or unlock). */
  purge(): number {
    let n = 0;
    for (const k of [...this.#c.keys("w:"), ...this.#c.keys("b:")]) if (this.#c.delete(k)) n++;
    return n;
  }

  status(): Record<string, unknown> {
    const now = this.#now();
    const lock = this.#c.get("lockdown") as Lockdown | undefined;
    const active = lock !== undefined && lock.until > now;
    const blockedList = this.#c.keys("b:").flatMap((k) => {
      const b = this.#c.get(k) as Block | undefined;
      return b && b.until > now ? [{ client: k.slice(2), until: iso(b.until), reason: b.reason }] : [];
    });
    const windows = (prefix: string, limit: number) =>
      this.#c.keys(`w:${prefix}`).flatMap((k) => {
        const w = this.#c.get(k) as Window | undefined;
        return w && now < w.start + WINDOW_MS ? [{ client: k.slice(2 + prefix.length), count: w.count, limit, resets_at: iso(w.start + WINDOW_MS) }] : [];
      });
    const g = this.#c.get("w:g") as Window | undefined;
    return {
      active: this.#s.enabled,
      lockdown: { active, until: active ? iso(lock!.until) : null, reason: active ? lock!.reason : null },
      blocked: blockedList,
      windows: {
        global: { count: g && now < g.start + WINDOW_MS ? g.count : 0, limit: this.#s.global_limit, resets_at: g ? iso(g.start + WINDOW_MS) : null },
        clients: windows("c:", this.#s.rate_limit),
        failed_auth: windows("f:", this.#s.failed_limit),
      },
    };
  }
}

const iso = (ms: number) => new Date(ms).toISOString();
const secondsLeft = (until: number, now: number) => Math.max(1, Math.ceil((until - now) / 1000));

function blocked(b: Block, now: number): Refusal {
  const retry = secondsLeft(b.until, now);
  return { allow: false, status: 429, code: "blocked", message: `this client is blocked; retry after ${retry} s`, reason: b.reason, retry_after: retry, blocked_until: iso(b.until) };
}

function lockedDown(l: Lockdown, now: number): Refusal {
  const retry = secondsLeft(l.until, now);
  return { allow: false, status: 503, code: "locked_down", message: `the host is locked down; retry after ${retry} s`, reason: l.reason, retry_after: retry, locked_until: iso(l.until) };
}

function unavailable(e: unknown): Refusal {
  return { allow: false, status: 503, code: "security_unavailable", message: "security state is unavailable; the request is refused to stay safe", reason: `security state cannot be read or written (${(e as Error)?.message ?? e}); refusing to stay safe`, retry_after: 5 };
}
