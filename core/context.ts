// Builds the ModuleContext handed to in-process (system) modules from their HostPort. Methods
// whose capability is not granted throw CapabilityError at once, for a clear stack in the module;
// the port checks again on every call, which is the check that counts.
import type { CommandHandler, ModuleContext, ModuleInfo } from "../sdk/context.js";
import { capabilityForMethod, contextApiTable, SERVICE_API } from "./capabilities/catalogue.js";
import { CapabilityError, HostError } from "./errors.js";
import type { HostPort } from "./runtime.js";

export interface ContextOptions {
  info: ModuleInfo;
  port: HostPort;
  /** Names of the capabilities granted now. */
  granted: () => ReadonlySet<string>;
  handlers: Map<string, CommandHandler>;
}


export function createModuleContext(o: ContextOptions): ModuleContext {
  const { port, info } = o;

  const guard = (method: string, args: unknown[] = []) => {
    const capability = capabilityForMethod(method);
    if (capability !== undefined && !o.granted().has(capability)) {
      // The port refuses and audits the attempt; the module gets the error at once.
      port.call(method, args).catch(() => {});
      throw new CapabilityError(info.id, capability);
    }
  };
  const method = (name: string) => (...args: unknown[]) => {
    guard(name, args);
    return port.call(name, args);
  };

  // Fixed namespaces from the catalogue: storage.get, cacheAdmin.clear, ...
  const namespaces: Record<string, Record<string, unknown>> = {};
  for (const [ns, methods] of Object.entries(contextApiTable())) {
    namespaces[ns] = Object.fromEntries(Object.keys(methods).map((fn) => [fn, method(`${ns}.${fn}`)]));
  }

  // Service-backed namespaces accept any operation name; the service decides what exists.
  const serviceNamespace = (ns: string) =>
    new Proxy(Object.freeze({}), {
      get(_t, prop) {
        if (typeof prop !== "string" || prop === "then") return undefined;
        return method(`${ns}.${prop}`);
      },
    });

  const log = (level: "debug" | "info" | "warn" | "error") => (message: string, data?: Record<string, unknown>) => {
    guard(`log.${level}`);
    port.log(level, message, data);
  };

  const ctx: ModuleContext = {
    module: Object.freeze({ ...info }),
    commands: Object.freeze({
      register(name: string, handler: CommandHandler) {
        if (typeof handler !== "function") throw new HostError("input_invalid", `commands.register('${name}'): handler must be a function`);
        guard("commands.register");
        port.register(name);
        o.handlers.set(name, handler);
      },
      invoke: method("commands.invoke") as any,
      dispatch: method("commands.dispatch") as any,
      catalogue: method("commands.catalogue") as any,
    }),
    storage: Object.freeze(namespaces.storage) as any,
    cache: Object.freeze(namespaces.cache) as any,
    cacheAdmin: Object.freeze(namespaces.cacheAdmin) as any,
    config: Object.freeze({ get: method("config.get"), set: method("config.set") }) as any,
    events: Object.freeze({
      on(pattern: string, handler: (payload: any, event: string) => void) {
        guard("events.on");
        if (!port.subscribe) throw new HostError("internal", "events.on is not available in this runtime");
        return port.subscribe(pattern, handler);
      },
      emit: method("events.emit"),
    }) as any,
    log: Object.freeze({ debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") }),
    audit: Object.freeze(namespaces.audit) as any,
    modules: Object.freeze(namespaces.modules) as any,
    home: Object.freeze(namespaces.home) as any,
    net: Object.freeze(namespaces.net) as any,
    ...(Object.fromEntries(Object.keys(SERVICE_API).map((ns) => [ns, serviceNamespace(ns)])) as { security: any; auth: any }),
    services: Object.freeze({
      provide(name: string, service: object) {
        if (!port.services) throw new HostError("capability_denied", "only system modules may provide services");
        port.services.provide(name, service);
      },
      use<T>(name: string): T {
        if (!port.services) throw new HostError("capability_denied", "only system modules may use services");
        return port.services.use(name) as T;
      },
    }),
  };
  return Object.freeze(ctx);
}
