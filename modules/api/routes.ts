// The REST routes: the index, health, the OpenAPI document, metrics, and one route per command
// (POST, or GET for read-only ones), each dispatched as its authenticated caller.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { CommandInfo } from "../../sdk/context.js";
import type { Authenticate } from "./authenticate.js";
import type { ApiDeps } from "./deps.js";
import { loggedPublicError, sendError } from "./errors.js";
import { prometheusText, type HttpMetrics, type ModuleStats } from "./metrics.js";
import { openApiDocument } from "./openapi.js";

const MODULE_RE = /^[a-z][a-z0-9-]{1,39}$/;
const COMMAND_RE = /^[a-z][a-zA-Z0-9-]{0,39}$/;
/** Routes anyone may call: liveness, readiness, the index. No token, no windows. */
export const OPEN_ROUTES = new Set(["/api/v1/health", "/api/v1/health/live", "/api/v1/health/ready", "/api/v1/"]);

export interface RouteDeps {
  deps: ApiDeps;
  https: boolean;
  authenticate: Authenticate;
  commands(): Promise<Map<string, CommandInfo>>;
  httpMetrics: HttpMetrics;
}

export function registerRoutes(app: FastifyInstance, { deps, https, authenticate, commands, httpMetrics }: RouteDeps): void {
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
    if (!info)
      return sendError(reply, { code: "command_not_found", message: `no command ${MODULE_RE.test(module) && COMMAND_RE.test(command) ? name : "at this path"}; GET /api/v1/openapi.json lists them` });
    if (req.method === "GET" && !info.readOnly) {
      reply.header("Allow", "POST");
      return sendError(reply, { code: "method_not_allowed", message: `${name} changes state; call it with POST` }, 405);
    }
    try {
      const out = await deps.dispatch({ command: name, input, caller });
      if (caller.kind === "token") void deps.auth.noteUse(caller.tokenId).catch(() => {});
      return reply
        .code(200)
        .type("application/json; charset=utf-8")
        .send(JSON.stringify(out ?? null));
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
}

/** The methods a path answers to, when it is one of ours; undefined for paths that do not exist. */
function allowedMethods(path: string): string | undefined {
  if (OPEN_ROUTES.has(path) || path === "/api/v1/openapi.json" || path === "/api/v1/metrics") return "GET";
  const parts = path.split("/");
  if (parts.length === 5 && parts[1] === "api" && parts[2] === "v1" && parts[3] && parts[4]) return "GET, POST";
  return undefined;
}
