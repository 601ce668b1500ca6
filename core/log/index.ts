// The host logger: pino, JSON lines, secrets redacted by field and by shape. Lines carrying
// `security: true` also go to <home>/logs/security.log.
import { mkdirSync, openSync } from "node:fs";
import { dirname, join } from "node:path";
import pino, { type Logger } from "pino";
import { redact, scrubString } from "./redact.js";

export type { Logger } from "pino";
export { redact, scrubString, TOKEN_PATTERN } from "./redact.js";

export interface LoggerOptions {
  home?: string;
  level?: string;
  /** A stream, a file descriptor or a file path; defaults to stdout. */
  destination?: NodeJS.WritableStream | number | string;
}

export function createLogger(o: LoggerOptions = {}): Logger {
  const level = o.level ?? process.env.WARDEN_LOG_LEVEL ?? "info";
  const main = toStream(o.destination ?? 1);
  const streams: pino.StreamEntry[] = [{ level: level as pino.Level, stream: main }];
  if (o.home) {
    const dir = join(o.home, "logs");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const security = pino.destination({ dest: join(dir, "security.log"), sync: true, mode: 0o600, mkdir: true } as any);
    streams.push({ level: "trace", stream: new SecurityFilter(security) as any });
  }
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { log: (obj) => redact(obj) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === "string" ? scrubString(a) : a));
          return method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    pino.multistream(streams),
  );
}

function toStream(d: NodeJS.WritableStream | number | string): pino.DestinationStream {
  // Pretty only for a person at a terminal; files and pipes get JSON lines.
  if (d === 1 && process.stdout.isTTY && !process.env.NO_COLOR) return new PrettyLines(process.stdout);
  if (typeof d === "number") return pino.destination({ fd: d, sync: true });
  if (typeof d === "string") {
    mkdirSync(dirname(d), { recursive: true, mode: 0o700 });
    const fd = openSync(d, "a", 0o600);
    return pino.destination({ fd, sync: true });
  }
  return d as unknown as pino.DestinationStream;
}

const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };

/** `12:00:01 WARN  client blocked {"client":"1.2.3.4"}` for terminals. */
class PrettyLines {
  constructor(private readonly out: NodeJS.WritableStream) {}
  write(line: string): void {
    try {
      const { level, time, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
      const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : "";
      this.out.write(`${String(time ?? "").slice(11, 19)} ${(LEVELS[level as number] ?? String(level)).padEnd(5)} ${String(msg ?? "")}${extra}\n`);
    } catch {
      this.out.write(line);
    }
  }
}

/** Passes on only lines tagged `"security":true`. */
class SecurityFilter {
  readonly #target: pino.DestinationStream;
  constructor(target: pino.DestinationStream) {
    this.#target = target;
  }
  write(line: string): void {
    if (line.includes('"security":true')) this.#target.write(line);
  }
}

export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
