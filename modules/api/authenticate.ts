// Authentication: who is calling. A token (Bearer or X-API-Key), verified by the auth service (a
// failure feeds the client's failed-authentication window), or the console's session cookie on the
// console's own requests. The bootstrap token is refused here: it is for local tooling only.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Caller } from "../../sdk/context.js";
import { httpStatusFor, WardenError } from "../../sdk/errors.js";
import { CONSOLE_HEADER, sessionCookie } from "./console-routes.js";
import type { ApiDeps } from "./deps.js";
import { loggedPublicError, publicError, sendError, type ApiErrorFields } from "./errors.js";

/** The caller, or undefined once the refusal has been answered. */
export type Authenticate = (req: FastifyRequest, reply: FastifyReply) => Promise<Caller | undefined>;

export function authenticator(deps: ApiDeps, https: boolean): Authenticate {
  /**
   * A console session's cookie. Only the console's own requests may use it: they carry
   * X-Warden-Console, which a page on another origin cannot send without a CORS preflight that is
   * refused (the cookie is SameSite=Strict too, and state changes are checked for cross-site above).
   */
  const sessionCaller = async (req: FastifyRequest, reply: FastifyReply, cookie: string, fail: (e: ApiErrorFields) => Promise<undefined>): Promise<Caller | undefined> => {
    if (req.headers[CONSOLE_HEADER] !== "1") {
      sendError(reply, {
        code: "forbidden",
        message: `a console session cookie is accepted only on the console's own requests (header ${CONSOLE_HEADER}: 1); other clients send a token`,
        reason: "cross_site",
      });
      return undefined;
    }
    try {
      const session = req.wardenSession ?? (await verifySession(deps, cookie, req.wardenClient));
      req.wardenToken = `console:${session.id}`;
      return {
        kind: "session",
        sessionId: session.id,
        scopes: session.scopes,
        ...(session.operator !== undefined ? { operator: session.operator } : {}),
        ...(session.bind !== undefined ? { bind: session.bind } : {}),
      };
    } catch (e) {
      return fail(loggedPublicError(e, deps.log, "console session check"));
    }
  };

  return async (req, reply) => {
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
    return {
      kind: "token",
      tokenId: identity.tokenId,
      name: identity.name,
      scopes: identity.scopes,
      ...(identity.operator !== undefined ? { operator: identity.operator } : {}),
      ...(identity.bind !== undefined ? { bind: identity.bind } : {}),
    };
  };
}

/** The console service verifies a cookie; without it (the console module inactive) none verifies. */
function verifySession(deps: ApiDeps, cookie: string, client: string) {
  if (!deps.console) throw new WardenError("module_unavailable", "console sessions are not served here: the console module is not active; run `warden module enable console`");
  return deps.console.verify(cookie, client);
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
