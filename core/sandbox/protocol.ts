// The messages between the supervisor (host) and a sandbox process. Each frame is a small JSON
// header plus a payload carried beside it as text: a module's input, result, capability arguments
// or its bundle. Values from module code travel as JSON text and are parsed only on the side that
// needs them (see ./wire.ts), never embedded into a header, so nothing a module writes can forge
// one.

/** What the in-isolate prelude needs to build `ctx`. */
export interface Setup {
  id: string;
  /** Capability names granted (a convenience copy: the host checks every call). */
  granted: string[];
  /** Command names the manifest declares. */
  commands: string[];
  /** Context namespace -> method -> capability: the host-API table and the providers' namespaces (hostapi/table.ts). */
  api: Record<string, Record<string, string>>;
  /** The capability of each method bound around a handler or fire-and-forget (hostapi BOUND_METHODS). */
  bound: Record<string, string>;
  module: { id: string; version: string; kind: "user" };
  maxMessageBytes: number;
  /** Capability calls the prelude lets wait on the host at once (more are refused in the isolate). */
  maxPending: number;
}

export interface Limits {
  memoryMb: number;
  timeoutMs: number;
}

/** An error as plain data. `code` is set by the sandbox process, never by module code. */
export interface WireError {
  code: "module_error" | "timeout" | "memory_limit" | "module_crashed" | "module_unavailable" | "capability_denied" | string;
  message: string;
  /** The module's own error code, when it gave one (ends up under details.code). */
  own?: string;
  /** Names an error the host issued to this module (a capability refusal) that the module re-threw. */
  nonce?: string;
}

export type DeathReason = "timeout" | "memory_limit";

/**
 * Host -> sandbox. Payloads: activate = bundle code; invoke = the CallInfo JSON, a newline, then the
 * input JSON (JSON text never holds a raw newline, and the sandbox hands both texts to the isolate
 * as they are, without parsing them); capr = result JSON ("" = undefined); event = payload JSON.
 */
export type ToSandbox =
  | { t: "activate"; id: string; rq: number; hash: string; setup: Setup; limits: Limits; filename: string }
  | { t: "invoke"; id: string; rq: number; name: string }
  | { t: "capr"; id: string; rq: number; err?: WireError }
  | { t: "event"; id: string; sub: string; event: string }
  | { t: "deactivate"; id: string; rq: number }
  | { t: "stats"; rq: number };

/** Sandbox -> host. Payloads: done = result JSON ("" = undefined), cap = arguments JSON array, log = data JSON or "". */
export type FromSandbox =
  | { t: "ready"; pid: number }
  | { t: "done"; rq: number; err?: WireError; cpuMs?: number }
  | { t: "cap"; id: string; rq: number; method: string; nonce?: string }
  | { t: "register"; id: string; name: string }
  | { t: "denials"; id: string; count: number; limited: number }
  | { t: "log"; id: string; level: LogLevel; msg: string }
  | { t: "dead"; id: string; reason: DeathReason; message: string }
  | { t: "stats"; rq: number; modules: Record<string, { cpuMs: number; heap: number }> }
  | { t: "beat" };

export type LogLevel = "debug" | "info" | "warn" | "error";

/** A capability call with rq 0 reports a refusal the prelude already threw; there is no reply. */
export const DENIAL_RQ = 0;

/**
 * Before a sandbox process runs a module's code it writes that module's id (space-padded to
 * MARK_BYTES) at offset 0 of a file it holds as fd MARK_FD; the host reads it if the process dies
 * (a fatal V8 OOM cannot be caught) to know whose code took it down. A regular file, not a pipe:
 * with calls spread over many modules the id changes on every call, and a write to a pipe woke
 * the host once per call to read it.
 */
export const MARK_FD = 5;
export const MARK_BYTES = 64;
