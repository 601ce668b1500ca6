// Per-second budgets of a user module's calls that cost the host: storage writes (each a durable,
// fsynced commit on the host's thread; storage.maxWritesPerSecond) and command invocations (a
// module invoking itself from a timer would otherwise run forever; sandbox.maxInvokesPerSecond).
// System modules are trusted with theirs.
import { HostError } from "../base/errors.js";
import type { Kernel } from "../kernel.js";

const BUDGETS = {
  writes: { setting: "storage.maxWritesPerSecond", ledger: "storage.writes_per_second", code: "quota_exceeded", what: "storage writes", advice: "batch them" },
  invokes: {
    setting: "sandbox.maxInvokesPerSecond",
    ledger: "commands.invokes_per_second",
    code: "rate_limited",
    what: "command invocations",
    advice: "slow down (a module invoking itself in a loop ends here)",
  },
} as const;

function checkRate(site: { kernel: Kernel; moduleId: string; kind: "system" | "user" }, budget: keyof typeof BUDGETS, method: string): void {
  const { kernel, moduleId, kind } = site;
  if (kind === "system") return;
  const b = BUDGETS[budget];
  const max = kernel.config.get(b.setting);
  const taken = kernel.budgets.take(moduleId, b.ledger, 1, max, 1000);
  if (!taken.ok) {
    kernel.ledger.limit(moduleId, b.ledger);
    throw new HostError(b.code, `${method}: module '${moduleId}' made more than ${max} ${b.what} this second (${taken.used} requested, ${max} allowed); ${b.advice} or raise ${b.setting}`, {
      details: { requested: taken.used, allowed: max, budget },
      ...(b.code === "rate_limited" ? { retryAfter: 1 } : {}),
    });
  }
}

export function checkWriteRate(site: { kernel: Kernel; moduleId: string; kind: "system" | "user" }, method: string): void {
  checkRate(site, "writes", method);
}

export function checkInvokeRate(site: { kernel: Kernel; moduleId: string; kind: "system" | "user" }, method: string): void {
  checkRate(site, "invokes", method);
}
