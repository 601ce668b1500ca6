// The cache system module: owns the CacheManager, offers it as the `cache` service (in-process for
// system modules, behind cache.use / cache.manage for everyone else) and persists security:*
// entries to its own storage, write-behind.
import type { CallInfo, JsonValue, ModuleContext } from "../../sdk/context.js";
import { CacheManager, isPersistentTag, type Entry } from "./cache-manager.js";

const PERSIST_PREFIX = "p:";
let flushTimer: NodeJS.Timeout | undefined;
let flushNow: (() => Promise<void>) | undefined;

export async function activate(ctx: ModuleContext) {
  const settings = (await ctx.config.get()) as { enabled: boolean; max_entries: number; default_ttl_ms: number; flush_ms: number };
  const cache = new CacheManager({ maxEntries: settings.max_entries, defaultTtlMs: settings.default_ttl_ms });
  cache.enabled = settings.enabled;

  for (const key of await ctx.storage.list(PERSIST_PREFIX, 100_000)) {
    const e = (await ctx.storage.get(key)) as unknown as Entry | undefined;
    if (e) cache.restore(key.slice(PERSIST_PREFIX.length), e);
  }

  let flushing = Promise.resolve();
  flushNow = () => {
    flushing = flushing.then(async () => {
      for (const [k, e] of cache.takeDirty()) {
        if (e) await ctx.storage.set(PERSIST_PREFIX + k, e as unknown as JsonValue);
        else await ctx.storage.delete(PERSIST_PREFIX + k);
      }
    }).catch((err) => ctx.log.error("cache write-behind failed", { err: String(err) }));
    return flushing;
  };
  flushTimer = setInterval(() => void flushNow!(), settings.flush_ms);
  flushTimer.unref();

  const setEnabled = async (on: boolean, call: CallInfo) => {
    await ctx.config.set("cache.enabled", on);
    cache.enabled = on;
    if (!on) cache.clear();
    await ctx.audit.record(on ? "cache.enable" : "cache.disable", "cache", {}, call);
    return { enabled: on };
  };

  ctx.services.provide("cache", {
    /** Synchronous namespace for in-process system modules (the security module's hot path). */
    namespace: (ns: string) => cache.namespace(ns),
    /** What the cache.use capability exposes to a module, scoped to its own namespace. */
    forModule: (moduleId: string) => {
      const ns = cache.namespace(moduleId);
      return {
        get: (key: string) => ns.get(String(key)),
        set: (key: string, value: unknown, options?: { ttlMs?: number; tags?: string[] }) => {
          // Persistent (security:*) entries belong to the security module's in-process namespace;
          // through cache.use such tags are dropped, so no module can fill the disk through the cache.
          const tags = Array.isArray(options?.tags) ? options!.tags.map(String).filter((t) => !isPersistentTag(t)) : [];
          ns.set(String(key), structuredClone(value), { ...(typeof options?.ttlMs === "number" ? { ttlMs: options.ttlMs } : {}), tags });
        },
        delete: (key: string) => ns.delete(String(key)),
        invalidateTag: (tag: string) => ns.invalidateTag(String(tag)),
      };
    },
    flush: () => flushNow!(),
  });

  // Whole-cache administration: these commands (ctx.cacheAdmin.<command> for holders of cache.manage).
  ctx.commands.register("status", () => cache.status());
  ctx.commands.register("clear", async (_input, call) => {
    const removed = cache.clear();
    await ctx.audit.record("cache.clear", "cache", { removed }, call);
    return { removed };
  });
  ctx.commands.register("purge", async ({ tag }: { tag: string }, call) => {
    const removed = cache.purgeTag(String(tag));
    await flushNow!();
    await ctx.audit.record("cache.purge", tag, { removed }, call);
    return { tag, removed };
  });
  ctx.commands.register("enable", (_input, call) => setEnabled(true, call));
  ctx.commands.register("disable", (_input, call) => setEnabled(false, call));
}

export async function deactivate() {
  if (flushTimer) clearInterval(flushTimer);
  await flushNow?.();
  flushTimer = undefined;
  flushNow = undefined;
}
