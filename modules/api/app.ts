// The fastify instance, its HTTP(S) server made here (serverFactory) so that every option is typed
// and every timeout is set where it can be read: slowloris (headers within header_timeout_ms,
// checked every second, not node's 30 s), request and keep-alive timeouts, 16 KiB of headers.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server, type ServerOptions } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from "fastify";
import { WardenError } from "../../sdk/errors.js";
import type { ApiSettings } from "./deps.js";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** What fastify's router hands to `frameworkErrors` (a bad URL, an over-long segment). */
export type FrameworkErrorHandler = (err: { code?: string }, req: FastifyRequest, reply: FastifyReply) => void;

/** A TLS file the settings name, or a clear refusal that says which setting to fix. */
function readTlsFile(setting: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const why = e instanceof Error ? ((e as NodeJS.ErrnoException).code ?? e.message) : String(e);
    throw new WardenError("listen_failed", `api.${setting}: cannot read ${file} (${why}); fix the path or clear it with \`warden config set api.${setting} ""\``, { cause: e });
  }
}

export function createApp(s: ApiSettings, frameworkErrors: FrameworkErrorHandler): { app: FastifyInstance; https: boolean } {
  const https = Boolean(s.tls_cert && s.tls_key);
  const serverOptions: ServerOptions = {
    headersTimeout: s.header_timeout_ms,
    requestTimeout: s.request_timeout_ms,
    connectionsCheckingInterval: Math.min(1000, s.header_timeout_ms),
    maxHeaderSize: 16 * 1024,
  };
  const tls = https ? { cert: readTlsFile("tls_cert", s.tls_cert), key: readTlsFile("tls_key", s.tls_key) } : undefined;
  const options: FastifyServerOptions<Server> = {
    logger: false,
    bodyLimit: s.body_limit,
    return503OnClosing: true,
    // A client's X-Request-Id is kept when it is a sane token; otherwise one is made.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    },
    forceCloseConnections: "idle",
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 100 },
    // Errors raised by the router before any hook still get the one error body.
    frameworkErrors,
    serverFactory: (handler) => {
      // An HTTPS server is an HTTP server with TLS (node's types say so too).
      const server: Server = tls ? createHttpsServer({ ...serverOptions, ...tls }, handler) : createHttpServer(serverOptions, handler);
      // What fastify sets on a server it makes itself (it leaves a factory's to the factory).
      server.keepAliveTimeout = s.keep_alive_timeout_ms;
      server.requestTimeout = s.request_timeout_ms;
      server.setTimeout(s.request_timeout_ms);
      return server;
    },
  };
  return { app: Fastify(options), https };
}
