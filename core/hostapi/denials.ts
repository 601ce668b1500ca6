// Every refusal, for a missing grant or a scope the grant does not cover, is counted and observed,
// and audited; but a module hammering a refused API must not turn the audit chain (one fsync per
// event) into a way to stall the host, so past DENIALS_AUDITED_PER_MINUTE the rest are counted and
// summarised in one event.
import type { CapabilityError } from "../base/errors.js";
import type { Kernel } from "../kernel.js";

const DENIALS_AUDITED_PER_MINUTE = 30;

/** Returns `denied(err, method)`: records the refusal (within the cap) and hands the error back to throw. */
export function denialAuditor(kernel: Kernel, moduleId: string, observe: (method: string, capability: string, allowed: boolean) => void): (err: CapabilityError, method: string) => CapabilityError {
  let window = { start: 0, audited: 0, suppressed: 0 };
  const record = (action: string, target: string, data: Record<string, unknown>) => {
    // The denial stands whether or not it could be audited.
    kernel.audit.append({ actor: `module:${moduleId}`, action, target, data }).catch(() => {});
  };
  return (err, method) => {
    // Counted and observed always (the ledger, learn mode); audited within the cap below.
    observe(method, err.capability, false);
    const now = Date.now();
    if (now - window.start >= 60_000) {
      if (window.suppressed > 0) record("capability.denied.suppressed", "*", { count: window.suppressed });
      window = { start: now, audited: 0, suppressed: 0 };
    }
    if (window.audited < DENIALS_AUDITED_PER_MINUTE) {
      window.audited++;
      record("capability.denied", err.capability, { message: err.message });
    } else window.suppressed++;
    return err;
  };
}
