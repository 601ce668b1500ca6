// net.fetch budgets, per host: open requests per module and in all (each is a host socket), and
// requests started per module per minute. A request over budget is refused at once with
// rate_limited (never queued: a queue would itself be something a module makes the host hold).
import { HostError } from "../base/errors.js";
import type { Kernel } from "../kernel.js";

interface Counts {
  open: number;
  perModule: Map<string, { open: number; minute: number; started: number }>;
}

const counts = new WeakMap<Kernel, Counts>();

/** Takes one slot for `moduleId`; the returned function gives it back (call it exactly once). */
export function takeFetchSlot(kernel: Kernel, moduleId: string): () => void {
  let c = counts.get(kernel);
  if (!c) counts.set(kernel, (c = { open: 0, perModule: new Map() }));
  const minute = Math.floor(Date.now() / 60_000);
  let m = c.perModule.get(moduleId);
  if (!m) c.perModule.set(moduleId, (m = { open: 0, minute, started: 0 }));
  if (m.minute !== minute) {
    m.minute = minute;
    m.started = 0;
  }
  const cfg = (k: "net.max_concurrent_per_module" | "net.max_concurrent" | "net.max_requests_per_minute") => kernel.config.get(k);
  const refuse = (budget: string, message: string) => {
    kernel.ledger.limit(moduleId, budget);
    return new HostError("rate_limited", message, { details: { budget } });
  };
  if (m.open >= cfg("net.max_concurrent_per_module")) {
    throw refuse("net.concurrent_per_module", `module '${moduleId}' already has ${m.open} net.fetch requests open (net.max_concurrent_per_module); await some before starting more`);
  }
  if (c.open >= cfg("net.max_concurrent")) {
    throw refuse("net.concurrent", `the host already has ${c.open} net.fetch requests open (net.max_concurrent); try again shortly`);
  }
  if (m.started >= cfg("net.max_requests_per_minute")) {
    throw refuse("net.requests_per_minute", `module '${moduleId}' started ${m.started} net.fetch requests this minute (net.max_requests_per_minute); wait for the next minute`);
  }
  m.open++;
  m.started++;
  c.open++;
  let given = false;
  return () => {
    if (given) return;
    given = true;
    m.open--;
    c.open--;
  };
}
