// The ModuleContext handed to in-process modules (system modules, and user modules under
// `createTestHost({ inProcess: true })`), generated from the same shape as the sandbox prelude's:
// every plain method calls the port and returns its promise, so an ungranted call rejects with
// capability_denied here exactly as it does in the sandbox. commands.register throws at once in
// both (command_not_declared, capability_denied); log calls never throw.
import type { CommandHandler, ModuleContext, ModuleInfo } from "../../sdk/context.js";
import { HostError } from "../base/errors.js";
import { crossing } from "./crossing.js";
import type { HostPort } from "../runtime.js";
import type { ContextShape } from "./table.js";
import { watchSettings } from "./watch-settings.js";

export interface ContextOptions {
  info: ModuleInfo;
  port: HostPort;
  api: ContextShape;
  handlers: Map<string, CommandHandler>;
  /** Every host error handed to the module (re-thrown, it passes through; anything else is the module's). */
  issued: WeakSet<object>;
}

export function createModuleContext(o: ContextOptions): ModuleContext {
  const { port, info } = o;
  // For a user module, arguments and results cross as JSON copies, as they do over the sandbox
  // bridge. System modules are trusted host code: their values pass as they are (a CallInfo they
  // hand back to ctx.audit.record must stay the object the bus issued).
  const issue = (e: unknown): never => {
    if (typeof e === "object" && e !== null) o.issued.add(e);
    throw e;
  };
  const call =
    info.kind === "system"
      ? (method: string, args: unknown[]): Promise<unknown> => port.call(method, args)
      : async (method: string, args: unknown[]): Promise<unknown> => {
          try {
            return crossing(await port.call(method, crossing(args, `${method} arguments`)), `the result of ${method}`);
          } catch (e) {
            return issue(e);
          }
        };
  const namespaces: Record<string, Record<string, unknown>> = {};
  for (const [ns, methods] of Object.entries(o.api)) {
    namespaces[ns] = Object.fromEntries(Object.keys(methods).map((fn) => [fn, (...args: unknown[]) => call(`${ns}.${fn}`, args)]));
  }
  const log = (level: "debug" | "info" | "warn" | "error") => (message: string, data?: Record<string, unknown>) => port.log(level, message, data);

  const ctx = {
    ...Object.fromEntries(Object.entries(namespaces).map(([ns, methods]) => [ns, Object.freeze(methods)])),
    module: Object.freeze({ ...info }),
    commands: Object.freeze({
      ...namespaces.commands,
      register(name: string, handler: CommandHandler) {
        if (typeof handler !== "function") issue(new HostError("input_invalid", `commands.register('${String(name).slice(0, 100)}'): the handler must be a function`));
        try {
          port.register(name);
        } catch (e) {
          issue(e);
        }
        o.handlers.set(name, handler);
      },
    }),
    events: Object.freeze({
      ...namespaces.events,
      on(pattern: string, handler: (payload: never, event: string) => void) {
        if (typeof handler !== "function") return Promise.reject(new HostError("input_invalid", "events.on: the handler must be a function")).catch(issue);
        return port.subscribe(pattern, handler as (payload: unknown, event: string) => void).catch(issue);
      },
    }),
    config: Object.freeze({
      ...namespaces.config,
      watch: (apply: (settings: unknown) => unknown) =>
        watchSettings(
          apply,
          () => call("config.get", []),
          (changed) => port.watchConfig(changed),
        ).catch(issue),
    }),
    log: Object.freeze({ debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") }),
    services: Object.freeze({
      provide(name: string, service: object) {
        if (!port.services) throw new HostError("capability_denied", "only system modules may provide services");
        port.services.provide(name, service);
      },
      use<T>(name: string): T {
        if (!port.services) throw new HostError("capability_denied", "only system modules may use services");
        return port.services.use(name) as T;
      },
      host<T>(name: string): T | undefined {
        if (!port.services) throw new HostError("capability_denied", "only system modules may use services");
        return port.services.host(name) as T | undefined;
      },
    }),
  };
  // The shape is built at run time (host API plus the installed providers' namespaces), so the
  // compiler checks it against ModuleContext in table.ts, not here.
  return Object.freeze(ctx) as unknown as ModuleContext;
}
