// The SecurityManager: three fixed windows (per client, global, failed auth), blocks and lockdown.
//
// Where state lives, and why:
// - Windows are counters of anonymous traffic: memory only, in a bounded LRU (WINDOW_CLIENTS keys),
//   so no number of client addresses can grow the store or crowd anything out.
// - Blocks and the lockdown are decisions (an operator's, or the limits'): kept in memory for the
//   per-request check and written through a DurableStore before an operator is told they happened.
//   Automatic blocks are bounded (MAX_AUTO_BLOCKS, the soonest-to-end dropped first); an operator's
//   are never dropped to make room.
//
// Window algorithm: fixed windows of 60 s that start at a key's first request (not aligned to the
// clock). It is exact (exactly `rate_limit` requests pass in a window, however concurrent) and
// cheap (one counter per key); the cost is that a client may send up to 2x the limit across a
// window edge, which the block that follows the first excess caps anyway.
import { isIP } from "node:net";
import { LRUCache } from "lru-cache";
import { AddressList, clientKey } from "./client-address.js";

export const WINDOW_MS = 60_000;
/** Clients whose windows are counted at once; the least recently seen are forgotten first. */
export const WINDOW_CLIENTS = 200_000;
/** Blocks the limits may hold at once (operator blocks come on top and are never evicted). */
export const MAX_AUTO_BLOCKS = 50_000;

export type { Settings } from "./settings.js";
import type { Settings } from "./settings.js";
import type { Allowance, Decision, Refusal } from "../../sdk/system/services.js";
import { recordKey, type Decided, type DurableStore } from "./security-records.js";

/** A block or lockdown as it is stored. */

export type { Allowance, Decision, Refusal };
export { asDecided, type Decided, type DurableStore } from "./security-records.js";

interface Window {
  start: number;
  count: number;
}

export class SecurityManager {
  #s!: Settings;
  #allow!: AddressList;
  #deny!: AddressList;
  #trusted!: AddressList;
  #proxies!: AddressList;
  readonly #windows = new LRUCache<string, Window>({ max: WINDOW_CLIENTS });
  readonly #blocks = new Map<string, Decided>();
  #autoBlocks = 0;
  #lockdown: Decided | undefined;
  readonly #durable: DurableStore;
  readonly #now: () => number;
  /** Told of each block and lockdown the limits decide, for the audit chain. */
  onBlock: (client: string, until: number, reason: string) => void = () => {};
  onLockdown: (until: number, reason: string) => void = () => {};
  /** Told when an automatic decision could not be made durable (it still applies in memory). */
  onDurabilityError: (key: string, e: unknown) => void = () => {};

  constructor(settings: Settings, durable: DurableStore = { write: async () => {} }, now: () => number = Date.now) {
    this.#durable = durable;
    this.#now = now;
    this.configure(settings);
  }

  /** Told of list entries that are not addresses (set by writing the store directly, or an old release). */
  onInvalidEntries: (list: string, entries: string[]) => void = () => {};

  configure(s: Settings): void {
    this.#s = { ...s };
    this.#allow = new AddressList(s.allow);
    this.#deny = new AddressList(s.deny);
    this.#trusted = new AddressList(s.trusted);
    this.#proxies = new AddressList(s.trusted_proxies);
    for (const [name, list] of [
      ["allow", this.#allow],
      ["deny", this.#deny],
      ["trusted", this.#trusted],
      ["trusted_proxies", this.#proxies],
    ] as const) {
      if (list.invalid.length) this.onInvalidEntries(name, list.invalid);
    }
  }

  /** Blocks and the lockdown read back from the durable store at start; ended ones are dropped. */
  restore(records: Iterable<[string, Decided]>): void {
    const now = this.#now();
    for (const [key, d] of records) {
      if (!d || typeof d.until !== "number" || d.until <= now) continue;
      const client = recordKey.clientOf(key);
      if (key === recordKey.lockdown) this.#lockdown = d;
      else if (client !== undefined) this.#setBlock(client, d);
    }
  }

  get settings(): Settings {
    return { ...this.#s };
  }

  /** The address that counts: X-Forwarded-For only when the socket peer is a trusted proxy. */
  clientAddress(peer: string, forwardedFor?: string): string {
    if (forwardedFor && this.#proxies.has(peer)) {
      // The right-most address not itself a trusted proxy is the client. A hop that is not an IP
      // address (`010.0.0.1`, a name, garbage) is not believed: the request counts as the proxy's.
      const hops = forwardedFor
        .split(",")
        .map((h) => h.trim())
        .filter(Boolean);
      for (const hop of [...hops].reverse()) {
        if (this.#proxies.has(hop)) continue;
        return isIP(hop) ? hop : peer;
      }
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
      if (!this.countsFailures(ip)) return { allow: true, client };
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

  /**
   * What the lists and settings decide alone, before any state: refused (deny or allow list),
   * waved through (security disabled, or a trusted client), or undefined: windows and blocks decide.
   */
  screen(ip: string): Decision | undefined {
    const client = clientKey(ip);
    if (this.#deny.has(ip)) return { allow: false, status: 403, code: "blocked", message: "this client may not call the API", reason: "this client is on the deny list" };
    if (this.#allow.entries.length > 0 && !this.#allow.has(ip)) {
      return { allow: false, status: 403, code: "blocked", message: "this client may not call the API", reason: "this client is not on the allow list" };
    }
    if (!this.#s.enabled || this.#trusted.has(ip)) return { allow: true, client };
    return undefined;
  }

  /** Whether failed authentications of this client are counted (not when disabled or trusted). */
  countsFailures(ip: string): boolean {
    return this.#s.enabled && !this.#trusted.has(ip);
  }

  #check(ip: string): Decision {
    const screened = this.screen(ip);
    if (screened) return screened;
    const client = clientKey(ip);
    const now = this.#now();

    const lock = this.#lockdown;
    if (lock && lock.until > now) return lockedDown(lock, now);

    const block = this.#blocks.get(client);
    if (block) {
      if (block.until > now) return blocked(block, now);
      this.#deleteBlock(client);
    }

    const g = this.#bump("g", now);
    if (g.count > this.#s.global_limit) {
      const l: Decided = { until: now + this.#s.ddos_lockdown * 1000, reason: `global limit of ${this.#s.global_limit} requests per minute crossed`, by: "limits" };
      this.#lockdown = l;
      this.#persistAuto(recordKey.lockdown, l);
      // The lockdown is the response to this window; when it lifts, counting starts afresh.
      this.#windows.delete("g");
      this.onLockdown(l.until, l.reason);
      return lockedDown(l, now);
    }

    const w = this.#bump(`c:${client}`, now);
    if (w.count > this.#s.rate_limit) {
      return this.#blockNow(client, now, this.#s.block_duration, `more than ${this.#s.rate_limit} requests per minute`, "rate_limited");
    }
    return { allow: true, client, limit: { limit: this.#s.rate_limit, remaining: this.#s.rate_limit - w.count, reset: Math.ceil((w.start + WINDOW_MS - now) / 1000) } };
  }

  #bump(key: string, now: number): Window {
    const w = this.#windows.get(key);
    if (w && now < w.start + WINDOW_MS) {
      w.count++;
      return w;
    }
    const fresh = { start: now, count: 1 };
    this.#windows.set(key, fresh);
    return fresh;
  }

  #setBlock(client: string, d: Decided): void {
    const old = this.#blocks.get(client);
    if (old?.by === "limits") this.#autoBlocks--;
    this.#blocks.set(client, d);
    if (d.by === "limits") this.#autoBlocks++;
  }

  #deleteBlock(client: string): boolean {
    const old = this.#blocks.get(client);
    if (!old) return false;
    if (old.by === "limits") this.#autoBlocks--;
    this.#blocks.delete(client);
    return true;
  }

  /** Over MAX_AUTO_BLOCKS, the automatic block that ends soonest goes (an operator's never does). */
  #makeRoomForAutoBlock(): void {
    if (this.#autoBlocks < MAX_AUTO_BLOCKS) return;
    let soonest: [string, Decided] | undefined;
    for (const entry of this.#blocks) if (entry[1].by === "limits" && (!soonest || entry[1].until < soonest[1].until)) soonest = entry;
    if (soonest) {
      this.#deleteBlock(soonest[0]);
      this.#persistAuto(recordKey.block(soonest[0]), undefined);
    }
  }

  #blockNow(client: string, now: number, seconds: number, reason: string, code: "blocked" | "rate_limited"): Refusal {
    const b: Decided = { until: now + seconds * 1000, reason, by: "limits" };
    const limit = code === "rate_limited" ? this.#s.rate_limit : this.#s.failed_limit;
    if (this.#blocks.get(client)?.by !== "operator") {
      this.#makeRoomForAutoBlock();
      this.#setBlock(client, b);
      this.#persistAuto(recordKey.block(client), b);
    }
    // The block is the penalty; when it ends the client starts with fresh windows.
    this.#windows.delete(`c:${client}`);
    this.#windows.delete(`f:${client}`);
    this.onBlock(client, b.until, reason);
    const r = blocked(b, now);
    return { ...r, code, status: 429, limit, message: code === "rate_limited" ? `rate limit exceeded; retry after ${r.retry_after} s` : r.message };
  }

  /** A decision of the limits is written at once (before the refusal is answered, with the embedded store). */
  #persistAuto(key: string, value: Decided | undefined): void {
    this.#durable.write(key, value).catch((e) => this.onDurabilityError(key, e));
  }

  // --- operator actions: each resolves only once the change is durable; a failure undoes it ---

  async lockdown(seconds: number, reason = "manual lockdown"): Promise<Decided> {
    const l: Decided = { until: this.#now() + seconds * 1000, reason, by: "operator" };
    await this.#durable.write(recordKey.lockdown, l);
    this.#lockdown = l;
    return l;
  }

  async unlock(): Promise<boolean> {
    const was = this.#lockdown !== undefined && this.#lockdown.until > this.#now();
    await this.#durable.write(recordKey.lockdown, undefined);
    this.#lockdown = undefined;
    return was;
  }

  async block(ip: string, seconds: number, reason = "blocked by an operator"): Promise<{ client: string; until: number }> {
    const client = clientKey(ip);
    const d: Decided = { until: this.#now() + seconds * 1000, reason, by: "operator" };
    await this.#durable.write(recordKey.block(client), d);
    this.#setBlock(client, d);
    return { client, until: d.until };
  }

  async unblock(ip: string): Promise<boolean> {
    const client = clientKey(ip);
    if (!this.#blocks.has(client)) return false;
    await this.#durable.write(recordKey.block(client), undefined);
    return this.#deleteBlock(client);
  }

  /** Removes every window counter and block (a lockdown stays until its end or unlock). */
  async purge(): Promise<number> {
    const n = this.#windows.size + this.#blocks.size;
    for (const client of [...this.#blocks.keys()]) {
      await this.#durable.write(recordKey.block(client), undefined);
      this.#deleteBlock(client);
    }
    this.#windows.clear();
    return n;
  }

  status(): Record<string, unknown> {
    const now = this.#now();
    const lock = this.#lockdown;
    const active = lock !== undefined && lock.until > now;
    const blockedList = [...this.#blocks].flatMap(([client, b]) => (b.until > now ? [{ client, until: iso(b.until), reason: b.reason, by: b.by }] : []));
    const windows = (prefix: string, limit: number) =>
      [...this.#windows.entries()].flatMap(([k, w]) =>
        k.startsWith(prefix) && now < w.start + WINDOW_MS ? [{ client: k.slice(prefix.length), count: w.count, limit, resets_at: iso(w.start + WINDOW_MS) }] : [],
      );
    const g = this.#windows.get("g");
    return {
      active: this.#s.enabled,
      lockdown: { active, until: active && lock ? iso(lock.until) : null, reason: active && lock ? lock.reason : null },
      blocked: blockedList,
      windows: {
        global: { count: g && now < g.start + WINDOW_MS ? g.count : 0, limit: this.#s.global_limit, resets_at: g ? iso(g.start + WINDOW_MS) : null },
        clients: windows("c:", this.#s.rate_limit).slice(0, 1000),
        failed_auth: windows("f:", this.#s.failed_limit).slice(0, 1000),
      },
    };
  }
}

export const iso = (ms: number) => new Date(ms).toISOString();
const secondsLeft = (until: number, now: number) => Math.max(1, Math.ceil((until - now) / 1000));

export function blocked(b: Decided, now: number): Refusal {
  const retry = secondsLeft(b.until, now);
  return { allow: false, status: 429, code: "blocked", message: `this client is blocked; retry after ${retry} s`, reason: b.reason, retry_after: retry, blocked_until: iso(b.until) };
}

export function lockedDown(l: Decided, now: number): Refusal {
  const retry = secondsLeft(l.until, now);
  return { allow: false, status: 503, code: "locked_down", message: `the host is locked down; retry after ${retry} s`, reason: l.reason, retry_after: retry, locked_until: iso(l.until) };
}

export function unavailable(e: unknown): Refusal {
  return {
    allow: false,
    status: 503,
    code: "security_unavailable",
    message: "security state is unavailable; the request is refused to stay safe",
    reason: `security state cannot be read or written (${(e as Error)?.message ?? e}); refusing to stay safe`,
    retry_after: 5,
  };
}
