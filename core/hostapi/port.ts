// The host side of every module's context. Each call names a context method; the port finds its
// entry in the host-API table (or a provider's command namespace), checks that the module holds
// the capability as of this very call (a runtime revoke bites on the next call), checks the
// arguments, runs the implementation (whose scope checks throw CapabilityError) and audits every
// refusal. This is the check that counts; what a module's context shows it is a convenience.
import { CapabilityError, HostError } from "../base/errors.js";
import type { Kernel } from "../kernel.js";
import type { Caller } from "../../sdk/context.js";
import type { HostPort } from "../runtime.js";
import type { CapabilityName } from "./catalogue.js";
import type { GrantSet } from "./grants.js";
import { coversSubscription } from "./scopes.js";
import { checkInvokeRate } from "./call-rates.js";
import { BOUND_METHODS, hostEntry, type Site } from "./table.js";

export interface PortOptions {
  kernel: Kernel;
  moduleId: string;
  kind: "system" | "user";
  /** The module's grants as of now (approval, revocation). */
  grants: () => GrantSet;
  /** Its code runs in the host's async context (in-process), so whom it acts for is known exactly. */
  exactContext: boolean;
  /** Command names the manifest declares. */
  declaredCommands: ReadonlySet<string>;
  /** Module ids listed in the manifest's dependencies (the only providers it may `use`). */
  dependencies: readonly string[];
  /** Called after a successful `register` check (the runtime keeps the handler). */
  onRegister?: (name: string) => void;
  /** Keeps the unsubscribe function of each subscription, for deactivation. */
  track: (unsubscribe: () => void) => void;
  /** Sandboxed subscriptions: delivers an event to the module's subscription `id`. */
  deliver?: (id: string, event: string, payload: unknown) => void;
}

const LOG_LEVELS = new Set(["debug", "info", "warn", "error"]);
const MAX_LOG_MESSAGE = 4096;
const MAX_LOG_DATA = 16 * 1024;

function jsonBytes(v: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(v) ?? "");
  } catch {
    return Number.MAX_SAFE_INTEGER;
  }
}

const DENIALS_AUDITED_PER_MINUTE = 30;

export function createHostPort(o: PortOptions): HostPort {
  const { kernel, moduleId } = o;
  let subscriptions = 0;
  /** Log bytes per second: what is over is dropped, and reported once when the next second starts. */
  const logFits = (bytes: number): boolean => {
    const taken = kernel.budgets.take(moduleId, "log.bytes_per_second", bytes, kernel.config.get("log.module_bytes_per_second"), 1000);
    const dropped = taken.previousRefused;
    if (dropped) kernel.log.warn({ module: moduleId, dropped_lines: dropped.times, dropped_bytes: dropped.amount }, "module log lines dropped over log.module_bytes_per_second");
    return taken.ok;
  };

  const observe = (method: string, capability: string, allowed: boolean) => {
    kernel.ledger.capability(moduleId, allowed);
    for (const obs of kernel.capabilityObservers) obs({ module: moduleId, method, capability, allowed });
  };

  /**
   * Every refusal, for a missing grant or a scope the grant does not cover, is audited; but a
   * module hammering a refused API must not turn the audit chain (one fsync per event) into a way
   * to stall the host, so past DENIALS_AUDITED_PER_MINUTE the rest are counted and summarised.
   */
  let window = { start: 0, audited: 0, suppressed: 0 };
  const denied = (err: CapabilityError, method: string): CapabilityError => {
    // Counted and observed always (the ledger, learn mode); audited within the cap below.
    observe(method, err.capability, false);
    const now = Date.now();
    if (now - window.start >= 60_000) {
      if (window.suppressed > 0) record("capability.denied.suppressed", "*", { count: window.suppressed });
      window = { start: now, audited: 0, suppressed: 0 };
    }
    if (window.audited < DENIALS_AUDITED_PER_MINUTE) {
      window.audited++;
      record("capability.denied", err.capability, { message: err.message });
    } else window.suppressed++;
    return err;
  };
  const record = (action: string, target: string, data: Record<string, unknown>) => {
    // The denial stands whether or not it could be audited.
    kernel.audit.append({ actor: `module:${moduleId}`, action, target, data }).catch(() => {});
  };

  /** The module as a caller, with the outside callers it acts for here (authority never grows through it). */
  const acting = () => {
    const a = kernel.bus.actingFor(moduleId, o.exactContext);
    const caller: Extract<Caller, { kind: "module" }> = a.callers ? { kind: "module", moduleId, onBehalfOf: a.callers } : { kind: "module", moduleId };
    return { caller, depth: a.depth };
  };
  const asCaller = () => acting().caller;
  const site = (): Site => ({ kernel, moduleId, kind: o.kind, grants: o.grants(), asCaller, acting });

  /** The grant check: throws (audited) when the module does not hold the capability now. */
  const hold = (capability: string, method: string, grants: GrantSet = o.grants()): void => {
    if (!grants.has(capability)) throw denied(new CapabilityError(moduleId, capability), method);
    observe(method, capability, true);
  };

  /** A refusal from deeper in (a scope, the bus's policy point) about this module is audited here. */
  const audited = (e: unknown, method: string): never => {
    if (e instanceof CapabilityError && e.module === moduleId) throw denied(e, method);
    throw e;
  };

  const subscribe = async (pattern: unknown, deliver: (payload: unknown, event: string) => void): Promise<() => void> => {
    const grants = o.grants();
    hold(BOUND_METHODS["events.on"], "events.on", grants);
    if (typeof pattern !== "string" || pattern.length === 0 || pattern.length > 200) {
      throw new HostError("input_invalid", "events.on: pattern must be a string of 1-200 characters");
    }
    if (!grants.unrestricted && !coversSubscription(grants.scope("events.subscribe")!, grants.facts, pattern)) {
      throw denied(new CapabilityError(moduleId, "events.subscribe", `pattern '${pattern}' reaches beyond its own events and its dependencies'; list it under events.subscribe's "events" (that needs an operator's approval)`), "events.on");
    }
    // Checked again at every delivery: a runtime revoke of events.subscribe stops delivery at once.
    // A user module gets its own copy of each payload (subscribers never share one object).
    const unsubscribe = kernel.events.subscribe(pattern, (payload, event) => {
      if (!o.grants().has("events.subscribe")) return;
      deliver(o.kind === "user" ? structuredClone(payload) : payload, event);
    });
    o.track(unsubscribe);
    return unsubscribe;
  };

  /** This module's own settings changed (any path, any host of a fleet): its config.watch runs again. */
  const watchConfig = async (deliver: (payload: unknown, event: string) => void): Promise<() => void> => {
    hold(BOUND_METHODS["config.watch"], "config.watch");
    const prefix = `${moduleId}.`;
    const unwatch = kernel.config.onChange((key) => {
      if (key.startsWith(prefix) && o.grants().has("config.read")) deliver({ key }, "config.changed");
    });
    o.track(unwatch);
    return unwatch;
  };

  const port: HostPort = {
    async call(method, args) {
      if (typeof method !== "string" || !Array.isArray(args)) {
        throw new HostError("input_invalid", "a capability call needs a method name and an argument list");
      }
      if (method === "events.on") {
        // The sandboxed form: the host keeps the subscription and delivers to its id.
        const id = `s${++subscriptions}`;
        await subscribe(args[0], (payload, event) => o.deliver?.(id, event, payload));
        return id;
      }
      if (method === "config.watch") {
        const id = `s${++subscriptions}`;
        await watchConfig((payload, event) => o.deliver?.(id, event, payload));
        return id;
      }
      if (Object.prototype.hasOwnProperty.call(BOUND_METHODS, method)) {
        // Only ever reached to report a refusal the sandbox's context already made: audit it.
        hold(BOUND_METHODS[method as keyof typeof BOUND_METHODS], method);
        throw new HostError("input_invalid", `${method} is not called through the port; use the context's own method`);
      }
      const entry = hostEntry(method);
      if (entry) {
        const s = site();
        hold(entry.capability, method, s.grants);
        const parsed = entry.args(args, method);
        try {
          return await entry.run(s, ...parsed);
        } catch (e) {
          return audited(e, method);
        }
      }
      // A provider's command namespace: ctx.security.lockdown(input) is the command security.lockdown.
      const dot = method.indexOf(".");
      const provided = dot > 0 ? kernel.providers.namespace(method.slice(0, dot)) : undefined;
      if (!provided) throw new HostError("input_invalid", `'${method}' is not a context method`);
      hold(provided.capability, method);
      const input = args[0] ?? {};
      if (args.length > 1 || typeof input !== "object" || input === null || Array.isArray(input)) {
        throw new HostError("input_invalid", `${method}: takes one argument, the command's input object`);
      }
      try {
        checkInvokeRate({ kernel, moduleId, kind: o.kind }, method);
        const a = acting();
        return await kernel.bus.dispatch({ command: `${provided.module}.${method.slice(dot + 1)}`, input, caller: a.caller, depth: a.depth + 1 });
      } catch (e) {
        return audited(e, method);
      }
    },

    register(name) {
      hold(BOUND_METHODS["commands.register"], "commands.register");
      if (typeof name !== "string" || !o.declaredCommands.has(name)) {
        throw new HostError(
          "command_not_declared",
          `module '${moduleId}' tried to register command '${String(name).slice(0, 100)}', which its module.json does not declare; ` +
            `declare it under "commands" (declared: ${[...o.declaredCommands].join(", ") || "none"})`,
        );
      }
      o.onRegister?.(name);
    },

    log(level, message, data) {
      const method = `log.${LOG_LEVELS.has(level) ? level : "info"}` as keyof typeof BOUND_METHODS;
      try {
        hold(BOUND_METHODS[method] as CapabilityName, method);
      } catch {
        return; // log calls are fire and forget; the denial is already audited
      }
      const lvl = LOG_LEVELS.has(level) ? level : "info";
      const msg = String(message).slice(0, MAX_LOG_MESSAGE);
      let fields: object | undefined = data && typeof data === "object" ? data : undefined;
      let bytes = Buffer.byteLength(msg);
      if (o.kind === "user") {
        // A user module's lines are budgeted in bytes per second on the host side (whatever the
        // sandbox process let through), and oversized data is replaced by its size.
        if (fields !== undefined) {
          const size = jsonBytes(fields);
          if (size > MAX_LOG_DATA) fields = { truncated: true, bytes: size };
          bytes += Math.min(size, MAX_LOG_DATA);
        }
        if (!logFits(bytes)) {
          kernel.ledger.limit(moduleId, "log.bytes_per_second");
          return;
        }
      }
      // The module's data stays under `data`: it can never set the host's own fields (the
      // security-log tag among them).
      kernel.log[lvl]({ module: moduleId, ...(fields ? { data: fields } : {}) }, msg);
    },

    subscribe: (pattern, handler) => subscribe(pattern, handler),
    watchConfig: (handler) => watchConfig(handler),

    deniedCount(count) {
      kernel.ledger.denied(moduleId, count);
    },

    limited(budget, count) {
      kernel.ledger.limit(moduleId, budget, count);
    },
  };

  if (o.kind === "system") {
    port.services = {
      provide: (name, service) => kernel.services.provide(moduleId, name, service),
      use: (name) => {
        const provider = kernel.services.providerOf(name);
        if (provider === undefined || !o.dependencies.includes(provider)) {
          throw new HostError(
            "dependency_unresolved",
            `module '${moduleId}' may use service '${name}' only from a module in its dependencies` +
              (provider ? `; add "${provider}" to its module.json dependencies` : "; no active module provides it"),
          );
        }
        return kernel.services.require(name);
      },
      host: (name) => kernel.services.hostServiceNamed(name),
    };
  }
  return port;
}
