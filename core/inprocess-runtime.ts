// Runs trusted system modules in the host process. They get the same capability-scoped context as
// sandboxed modules; only services and local event handlers are in-process extras.
import { pathToFileURL } from "node:url";
import type { CallInfo, CommandHandler, ModuleDefinition } from "../sdk/context.js";
import { createModuleContext } from "./hostapi/context.js";
import { bundleForNode } from "./sandbox/bundler.js";
import { HostError, isWardenError } from "./base/errors.js";
import type { ActivationSpec, ActiveModule, HostPort, ModuleRuntime } from "./runtime.js";

let activations = 0;

export class InProcessRuntime implements ModuleRuntime {
  readonly sharesAsyncContext = true;
  async activate(spec: ActivationSpec, port: HostPort): Promise<ActiveModule> {
    const handlers = new Map<string, CommandHandler>();
    const issued = new WeakSet<object>();
    const info = { id: spec.id, version: spec.version, kind: spec.kind, ...(spec.kind === "system" ? { dir: spec.dir } : {}) };
    const ctx = createModuleContext({ info, port, api: spec.api, handlers, issued });
    let mod: Partial<ModuleDefinition>;
    try {
      // A fresh module instance per activation, so module-level state never leaks between two
      // hosts in one process or across a reload.
      mod = await import(`${pathToFileURL(await bundleForNode(spec.entryFile, spec.dir)).href}?activation=${++activations}`);
    } catch (e) {
      throw new HostError("module_error", `module '${spec.id}' failed to load its entry: ${(e as Error).message}`);
    }
    // `export default defineModule({ activate, deactivate })` as well as named exports.
    const named = mod as Partial<ModuleDefinition> & { default?: Partial<ModuleDefinition> };
    if (typeof named.activate !== "function" && named.default && typeof named.default === "object") mod = named.default;
    if (typeof mod.activate !== "function") {
      throw new HostError("module_error", `module '${spec.id}': its entry must export an activate(ctx) function`);
    }
    try {
      await mod.activate(ctx);
    } catch (e) {
      throw asModuleError(spec, e, "activate", issued);
    }
    return {
      async invoke(command: string, input: unknown, call: CallInfo) {
        const handler = handlers.get(command);
        if (!handler) {
          throw new HostError("module_unavailable", `module '${spec.id}' declares '${command}' but did not register a handler for it in activate()`);
        }
        try {
          return await handler(input, call);
        } catch (e) {
          throw asModuleError(spec, e, command, issued);
        }
      },
      async deactivate() {
        handlers.clear();
        if (typeof mod.deactivate === "function") await mod.deactivate();
      },
    };
  }

  async close(): Promise<void> {}
}

/**
 * System modules are trusted to raise host codes (auth says `token_revoked`); they do so with the
 * SDK's WardenError. Anything else is the module's own failure.
 */
function asModuleError(spec: ActivationSpec, e: unknown, where: string, issued: WeakSet<object>): HostError {
  // A user module re-throwing an error the host gave it keeps that error (as in the sandbox, where
  // a nonce names it); one it made itself, whatever its code, is its own module_error.
  if (e instanceof HostError && (spec.kind === "system" || issued.has(e))) return e;
  // (a system module's bundle has its own copy of the SDK's WardenError: recognised by its code)
  if (spec.kind === "system" && isWardenError(e)) return HostError.from(e);
  const err = e as { code?: unknown; message?: unknown } | undefined;
  const message = err && typeof err.message === "string" ? err.message : String(e);
  const ownCode = err && typeof err.code === "string" ? err.code : undefined;
  return new HostError("module_error", `${spec.id} (${where}): ${message}`, ownCode ? { details: { code: ownCode } } : {});
}
