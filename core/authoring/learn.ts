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
  /** The least-privilege list for module.json. */
  suggested: string[];
}

export class CapabilityLearner {
  readonly #used = new Set<string>();
  readonly #missing = new Set<string>();
  readonly #dispose: () => void;

  constructor(private readonly host: Host, private readonly moduleId: string) {
    const observer = (e: { module: string; capability: string; allowed: boolean }) => {
      if (e.module !== moduleId) return;
      (e.allowed ? this.#used : this.#missing).add(e.capability);
    };
    host.kernel.capabilityObservers.add(observer);
    this.#dispose = () => host.kernel.capabilityObservers.delete(observer);
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
      suggested: [...new Set([...used, ...this.#missing])].sort(),
    };
  }
}
