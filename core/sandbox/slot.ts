// The supervisor's shapes: its options, what it reports, and one module's place in a sandbox process.
import type { HostError } from "../base/errors.js";
import type { ActivationSpec, HostPort } from "../runtime.js";
import type { BundleResult } from "./bundle.js";
import type { FairTurns } from "./fair-turns.js";
import type { Limits } from "./protocol.js";
import type { SandboxProcess } from "./sandbox-process.js";

export type SupervisorLogLevel = "debug" | "info" | "warn" | "error";

export interface SupervisorOptions {
  /** Shared sandbox processes (quarantine processes come on top). Default 2. */
  poolSize?: number;
  /** Host policy: caps every module's limits.memoryMb. */
  maxMemoryMb: number;
  /** Host policy: caps every module's limits.timeoutMs. */
  maxTimeoutMs: number;
  /** Failures (crash, OOM, timeout) within windowMs that fail a module. Default 3 in 60 s. */
  breaker?: { failures: number; windowMs: number };
  logger?: (level: SupervisorLogLevel, msg: string, data?: Record<string, unknown>) => void;
  /**
   * How long a sandbox process busy-polls after a burst of calls, in µs (0: never, the default).
   * Polling saves an idle core's wake-up per call, but where host and sandbox share a core (a
   * pinned server, a busy machine) it takes the CPU the host needs to answer: measured on one core
   * it tripled the sandbox's CPU per call and did not lower p50.
   */
  spinUs?: number;
  /** A process with calls pending that is silent for its modules' longest timeout plus this is killed as hung. Default 5000. */
  hangGraceMs?: number;
}

export type ModuleState = "activating" | "active" | "restarting" | "failed";

export interface ProcessStats {
  pid: number | undefined;
  role: "pool" | "quarantine";
  /** Pool index, or the quarantined module's id. */
  slot: string;
  modules: string[];
  /** Times this slot's process died and was replaced. */
  restarts: number;
  quarantine: boolean;
}

export interface Slot {
  spec: ActivationSpec;
  limits: Limits;
  port: HostPort;
  bundle: BundleResult;
  proc: SandboxProcess;
  state: ModuleState;
  /** The isolate is gone (timeout, memory, crash) and is re-created before the next call. */
  stale: boolean;
  /** Commands the port accepted a handler for. */
  registered: Set<string>;
  registerError?: HostError;
  /** Host errors handed to the module, by nonce: re-thrown by the module, they pass through as themselves. */
  issued: Map<string, HostError>;
  /** Refusals the prelude already threw whose host-side check is still running, by nonce. */
  denials: Map<string, Promise<void>>;
  cpuMs: number;
  heap: number;
  reactivating?: Promise<void>;
  /** Its capability calls running on the host now, and those waiting for a turn. */
  turns: FairTurns;
}
