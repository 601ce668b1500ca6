// The host side of every module's context. Each call names a context method; the port finds its
// entry in the host-API table (or a provider's command namespace), checks that the module holds
// the capability as of this very call (a runtime revoke bites on the next call), checks the
// arguments, runs the implementation (whose scope checks throw CapabilityError) and audits every
// refusal. This is the check that counts; what a module's context shows it is a convenience.
import { CapabilityError, HostError } from "../base/errors.js";
import type { Kernel } from "../kernel.js";
import type { Caller } from "../../sdk/context.js";
import type { HostPort } from "../runtime.js";
import type { GrantSet } from "./grants.js";
import { checkInvokeRate } from "./call-rates.js";
import { BOUND_METHODS, hostEntry, type Site } from "./table.js";
import { denialAuditor } from "./denials.js";
import { moduleSubscriptions } from "./subscriptions.js";
import { moduleLog } from "./module-log.js";
import { systemServices } from "./system-services.js";

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

export function createHostPort(o: PortOptions): HostPort {
  const { kernel, moduleId } = o;
  let subscriptions = 0;
  const observe = (method: string, capability: string, allowed: boolean) => {
    kernel.ledger.capability(moduleId, allowed);
    for (const obs of kernel.capabilityObservers) obs({ module: moduleId, method, capability, allowed });
  };
  const denied = denialAuditor(kernel, moduleId, observe);

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

  const { subscribe, watchConfig } = moduleSubscriptions(o, hold, denied);

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

    log: moduleLog(kernel, moduleId, o.kind, hold),

    subscribe: (pattern, handler) => subscribe(pattern, handler),
    watchConfig: (handler) => watchConfig(handler),

    deniedCount(count) {
      kernel.ledger.denied(moduleId, count);
    },

    limited(budget, count) {
      kernel.ledger.limit(moduleId, budget, count);
    },
  };

  if (o.kind === "system") port.services = systemServices(kernel, moduleId, o.dependencies);
  return port;
}
