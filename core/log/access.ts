// Access-log lines, one per REST request. They go straight to the host log's main file as
// prebuilt JSON: the generic path (a module's ctx.log, the port, pino's serializers and redaction of
// an arbitrary object) cost more than the request it records. The fields are fixed and typed; the
// only free text (the URL) is scrubbed of tokens and credentials like every other line.
import type { Logger } from "pino";
import type { LineSink } from "./streams.js";
import { scrubRequestTarget } from "./redact.js";
import type { AccessLog } from "../../sdk/system/access-log.js";

export type { AccessEntry, AccessLog } from "../../sdk/system/access-log.js";

/** The main sinks of the loggers createLogger made, for their access lines. */
const mainSinks = new WeakMap<object, LineSink>();

export function registerMainSink(log: Logger, sink: LineSink): void {
  mainSinks.set(log, sink);
}

/** An access log writing to `log`'s main file; undefined for a logger createLogger did not make. */
export function accessLogFor(log: object): AccessLog | undefined {
  const sink = mainSinks.get(log);
  if (!sink) return undefined;
  const logger = log as Logger;
  // Many requests share a millisecond: its timestamp text is made once.
  let ms = 0;
  let time = "";
  return (e) => {
    if (!logger.isLevelEnabled("info")) return;
    const now = Date.now();
    if (now !== ms) time = new Date((ms = now)).toISOString();
    sink.write(
      `{"level":30,"time":"${time}","access":true,"request_id":${JSON.stringify(e.request_id)},` +
        `"method":${JSON.stringify(e.method)},"route":${JSON.stringify(e.route)},"url":${JSON.stringify(scrubRequestTarget(e.url))},"status":${e.status | 0},` +
        `"ms":${Number.isFinite(e.ms) ? e.ms : 0},"client":${JSON.stringify(e.client ?? null)},"token_id":${JSON.stringify(e.token_id ?? null)},"msg":"request"}\n`,
    );
  };
}
