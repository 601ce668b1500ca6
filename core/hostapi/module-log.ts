// A module's log lines: checked against log.write, never able to set the host's own fields (the
// data stays under `data`), and for a user module budgeted in bytes per second on the host side
// (whatever the sandbox process let through), oversized data replaced by its size. What is over the
// budget is dropped, and reported once when the next second starts.
import type { Kernel } from "../kernel.js";
import type { HostPort } from "../runtime.js";
import type { CapabilityName } from "./catalogue.js";
import { BOUND_METHODS } from "./table.js";

const LOG_LEVELS = new Set(["debug", "info", "warn", "error"]);
const MAX_LOG_MESSAGE = 4096;
const MAX_LOG_DATA = 16 * 1024;

function jsonBytes(v: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(v) ?? "");
  } catch {
    return Number.MAX_SAFE_INTEGER;
  }
}

export function moduleLog(kernel: Kernel, moduleId: string, kind: "system" | "user", hold: (capability: CapabilityName, method: string) => void): HostPort["log"] {
  const logFits = (bytes: number): boolean => {
    const taken = kernel.budgets.take(moduleId, "log.bytes_per_second", bytes, kernel.config.get("log.module_bytes_per_second"), 1000);
    const dropped = taken.previousRefused;
    if (dropped) kernel.log.warn({ module: moduleId, dropped_lines: dropped.times, dropped_bytes: dropped.amount }, "module log lines dropped over log.module_bytes_per_second");
    return taken.ok;
  };
  return (level, message, data) => {
    const method = `log.${LOG_LEVELS.has(level) ? level : "info"}` as keyof typeof BOUND_METHODS;
    try {
      hold(BOUND_METHODS[method] as CapabilityName, method);
    } catch {
      return; // log calls are fire and forget; the denial is already audited
    }
    const lvl = LOG_LEVELS.has(level) ? level : "info";
    const msg = String(message).slice(0, MAX_LOG_MESSAGE);
    let fields: object | undefined = data && typeof data === "object" ? data : undefined;
    let bytes = Buffer.byteLength(msg);
    if (kind === "user") {
      // A user module's lines are budgeted in bytes per second on the host side (whatever the
      // sandbox process let through), and oversized data is replaced by its size.
      if (fields !== undefined) {
        const size = jsonBytes(fields);
        if (size > MAX_LOG_DATA) fields = { truncated: true, bytes: size };
        bytes += Math.min(size, MAX_LOG_DATA);
      }
      if (!logFits(bytes)) {
        kernel.ledger.limit(moduleId, "log.bytes_per_second");
        return;
      }
    }
    // The module's data stays under `data`: it can never set the host's own fields (the
    // security-log tag among them).
    kernel.log[lvl]({ module: moduleId, ...(fields ? { data: fields } : {}) }, msg);
    for (const observe of kernel.logObservers) observe({ module: moduleId, level: lvl, message: msg });
  };
}
