// Every storage write is a durable commit on the host's thread, so a user module's write rate is
// capped (storage.maxWritesPerSecond); system modules are trusted with theirs.
import { HostError } from "../errors.js";
import type { Kernel } from "../kernel.js";

const windows = new WeakMap<Kernel, Map<string, { second: number; n: number }>>();

export function checkWriteRate(site: { kernel: Kernel; moduleId: string; kind: "system" | "user" }, method: string): void {
  const { kernel, moduleId, kind } = site;
  if (kind === "system") return;
  let perModule = windows.get(kernel);
  if (!perModule) windows.set(kernel, (perModule = new Map()));
  const second = Math.floor(Date.now() / 1000);
  let w = perModule.get(moduleId);
  if (!w || w.second !== second) perModule.set(moduleId, (w = { second, n: 0 }));
  const max = kernel.config.get("storage.maxWritesPerSecond") as number;
  if (++w.n > max) {
    throw new HostError("quota_exceeded", `${method}: module '${moduleId}' made more than ${max} storage writes this second (${w.n} requested, ${max} allowed); batch them or raise storage.maxWritesPerSecond`, {
      details: { requested: w.n, allowed: max },
    });
  }
}
