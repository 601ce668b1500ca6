// Prometheus text exposition (0.0.4), clean under `promtool check metrics`: base units (seconds,
// bytes), counters end in _total, durations are histograms. Two sources: the module ledger
// (module.stats, read at scrape time) and this surface's own HTTP requests.
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface ModuleStats {
  id: string;
  state: string;
  calls: number;
  errors: Record<string, number>;
  capability_denials: number;
  limits: Record<string, number>;
  duration_buckets: number[];
  duration_sum_seconds: number;
  cpu_ms: number | null;
  heap_bytes: number | null;
}

type Labels = Record<string, string>;
const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const fmt = (labels: Labels) => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
};

class Exposition {
  readonly lines: string[] = [];
  family(name: string, type: "counter" | "gauge" | "histogram", help: string): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }
  sample(name: string, labels: Labels, value: number): void {
    this.lines.push(`${name}${fmt(labels)} ${Number.isFinite(value) ? value : 0}`);
  }
  histogram(name: string, labels: Labels, cumulative: number[], count: number, sum: number): void {
    BUCKETS.forEach((le, i) => this.sample(`${name}_bucket`, { ...labels, le: String(le) }, cumulative[i] ?? 0));
    this.sample(`${name}_bucket`, { ...labels, le: "+Inf" }, count);
    this.sample(`${name}_sum`, labels, sum);
    this.sample(`${name}_count`, labels, count);
  }
}

/** Requests this surface answered, by route pattern, method and status. */
export class HttpMetrics {
  readonly #series = new Map<string, { labels: Labels; buckets: number[]; count: number; sum: number }>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    const key = `${method} ${route} ${status}`;
    let s = this.#series.get(key);
    if (!s) this.#series.set(key, (s = { labels, buckets: new Array<number>(BUCKETS.length).fill(0), count: 0, sum: 0 }));
    s.count++;
    s.sum += seconds;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) s.buckets[i]!++;
  }

  write(out: Exposition): void {
    out.family("http_request_duration_seconds", "histogram", "Time to answer REST requests, by route, method and status.");
    for (const s of this.#series.values()) out.histogram("http_request_duration_seconds", s.labels, s.buckets, s.count, s.sum);
    out.family("http_requests_total", "counter", "REST requests answered, by route, method and status.");
    for (const s of this.#series.values()) out.sample("http_requests_total", s.labels, s.count);
  }
}

export function prometheusText(stats: ModuleStats[], http: HttpMetrics): string {
  const out = new Exposition();
  out.family("warden_module_calls_total", "counter", "Command calls per module.");
  for (const s of stats) out.sample("warden_module_calls_total", { module: s.id }, s.calls);
  out.family("warden_module_errors_total", "counter", "Failed command calls per module and error code.");
  for (const s of stats) for (const [code, n] of Object.entries(s.errors)) out.sample("warden_module_errors_total", { module: s.id, code }, n);
  out.family("warden_module_capability_denials_total", "counter", "Capability calls refused per module.");
  for (const s of stats) out.sample("warden_module_capability_denials_total", { module: s.id }, s.capability_denials);
  out.family("warden_module_limit_refusals_total", "counter", "Requests refused by a budget, per module and budget.");
  for (const s of stats) for (const [budget, n] of Object.entries(s.limits ?? {})) out.sample("warden_module_limit_refusals_total", { module: s.id, budget }, n);
  out.family("warden_module_call_duration_seconds", "histogram", "Command call durations per module.");
  for (const s of stats) out.histogram("warden_module_call_duration_seconds", { module: s.id }, s.duration_buckets ?? [], s.calls, s.duration_sum_seconds ?? 0);
  out.family("warden_module_cpu_seconds_total", "counter", "CPU time used by a sandboxed module's isolate.");
  for (const s of stats) if (s.cpu_ms !== null) out.sample("warden_module_cpu_seconds_total", { module: s.id }, s.cpu_ms / 1000);
  out.family("warden_module_heap_bytes", "gauge", "Heap used by a sandboxed module's isolate.");
  for (const s of stats) if (s.heap_bytes !== null) out.sample("warden_module_heap_bytes", { module: s.id }, s.heap_bytes);
  out.family("warden_module_active", "gauge", "1 when the module is active.");
  for (const s of stats) out.sample("warden_module_active", { module: s.id }, s.state === "active" ? 1 : 0);
  http.write(out);
  return out.lines.join("\n") + "\n";
}
