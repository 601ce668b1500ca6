// The cache system module: offers, behind cache.use, a private namespace per module within the
// byte budgets in its settings: in this host's memory (CacheManager) or, in a fleet, in Redis
// (SharedCache), where every host sees the same entries.
import type { CallInfo, JsonValue, ModuleContext } from "../../sdk/context.js";
import { closeRedis } from "../../sdk/system/fleet.js";
import { CacheManager, type Budgets } from "./cache-manager.js";
import { SharedCache } from "./shared-cache.js";
import type { Settings } from "./settings.js";
import { isWardenError, WardenError } from "../../sdk/errors.js";

const budgets = (s: Settings): Budgets & { defaultTtlMs: number } => ({
  maxEntries: s.max_entries,
  maxBytes: s.max_bytes,
  maxBytesPerNamespace: s.max_bytes_per_module,
  maxValueBytes: s.max_value_bytes,
  defaultTtlMs: s.default_ttl_ms,
});

let connection: { quit(): Promise<unknown>; disconnect(): void } | undefined;

/** One face for both backends: what the module's commands and the cache.use capability need. */
interface Backend {
  enabled: boolean;
  configure(b: Budgets & { defaultTtlMs: number }): void;
  forModule(ns: string): {
    get(key: string): unknown;
    set(key: string, value: unknown, o?: { ttlMs?: number; tags?: string[] }): unknown;
    delete(key: string): unknown;
    invalidateTag(tag: string): unknown;
  };
  clear(): number | Promise<number>;
  purgeTag(tag: string): number | Promise<number>;
  status(): unknown;
}

export async function activate(ctx: ModuleContext<Settings>) {
  const initial = await ctx.config.get();
  const redis = ctx.services.host("backend:redis");
  let cache: Backend;
  if (redis) {
    const shared = new SharedCache(redis.connect("cache", { timeoutMs: 1000 }), budgets(initial));
    connection = shared.redis;
    cache = shared;
  } else {
    const local = new CacheManager(budgets(initial));
    cache = Object.assign(local, { forModule: (ns: string) => local.namespace(ns) });
  }
  // Settings changed anywhere (this host, another host of a fleet) apply at once.
  await ctx.config.watch((s) => {
    cache.configure(budgets(s));
    cache.enabled = s.enabled;
  });

  const setEnabled = async (on: boolean, call: CallInfo) => {
    await ctx.config.set("cache.enabled", on, call);
    cache.enabled = on;
    if (!on) await cache.clear();
    await ctx.audit.record(on ? "cache.enable" : "cache.disable", "cache", {}, call);
    return { enabled: on };
  };

  /** A refusal the caller can act on: a budget (quota_exceeded), or the fleet's Redis out of reach. */
  const refusal = (e: unknown): unknown => {
    if (isWardenError(e)) return e;
    if (redis)
      return new WardenError("cache_unavailable", `the fleet's cache (Redis at ${redis.location}) cannot be reached (${e instanceof Error ? e.message : String(e)}); retry once it is back`, {
        retryAfter: 2,
        cause: e,
      });
    return e;
  };
  const guarded = async <T>(fn: () => Promise<T> | T): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw refusal(e);
    }
  };

  ctx.services.provide("cache", {
    /** What the cache.use capability exposes to a module: its own namespace, within its budgets. */
    forModule: (moduleId: string) => {
      const ns = cache.forModule(moduleId);
      return {
        // The cache hands back what was stored for this key: JSON, as set() took it.
        get: <T extends JsonValue>(key: string) => guarded(async () => (await ns.get(String(key))) as T | undefined),
        set: (key: string, value: JsonValue, options?: { ttlMs?: number; tags?: string[] }) =>
          guarded(async () => {
            await ns.set(String(key), value, { ...(typeof options?.ttlMs === "number" ? { ttlMs: options.ttlMs } : {}), tags: (options?.tags ?? []).map(String) });
          }),
        delete: (key: string) => guarded(async () => Boolean(await ns.delete(String(key)))),
        invalidateTag: (tag: string) => guarded(async () => Number(await ns.invalidateTag(String(tag)))),
      };
    },
  });

  // Whole-cache administration: these commands (ctx.cacheAdmin.<command> for holders of cache.manage).
  ctx.commands.register("status", () => guarded(() => cache.status()));
  ctx.commands.register("clear", async (_input, call) => {
    const removed = await guarded(() => cache.clear());
    await ctx.audit.record("cache.clear", "cache", { removed }, call);
    return { removed };
  });
  ctx.commands.register("purge", async ({ tag }: { tag: string }, call) => {
    const removed = await guarded(() => cache.purgeTag(String(tag)));
    await ctx.audit.record("cache.purge", tag, { removed }, call);
    return { tag, removed };
  });
  ctx.commands.register("enable", (_input, call) => setEnabled(true, call));
  ctx.commands.register("disable", (_input, call) => setEnabled(false, call));
}

export async function deactivate() {
  if (connection) await closeRedis(connection);
  connection = undefined;
}
