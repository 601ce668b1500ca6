// The host side of every module's context: each call names a context method; the port finds the
// capability it needs, checks the module's current grants (so a runtime revoke bites on the very
// next call), audits a denial, and runs the implementation. This is the check that counts; what a
// module's context shows it is only a convenience.
import { CapabilityError, HostError } from "../errors.js";
import type { Kernel } from "../kernel.js";
import type { HostPort } from "../runtime.js";
import { capabilityForMethod } from "./catalogue.js";
import { matchesAny } from "./grants.js";
import type { Grant } from "./grants.js";
import { implementationFor } from "./implementations.js";

export interface PortOptions {
  kernel: Kernel;
  moduleId: string;
  kind: "system" | "user";
  /** The module's grants as of now (approval, revocation). */
  grants: () => readonly Grant[];
  /** Command names the manifest declares. */
  declaredCommands: ReadonlySet<string>;
  /** Module ids listed in the manifest's dependencies (the only providers it may `use`). */
  dependencies: readonly string[];
  /** Called after a successful `register` check (the runtime keeps the handler). */
  onRegister?: (name: string) => void;
  /** Sandboxed subscriptions: the kernel delivers matching events to the module under this id. */
  subscribe: (pattern: string) => string;
}

const LOG_LEVELS = new Set(["debug", "info", "warn", "error"]);
const MAX_LOG_MESSAGE = 4096;
const DENIALS_AUDITED_PER_MINUTE = 30;

export function createHostPort(o: PortOptions): HostPort {
  const { kernel, moduleId } = o;

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
  const denied = (err: CapabilityError): CapabilityError => {
    const now = Date.now();
    if (now - window.start >= 60_000) {
      if (window.suppressed > 0) record("capability.denied.suppressed", "*", { count: window.suppressed });
      window = { start: now, audited: 0, suppressed: 0 };
    }
    if (window.audited < DENIALS_AUDITED_PER_MINUTE) {
      window.audited++;
      record("capability.denied", err.capability, { message: err.message });
      kernel.log.warn({ security: true, module: moduleId, capability: err.capability }, "capability denied");
    } else window.suppressed++;
    return err;
  };
  const record = (action: string, target: string, data: Record<string, unknown>) => {
    try {
      kernel.audit.append({ actor: `module:${moduleId}`, action, target, data });
    } catch {
      // The denial stands whether or not it could be audited.
    }
  };

  const grantFor = (capability: string, method: string = capability): Grant => {
    const grant = o.grants().find((g) => g.name === capability);
    observe(method, capability, grant !== undefined);
    if (!grant) throw denied(new CapabilityError(moduleId, capability));
    return grant;
  };

  const port: HostPort = {
    async call(method, args) {
      if (typeof method !== "string" || !Array.isArray(args)) {
        throw new HostError("input_invalid", "a capability call needs a method name and an argument list");
      }
      if (method === "events.on") {
        const grant = grantFor("events.subscribe", method);
        const [pattern] = args;
        if (typeof pattern !== "string" || pattern.length === 0 || pattern.length > 200) {
          throw new HostError("input_invalid", "events.on: pattern must be a string of 1-200 characters");
        }
        const allowed = (grant.params.events as string[] | undefined) ?? ["*"];
        if (!matchesAny(allowed, pattern) && !allowed.includes("*")) {
          throw denied(new CapabilityError(moduleId, "events.subscribe", `pattern '${pattern}' is outside its allowed events (${allowed.join(", ")})`));
        }
        return o.subscribe(pattern);
      }
      const capability = capabilityForMethod(method);
      if (capability === undefined) throw new CapabilityError(moduleId, method, "no such context method exists");
      const grant = grantFor(capability, method);
      const impl = implementationFor(method);
      if (impl === undefined) throw new HostError("input_invalid", `${method} is not called through the port (use the context's own method)`);
      try {
        return await impl({ kernel, moduleId, kind: o.kind, grant }, args);
      } catch (e) {
        // A scoped grant that does not cover this use (commands.invoke, events.emit, config.read).
        if (e instanceof CapabilityError && e.module === moduleId) throw denied(e);
        throw e;
      }
    },

    register(name) {
      grantFor("commands.register", "commands.register");
      if (typeof name !== "string" || !o.declaredCommands.has(name)) {
        throw new HostError(
          "manifest_invalid",
          `module '${moduleId}' tried to register command '${String(name)}', which its module.json does not declare; ` +
            `declare it under "commands" (declared: ${[...o.declaredCommands].join(", ") || "none"})`,
        );
      }
      o.onRegister?.(name);
    },

    log(level, message, data) {
      try {
        grantFor("log.write", `log.${level}`);
      } catch {
        return; // log calls are fire and forget; the denial is already audited
      }
      const lvl = LOG_LEVELS.has(level) ? level : "info";
      const msg = String(message).slice(0, MAX_LOG_MESSAGE);
      kernel.log[lvl]({ module: moduleId, ...(data && typeof data === "object" ? { data } : {}) }, msg);
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
    };
    port.subscribe = (pattern, handler) => {
      grantFor("events.subscribe", "events.on");
      return kernel.events.subscribe(pattern, handler);
    };
  }
  return port;
}
