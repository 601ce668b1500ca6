// The CacheManager: an LRU with TTL for general entries, plus a persistent side for entries tagged
// `security:*`, which are never evicted, survive `cache disable` and are written behind to the
// module's storage. Keys are namespaced per module: `<namespace>\0<key>`.
import { LRUCache } from "lru-cache";

export interface Entry {
  value: unknown;
  tags: string[];
  /** Epoch ms; 0 = no expiry. */
  expiresAt: number;
}

export interface SetOptions {
  ttlMs?: number;
  tags?: string[];
}

export const isPersistentTag = (tag: string) => tag === "security" || tag.startsWith("security:");

export interface Namespace {
  get(key: string): unknown;
  set(key: string, value: unknown, options?: SetOptions): void;
  delete(key: string): boolean;
  invalidateTag(tag: string): number;
  /** Every live key of this namespace with the given prefix (persistent side included). */
  keys(prefix?: string): string[];
  /** A persistent value was changed in place: write it behind. */
  touch(key: string): void;
}

export class CacheManager {
  enabled = true;
  defaultTtlMs: number;
  hits = 0;
  misses = 0;
  readonly #lru: LRUCache<string, Entry>;
  readonly #persistent = new Map<string, Entry>();
  /** Persistent keys changed since the last flush (value undefined = deleted). */
  readonly dirty = new Set<string>();
  readonly #now: () => number;

  constructor(o: { maxEntries: number; defaultTtlMs: number; now?: () => number }) {
    this.defaultTtlMs = o.defaultTtlMs;
    this.#now = o.now ?? Date.now;
    this.#lru = new LRUCache<string, Entry>({ max: o.maxEntries });
  }

  namespace(ns: string): Namespace {
    const full = (key: string) => `${ns}\u0000${key}`;
    return {
      get: (key) => this.get(full(key)),
      set: (key, value, options) => this.set(full(key), value, options),
      delete: (key) => this.delete(full(key)),
      invalidateTag: (tag) => this.purgeTag(tag, `${ns}\u0000`),
      keys: (prefix = "") => this.keys(`${ns}\u0000${prefix}`).map((k) => k.slice(ns.length + 1)),
      touch: (key) => {
        const k = full(key);
        if (this.#persistent.has(k)) this.dirty.add(k);
      },
    };
  }

  get(k: string): unknown {
    const now = this.#now();
    const p = this.#persistent.get(k);
    if (p) {
      if (p.expiresAt && p.expiresAt <= now) {
        this.#deletePersistent(k);
      } else {
        this.hits++;
        return p.value;
      }
    }
    if (this.enabled) {
      const e = this.#lru.get(k);
      if (e && (!e.expiresAt || e.expiresAt > now)) {
        this.hits++;
        return e.value;
      }
      if (e) this.#lru.delete(k);
    }
    this.misses++;
    return undefined;
  }

  set(k: string, value: unknown, options: SetOptions = {}): void {
    const tags = options.tags ?? [];
    const ttl = options.ttlMs ?? (tags.some(isPersistentTag) ? 0 : this.defaultTtlMs);
    const entry: Entry = { value, tags, expiresAt: ttl > 0 ? this.#now() + ttl : 0 };
    if (tags.some(isPersistentTag)) {
      this.#lru.delete(k);
      this.#persistent.set(k, entry);
      this.dirty.add(k);
      return;
    }
    if (this.#persistent.has(k)) this.#deletePersistent(k);
    if (this.enabled) this.#lru.set(k, entry);
  }

  delete(k: string): boolean {
    const hadP = this.#persistent.has(k);
    if (hadP) this.#deletePersistent(k);
    return this.#lru.delete(k) || hadP;
  }

  keys(prefix: string): string[] {
    const now = this.#now();
    const out = new Set<string>();
    for (const [k, e] of this.#persistent) if (k.startsWith(prefix) && (!e.expiresAt || e.expiresAt > now)) out.add(k);
    if (this.enabled) for (const k of this.#lru.keys()) if (k.startsWith(prefix)) out.add(k);
    return [...out].sort();
  }

  /** Remove entries carrying the tag (optionally only under a key prefix). */
  purgeTag(tag: string, prefix = ""): number {
    let n = 0;
    for (const [k, e] of this.#persistent) {
      if (k.startsWith(prefix) && e.tags.includes(tag)) {
        this.#deletePersistent(k);
        n++;
      }
    }
    for (const [k, e] of this.#lru.entries()) {
      if (k.startsWith(prefix) && e.tags.includes(tag)) {
        this.#lru.delete(k);
        n++;
      }
    }
    return n;
  }

  /** Drop the general entries; persistent ones stay. */
  clear(): number {
    const n = this.#lru.size;
    this.#lru.clear();
    return n;
  }

  status(): { enabled: boolean; size: number; persistent: number; hits: number; misses: number; tags: Record<string, number> } {
    const tags: Record<string, number> = {};
    const count = (e: Entry) => {
      for (const t of e.tags) tags[t] = (tags[t] ?? 0) + 1;
    };
    for (const e of this.#persistent.values()) count(e);
    for (const e of this.#lru.values()) count(e);
    return { enabled: this.enabled, size: this.#lru.size, persistent: this.#persistent.size, hits: this.hits, misses: this.misses, tags };
  }

  /** Persistent entries to write (or undefined to delete) since the last call. */
  takeDirty(): Array<[string, Entry | undefined]> {
    const out: Array<[string, Entry | undefined]> = [];
    for (const k of this.dirty) out.push([k, this.#persistent.get(k)]);
    this.dirty.clear();
    return out;
  }

  restore(k: string, e: Entry): void {
    if (e.expiresAt && e.expiresAt <= this.#now()) return;
    this.#persistent.set(k, e);
  }

  #deletePersistent(k: string): void {
    this.#persistent.delete(k);
    this.dirty.add(k);
  }
}
