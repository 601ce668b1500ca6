// Least privilege from observation: which capabilities a module actually used in a session,
// beside the ones its manifest declares.
import type { Host } from "../host.js";

export interface LearnReport {
  module: string;
  declared: string[];
  used: string[];
  unused: string[];
  /** Asked for but not declared (they were refused). */
  missing: string[];
  /** The least-privilege list for module.json; null when no call was observed (nothing to conclude). */
  suggested: string[] | null;
  /** Command calls observed. */
  calls: number;
  note?: string;
}

export class CapabilityLearner {
  readonly #used = new Set<string>();
  readonly #missing = new Set<string>();
  #calls = 0;
  readonly #dispose: () => void;

  constructor(
    private readonly host: Host,
    private readonly moduleId: string,
  ) {
    const observer = (e: { module: string; capability: string; allowed: boolean }) => {
      if (e.module !== moduleId) return;
      (e.allowed ? this.#used : this.#missing).add(e.capability);
    };
    const calls = (e: { module: string }) => {
      if (e.module === moduleId) this.#calls++;
    };
    host.kernel.capabilityObservers.add(observer);
    host.kernel.callObservers.add(calls);
    this.#dispose = () => {
      host.kernel.capabilityObservers.delete(observer);
      host.kernel.callObservers.delete(calls);
    };
  }

  report(): LearnReport {
    this.#dispose();
    const manifest = this.host.loader.entry(this.moduleId)?.loaded?.manifest;
    const declared = (manifest?.capabilities ?? []).map((c) => (typeof c === "string" ? c : c.name)).sort();
    const used = [...this.#used].sort();
    return {
      module: this.moduleId,
      declared,
      used,
      unused: declared.filter((c) => !this.#used.has(c)),
      missing: [...this.#missing].filter((c) => !declared.includes(c)).sort(),
      // Without a single command call, an unused capability says nothing about whether it is needed.
      suggested: this.#calls === 0 ? null : [...new Set([...used, ...this.#missing])].sort(),
      calls: this.#calls,
      ...(this.#calls === 0 ? { note: "no command was called, so nothing can be concluded; call its commands (or pass --calls FILE) and stop with Ctrl-C" } : {}),
    };
  }
}
