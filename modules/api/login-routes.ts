// CLI sign-in over REST (`warden login`, RFC 8628's device authorization): start a sign-in, poll for
// its tokens, refresh (rotating), log out; and the command catalogue a remote CLI builds its command
// tree from. The sign-in routes take no token (the CLI has none yet) but pass the client's windows
// like any request, and a wrong device code or refresh token counts as a failed authentication.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { CommandInfo } from "../../sdk/context.js";
import type { Authenticate } from "./authenticate.js";
import type { ApiDeps } from "./deps.js";
import { loggedPublicError, sendError } from "./errors.js";

/** Not failures of authentication: the normal wait, and being busy. */
const NOT_FAILURES = new Set(["authorization_pending", "rate_limited", "internal", "module_unavailable"]);

export function registerLoginRoutes(app: FastifyInstance, deps: ApiDeps, authenticate: Authenticate, commands: () => Promise<Map<string, CommandInfo>>): void {
  const field = (req: FastifyRequest, name: string): string => {
    const v = (req.body as Record<string, unknown> | undefined)?.[name];
    return typeof v === "string" ? v.slice(0, 512) : "";
  };
  const answer = async (req: FastifyRequest, reply: FastifyReply, where: string, fn: () => Promise<unknown>) => {
    try {
      return reply
        .code(200)
        .type("application/json; charset=utf-8")
        .header("cache-control", "no-store")
        .send(JSON.stringify(await fn()));
    } catch (e) {
      const pub = loggedPublicError(e, deps.log, `CLI sign-in ${where}`);
      if (!NOT_FAILURES.has(pub.code)) {
        const after = await deps.security.recordFailure(req.wardenClient);
        if (!after.allow) {
          const { allow: _a, status, ...fields } = after;
          return sendError(reply, fields, status);
        }
      }
      return sendError(reply, pub);
    }
  };
  const cli = () => deps.auth.cli;
  app.post("/api/v1/login/device", (req, reply) => answer(req, reply, "start", () => cli().start(req.wardenClient)));
  app.post("/api/v1/login/token", (req, reply) => answer(req, reply, "token", () => cli().token(field(req, "device_code"), req.wardenClient)));
  app.post("/api/v1/login/refresh", (req, reply) => answer(req, reply, "refresh", () => cli().refresh(field(req, "refresh_token"), req.wardenClient)));
  app.post("/api/v1/login/logout", (req, reply) => answer(req, reply, "logout", () => cli().logout(field(req, "refresh_token"))));

  // The commands, with their schemas, for a CLI run against this host (`warden --addr`).
  app.get("/api/v1/catalogue", async (req, reply) => {
    if (!(await authenticate(req, reply))) return reply;
    return { version: deps.version, commands: [...(await commands()).values()] };
  });
}
