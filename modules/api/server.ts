// The fastify app. Every request, in this order: API enabled -> CORS/CSRF -> security check
// (blocks, lockdown, windows) -> token (Bearer or X-API-Key) -> auth verify (failures feed the
// failed-auth window) -> bootstrap token refused -> dispatch (permission, input validation, handler).
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { AccessEntry, AccessLog } from "../../sdk/system/access-log.js";
import type { Caller, CommandInfo } from "../../sdk/context.js";
import { loggedPublicError, publicError, sendError, type ApiErrorFields } from "./errors.js";
import { applySecurityHeaders, securityHeaders } from "./headers.js";
import { parseJsonBody } from "./json-body.js";
import { HttpMetrics, prometheusText, type ModuleStats } from "./metrics.js";
import { openApiDocument } from "./openapi.js";
import { matchesAny } from "../../sdk/patterns.js";
import { CONSOLE_CSP, CONSOLE_HEADER, registerConsoleRoutes, sessionCookie } from "./console-routes.js";
import type { AuthService, ConsoleService, Decision, SecurityService } from "../../sdk/system/services.js";
import { Traffic } from "./traffic.js";
import type { Settings } from "./settings.js";
import { httpStatusFor, WardenError } from "../../sdk/errors.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The client address the security check used. */
    wardenClient: string;
    wardenLimit: { limit: number; remaining: number; reset: number } | null | undefined;
    /** Who made the request, for the access log: a token id or console:<session>. */
    wardenToken: string;
    /** The revocation epoch the security check read (fleet). */
    wardenEpoch: string | undefined;
    /** A console session already verified for this request (by the lockdown check). */
    wardenSession: { id: string; scopes: string[] } | undefined;
  }
}

/** The api module's settings (its module.json's `config`). */
export type ApiSettings = Settings;


export interface ApiDeps {
  settings: () => ApiSettings;
  security: SecurityService;
  auth: Pick<AuthService, "verify" | "noteUse">;
  dispatch(call: { command: string; input: unknown; caller: Caller }): Promise<unknown>;
  catalogue(): Promise<CommandInfo[]>;
  version: string;
  /** Undefined when ready; otherwise what is not. */
  ready(): Promise<string | undefined>;
  log(level: "info" | "warn" | "error", msg: string, data?: Record<string, unknown>): void;
  /** The host's access log (one prebuilt line per request), when it offers one; else lines go through log(). */
  access?: AccessLog;
  /** The console's files (the api module's console/ folder). */
  consoleDir: string;
  /** Console sessions (the console module's service), when it is active. */
  console?: Pick<ConsoleService, "login" | "loginWithToken" | "verify" | "logout">;
  /** Requests and errors per second, for the console's chart. */
  traffic: Traffic;
}


const MODULE_RE = /^[a-z][a-z0-9-]{1,39}$/;
const COMMAND_RE = /^[a-z][a-zA-Z0-9-]{0,39}$/;
const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
/** Headers a browser page may read from our responses (rate-limit state, request ids). */
const EXPOSED = "RateLimit, RateLimit-Policy, Retry-After, X-Request-Id, WWW-Authenticate";
/** Routes anyone may call: liveness, readiness, the index. No token, no windows. */
const OPEN_ROUTES = new Set(["/api/v1/health", "/api/v1/health/live", "/api/v1/health/ready", "/api/v1/"]);

/** A TLS file the settings name, or a clear refusal that says which setting to fix. */
function readTlsFile(setting: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new WardenError("listen_failed", `api.${setting}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); fix the path or clear it with \`warden config set api.${setting} ""\``, { cause: e });
  }
}

/** The server, and how to tell it the command catalogue changed. */
export function buildServer(deps: ApiDeps): { app: FastifyInstance; invalidate(): void } {
  const s = deps.settings();
  const https = Boolean(s.tls_cert && s.tls_key);
  // Slowloris: headers must arrive within header_timeout_ms, checked every second (node's default
  // check interval is 30 s); header blocks are capped at 16 KiB.
  const serverOptions = {
    headersTimeout: s.header_timeout_ms,
    requestTimeout: s.request_timeout_ms,
    connectionsCheckingInterval: Math.min(1000, s.header_timeout_ms),
    maxHeaderSize: 16 * 1024,
  };
  // Set once the server's metrics exist (below); the router's error handler needs it too.
  let observe: (req: FastifyRequest, reply: FastifyReply) => void = () => {};
  const app = Fastify({
    http: serverOptions,
    logger: false,
    bodyLimit: s.body_limit,
    connectionTimeout: s.request_timeout_ms,
    keepAliveTimeout: s.keep_alive_timeout_ms,
    requestTimeout: s.request_timeout_ms,
    return503OnClosing: true,
    // A client's X-Request-Id is kept when it is a sane token; otherwise one is made.
    requestIdHeader: false,
    genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    },
    forceCloseConnections: "idle",
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 100 },
    // Errors raised by the router before any hook (bad URL encoding, over-long segments) still get
    // the one error body.
    frameworkErrors: (err: { code?: string }, req: FastifyRequest, reply: FastifyReply) => {
      // No hook runs for router errors: their headers, request id and access line are set here.
      applySecurityHeaders(reply, https);
      reply.header("X-Request-Id", req.id);
      const sent =
        err.code === "FST_ERR_MAX_PARAM_LENGTH"
          ? sendError(reply, { code: "command_not_found", message: "no command at this path; GET /api/v1/openapi.json lists them" })
          : sendError(reply, { code: "malformed_request", message: "malformed request URL" });
      observe(req, reply);
      return sent;
    },
    http2: false,
    ...(https ? { https: { ...serverOptions, cert: readTlsFile("tls_cert", s.tls_cert), key: readTlsFile("tls_key", s.tls_key) } } : {}),
  } as any) as unknown as FastifyInstance;

  let commandsCache: Map<string, CommandInfo> | undefined;
  const commands = async () => (commandsCache ??= new Map((await deps.catalogue()).map((c) => [c.command, c])));

  // Declared up front (fastify's advice) so requests keep one shape instead of growing new fields.
  app.decorateRequest("wardenClient", "");
  app.decorateRequest("wardenLimit", null);
  app.decorateRequest("wardenToken", "");
  app.decorateRequest("wardenEpoch", undefined);
  app.decorateRequest("wardenSession", undefined);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(/^application\/json(\s*;.*)?$/i, { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string, deps.settings().max_json_depth));
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  const httpMetrics = new HttpMetrics();
  const headers = securityHeaders(https);
  const consoleHeaders = { ...headers, "Content-Security-Policy": CONSOLE_CSP };
  /** One access-log line and one metrics observation per request, whatever answered it. */
  observe = (req: FastifyRequest, reply: FastifyReply) => {
    const route = req.routeOptions?.url ?? "unmatched";
    const ms = reply.elapsedTime;
    httpMetrics.observe(req.method, route, reply.statusCode, ms / 1000);
    deps.traffic.observe(reply.statusCode);
    const entry: AccessEntry = {
      request_id: req.id, method: req.method, route, url: loggedUrl(req.url), status: reply.statusCode,
      ms: Math.round(ms * 1000) / 1000, client: req.wardenClient || req.socket.remoteAddress, token_id: req.wardenToken || undefined,
    };
    if (deps.access) deps.access(entry);
    else deps.log("info", "request", { access: true, ...entry });
  };
  // Callback-style hooks: an async hook costs a promise and a microtask on every response.
  app.addHook("onSend", (req, reply, payload, done) => {
    if (req.url.startsWith("/console/")) {
      const cache = reply.getHeader("Cache-Control");
      reply.headers(consoleHeaders);
      if (cache !== undefined) reply.header("Cache-Control", cache); // fingerprinted files keep theirs
    } else reply.headers(headers);
    reply.header("X-Request-Id", req.id);
    // Observed here rather than in an onResponse hook: that hook's machinery (a listener on every
    // response's finish) cost more CPU than the observation itself (36-39 µs per system command
    // against 41-58 µs, alternating runs). `ms` is so the time until the answer is handed to the socket.
    observe(req, reply);
    done(null, payload);
  });

  // Runs before body parsing: a disabled API, a foreign origin or a blocked client costs nothing.
  app.addHook("onRequest", async (req, reply) => {
    const settings = deps.settings();
    if (!settings.enabled) {
      return sendError(reply, { code: "api_disabled", message: "the REST API is disabled; run `warden config set api.enabled true` and restart `warden serve`" });
    }
    const origin = req.headers.origin;
    reply.header("Vary", "Origin");
    const allowedOrigin = typeof origin === "string" && settings.cors_origins.includes(origin);
    if (allowedOrigin) {
      reply.header("Access-Control-Allow-Origin", origin);
      reply.header("Access-Control-Expose-Headers", EXPOSED);
    }
    if (req.method === "OPTIONS") {
      if (!allowedOrigin) return sendError(reply, { code: "forbidden", message: "this origin may not call the API (CORS)", reason: "origin_not_allowed" });
      reply.header("Access-Control-Allow-Methods", "GET, POST");
      reply.header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key, X-Request-Id");
      reply.header("Access-Control-Max-Age", "600");
      return reply.code(204).send();
    }
    if (STATE_CHANGING.has(req.method) && !allowedOrigin && isCrossSite(req, https)) {
      return sendError(reply, { code: "forbidden", message: "cross-site request refused (CSRF protection); call the API from an allowed origin or without browser credentials", reason: "cross_site" });
    }
    if (req.method === "GET" && OPEN_ROUTES.has(req.url)) return;
    const client = deps.security.clientAddress(req.socket.remoteAddress ?? "unknown", headerValue(req.headers["x-forwarded-for"]));
    let decision = await deps.security.check(client);
    // A console session that may lift the lockdown is not locked out by it (consoleThroughLockdown);
    // logging in anew waits for the lockdown's end (or `warden security unlock`).
    if (!decision.allow && decision.code === "locked_down") decision = await consoleThroughLockdown(req, client, decision);
    if (!decision.allow) {
      const { allow: _a, status, ...fields } = decision;
      // A limited response says so in the standard headers too.
      if (fields.code === "rate_limited" || fields.code === "blocked") {
        const limit = (decision as { limit?: number }).limit;
        if (limit !== undefined) reply.header("RateLimit-Policy", `${limit};w=60`);
        reply.header("RateLimit", `limit=${limit ?? 0}, remaining=0, reset=${fields.retry_after ?? 1}`);
      }
      return sendError(reply, fields, status);
    }
    req.wardenClient = client;
    req.wardenLimit = decision.limit;
    req.wardenEpoch = decision.epoch;
  });

  /**
   * A console session's cookie. Only the console's own requests may use it: they carry
   * X-Warden-Console, which a page on another origin cannot send without a CORS preflight that is
   * refused (the cookie is SameSite=Strict too, and state changes are checked for cross-site above).
   */
  const sessionCaller = async (req: FastifyRequest, reply: FastifyReply, cookie: string, fail: (e: ApiErrorFields) => Promise<undefined>): Promise<Caller | undefined> => {
    if (req.headers[CONSOLE_HEADER] !== "1") {
      sendError(reply, { code: "forbidden", message: `a console session cookie is accepted only on the console's own requests (header ${CONSOLE_HEADER}: 1); other clients send a token`, reason: "cross_site" });
      return undefined;
    }
    try {
      const session = req.wardenSession ?? (await deps.console!.verify(cookie));
      req.wardenToken = `console:${session.id}`;
      return { kind: "session", sessionId: session.id, scopes: session.scopes };
    } catch (e) {
      return fail(loggedPublicError(e, deps.log, "console session check"));
    }
  };

  /**
   * Through a lockdown go only the console's own requests (its API calls, or its page and files: a
   * GET changes nothing) of a session that may lift it (`security.manage`), with no token of their
   * own. Blocks and windows are not checked for those: whoever may lift the lockdown may lift them.
   * A cookie that does not verify counts as a failed authentication.
   */
  const consoleThroughLockdown = async (req: FastifyRequest, client: string, refusal: Decision): Promise<Decision> => {
    const own = req.headers[CONSOLE_HEADER] === "1" || (req.method === "GET" && (req.url === "/console/" || req.url.startsWith("/console/assets/")));
    if (!own || !deps.console || !deps.settings().console || req.headers.authorization !== undefined || req.headers["x-api-key"] !== undefined) return refusal;
    const cookie = sessionCookie(req, https);
    if (cookie === undefined) return refusal;
    try {
      const session = await deps.console.verify(cookie);
      if (!matchesAny(session.scopes, "security.manage")) return refusal;
      req.wardenSession = session;
      deps.log("info", "console session passed the lockdown", { session: session.id, client, url: loggedUrl(req.url) });
      return { allow: true, client };
    } catch (e) {
      loggedPublicError(e, deps.log, "console session check");
      await deps.security.recordFailure(client);
      return refusal;
    }
  };

  const authenticate = async (req: FastifyRequest, reply: FastifyReply): Promise<Caller | undefined> => {
    const token = extractToken(req);
    const client = req.wardenClient;
    const fail = async (e: ApiErrorFields) => {
      const after = await deps.security.recordFailure(client);
      if (!after.allow) {
        const { allow: _a, status, ...fields } = after;
        sendError(reply, fields, status);
      } else {
        if (httpStatusFor(e.code) === 401) reply.header("WWW-Authenticate", `Bearer realm="warden", error="invalid_token"`);
        sendError(reply, e);
      }
      return undefined;
    };
    const cookie = token ? undefined : sessionCookie(req, https);
    if (cookie !== undefined && deps.console && deps.settings().console) return sessionCaller(req, reply, cookie, fail);
    if (!token) {
      reply.header("WWW-Authenticate", `Bearer realm="warden"`);
      return fail({ code: "unauthorized", message: "send a token in `Authorization: Bearer <token>` or `X-API-Key`" });
    }
    let identity;
    try {
      identity = await deps.auth.verify(token, client, req.wardenEpoch);
    } catch (e) {
      // Busy (this client's fair share of argon2 is taken) is not a failed authentication.
      if ((e as { code?: unknown }).code === "rate_limited") {
        sendError(reply, publicError(e));
        return undefined;
      }
      return fail(loggedPublicError(e, deps.log, "token verification"));
    }
    req.wardenToken = identity.tokenId;
    if (identity.bootstrap) {
      sendError(reply, { code: "bootstrap_token_rejected", message: "the bootstrap token is for local tooling only; grant a REST token with `warden auth grant`" });
      return undefined;
    }
    const limit = req.wardenLimit;
    if (limit) {
      reply.header("RateLimit-Policy", `${limit.limit};w=60`);
      reply.header("RateLimit", `limit=${limit.limit}, remaining=${Math.max(0, limit.remaining)}, reset=${limit.reset}`);
    }
    return { kind: "token", tokenId: identity.tokenId, name: identity.name, scopes: identity.scopes };
  };

  app.get("/api/v1/", async () => ({
    name: "Warden REST API",
    version: deps.version,
    openapi: "/api/v1/openapi.json",
    health: { live: "/api/v1/health/live", ready: "/api/v1/health/ready" },
    metrics: "/api/v1/metrics",
    commands: "POST /api/v1/<module>/<command> (GET for read-only ones), with a token",
  }));
  app.get("/api/v1/health", async () => ({ status: "ok" }));
  app.get("/api/v1/health/live", async () => ({ status: "ok" }));
  // Ready: the API serves and the services it needs (auth, security) answer.
  app.get("/api/v1/health/ready", async (_req, reply) => {
    const problem = await deps.ready();
    if (problem) return sendError(reply, { code: "module_unavailable", message: `not ready: ${problem}` });
    return { status: "ready" };
  });

  app.get("/api/v1/openapi.json", async (req, reply) => {
    if (!(await authenticate(req, reply))) return reply;
    // The URL this client reached us at (TLS or not); it only ever goes back to this caller.
    const hostHeader = typeof req.headers.host === "string" && /^[A-Za-z0-9.:[\]-]{1,255}$/.test(req.headers.host) ? req.headers.host : `${deps.settings().host}:${deps.settings().port}`;
    return openApiDocument([...(await commands()).values()], deps.version, `${https ? "https" : "http"}://${hostHeader}`);
  });

  app.get("/api/v1/metrics", async (req, reply) => {
    const caller = await authenticate(req, reply);
    if (!caller) return reply;
    try {
      const stats = (await deps.dispatch({ command: "module.stats", input: {}, caller })) as ModuleStats[];
      return reply.code(200).type("text/plain; version=0.0.4; charset=utf-8").send(prometheusText(stats, httpMetrics));
    } catch (e) {
      return sendError(reply, loggedPublicError(e, deps.log, "metrics"));
    }
  });

  const call = async (req: FastifyRequest<{ Params: { module: string; command: string } }>, reply: FastifyReply, input: unknown) => {
    // Authenticated before the command is looked up: without a token nothing says what is installed.
    const caller = await authenticate(req, reply);
    if (!caller) return reply;
    const { module, command } = req.params;
    const name = `${module}.${command}`;
    const info = MODULE_RE.test(module) && COMMAND_RE.test(command) ? (await commands()).get(name) : undefined;
    if (!info) return sendError(reply, { code: "command_not_found", message: `no command ${MODULE_RE.test(module) && COMMAND_RE.test(command) ? name : "at this path"}; GET /api/v1/openapi.json lists them` });
    if (req.method === "GET" && !info.readOnly) {
      reply.header("Allow", "POST");
      return sendError(reply, { code: "method_not_allowed", message: `${name} changes state; call it with POST` }, 405);
    }
    try {
      const out = await deps.dispatch({ command: name, input, caller });
      if (caller.kind === "token") void deps.auth.noteUse(caller.tokenId).catch(() => {});
      return reply.code(200).type("application/json; charset=utf-8").send(JSON.stringify(out ?? null));
    } catch (e) {
      return sendError(reply, loggedPublicError(e, deps.log, `dispatch of ${name}`));
    }
  };

  app.post<{ Params: { module: string; command: string } }>("/api/v1/:module/:command", async (req, reply) => {
    const ct = req.headers["content-type"];
    if (ct !== undefined && !/^application\/json(\s*;.*)?$/i.test(ct)) return sendError(reply, { code: "unsupported_media_type", message: "send `Content-Type: application/json`" });
    return call(req, reply, req.body ?? {});
  });

  app.get<{ Params: { module: string; command: string }; Querystring: Record<string, string> }>("/api/v1/:module/:command", async (req, reply) => {
    // Query values arrive as text: a property the schema types as a string keeps it; any other is
    // parsed as JSON when it parses (`n=3`, `flag=true`), and kept as text otherwise.
    const info = (await commands()).get(`${req.params.module}.${req.params.command}`);
    const props = ((info?.input as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties ?? {}) as Record<string, { type?: unknown }>;
    const input: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(req.query ?? {})) {
      if (k === "__proto__" || k === "constructor" || k === "prototype") return sendError(reply, { code: "malformed_request", message: `query parameter '${k}' is not allowed` });
      if (typeof v !== "string") return sendError(reply, { code: "malformed_request", message: `query parameter '${k}' was given more than once` });
      if (Object.prototype.hasOwnProperty.call(props, k) && props[k]!.type === "string") {
        input[k] = v;
        continue;
      }
      try {
        input[k] = JSON.parse(v);
      } catch {
        input[k] = v;
      }
    }
    return call(req, reply, input);
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split("?")[0] ?? "";
    const allow = allowedMethods(path);
    if (allow) {
      reply.header("Allow", allow);
      return sendError(reply, { code: "method_not_allowed", message: `${req.method} is not allowed on ${path.slice(0, 200)}; use ${allow}` }, 405);
    }
    sendError(reply, { code: "not_found", message: `no route ${req.method} ${req.url.slice(0, 200)}; GET /api/v1/ lists what is here` }, 404);
  });

  app.setErrorHandler((err: any, _req, reply) => {
    if (err instanceof WardenError && err.code === "malformed_request") return sendError(reply, { code: err.code, message: err.message });
    switch (err.code) {
      case "FST_ERR_CTP_BODY_TOO_LARGE":
        return sendError(reply, { code: "payload_too_large", message: `body larger than api.body_limit (${deps.settings().body_limit} bytes)` });
      case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
        return sendError(reply, { code: "unsupported_media_type", message: "send `Content-Type: application/json`" });
      case "FST_ERR_CTP_EMPTY_JSON_BODY":
      case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
        return sendError(reply, { code: "malformed_request", message: "the body does not match its Content-Length or is empty" });
    }
    if (typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, { code: "malformed_request", message: "malformed request" }, err.statusCode === 413 ? 413 : 400);
    }
    const pub = publicError(err);
    deps.log("error", "unhandled API error", { error_id: (pub.details as { error_id?: string } | undefined)?.error_id, err: String(err?.stack ?? err?.message ?? err) });
    return sendError(reply, pub);
  });

  registerConsoleRoutes(app, deps, https);
  return { app, invalidate: () => void (commandsCache = undefined) };
}

/** The URL as the access log keeps it: at most 200 characters (the log scrubs credentials from it). */
function loggedUrl(url: string): string {
  return url.length > 200 ? url.slice(0, 200) : url;
}

/** The methods a path answers to, when it is one of ours; undefined for paths that do not exist. */
function allowedMethods(path: string): string | undefined {
  if (OPEN_ROUTES.has(path) || path === "/api/v1/openapi.json" || path === "/api/v1/metrics") return "GET";
  const parts = path.split("/");
  if (parts.length === 5 && parts[1] === "api" && parts[2] === "v1" && parts[3] && parts[4]) return "GET, POST";
  return undefined;
}

function headerValue(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h.join(",") : h;
}

function extractToken(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === "string") {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : undefined;
  }
  const key = req.headers["x-api-key"];
  return typeof key === "string" && key.length > 0 ? key.trim() : undefined;
}

/**
 * A browser-originated request from somewhere that is not an allowed origin. A same-origin request
 * (the console's own) says so twice: Sec-Fetch-Site, which page script cannot set, and an Origin
 * equal to the address it was sent to.
 */
function isCrossSite(req: FastifyRequest, https: boolean): boolean {
  const site = req.headers["sec-fetch-site"];
  if (site === "cross-site" || site === "same-site") return true;
  if (req.headers.origin !== undefined) return !(site === "same-origin" && req.headers.origin === `${https ? "https" : "http"}://${req.headers.host}`);
  if (typeof req.headers.referer === "string") return true;
  return false;
}
