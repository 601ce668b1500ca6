// The host logger: pino, JSON lines (pretty only for a terminal), secrets redacted by field name at
// any depth and by shape (Warden tokens) everywhere in the line. Security events also go to
// <home>/logs/security.log: tag them with `security: true` in the call's object, or log through
// `securityLogger(log)`, a child that carries the tag.
import type { LogSink } from "../kernel.js";
import pino, { type Logger } from "pino";
import { registerMainSink } from "./access.js";
import { redact } from "./redact.js";
import { DEFAULT_ROTATION, RotatingFile } from "./rotating.js";
import { isTerminal, openDestination, prettyLine, ScrubbingSink, SecurityFilter, type Destination } from "./streams.js";
import { homeLayout } from "../base/home.js";

export type { Logger } from "pino";
export { accessLogFor, type AccessEntry, type AccessLog } from "./access.js";
export { isSecretField, redact, REDACTED, scrubString, SECRET_FIELDS, TOKEN_PATTERN, TOKEN_REDACTED } from "./redact.js";

export interface LoggerOptions {
  /** With a home, security-tagged lines are also appended to <home>/logs/security.log. */
  home?: string;
  /** pino level; defaults to $WARDEN_LOG_LEVEL, then "info". */
  level?: string;
  /** A stream, a file descriptor or a file path; defaults to stdout (fd 1). */
  destination?: Destination;
  /** Human-readable lines instead of JSON. Default: only when the destination is a terminal and NO_COLOR is unset. */
  pretty?: boolean;
  /** Rotation of file destinations (the main one and security.log). */
  rotation?: { maxBytes: number; keep: number; securityKeep: number };
}

export function createLogger(o: LoggerOptions = {}): Logger {
  const level = o.level ?? process.env.WARDEN_LOG_LEVEL ?? "info";
  const dest = o.destination ?? 1;
  const noColor = Boolean(process.env.NO_COLOR);
  const pretty = o.pretty ?? (isTerminal(dest) && !noColor);
  const rotation = o.rotation ?? { ...DEFAULT_ROTATION, securityKeep: 20 };
  // Access-log lines (one per request) are written in batches; every other line at once.
  const sink = typeof dest === "string" ? new RotatingFile(dest, rotation, { defer: (line) => line.includes('"access":true') }) : openDestination(dest);
  const main = new ScrubbingSink(sink, pretty ? prettyLine(!noColor && isTerminal(dest)) : undefined);
  const streams: pino.StreamEntry[] = [{ level: level as pino.Level, stream: main }];
  if (o.home) {
    const security = new RotatingFile(homeLayout(o.home).securityLog, { maxBytes: rotation.maxBytes, keep: rotation.securityKeep });
    // The security log keeps info and above whatever the console's verbosity.
    streams.push({ level: "info", stream: new SecurityFilter(security) });
  }
  const multi = pino.multistream(streams);
  const logger = pino(
    {
      // The logger must produce every line some stream wants; each stream filters by its own level.
      level: lowest(level, o.home ? "info" : level),
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { log: safeRedact, bindings: safeRedact },
      // redact() has already turned Errors into {type, message, stack, ...}; pino's own err
      // serializer would relabel that plain object as type "Object".
      serializers: { err: (e: unknown) => e },
    },
    multi,
  );
  registerMainSink(logger, main);
  // pino does not run formatters over a child's bindings; children inherit these own properties.
  const child = logger.child;
  const setBindings = logger.setBindings;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, safeRedact(bindings), options);
  } as typeof logger.child;
  logger.setBindings = function (this: Logger, bindings) {
    setBindings.call(this, safeRedact(bindings));
  };
  return logger;
}

/** A logger whose every line is tagged for the security log (a pino child where it can be). */
export function securityLogger(log: LogSink): LogSink {
  if (isPino(log)) return log.child({ security: true });
  const tag = (obj: object) => ({ ...obj, security: true });
  return {
    debug: (o, m) => log.debug(tag(o), m),
    info: (o, m) => log.info(tag(o), m),
    warn: (o, m) => log.warn(tag(o), m),
    error: (o, m) => log.error(tag(o), m),
  };
}

function isPino(log: LogSink): log is Logger {
  return typeof (log as Partial<Logger>).child === "function";
}

export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

function safeRedact(obj: Record<string, unknown>): Record<string, unknown> {
  try {
    return redact(obj) as Record<string, unknown>;
  } catch {
    return { log_error: "the logged object could not be redacted and was dropped" };
  }
}

function lowest(a: string, b: string): string {
  const v = (l: string) => (l === "silent" ? Infinity : (pino.levels.values[l] ?? 30));
  return v(a) <= v(b) ? a : b;
}
