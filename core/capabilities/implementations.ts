// Host-side implementations of every context method, keyed by `namespace.method`. The HostPort
// has already checked that the calling module holds the capability (and passes its grant, for
// scoped parameters); these functions check their arguments and do the work.
import { chmodSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HostError, CapabilityError } from "../errors.js";
import type { Kernel } from "../kernel.js";
import { matchesAny } from "./grants.js";
import { netFetch } from "./net-fetch.js";
import type { Grant } from "./grants.js";

export interface CallSite {
  kernel: Kernel;
  moduleId: string;
  kind: "system" | "user";
  grant: Grant;
}

/**
 * Every storage write is a durable commit on the host's thread, so a user module's write rate is
 * capped (storage.maxWritesPerSecond); system modules are trusted with theirs.
 */
const writeWindows = new WeakMap<Kernel, Map<string, { second: number; n: number }>>();
function checkWriteRate({ kernel, moduleId, kind }: CallSite, method: string): void {
  if (kind === "system") return;
  let windows = writeWindows.get(kernel);
  if (!windows) writeWindows.set(kernel, (windows = new Map()));
  const second = Math.floor(Date.now() / 1000);
  let w = windows.get(moduleId);
  if (!w || w.second !== second) windows.set(moduleId, (w = { second, n: 0 }));
  const max = kernel.config.get("storage.maxWritesPerSecond") as number;
  if (++w.n > max) {
    throw new HostError("quota_exceeded", `${method}: module '${moduleId}' made more than ${max} storage writes this second (${w.n} requested, ${max} allowed); batch them or raise storage.maxWritesPerSecond`, {
      details: { requested: w.n, allowed: max },
    });
  }
}

type Impl = (site: CallSite, args: unknown[]) => unknown;

const MAX_KEY_BYTES = 1024;

function bad(method: string, what: string): HostError {
  return new HostError("input_invalid", `${method}: ${what}`);
}

function key(method: string, v: unknown): string {
  if (typeof v !== "string" || v.length === 0) throw bad(method, "key must be a non-empty string");
  if (Buffer.byteLength(v) > MAX_KEY_BYTES) throw bad(method, `key is ${Buffer.byteLength(v)} bytes, ${MAX_KEY_BYTES} allowed`);
  return v;
}

function optString(method: string, v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw bad(method, `${what} must be a string`);
  return v;
}

function json(method: string, v: unknown, maxBytes: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch (e) {
    throw bad(method, `value is not JSON-serialisable (${(e as Error).message})`);
  }
  if (text === undefined) throw bad(method, "value is not JSON-serialisable");
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) {
    throw new HostError("quota_exceeded", `${method}: value is ${bytes} bytes, ${maxBytes} allowed per value`, {
      details: { requested: bytes, allowed: maxBytes },
    });
  }
  return text;
}

/** A service-backed namespace: `ns.method` calls `service[part][method]`, own functions only. */
function viaService(serviceName: string, part: string | ((s: any, moduleId: string) => any)): (method: string) => Impl {
  return (method) => (site, args) => {
    const service = site.kernel.services.require<any>(serviceName);
    const api = typeof part === "string" ? service[part] : part(service, site.moduleId);
    const name = method.slice(method.indexOf(".") + 1);
    if (!api || !Object.prototype.hasOwnProperty.call(api, name) || typeof api[name] !== "function") {
      throw new HostError("command_not_found", `${method} is not an operation of the '${serviceName}' service`);
    }
    return api[name](...args);
  };
}

const IMPLEMENTATIONS: Record<string, Impl> = {
  "commands.invoke": async ({ kernel, moduleId, grant }, [command, input]) => {
    if (typeof command !== "string") throw bad("commands.invoke", "command must be a string like notes.add");
    const allowed = (grant.params.commands as string[] | undefined) ?? [];
    if (!matchesAny(allowed, command)) {
      throw new CapabilityError(moduleId, "commands.invoke", `'${command}' is not among its allowed commands (${allowed.join(", ")})`);
    }
    return kernel.bus.dispatch({ command, input: input ?? {}, caller: { kind: "module", moduleId } });
  },
  "commands.dispatch": async ({ kernel }, [call]) => {
    const c = call as { command?: unknown; input?: unknown; caller?: unknown } | undefined;
    if (!c || typeof c.command !== "string") throw bad("commands.dispatch", "expected {command, input, caller}");
    return kernel.bus.dispatch(c as any);
  },
  "commands.catalogue": ({ kernel }) => kernel.bus.list(),

  "storage.get": ({ kernel, moduleId }, [k]) => {
    const text = kernel.store.storage.get(moduleId, key("storage.get", k));
    return text === undefined ? undefined : JSON.parse(text);
  },
  "storage.list": ({ kernel, moduleId }, [prefix, limit]) => {
    const p = optString("storage.list", prefix, "prefix") ?? "";
    const n = typeof limit === "number" && limit > 0 ? Math.min(limit, 100_000) : 1000;
    return kernel.store.storage.list(moduleId, p, n);
  },
  "storage.set": (site, [k, v]) => {
    const { kernel, moduleId } = site;
    checkWriteRate(site, "storage.set");
    const maxValue = kernel.config.get("storage.maxValueBytes") as number;
    const quota = kernel.config.get("storage.maxBytesPerModule") as number;
    kernel.store.storage.set(moduleId, key("storage.set", k), json("storage.set", v, maxValue), quota);
    return undefined;
  },
  "storage.delete": (site, [k]) => {
    checkWriteRate(site, "storage.delete");
    return site.kernel.store.storage.delete(site.moduleId, key("storage.delete", k));
  },

  "config.get": ({ kernel, moduleId, grant }, [k]) => {
    if (k === undefined) return kernel.config.section(moduleId);
    if (typeof k !== "string") throw bad("config.get", "key must be a string");
    const full = k.includes(".") ? k : `${moduleId}.${k}`;
    const extra = (grant.params.keys as string[] | undefined) ?? [];
    if (!full.startsWith(`${moduleId}.`) && !matchesAny(extra, full)) {
      throw new CapabilityError(moduleId, "config.read", `key '${full}' belongs to another owner; list it under config.read's "keys"`);
    }
    return kernel.config.get(full);
  },
  "config.set": ({ kernel, moduleId }, [k, v]) => {
    if (typeof k !== "string") throw bad("config.set", "key must be a string");
    return kernel.store.transaction(() => {
      const value = kernel.config.set(k, v);
      kernel.audit.append({ actor: `module:${moduleId}`, action: "config.set", target: k, data: { value } });
      return undefined;
    });
  },

  "events.emit": ({ kernel, moduleId, grant }, [event, payload]) => {
    if (typeof event !== "string" || event.length === 0 || event.length > 200) throw bad("events.emit", "event must be a string of 1-200 characters");
    const allowed = (grant.params.events as string[] | undefined) ?? [`${moduleId}.*`];
    if (!matchesAny(allowed, event)) {
      throw new CapabilityError(moduleId, "events.emit", `event '${event}' is outside its allowed patterns (${allowed.join(", ")})`);
    }
    json("events.emit", payload ?? null, 64 * 1024);
    kernel.events.emit(event, payload ?? null);
    return undefined;
  },

  "net.fetch": ({ moduleId, grant }, [url, init]) => netFetch(moduleId, (grant.params.hosts as string[] | undefined) ?? [], url, init),

  "audit.tail": ({ kernel }, [n]) => kernel.audit.tail(typeof n === "number" ? Math.max(1, Math.min(n, 1000)) : 20),
  "audit.verify": ({ kernel }) => kernel.audit.verify(),
  "audit.record": ({ kernel, moduleId }, [action, target, data]) => {
    if (typeof action !== "string" || !/^[a-z][a-z0-9_.-]{0,99}$/.test(action)) throw bad("audit.record", "action must look like token.grant");
    const t = optString("audit.record", target, "target");
    if (data !== undefined && (typeof data !== "object" || data === null || Array.isArray(data))) throw bad("audit.record", "data must be an object");
    const actor = typeof (data as any)?.actor === "string" ? (data as any).actor : `module:${moduleId}`;
    const { actor: _drop, ...rest } = (data ?? {}) as Record<string, unknown>;
    kernel.audit.append({ actor, action, ...(t === undefined ? {} : { target: t }), data: rest });
    return undefined;
  },

  "home.writeSecretFile": ({ kernel }, [name, content]) => {
    if (typeof name !== "string" || !/^[a-z][a-z0-9.-]{0,63}$/.test(name)) throw bad("home.writeSecretFile", "name must be a plain file name like bootstrap.token");
    if (typeof content !== "string" || content.length > 64 * 1024) throw bad("home.writeSecretFile", "content must be a string of at most 64 KiB");
    const file = join(kernel.home, name);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, content, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
    return file;
  },

  "modules.list": ({ kernel }) => kernel.modules.list(),
  "modules.inspect": ({ kernel }, [id]) => kernel.modules.inspect(String(id)),
  "modules.approve": ({ kernel, moduleId }, [id]) => kernel.modules.approve(String(id), `module:${moduleId}`),
  "modules.enable": ({ kernel, moduleId }, [id]) => kernel.modules.enable(String(id), `module:${moduleId}`),
  "modules.disable": ({ kernel, moduleId }, [id]) => kernel.modules.disable(String(id), `module:${moduleId}`),
};

const SERVICE_NAMESPACES: Record<string, (method: string) => Impl> = {
  cache: viaService("cache", (s, moduleId) => s.forModule(moduleId)),
  cacheAdmin: viaService("cache", "admin"),
  security: viaService("security", "manage"),
  auth: viaService("auth", "manage"),
};

export function implementationFor(method: string): Impl | undefined {
  if (Object.prototype.hasOwnProperty.call(IMPLEMENTATIONS, method)) return IMPLEMENTATIONS[method];
  const ns = method.slice(0, method.indexOf("."));
  if (Object.prototype.hasOwnProperty.call(SERVICE_NAMESPACES, ns)) return SERVICE_NAMESPACES[ns]!(method);
  return undefined;
}
