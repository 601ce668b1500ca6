// The module ledger as Prometheus text exposition (version 0.0.4).
interface Stats {
  id: string;
  state: string;
  calls: number;
  errors: Record<string, number>;
  capability_denials: number;
  p50_ms: number | null;
  p99_ms: number | null;
  cpu_ms: number | null;
  heap_bytes: number | null;
}

const label = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

export function prometheusText(stats: Stats[]): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, rows: Array<[Record<string, string>, number | null]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of rows) {
      if (value === null) continue;
      const l = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`).join(",");
      lines.push(`${name}{${l}} ${value}`);
    }
  };
  metric("warden_module_calls_total", "counter", "Command calls per module.", stats.map((s) => [{ module: s.id }, s.calls]));
  metric("warden_module_errors_total", "counter", "Failed calls per module and error code.", stats.flatMap((s) => Object.entries(s.errors).map(([code, n]) => [{ module: s.id, code }, n] as [Record<string, string>, number])));
  metric("warden_module_capability_denials_total", "counter", "Capability calls refused per module.", stats.map((s) => [{ module: s.id }, s.capability_denials]));
  metric("warden_module_call_latency_ms", "gauge", "Recent call latency percentiles per module.", stats.flatMap((s) => [[{ module: s.id, quantile: "0.5" }, s.p50_ms], [{ module: s.id, quantile: "0.99" }, s.p99_ms]] as Array<[Record<string, string>, number | null]>));
  metric("warden_module_cpu_ms", "gauge", "CPU time used by a sandboxed module's isolate.", stats.map((s) => [{ module: s.id }, s.cpu_ms]));
  metric("warden_module_heap_bytes", "gauge", "Heap used by a sandboxed module's isolate.", stats.map((s) => [{ module: s.id }, s.heap_bytes]));
  metric("warden_module_active", "gauge", "1 when the module is active.", stats.map((s) => [{ module: s.id }, s.state === "active" ? 1 : 0]));
  return lines.join("\n") + "\n";
}
