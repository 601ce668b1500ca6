// The byte-level ends of the logger: where lines go, how they are scrubbed one last time, and the
// terminal rendering.
import { chmodSync, fchmodSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { isatty } from "node:tty";
import pino from "pino";
import { scrubString } from "./redact.js";

export type Destination = NodeJS.WritableStream | number | string;

export interface LineSink {
  write(line: string): unknown;
}

export function isTerminal(d: Destination): boolean {
  if (typeof d === "number") return isatty(d);
  if (typeof d === "string") return false;
  return (d as { isTTY?: boolean }).isTTY === true;
}

/** A stream, a file descriptor, or a file path (appended to; directory 0700, file 0600). */
export function openDestination(d: Destination): LineSink {
  if (typeof d === "number") return pino.destination({ fd: d, sync: true });
  if (typeof d === "string") return pino.destination({ fd: openPrivateFile(d), sync: true });
  // A stream is a LineSink: it writes lines.
  return { write: (line: string) => d.write(line) };
}

export function openPrivateFile(file: string): number {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    chmodSync(dir, 0o700);
  } catch {
    // Not ours to change (a shared directory); the file itself is still owner-only.
  }
  const fd = openSync(file, "a", 0o600);
  try {
    fchmodSync(fd, 0o600);
  } catch {
    // As above.
  }
  return fd;
}

/**
 * The last line of defence: whatever put it there (a message, an Error's stack, a serializer, a
 * child's bindings), nothing shaped like a Warden token leaves the process. Token characters never
 * need JSON escaping, so scrubbing the serialized line is exact.
 */
export class ScrubbingSink implements LineSink {
  constructor(
    private readonly target: LineSink,
    private readonly render?: (line: string) => string,
  ) {}
  write(line: string): void {
    const clean = scrubString(line);
    this.target.write(this.render ? this.render(clean) : clean);
  }
}

/**
 * Passes on only lines whose top-level `security` field is true (set by the host's own
 * securityLogger child). The line is parsed, not searched: a module's log data sits under `data`
 * and its message is a string, so neither can tag a line.
 */
export class SecurityFilter implements LineSink {
  constructor(private readonly target: LineSink) {}
  write(line: string): void {
    if (!line.includes('"security":true')) return;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof entry === "object" && entry !== null && (entry as { security?: unknown }).security === true) this.target.write(scrubString(line));
  }
}

const LEVELS: Record<number, [string, string]> = {
  10: ["TRACE", "90"],
  20: ["DEBUG", "36"],
  30: ["INFO", "32"],
  40: ["WARN", "33"],
  50: ["ERROR", "31"],
  60: ["FATAL", "35"],
};

/** `12:00:01 WARN  client blocked {"client":"1.2.3.4"}` for a person at a terminal. */
export function prettyLine(color: boolean): (line: string) => string {
  return (line) => {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return line;
    }
    const { level, time, msg, ...rest } = entry;
    const [name, code] = LEVELS[level as number] ?? [String(level), "0"];
    const label = color ? `\x1b[${code}m${name.padEnd(5)}\x1b[0m` : name.padEnd(5);
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : "";
    return `${String(time ?? "").slice(11, 19)} ${label} ${String(msg ?? "")}${extra}\n`;
  };
}
