// Per-second budgets of a user module's calls that cost the host: storage writes (each a durable,
// fsynced commit on the host's thread; storage.maxWritesPerSecond) and command invocations (a
// module invoking itself from a timer would otherwise run forever; sandbox.maxInvokesPerSecond).
// System modules are trusted with theirs.
import { HostError } from "../base/errors.js";
import type { Kernel } from "../kernel.js";

const windows = new WeakMap<Kernel, Map<string, { second: number; n: number }>>();

const BUDGETS = {
  writes: { setting: "storage.maxWritesPerSecond", ledger: "storage.writes_per_second", code: "quota_exceeded", what: "storage writes", advice: "batch them" },
  invokes: { setting: "sandbox.maxInvokesPerSecond", ledger: "commands.invokes_per_second", code: "rate_limited", what: "command invocations", advice: "slow down (a module invoking itself in a loop ends here)" },
} as const;

function checkRate(site: { kernel: Kernel; moduleId: string; kind: "system" | "user" }, budget: keyof typeof BUDGETS, method: string): void {
  const { kernel, moduleId, kind } = site;
  if (kind === "system") return;
  let perModule = windows.get(kernel);
  if (!perModule) windows.set(kernel, (perModule = new Map()));
  const second = Math.floor(Date.now() / 1000);
  const key = `${budget}:${moduleId}`;
  let w = perModule.get(key);
  if (!w || w.second !== second) perModule.set(key, (w = { second, n: 0 }));
  const b = BUDGETS[budget];
  const max = kernel.config.get(b.setting);
  if (++w.n > max) {
    kernel.ledger.limit(moduleId, b.ledger);
    throw new HostError(b.code, `${method}: module '${moduleId}' made more than ${max} ${b.what} this second (${w.n} requested, ${max} allowed); ${b.advice} or raise ${b.setting}`, {
      details: { requested: w.n, allowed: max, budget },
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
