// The per-module ledger: calls, errors by code, capability denials, latency percentiles and, for
// sandboxed modules, CPU time and heap as the runtime reports them.
import type { HostError } from "./base/errors.js";

const RESERVOIR = 1024;
/** Histogram buckets of call durations, in seconds (Prometheus' `le`). */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface ModuleStats {
  id: string;
  calls: number;
  errors: Record<string, number>;
  capability_denials: number;
  capability_calls: number;
  /** Refusals by budget (cache.bytes_per_module, log.bytes, net.sockets, ...): what a module hit. */
  limits: Record<string, number>;
  /** Cumulative call counts per DURATION_BUCKETS bound, and the sum of durations in seconds. */
  duration_buckets: number[];
  duration_sum_seconds: number;
  p50_ms: number | null;
  p99_ms: number | null;
  cpu_ms: number | null;
  heap_bytes: number | null;
  last_call_at: string | null;
}

class Entry {
  calls = 0;
  errors: Record<string, number> = {};
  denials = 0;
  capabilityCalls = 0;
  limits: Record<string, number> = {};
  lastCallAt = 0;
  readonly buckets = new Array<number>(DURATION_BUCKETS.length).fill(0);
  sumSeconds = 0;
  /** A ring of recent latencies: percentiles over the last RESERVOIR calls. */
  readonly latencies = new Float64Array(RESERVOIR);
  filled = 0;
  next = 0;
}

export class Ledger {
  readonly #entries = new Map<string, Entry>();
  /** Runtimes report resource use on demand (the sandbox knows CPU time and heap). */
  resources: (id: string) => { cpuMs: number; heapBytes: number } | undefined = () => undefined;
  /** Asks the runtimes for fresh resource figures (sandbox processes report on request). */
  refresh: () => Promise<void> = async () => {};

  #get(id: string): Entry {
    let e = this.#entries.get(id);
    if (!e) this.#entries.set(id, (e = new Entry()));
    return e;
  }

  call(id: string, ms: number, error?: HostError): void {
    const e = this.#get(id);
    e.calls++;
    e.lastCallAt = Date.now();
    e.latencies[e.next] = ms;
    e.next = (e.next + 1) % RESERVOIR;
    e.filled = Math.min(RESERVOIR, e.filled + 1);
    const seconds = ms / 1000;
    e.sumSeconds += seconds;
    for (let i = 0; i < DURATION_BUCKETS.length; i++) if (seconds <= DURATION_BUCKETS[i]!) e.buckets[i]!++;
    if (error) e.errors[error.code] = (e.errors[error.code] ?? 0) + 1;
  }

  capability(id: string, allowed: boolean): void {
    const e = this.#get(id);
    e.capabilityCalls++;
    if (!allowed) e.denials++;
  }

  /** Refusals counted in bulk (a sandbox's flood of refused calls). */
  denied(id: string, n: number): void {
    const e = this.#get(id);
    e.capabilityCalls += n;
    e.denials += n;
  }

  /** A budget refused something of this module's (the refusal itself carries a stable code). */
  limit(id: string, budget: string, n = 1): void {
    const e = this.#get(id);
    e.limits[budget] = (e.limits[budget] ?? 0) + n;
  }

  lastCallAt(id: string): number {
    return this.#entries.get(id)?.lastCallAt ?? 0;
  }

  stats(id: string): ModuleStats {
    const e = this.#entries.get(id) ?? new Entry();
    const sorted = Array.from(e.latencies.subarray(0, e.filled)).sort((a, b) => a - b);
    const pct = (p: number) => (sorted.length ? round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!) : null);
    const r = this.resources(id);
    return {
      id,
      calls: e.calls,
      errors: { ...e.errors },
      capability_denials: e.denials,
      capability_calls: e.capabilityCalls,
      limits: { ...e.limits },
      duration_buckets: [...e.buckets],
      duration_sum_seconds: e.sumSeconds,
      p50_ms: pct(0.5),
      p99_ms: pct(0.99),
      cpu_ms: r ? round(r.cpuMs) : null,
      heap_bytes: r ? r.heapBytes : null,
      last_call_at: e.lastCallAt ? new Date(e.lastCallAt).toISOString() : null,
    };
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;
