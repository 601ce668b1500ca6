// The name core/host.ts knows the sandbox supervisor by, with the options it passes. Host policy
// caps (sandbox.maxMemoryMb / maxTimeoutMs) are applied by the loader before a spec gets here, and
// may change at run time, so this wrapper sets the supervisor's own caps to the config schema's
// maxima. New code should construct SandboxSupervisor (./supervisor.ts) directly.
import { SandboxSupervisor, type SupervisorLogLevel } from "./supervisor.js";

export interface SandboxOptions {
  poolSize: number;
  breaker: { failures: number; windowMs: number };
  log?: (level: "info" | "warn" | "error", msg: string, data?: Record<string, unknown>) => void;
}

const SCHEMA_MAX_MEMORY_MB = 1024;
const SCHEMA_MAX_TIMEOUT_MS = 600_000;

export class SandboxRuntime extends SandboxSupervisor {
  constructor(options: SandboxOptions) {
    const log = options.log;
    super({
      poolSize: options.poolSize,
      breaker: options.breaker,
      maxMemoryMb: SCHEMA_MAX_MEMORY_MB,
      maxTimeoutMs: SCHEMA_MAX_TIMEOUT_MS,
      ...(log ? { logger: (level: SupervisorLogLevel, msg: string, data?: Record<string, unknown>) => log(level === "debug" ? "info" : level, msg, data) } : {}),
    });
  }
}
