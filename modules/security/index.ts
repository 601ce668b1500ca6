// The security system module: the per-request decision for the REST surface (the `security`
// service) and the commands that manage it. Settings and lists live in config; windows, blocks and
// the lockdown in this host's memory (SecurityManager) or, in a fleet, in Redis (SharedSecurity);
// blocks and lockdowns are also made durable in the module's storage.
import type { CallInfo, JsonValue, ModuleContext } from "../../sdk/context.js";
import { validateAddressList } from "./client-address.js";
import { closeRedis } from "../../sdk/system/fleet.js";
import { SecurityManager, type Settings } from "./security-manager.js";
import { SecurityRecords } from "./security-records.js";
import { SharedSecurity } from "./shared-security.js";
import { WardenError } from "../../sdk/errors.js";
import type { SecurityService } from "../../sdk/system/services.js";

const LIST_KEYS = new Set(["allow", "deny", "trusted", "trusted_proxies"]);

let shared: SharedSecurity | undefined;

export async function deactivate() {
  shared?.close();
  if (shared) await closeRedis(shared.redis);
  shared = undefined;
}

export async function activate(ctx: ModuleContext<Settings>) {
  const settings = () => ctx.config.get();
  // Blocks and the lockdown are made durable in this module's own storage, by one writer.
  const durable = new SecurityRecords(ctx.storage);
  const manager = new SecurityManager(await settings(), durable);
  const invalid = (list: string, entries: string[]) =>
    ctx.log.error("security list entries that are not addresses are ignored (an allow list holding one stays closed); fix them with `warden security config --set`", {
      list: `security.${list}`,
      entries: entries.slice(0, 20),
    });
  manager.onInvalidEntries = invalid;
  manager.configure(await settings()); // once more, now that invalid entries are reported
  // Automatic blocks and lockdowns are audited (the host mirrors them into the security log).
  const audit = (action: string, target?: string, data?: Record<string, unknown>) => ctx.audit.record(action, target, data).catch((e) => ctx.log.error("audit failed", { action, err: String(e) }));
  const hooks = {
    onBlock: (client: string, until: number, reason: string) => void audit("security.block", client, { until: new Date(until).toISOString(), reason, by: "limits" }),
    onLockdown: (until: number, reason: string) => void audit("security.lockdown", "global", { until: new Date(until).toISOString(), reason, by: "limits" }),
    onDurabilityError: (key: string, e: unknown) => ctx.log.error("a security decision could not be made durable; retrying until it is (Redis holds it meanwhile)", { key, err: String(e) }),
    onDurableAgain: (n: number) => ctx.log.info("security decisions made durable after a retry", { count: n }),
  };

  // A fleet keeps the windows, blocks and lockdown in its Redis; a single host in its memory.
  const redis = ctx.services.host("backend:redis");
  shared = redis ? new SharedSecurity(manager, redis.connect("security", { timeoutMs: (await settings()).backend_timeout_ms }), durable, hooks) : undefined;
  if (!shared) manager.restore(await durable.records());
  Object.assign(manager, hooks);
  const state = shared ?? manager;

  // Settings changed anywhere (`warden config set security.*`, the config command, another host) apply at once.
  await ctx.config.watch((s) => {
    manager.configure(s);
    if (shared) shared.redis.options.commandTimeout = manager.settings.backend_timeout_ms;
  });

  // The REST surface's per-request decision (in-process). Other modules change security state only
  // through this module's commands (ctx.security.<command>, needs security.manage), so every change
  // is checked at the policy point and audited with its caller.
  ctx.services.provide("security", {
    check: (client: string) => state.check(client),
    recordFailure: (client: string) => state.recordFailure(client),
    clientAddress: (peer: string, forwardedFor?: string) => manager.clientAddress(peer, forwardedFor),
  } satisfies SecurityService);

  const setEnabled = async (on: boolean, call: CallInfo) => {
    await ctx.audit.record(on ? "security.enable" : "security.disable", "security", {}, call);
    await ctx.config.set("security.enabled", on, call);
    manager.configure(await settings());
    return { enabled: on };
  };

  ctx.commands.register("config", async ({ set }: { set?: string }, call) => {
    // Fresh from the store: a `config set` a moment ago may not have reached the event yet.
    manager.configure(await settings());
    if (set !== undefined) {
      const eq = set.indexOf("=");
      const key = set.slice(0, eq);
      const text = set.slice(eq + 1);
      let value: JsonValue = text;
      try {
        value = JSON.parse(text);
      } catch {
        // plain text
      }
      if (LIST_KEYS.has(key)) {
        if (typeof value === "string") value = value === "" ? [] : value.split(",").map((s) => s.trim());
        const problem = Array.isArray(value) ? validateAddressList(value.map(String)) : "must be a list";
        if (problem) throw new WardenError("config_invalid", `security.${key}: ${problem}`);
      }
      await ctx.config.set(`security.${key}`, value as JsonValue, call);
      manager.configure(await settings());
      await ctx.audit.record("security.config", `security.${key}`, { value }, call);
    }
    return manager.settings;
  });
  ctx.commands.register("status", async () => state.status());
  ctx.commands.register("enable", (_i, call) => setEnabled(true, call));
  ctx.commands.register("disable", (_i, call) => setEnabled(false, call));
  // Each operator action is audited before it takes effect: if its event cannot be written, it does
  // not happen (the caller is told audit_failed).
  ctx.commands.register("lockdown", async ({ seconds }: { seconds?: number }, call) => {
    const s = seconds ?? manager.settings.ddos_lockdown;
    await ctx.audit.record("security.lockdown", "global", { seconds: s, until: new Date(Date.now() + s * 1000).toISOString() }, call);
    const l = await state.lockdown(s);
    return { lockdown: { active: true, until: new Date(l.until).toISOString(), reason: l.reason } };
  });
  ctx.commands.register("unlock", async (_i, call) => {
    await ctx.audit.record("security.unlock", "global", {}, call);
    return { unlocked: await state.unlock() };
  });
  ctx.commands.register("purge", async (_i, call) => {
    await ctx.audit.record("security.purge", "security", {}, call);
    return { removed: await state.purge() };
  });
  ctx.commands.register("block", async ({ client, seconds }: { client: string; seconds?: number }, call) => {
    const problem = validateAddressList([client]);
    if (problem) throw new WardenError("input_invalid", problem);
    const s = seconds ?? manager.settings.block_duration;
    await ctx.audit.record("security.block", client, { seconds: s, until: new Date(Date.now() + s * 1000).toISOString() }, call);
    const b = await state.block(client, s);
    return { client: b.client, until: new Date(b.until).toISOString() };
  });
  ctx.commands.register("unblock", async ({ client }: { client: string }, call) => {
    await ctx.audit.record("security.unblock", client, {}, call);
    return { client, unblocked: await state.unblock(client) };
  });
}
