// The CacheManager: an LRU with TTL, sized in bytes, namespaced per module (`<namespace>\0<key>`).
// Values are kept as their JSON text: every reader gets its own copy and every entry's size is
// exactly what it costs. Three budgets, each refused with quota_exceeded and a message that says
// which: a value's size, a namespace's (a module's) total, and the whole cache's (LRU by size).
import { LRUCache } from "lru-cache";
import { WardenError } from "../../sdk/errors.js";

export interface SetOptions {
  ttlMs?: number;
  tags?: string[];
}

export interface Budgets {
  maxEntries: number;
  /** All namespaces together; least recently used entries go first. */
  maxBytes: number;
  /** One namespace (one module). */
  maxBytesPerNamespace: number;
  maxValueBytes: number;
}

export interface Namespace {
  get(key: string): unknown;
  set(key: string, value: unknown, options?: SetOptions): void;
  delete(key: string): boolean;
  invalidateTag(tag: string): number;
  keys(prefix?: string): string[];
}

interface Entry {
  ns: string;
  text: string;
  tags: string[];
  bytes: number;
}

/** A refused write: quota_exceeded, with the budget and what to do. */
export function budgetRefusal(message: string, details: { budget: string; requested: number; allowed: number }): WardenError {
  return new WardenError("quota_exceeded", message, { details });
}

const SEP = "\u0000";

export class CacheManager {
  enabled = true;
  defaultTtlMs: number;
  hits = 0;
  misses = 0;
  #budgets: Budgets;
  #lru: LRUCache<string, Entry>;
  /** Bytes held per namespace, kept in step by the LRU's dispose callback. */
  readonly #usage = new Map<string, number>();

  constructor(o: Budgets & { defaultTtlMs: number }) {
    this.defaultTtlMs = o.defaultTtlMs;
    this.#budgets = { ...o };
    this.#lru = this.#makeLru();
  }

  #makeLru(): LRUCache<string, Entry> {
    return new LRUCache<string, Entry>({
      max: this.#budgets.maxEntries,
      maxSize: this.#budgets.maxBytes,
      sizeCalculation: (e) => e.bytes,
      ttlAutopurge: false,
      dispose: (e) => {
        const left = (this.#usage.get(e.ns) ?? 0) - e.bytes;
        if (left > 0) this.#usage.set(e.ns, left);
        else this.#usage.delete(e.ns);
      },
    });
  }

  /** New limits apply at once; entries that no longer fit are dropped. */
  configure(o: Budgets & { defaultTtlMs: number }): void {
    this.defaultTtlMs = o.defaultTtlMs;
    this.#budgets = { ...o };
    const old = [...this.#lru.dump()];
    this.#lru.clear();
    this.#lru = this.#makeLru();
    this.#lru.load(old.filter(([, v]) => v.value.bytes <= o.maxValueBytes));
    for (const [, v] of old) this.#usage.set(v.value.ns, (this.#usage.get(v.value.ns) ?? 0) + v.value.bytes);
  }

  namespace(ns: string): Namespace {
    const full = (key: string) => `${ns}${SEP}${key}`;
    return {
      get: (key) => this.get(full(key)),
      set: (key, value, options) => this.set(ns, full(key), value, options),
      delete: (key) => this.#lru.delete(full(key)),
      invalidateTag: (tag) => this.purgeTag(tag, `${ns}${SEP}`),
      keys: (prefix = "") => this.keys(`${ns}${SEP}${prefix}`).map((k) => k.slice(ns.length + 1)),
    };
  }

  /** Bytes a namespace holds now. */
  usage(ns: string): number {
    return this.#usage.get(ns) ?? 0;
  }

  get(k: string): unknown {
    if (!this.enabled) {
      this.misses++;
      return undefined;
    }
    const e = this.#lru.get(k);
    if (!e) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return JSON.parse(e.text);
  }

  set(ns: string, k: string, value: unknown, options: SetOptions = {}): void {
    if (!this.enabled) return;
    const text = JSON.stringify(value ?? null);
    const bytes = Buffer.byteLength(text) + Buffer.byteLength(k);
    const b = this.#budgets;
    if (bytes > b.maxValueBytes) {
      throw budgetRefusal(`a cache value of ${bytes} bytes is over cache.max_value_bytes (${b.maxValueBytes}); cache smaller values`, {
        budget: "cache.value_bytes",
        requested: bytes,
        allowed: b.maxValueBytes,
      });
    }
    const replaced = this.#lru.peek(k)?.bytes ?? 0;
    const after = this.usage(ns) - replaced + bytes;
    if (after > b.maxBytesPerNamespace) {
      throw budgetRefusal(
        `module '${ns}' would hold ${after} bytes of cache; cache.max_bytes_per_module allows ${b.maxBytesPerNamespace}: delete entries, use shorter TTLs, or have an operator raise the limit`,
        { budget: "cache.bytes_per_module", requested: after, allowed: b.maxBytesPerNamespace },
      );
    }
    const ttl = options.ttlMs ?? this.defaultTtlMs;
    this.#lru.set(k, { ns, text, tags: options.tags ?? [], bytes }, { ttl });
    // The LRU sized it; count it only if it was kept (a value can be larger than the whole cache).
    if (this.#lru.peek(k)) this.#usage.set(ns, this.usage(ns) + bytes);
  }

  delete(k: string): boolean {
    return this.#lru.delete(k);
  }

  keys(prefix: string): string[] {
    const out: string[] = [];
    for (const k of this.#lru.keys()) if (k.startsWith(prefix)) out.push(k);
    return out.sort();
  }

  /** Remove entries carrying the tag (optionally only under a key prefix). */
  purgeTag(tag: string, prefix = ""): number {
    let n = 0;
    for (const [k, e] of this.#lru.entries()) {
      if (k.startsWith(prefix) && e.tags.includes(tag)) {
        this.#lru.delete(k);
        n++;
      }
    }
    return n;
  }

  clear(): number {
    const n = this.#lru.size;
    this.#lru.clear();
    return n;
  }

  status(): { enabled: boolean; size: number; bytes: number; max_bytes: number; hits: number; misses: number; tags: Record<string, number>; namespaces: Record<string, number> } {
    const tags: Record<string, number> = {};
    for (const e of this.#lru.values()) for (const t of e.tags) tags[t] = (tags[t] ?? 0) + 1;
    return {
      enabled: this.enabled,
      size: this.#lru.size,
      bytes: this.#lru.calculatedSize,
      max_bytes: this.#budgets.maxBytes,
      hits: this.hits,
      misses: this.misses,
      tags,
      namespaces: Object.fromEntries(this.#usage),
    };
  }
}
