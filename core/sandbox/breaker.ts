// The circuit breaker: after `failures` crashes, OOMs or timeouts of one module within `windowMs`,
// it is open for that module (its calls are refused with module_unavailable) until the module is
// activated again (an operator's `module enable`). The clock is injectable.
import { HostError } from "../base/errors.js";

/** The failures that count: what a module's own code caused. */
const FAILURE_CODES = new Set(["timeout", "memory_limit", "module_crashed"]);

export class CircuitBreaker {
  readonly #failures = new Map<string, number[]>();
  readonly #open = new Set<string>();

  constructor(
    readonly limits: { failures: number; windowMs: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts a failure of `id`; resolves to the failures within the window when this one opens the breaker. */
  record(id: string, code: string): number | undefined {
    if (!FAILURE_CODES.has(code) || this.#open.has(id)) return undefined;
    const now = this.now();
    const list = (this.#failures.get(id) ?? []).filter((t) => now - t < this.limits.windowMs);
    list.push(now);
    this.#failures.set(id, list);
    if (list.length < this.limits.failures) return undefined;
    this.#failures.delete(id);
    this.#open.add(id);
    return list.length;
  }

  isOpen(id: string): boolean {
    return this.#open.has(id);
  }

  /** Activated again: the module starts with a clean record. */
  reset(id: string): void {
    this.#open.delete(id);
    this.#failures.delete(id);
  }

  /** The refusal of a module the breaker stopped. */
  error(id: string, failures?: number, last?: string): HostError {
    return new HostError(
      "module_unavailable",
      `module '${id}' was stopped by its circuit breaker` +
        (failures ? ` after ${failures} failures within ${Math.round(this.limits.windowMs / 1000)} s (last: ${last})` : "") +
        `; it stays stopped until an operator runs \`warden module enable ${id}\``,
      { details: { module: id, ...(last ? { last } : {}) } },
    );
  }
}
