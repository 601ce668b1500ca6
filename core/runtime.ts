// The seam between the kernel and whatever runs module code. System modules run in-process
// (./inprocess-runtime.ts); user modules run in isolates inside sandbox processes (./sandbox/).
// Both get the same ModuleContext and reach the host only through a HostPort, which is where the
// kernel checks every capability.
import type { CallInfo } from "../sdk/context.js";
import type { Manifest } from "../sdk/manifest.js";
import type { ContextShape } from "./hostapi/table.js";
import type { CapabilityName } from "./hostapi/catalogue.js";

export interface ActivationSpec {
  id: string;
  version: string;
  kind: "system" | "user";
  /** Absolute folder of the module. */
  dir: string;
  /** Absolute path of the entry file. */
  entryFile: string;
  manifest: Manifest;
  /** Names of the granted capabilities (a copy for the context's fast refusals; the port's check is what counts). */
  granted: string[];
  /** The context's plain-call namespaces: namespace -> method -> capability (host API and providers). */
  api: ContextShape;
  /** The capability of each method bound around a handler or fire-and-forget (the table's BOUND_METHODS). */
  bound: Readonly<Record<string, CapabilityName>>;
  /** Effective limits: the manifest's, capped by host policy. */
  limits: { memoryMb: number; timeoutMs: number };
}

/** What a running module may ask of the host. Every method is checked host-side. */
export interface HostPort {
  /** A context method call such as `storage.get`; resolves to a JSON-copyable value or throws a HostError. */
  call(method: string, args: unknown[]): Promise<unknown>;
  /** Binding a command handler; throws if the manifest does not declare it or the capability is missing. */
  register(name: string): void;
  /** Log lines from the module (checked against log.write host-side). */
  log(level: "debug" | "info" | "warn" | "error", message: string, data?: unknown): void;
  /** Refusals a sandbox only counted (it reported the first ones one by one): the ledger counts them. */
  deniedCount?(count: number): void;
  /** Calls a budget refused before they reached the host (the ledger counts them by budget). */
  limited?(budget: string, count: number): void;
  /** Only for in-process (system) modules: plain-object services between trusted modules. */
  services?: { provide(name: string, service: object): void; use(name: string): unknown; host(name: string): unknown };
  /** Subscribe to events (checked against events.subscribe and its scope); resolves to the unsubscribe function. */
  subscribe(pattern: string, handler: (payload: unknown, event: string) => void): Promise<() => void>;
  /** Hear of changes to this module's own settings (checked against config.read); resolves to the function that stops. */
  watchConfig(handler: () => void): Promise<() => void>;
}

export interface ActiveModule {
  /** Run a registered command. Rejects with a HostError (module_error, timeout, memory_limit, module_crashed, ...). */
  invoke(command: string, input: unknown, call: CallInfo): Promise<unknown>;
  /** Deliver an event to the module's subscribers (sandboxed modules subscribe through `events.on`). */
  deliverEvent?(subscriptionId: string, event: string, payload: unknown): void;
  deactivate(): Promise<void>;
}

export interface ModuleRuntime {
  /**
   * Module code runs in the host's own async context (in-process): the bus then knows exactly
   * which caller a module's context call acts for. Across a pipe it cannot, and counts every
   * outside caller the module is serving.
   */
  readonly sharesAsyncContext?: boolean;
  activate(spec: ActivationSpec, port: HostPort): Promise<ActiveModule>;
  /** Stop everything this runtime started (sandbox processes, timers). */
  close(): Promise<void>;
}
