// How results and errors are printed: JSON with --json; otherwise tables and key/value lines, with
// nested values indented beneath their key. On a terminal, tables fit its width and headers and
// error codes are in colour; piped, or with NO_COLOR set (or TERM=dumb), the text is plain and no
// cell is cut but at 80 characters.
import { HostError, exitCodeFor } from "../base/errors.js";

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Colour allowed on this output (a terminal, NO_COLOR unset). */
  color?: boolean;
  /** The terminal's width, when output is a terminal. */
  columns?: number;
}

/** What stdout and stderr allow: colour and width only on a terminal, colour never with NO_COLOR. */
export function terminalIo(): Io {
  const tty = process.stdout.isTTY === true;
  const noColor = (process.env.NO_COLOR ?? "") !== "" || process.env.TERM === "dumb";
  return {
    out: (s) => process.stdout.write(s.endsWith("\n") ? s : s + "\n"),
    err: (s) => process.stderr.write(s.endsWith("\n") ? s : s + "\n"),
    color: tty && !noColor,
    ...(tty && process.stdout.columns ? { columns: process.stdout.columns } : {}),
  };
}

const paint = (io: Io | undefined, code: string, s: string) => (io?.color ? `\u001b[${code}m${s}\u001b[0m` : s);

function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.map(cell).join(",");
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (typeof o.code === "string" && typeof o.message === "string") return `${o.code}: ${o.message}`;
    return Object.entries(o)
      .map(([k, x]) => `${k}=${cell(x)}`)
      .join(" ");
  }
  return String(v);
}

export function table<R extends object>(rows: readonly R[], columns?: ReadonlyArray<keyof R & string>, io?: Io): string {
  if (rows.length === 0) return "(none)";
  const cols: readonly string[] = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const data = rows.map((r) => cols.map((c) => cell(Reflect.get(r, c)).replace(/\s+/g, " ")));
  const widths = cols.map((c, i) => Math.min(80, Math.max(c.length, ...data.map((d) => d[i]!.length))));
  // On a terminal the table fits its width: the widest columns give way first, down to 8 each,
  // and the last column ends at the edge. Piped, only the 80-character cap applies.
  const limit = io?.columns;
  if (limit) {
    const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
    while (total() > limit) {
      const widest = widths.indexOf(Math.max(...widths));
      if (widths[widest]! <= 8) break;
      widths[widest] = widths[widest]! - 1;
    }
  }
  // A long cell ends at a word boundary with an ellipsis.
  const fit = (v: string, w: number) => {
    if (v.length <= w) return v.padEnd(w);
    const cut = v.slice(0, w - 1);
    const space = cut.lastIndexOf(" ");
    return `${space > w / 2 ? cut.slice(0, space) : cut}…`.padEnd(w);
  };
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (i === vals.length - 1 && !limit ? v : fit(v, widths[i]!)))
      .join("  ")
      .trimEnd();
  return [paint(io, "1", line(cols.map((c) => c.toUpperCase()))), ...data.map(line)].join("\n");
}

const scalar = (v: unknown) => v === null || v === undefined || typeof v !== "object";

/** Key/value lines; an object or a list of objects nests beneath its key, indented. */
function lines(entries: Array<[string, unknown]>, indent: string, io: Io | undefined): string[] {
  const width = Math.max(...entries.map(([k]) => k.length), 0);
  const out: string[] = [];
  for (const [k, v] of entries) {
    const key = paint(io, "36", k.padEnd(width));
    if (scalar(v) || (Array.isArray(v) && v.every(scalar))) out.push(`${indent}${key}  ${cell(v)}`.trimEnd());
    else if (Array.isArray(v)) {
      out.push(`${indent}${k}`);
      for (const item of v) {
        const nested = scalar(item) ? [`${indent}  ${cell(item)}`] : lines(Object.entries(item as object), `${indent}    `, io);
        out.push(...nested.map((l, i) => (i === 0 ? `${indent}  - ${l.trimStart()}` : l)));
      }
    } else if (typeof v === "object" && v !== null && typeof (v as { code?: unknown }).code === "string" && typeof (v as { message?: unknown }).message === "string") {
      out.push(`${indent}${key}  ${cell(v)}`);
    } else {
      const inner = Object.entries(v as object);
      if (inner.length === 0) out.push(`${indent}${key}  (none)`);
      else out.push(`${indent}${k}`, ...lines(inner, `${indent}  `, io));
    }
  }
  return out;
}

export function formatHuman(result: unknown, io?: Io): string {
  if (result === undefined || result === null) return "ok";
  if (typeof result !== "object") return String(result);
  if (Array.isArray(result)) {
    if (result.every((r) => r && typeof r === "object" && !Array.isArray(r))) return table(result as Record<string, unknown>[], undefined, io);
    return result.map(cell).join("\n");
  }
  return lines(Object.entries(result as Record<string, unknown>), "", io).join("\n");
}

export function printResult(io: Io, result: unknown, json: boolean): number {
  io.out(json ? JSON.stringify(result ?? null, null, 2) : formatHuman(result, io));
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
    let text = `${paint(io, "31", `error [${err.code}]`)}: ${err.message}`;
    const problems = (err.details as { problems?: Array<{ path: string; message: string }> } | undefined)?.problems;
    if (Array.isArray(problems) && problems.length > 1) text += "\n" + problems.map((p) => `  ${p.path}: ${p.message}`).join("\n");
    if (!/run|use|fix|ask|wait|declare|install|check|send|choose|give/i.test(err.message)) text += `\n  ${err.spec.hint}`;
    io.err(text);
  }
  return exitCodeFor(err.code);
}
