// The cache system module: owns the CacheManager and offers it as the `cache` service: in-process
// namespaces for system modules, and, behind cache.use, a private namespace per module within the
// byte budgets in its settings.
import type { CallInfo, JsonValue, ModuleContext } from "../../sdk/context.js";
import { CacheBudgetError, CacheManager, type Budgets } from "./cache-manager.js";

interface Settings {
  enabled: boolean;
  max_entries: number;
  default_ttl_ms: number;
  max_bytes: number;
  max_bytes_per_module: number;
  max_value_bytes: number;
}

const budgets = (s: Settings): Budgets & { defaultTtlMs: number } => ({
  maxEntries: s.max_entries, maxBytes: s.max_bytes, maxBytesPerNamespace: s.max_bytes_per_module, maxValueBytes: s.max_value_bytes, defaultTtlMs: s.default_ttl_ms,
});

export async function activate(ctx: ModuleContext) {
  const settings = async () => (await ctx.config.get()) as unknown as Settings;
  const initial = await settings();
  const cache = new CacheManager(budgets(initial));
  cache.enabled = initial.enabled;
  await ctx.events.on("config.changed", async (payload) => {
    if (String((payload as { key?: string } | null)?.key ?? "").startsWith("cache.")) {
      const s = await settings();
      cache.configure(budgets(s));
      cache.enabled = s.enabled;
    }
  });

  const setEnabled = async (on: boolean, call: CallInfo) => {
    await ctx.config.set("cache.enabled", on);
    cache.enabled = on;
    if (!on) cache.clear();
    await ctx.audit.record(on ? "cache.enable" : "cache.disable", "cache", {}, call);
    return { enabled: on };
  };

  ctx.services.provide("cache", {
    /** Synchronous namespace for in-process system modules. */
    namespace: (ns: string) => cache.namespace(ns),
    /** What the cache.use capability exposes to a module: its own namespace, within its budgets. */
    forModule: (moduleId: string) => {
      const ns = cache.namespace(moduleId);
      return {
        get: (key: string) => ns.get(String(key)) as JsonValue | undefined,
        set: (key: string, value: JsonValue, options?: { ttlMs?: number; tags?: string[] }) => {
          try {
            ns.set(String(key), value, { ...(typeof options?.ttlMs === "number" ? { ttlMs: options.ttlMs } : {}), tags: (options?.tags ?? []).map(String) });
          } catch (e) {
            if (e instanceof CacheBudgetError) throw Object.assign(new Error(e.message), { code: e.code, details: e.details });
            throw e;
          }
        },
        delete: (key: string) => ns.delete(String(key)),
        invalidateTag: (tag: string) => ns.invalidateTag(String(tag)),
      };
    },
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
    await ctx.audit.record("cache.purge", tag, { removed }, call);
    return { tag, removed };
  });
  ctx.commands.register("enable", (_input, call) => setEnabled(true, call));
  ctx.commands.register("disable", (_input, call) => setEnabled(false, call));
}

export async function deactivate() {}
