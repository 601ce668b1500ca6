// The one host-API table. For every context method a module can call: the capability it needs,
// the check of its (untrusted) arguments, its scope check and its implementation, declared once.
// The in-process context (./context.ts) and the sandbox prelude are both generated from it, and
// the compiler checks it against the SDK's ModuleContext: a method missing here, or one with other
// argument or result types, does not type-check.
//
// Some methods cannot cross as plain calls because they carry a function (a handler) or are fire
// and forget; they are declared in BOUND_METHODS with their capability and implemented by each
// runtime around the port's register/subscribe/log.
import { chmodSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AuditApi, CacheApi, CallInfo, Caller, CommandsApi, ConfigCalls, EventsApi, HomeApi, JsonValue, LogApi, ModulesApi, NetApi, SecretsApi, StorageApi } from "../../sdk/context.js";
import { CapabilityError, HostError } from "../base/errors.js";
import { HOST_FILES } from "../base/home.js";
import type { Kernel } from "../kernel.js";
import { bad, int, json, object, opt, str, tuple } from "./args.js";
import { dispatchedCaller } from "./dispatched-caller.js";
import type { CapabilityName } from "./catalogue.js";
import type { GrantSet } from "./grants.js";
import { takeFetchSlot } from "./fetch-budget.js";
import { netFetch } from "./net-fetch.js";
import { coversConfigKey, coversEmit } from "./scopes.js";
import { checkInvokeRate, checkWriteRate } from "./call-rates.js";
import type { CacheService } from "../../sdk/system/services.js";

/** Where a call runs: the module, its grants as of this call, and the kernel's services. */
export interface Site {
  readonly kernel: Kernel;
  readonly moduleId: string;
  readonly kind: "system" | "user";
  readonly grants: GrantSet;
  /** The module as a caller: with the outside callers it acts for at this point, if any. */
  asCaller(): Extract<Caller, { kind: "module" }>;
  /** That caller, and how deep in a chain of invocations this point is. */
  acting(): { caller: Extract<Caller, { kind: "module" }>; depth: number };
}

// The erased row type: each row is typed by the SDK method it implements (HostCalls below); only
// the port, which runs whichever row a call names, sees it erased.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- an erased function type needs any (never[] rejects the rows' tuples)
type Fn = (...args: any[]) => any;

export interface CallEntry<F extends Fn> {
  capability: CapabilityName;
  /** Checks the argument list that crossed; returns it typed. */
  args(raw: readonly unknown[], method: string): Parameters<F>;
  run(site: Site, ...args: Parameters<F>): Promise<Awaited<ReturnType<F>>> | Awaited<ReturnType<F>>;
}

type MethodsOf<N extends string, T> = { [M in keyof T & string as T[M] extends Fn ? `${N}.${M}` : never]: T[M] };

/** Every plain call of the context, as the SDK types it. */
type HostCalls = Pick<MethodsOf<"commands", CommandsApi>, "commands.invoke" | "commands.dispatch" | "commands.catalogue"> &
  MethodsOf<"storage", StorageApi> &
  MethodsOf<"cache", CacheApi> &
  MethodsOf<"config", ConfigCalls> &
  Pick<MethodsOf<"events", EventsApi>, "events.emit"> &
  MethodsOf<"audit", AuditApi> &
  MethodsOf<"modules", ModulesApi> &
  MethodsOf<"home", HomeApi> &
  MethodsOf<"net", NetApi> &
  MethodsOf<"secrets", SecretsApi>;

export type HostMethod = keyof HostCalls;
type Table = { [K in HostMethod]: CallEntry<HostCalls[K]> };

/** Methods that carry a handler or are fire and forget; each runtime implements them around the port. */
export const BOUND_METHODS = {
  "commands.register": "commands.register",
  "events.on": "events.subscribe",
  "config.watch": "config.read",
  ...({ "log.debug": "log.write", "log.info": "log.write", "log.warn": "log.write", "log.error": "log.write" } satisfies Record<`log.${keyof LogApi}`, CapabilityName>),
} as const satisfies Record<string, CapabilityName>;

const KEY = str(1024);
const MAX_TAGS = 16;
const MAX_EVENT_PAYLOAD = 64 * 1024;

function jsonText(method: string, v: unknown, maxBytes: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch (e) {
    throw bad(method, `value is not JSON-serialisable (${(e as Error).message})`);
  }
  if (text === undefined) throw bad(method, "value is not JSON-serialisable");
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) {
    throw new HostError("quota_exceeded", `${method}: value is ${bytes} bytes, ${maxBytes} allowed per value`, { details: { requested: bytes, allowed: maxBytes } });
  }
  return text;
}

/** A scope the grant does not cover: refused like a missing grant (the port audits it). */
function outside(site: Site, capability: CapabilityName, why: string): CapabilityError {
  return new CapabilityError(site.moduleId, capability, why);
}

/**
 * A provider's budget refusal ({code: "quota_exceeded", details: {budget}}) as the host's own
 * error, counted in the module's ledger under that budget.
 */
function budgetRefusal(site: Site, e: unknown): unknown {
  const err = e as { code?: unknown; message?: unknown; details?: { budget?: unknown } } | undefined;
  if (err?.code !== "quota_exceeded") return e;
  const budget = typeof err.details?.budget === "string" ? err.details.budget : "quota";
  site.kernel.ledger.limit(site.moduleId, budget);
  return new HostError("quota_exceeded", String(err.message), { details: err.details });
}

async function cacheFor(site: Site): Promise<CacheApi> {
  const service = await site.kernel.providers.service<CacheService>("cache.use");
  return service.forModule(site.moduleId);
}

export const HOST_API = {
  "commands.invoke": {
    capability: "commands.invoke",
    args: (raw, m) =>
      tuple(m, raw, [
        ["command", str(200)],
        ["input", opt(object)],
      ]),
    // The permission check is the bus's (the one policy point), against this module's grants.
    run: (site, command, input) => {
      checkInvokeRate(site, "commands.invoke");
      const { caller, depth } = site.acting();
      return site.kernel.bus.dispatch({ command, input: input ?? {}, caller, depth: depth + 1 });
    },
  },
  "commands.dispatch": {
    capability: "commands.dispatch",
    args: (raw, m) => {
      const [call] = tuple(m, raw, [["call", object]]);
      return [{ command: str(200)(call.command, m, "call.command"), input: call.input, caller: dispatchedCaller(call.caller, m) }];
    },
    run: ({ kernel }, call) => kernel.bus.dispatch(call),
  },
  "commands.catalogue": {
    capability: "commands.dispatch",
    args: (raw, m) => tuple(m, raw, []),
    run: ({ kernel }) => kernel.bus.list(),
  },

  "storage.get": {
    capability: "storage.read",
    args: (raw, m) => tuple(m, raw, [["key", KEY]]),
    run: async ({ kernel, moduleId }, key) => {
      const text = await kernel.store.storage.get(moduleId, key);
      return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
    },
  },
  "storage.list": {
    capability: "storage.read",
    args: (raw, m) =>
      tuple(m, raw, [
        ["prefix", opt(str(1024, 0))],
        ["limit", opt(int(1, 100_000))],
      ]),
    run: ({ kernel, moduleId }, prefix, limit) => kernel.store.storage.list(moduleId, prefix ?? "", limit ?? 1000),
  },
  "storage.set": {
    capability: "storage.write",
    args: (raw, m) =>
      tuple(m, raw, [
        ["key", KEY],
        ["value", json],
      ]) as [string, JsonValue],
    run: async (site, key, value) => {
      const { kernel, moduleId } = site;
      checkWriteRate(site, "storage.set");
      const maxValue = kernel.config.get("storage.maxValueBytes");
      const quota = kernel.config.get("storage.maxBytesPerModule");
      await kernel.store.storage.set(moduleId, key, jsonText("storage.set", value, maxValue), quota);
    },
  },
  "storage.delete": {
    capability: "storage.write",
    args: (raw, m) => tuple(m, raw, [["key", KEY]]),
    run: (site, key) => {
      checkWriteRate(site, "storage.delete");
      return site.kernel.store.storage.delete(site.moduleId, key);
    },
  },

  "cache.get": {
    capability: "cache.use",
    args: (raw, m) => tuple(m, raw, [["key", KEY]]),
    run: async (site, key) => (await cacheFor(site)).get(key),
  },
  "cache.set": {
    capability: "cache.use",
    args: (raw, m) => {
      const [key, value, options] = tuple(m, raw, [
        ["key", KEY],
        ["value", json],
        ["options", opt(object)],
      ]);
      const ttlMs = options?.ttlMs === undefined ? undefined : int(1, 604_800_000)(options.ttlMs, m, "options.ttlMs");
      const given = options?.tags === undefined ? undefined : Array.isArray(options.tags) ? options.tags : [options.tags];
      // Each tag is kept beside the entry (a set in a fleet's Redis): their number is bounded too.
      if (given && given.length > MAX_TAGS) throw bad(m, `options.tags: at most ${MAX_TAGS} tags per entry (${given.length} given)`);
      const tags = given?.map((t, i) => str(200)(t, m, `options.tags[${i}]`));
      return [key, value as JsonValue, { ...(ttlMs === undefined ? {} : { ttlMs }), ...(tags === undefined ? {} : { tags }) }];
    },
    run: async (site, key, value, options) => {
      try {
        return await (await cacheFor(site)).set(key, value, options);
      } catch (e) {
        throw budgetRefusal(site, e);
      }
    },
  },
  "cache.delete": {
    capability: "cache.use",
    args: (raw, m) => tuple(m, raw, [["key", KEY]]),
    run: async (site, key) => (await cacheFor(site)).delete(key),
  },
  "cache.invalidateTag": {
    capability: "cache.use",
    args: (raw, m) => tuple(m, raw, [["tag", str(200)]]),
    run: async (site, tag) => (await cacheFor(site)).invalidateTag(tag),
  },

  "config.get": {
    capability: "config.read",
    args: (raw, m) => tuple(m, raw, [["key", opt(str(200))]]),
    run: (site, key) => {
      const { kernel, moduleId, grants } = site;
      if (key === undefined) return kernel.config.section(moduleId) as JsonValue;
      const full = key.includes(".") ? key : `${moduleId}.${key}`;
      if (!grants.unrestricted && !coversConfigKey(grants.scope("config.read")!, grants.facts, full)) {
        throw outside(site, "config.read", `key '${full}' belongs to another owner; list it under config.read's "keys" (that needs an operator's approval)`);
      }
      return kernel.config.read(full) as JsonValue;
    },
  },
  "config.set": {
    capability: "config.manage",
    args: (raw, m) =>
      tuple(m, raw, [
        ["key", str(200)],
        ["value", json],
        ["call", json],
      ]) as [string, JsonValue, CallInfo | undefined],
    run: async ({ kernel, kind, asCaller }, key, value, call) => {
      // Its owner's permission too: a module with config.manage changes security's settings only
      // if it holds security.manage, and for a caller only what that caller may.
      const auth = kernel.bus.authorizeSetting(asCaller(), key, kernel.config.permissionFor(key), value);
      // Like audit.record: a system module may name the call it serves, so the event names its caller.
      const actor = kind === "system" && call !== undefined ? kernel.bus.actorOf(call) : undefined;
      await kernel.config.setAudited(key, value, auth, actor === undefined ? {} : { actor });
    },
  },

  "events.emit": {
    capability: "events.emit",
    args: (raw, m) =>
      tuple(m, raw, [
        ["event", str(200)],
        ["payload", json],
      ]) as [string, JsonValue | undefined],
    run: (site, event, payload) => {
      const { kernel, grants } = site;
      if (!grants.unrestricted && !coversEmit(grants.scope("events.emit")!, grants.facts, event)) {
        throw outside(site, "events.emit", `event '${event}' is not its own (${site.moduleId}.*); list it under events.emit's "events" (that needs an operator's approval)`);
      }
      jsonText("events.emit", payload ?? null, MAX_EVENT_PAYLOAD);
      kernel.events.emit(event, payload ?? null);
    },
  },

  "audit.tail": {
    capability: "audit.read",
    args: (raw, m) => tuple(m, raw, [["n", opt(int(1, 1000))]]),
    run: async ({ kernel }, n) => (await kernel.audit.tail(n ?? 20)) as JsonValue[],
  },
  "audit.verify": {
    capability: "audit.read",
    args: (raw, m) => tuple(m, raw, []),
    run: async ({ kernel }) => (await kernel.audit.verify()) as JsonValue,
  },
  "audit.record": {
    capability: "audit.write",
    args: (raw, m) => {
      const [action, target, data, call] = tuple(m, raw, [
        ["action", str(100)],
        ["target", opt(str(200))],
        ["data", opt(object)],
        ["call", json],
      ]);
      if (!/^[a-z][a-z0-9_.-]{0,99}$/.test(action)) throw bad(m, "action must look like token.grant");
      return [action, target, data, call as never];
    },
    run: async ({ kernel, moduleId, kind }, action, target, data, call) => {
      // The host's own record of who made the call, never what the module says: a system module
      // may hand back the CallInfo the bus gave it (then the actor is that call's caller); for
      // anything else, and for every user module in either runtime, the actor is the module.
      const actor = (kind === "system" && call !== undefined ? kernel.bus.actorOf(call) : undefined) ?? `module:${moduleId}`;
      await kernel.audit.append({ actor, action, ...(target === undefined ? {} : { target }), data: data ?? {} });
    },
  },

  "modules.list": {
    capability: "modules.manage",
    args: (raw, m) => tuple(m, raw, []),
    run: ({ kernel }) => kernel.modules.list() as JsonValue[],
  },
  "modules.inspect": {
    capability: "modules.manage",
    args: (raw, m) => tuple(m, raw, [["id", str(64)]]),
    run: ({ kernel }, id) => kernel.modules.inspect(id) as JsonValue,
  },
  "modules.approve": {
    capability: "modules.manage",
    args: (raw, m) =>
      tuple(m, raw, [
        ["id", str(64)],
        ["hash", str(64)],
      ]),
    run: async ({ kernel, asCaller }, id, hash) => void (await kernel.modules.approve(id, { hash }, kernel.bus.authorize(asCaller(), "capability.grant_elevated", { target: id }))),
  },
  "modules.enable": {
    capability: "modules.manage",
    args: (raw, m) => tuple(m, raw, [["id", str(64)]]),
    run: async ({ kernel, asCaller }, id) => void (await kernel.modules.enable(id, kernel.bus.authorize(asCaller(), "module.enable", { target: id }))),
  },
  "modules.disable": {
    capability: "modules.manage",
    args: (raw, m) => tuple(m, raw, [["id", str(64)]]),
    run: async ({ kernel, asCaller }, id) => void (await kernel.modules.disable(id, kernel.bus.authorize(asCaller(), "module.disable", { target: id }))),
  },

  "home.writeSecretFile": {
    capability: "home.write",
    args: (raw, m) => {
      const [name, content] = tuple(m, raw, [
        ["name", str(64)],
        ["content", str(64 * 1024, 0)],
      ]);
      if (!/^[a-z][a-z0-9.-]{0,63}$/.test(name)) throw bad(m, "name must be a plain file name like bootstrap.token");
      if (HOST_FILES.test(name)) throw bad(m, `'${name}' is one of the host's own files`);
      return [name, content];
    },
    run: ({ kernel }, name, content) => {
      const file = join(kernel.home, name);
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, content, { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, file);
      return file;
    },
  },

  "net.fetch": {
    capability: "net.fetch",
    args: (raw, m) =>
      tuple(m, raw, [
        ["url", json],
        ["init", json],
      ]) as never,
    run: async ({ kernel, moduleId, grants }, url, init) => {
      const release = takeFetchSlot(kernel, moduleId);
      try {
        return await netFetch(moduleId, grants.scope("net.fetch")?.hosts ?? [], url, init, kernel.netTransport);
      } finally {
        release();
      }
    },
  },

  "secrets.get": {
    capability: "secrets.read",
    args: (raw, m) => tuple(m, raw, [["name", str(64)]]),
    run: ({ kernel, moduleId }, name) => kernel.secrets.get(moduleId, name),
  },
} satisfies Table;

export function hostEntry(method: string): CallEntry<Fn> | undefined {
  return Object.prototype.hasOwnProperty.call(HOST_API, method) ? (HOST_API as Record<string, CallEntry<Fn>>)[method] : undefined;
}

export { contextShape, hostShape, type ContextShape } from "./shape.js";
