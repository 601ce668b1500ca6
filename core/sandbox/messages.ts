// Messages between the host (SandboxRuntime) and a sandbox process (worker-main). Values that came
// from module code travel as JSON text and are parsed only on the side that needs them.

export interface Setup {
  id: string;
  /** Capability names granted (a convenience copy: the host checks every call). */
  granted: string[];
  /** Command names the manifest declares. */
  commands: string[];
  /** Context namespace -> method -> capability. */
  api: Record<string, Record<string, string>>;
  /** Namespaces whose operations the providing service defines (security, auth). */
  dynamic: Record<string, string>;
  module: { id: string; version: string; kind: "user" };
  maxMessageBytes: number;
}

export interface Limits {
  memoryMb: number;
  timeoutMs: number;
}

export type ToWorker =
  | { t: "activate"; id: string; rq: number; code: string; codeHash: string; setup: Setup; limits: Limits; filename: string }
  | { t: "invoke"; id: string; rq: number; name: string; input: string; call: string }
  | { t: "capr"; id: string; rq: number; r: string }
  | { t: "event"; id: string; sub: string; event: string; payload: string }
  | { t: "deactivate"; id: string; rq: number }
  | { t: "stats"; rq: number };

export interface WireError {
  code: string;
  message: string;
  /** The module's own error code, when it gave one. */
  own?: string;
  /** Nonce of a host-issued error the module re-threw. */
  nonce?: string;
}

export type FromWorker =
  | { t: "ready" }
  | { t: "done"; rq: number; r?: string; err?: WireError; cpuMs?: number; heap?: number }
  | { t: "cap"; id: string; rq: number; method: string; args: string }
  | { t: "register"; id: string; name: string }
  | { t: "log"; id: string; level: "debug" | "info" | "warn" | "error"; msg: string; data?: string }
  | { t: "dead"; id: string; reason: "timeout" | "memory_limit" | "module_error"; message: string }
  | { t: "stats"; rq: number; modules: Record<string, { cpuMs: number; heap: number }> };

export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
