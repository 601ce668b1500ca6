// net.fetch budgets, per host: open requests per module and in all (each is a host socket), and
// requests started per module per minute. A request over budget is refused at once with
// rate_limited (never queued: a queue would itself be something a module makes the host hold).
import { HostError } from "../base/errors.js";
import type { Kernel } from "../kernel.js";

/** Takes one slot for `moduleId`; the returned function gives it back (call it exactly once). */
export function takeFetchSlot(kernel: Kernel, moduleId: string): () => void {
  const cfg = (k: "net.max_concurrent_per_module" | "net.max_concurrent" | "net.max_requests_per_minute") => kernel.config.get(k);
  const refuse = (budget: string, message: string) => {
    kernel.ledger.limit(moduleId, budget);
    return new HostError("rate_limited", message, { details: { budget } });
  };
  const slot = kernel.budgets.open(moduleId, "net.concurrent", cfg("net.max_concurrent_per_module"), cfg("net.max_concurrent"));
  if (!slot.ok && slot.full === "module") {
    throw refuse("net.concurrent_per_module", `module '${moduleId}' already has ${slot.open} net.fetch requests open (net.max_concurrent_per_module); await some before starting more`);
  }
  if (!slot.ok) throw refuse("net.concurrent", `the host already has ${slot.open} net.fetch requests open (net.max_concurrent); try again shortly`);
  const started = kernel.budgets.take(moduleId, "net.requests_per_minute", 1, cfg("net.max_requests_per_minute"), 60_000);
  if (!started.ok) {
    slot.close();
    throw refuse("net.requests_per_minute", `module '${moduleId}' started ${started.used - 1} net.fetch requests this minute (net.max_requests_per_minute); wait for the next minute`);
  }
  return slot.close;
}
