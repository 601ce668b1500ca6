// The REST surface, composed one rule per hook as fastify's own lifecycle is. Every request, in
// this order: the API is on, its origin may call, no cross-site state change (origin.ts) ->
// admission: lists, blocks, lockdown, windows (admission.ts) -> who is calling (authenticate.ts) ->
// the route: dispatch with permission, input validation and handler (routes.ts). Every failure
// gets the one error body (error-handler.ts); every response its headers and one access line
// (observe.ts).
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { CommandInfo } from "../../sdk/context.js";
import { admit } from "./admission.js";
import { createApp } from "./app.js";
import { authenticator } from "./authenticate.js";
import { registerConsoleRoutes } from "./console-routes.js";
import { registerLoginRoutes } from "./login-routes.js";
import { registerOidcRoutes } from "./oidc-routes.js";
import type { ApiDeps } from "./deps.js";
import { frameworkErrorHandler, registerErrorHandler } from "./error-handler.js";
import { parseJsonBody } from "./json-body.js";
import { HttpMetrics } from "./metrics.js";
import { observer, registerResponseHeaders, type Observe } from "./observe.js";
import { checkOrigin } from "./origin.js";
import { OPEN_ROUTES, registerRoutes } from "./routes.js";

export type { ApiDeps, ApiSettings } from "./deps.js";

/** The server, and how to tell it the command catalogue changed. */
export function buildServer(deps: ApiDeps): { app: FastifyInstance; https: boolean; invalidate(): void } {
  const httpMetrics = new HttpMetrics();
  const observe: Observe = observer(deps, httpMetrics);
  const tls = Boolean(deps.settings().tls_cert && deps.settings().tls_key);
  const { app, https } = createApp(deps.settings(), frameworkErrorHandler(tls, observe));

  let commandsCache: Map<string, CommandInfo> | undefined;
  const commands = async () => (commandsCache ??= new Map((await deps.catalogue()).map((c) => [c.command, c])));

  // Declared up front (fastify's advice) so requests keep one shape instead of growing new fields.
  app.decorateRequest("wardenClient", "");
  app.decorateRequest("wardenLimit", null);
  app.decorateRequest("wardenToken", "");
  app.decorateRequest("wardenEpoch", undefined);
  app.decorateRequest("wardenSession", undefined);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(/^application\/json(\s*;.*)?$/i, { parseAs: "string" }, (_req: FastifyRequest, body: string | Buffer, done) => {
    try {
      done(null, parseJsonBody(String(body), deps.settings().max_json_depth));
    } catch (e) {
      done(e instanceof Error ? e : new Error(String(e)), undefined);
    }
  });

  registerResponseHeaders(app, https, observe);
  // One async hook, before the body is read: a disabled API, a foreign origin or a refused client
  // costs nothing more (an async hook per rule would cost a promise and a microtask each).
  app.addHook("onRequest", async (req, reply) => {
    if (checkOrigin(deps, https, req, reply)) return reply;
    if (req.method === "GET" && OPEN_ROUTES.has(req.url)) return;
    if (await admit(deps, https, req, reply)) return reply;
  });
  const authenticate = authenticator(deps, https);
  registerRoutes(app, { deps, https, authenticate, commands, httpMetrics });
  registerLoginRoutes(app, deps, authenticate, commands);
  registerOidcRoutes(app, deps, https);
  registerErrorHandler(app, deps);
  registerConsoleRoutes(app, deps, https);
  return { app, https, invalidate: () => void (commandsCache = undefined) };
}
