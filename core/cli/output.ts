// How results and errors are printed: JSON with --json, otherwise plain tables and key/value
// lines (no colour: NO_COLOR is honoured by never needing it, and pipes get the same plain text).
import { HostError, exitCodeFor } from "../base/errors.js";

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.map(cell).join(",");
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (typeof o.code === "string" && typeof o.message === "string") return `${o.code}: ${o.message}`;
    return JSON.stringify(v);
  }
  return String(v);
}

export function table<R extends object>(rows: readonly R[], columns?: ReadonlyArray<keyof R & string>): string {
  if (rows.length === 0) return "(none)";
  const cols: readonly string[] = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const data = rows.map((r) => cols.map((c) => cell(Reflect.get(r, c)).replace(/\s+/g, " ")));
  const widths = cols.map((c, i) => Math.min(80, Math.max(c.length, ...data.map((d) => d[i]!.length))));
  // The last column is never cut; a long cell elsewhere ends at a word boundary with an ellipsis.
  const fit = (v: string, w: number) => {
    if (v.length <= w) return v.padEnd(w);
    const cut = v.slice(0, w - 1);
    const space = cut.lastIndexOf(" ");
    return `${space > w / 2 ? cut.slice(0, space) : cut}…`.padEnd(w);
  };
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (i === vals.length - 1 ? v : fit(v, widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(cols.map((c) => c.toUpperCase())), ...data.map(line)].join("\n");
}

export function formatHuman(result: unknown): string {
  if (result === undefined || result === null) return "ok";
  if (typeof result !== "object") return String(result);
  if (Array.isArray(result)) {
    if (result.every((r) => r && typeof r === "object" && !Array.isArray(r))) return table(result as Record<string, unknown>[]);
    return result.map(cell).join("\n");
  }
  const entries = Object.entries(result as Record<string, unknown>);
  const width = Math.max(...entries.map(([k]) => k.length), 0);
  return entries.map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}`).join("\n");
}

export function printResult(io: Io, result: unknown, json: boolean): number {
  io.out(json ? JSON.stringify(result ?? null, null, 2) : formatHuman(result));
  if (!result || typeof result !== "object") return 0;
  // A result that reports failure fails the process too: audit verify (ok: false), or an action
  // that left its module failed (module reload, enable) with that failure's exit code.
  const r = result as { ok?: unknown; state?: unknown; error?: { code?: unknown } };
  if (r.ok === false) return 1;
  if (r.state === "failed" && typeof r.error?.code === "string") return exitCodeFor(r.error.code);
  return 0;
}

export function printError(io: Io, err: HostError, json: boolean): number {
  if (json) io.out(JSON.stringify({ error: err.toJSON() }, null, 2));
  else {
    let text = `error [${err.code}]: ${err.message}`;
    const problems = (err.details as { problems?: Array<{ path: string; message: string }> } | undefined)?.problems;
    if (Array.isArray(problems) && problems.length > 1) text += "\n" + problems.map((p) => `  ${p.path}: ${p.message}`).join("\n");
    if (!/run|use|fix|ask|wait|declare|install|check|send/i.test(err.message)) text += `\n  ${err.spec.hint}`;
    io.err(text);
  }
  return exitCodeFor(err.code);
}
