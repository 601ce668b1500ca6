// Bench results: every figure beside a baseline measured in the same run, as DESIGN.md asks.
export interface BenchRow {
  suite: string;
  metric: string;
  value: number;
  unit: string;
  baseline: string;
  baseline_value: number;
  /** value / baseline_value */
  ratio: number;
  /** The goal, in words (e.g. "<= 250 ms"). */
  target: string;
}

export function row(suite: string, metric: string, value: number, unit: string, baseline: string, baselineValue: number, target: string): BenchRow {
  return {
    suite,
    metric,
    value: round(value),
    unit,
    baseline,
    baseline_value: round(baselineValue),
    ratio: baselineValue === 0 ? 0 : round(value / baselineValue),
    target,
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function printTable(rows: BenchRow[]): void {
  const cols: Array<[string, (r: BenchRow) => string]> = [
    ["suite", (r) => r.suite],
    ["metric", (r) => r.metric],
    ["value", (r) => `${r.value} ${r.unit}`],
    ["baseline", (r) => `${r.baseline} = ${r.baseline_value} ${r.unit}`],
    ["ratio", (r) => `${r.ratio}x`],
    ["target", (r) => r.target],
  ];
  const widths = cols.map(([h, f]) => Math.max(h.length, ...rows.map((r) => f(r).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(line(cols.map(([h]) => h)));
  for (const r of rows) console.log(line(cols.map(([, f]) => f(r))));
}

/** The same table as Markdown (the README's performance section shows it). */
export function markdownTable(rows: BenchRow[]): string {
  const out = ["| suite | metric | value | baseline (same run) | ratio | target |", "|---|---|---|---|---|---|"];
  for (const r of rows) out.push(`| ${r.suite} | ${r.metric} | ${r.value} ${r.unit} | ${r.baseline} = ${r.baseline_value} ${r.unit} | ${r.ratio}x | ${r.target} |`);
  return out.join("\n") + "\n";
}
