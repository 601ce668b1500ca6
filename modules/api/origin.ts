// The first rule of every request, before its body is read: the API is on, its origin may call
// (CORS, with preflights answered here), and a state change from a browser on another site is
// refused (CSRF). What this answers costs no security window and no token check.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ApiDeps } from "./deps.js";
import { sendError } from "./errors.js";

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** Headers a browser page may read from our responses (rate-limit state, request ids). */
const EXPOSED = "RateLimit, RateLimit-Policy, Retry-After, X-Request-Id, WWW-Authenticate";

/** Answers the request and returns true when it stops here; otherwise false, for the next rule. */
export function checkOrigin(deps: ApiDeps, https: boolean, req: FastifyRequest, reply: FastifyReply): boolean {
  const settings = deps.settings();
  if (!settings.enabled) {
    sendError(reply, { code: "api_disabled", message: "the REST API is disabled; run `warden config set api.enabled true` and restart `warden serve`" });
    return true;
  }
  const origin = req.headers.origin;
  reply.header("Vary", "Origin");
  const allowedOrigin = typeof origin === "string" && settings.cors_origins.includes(origin);
  if (allowedOrigin) {
    reply.header("Access-Control-Allow-Origin", origin);
    reply.header("Access-Control-Expose-Headers", EXPOSED);
  }
  if (req.method === "OPTIONS") {
    if (!allowedOrigin) {
      sendError(reply, { code: "forbidden", message: "this origin may not call the API (CORS)", reason: "origin_not_allowed" });
      return true;
    }
    reply.header("Access-Control-Allow-Methods", "GET, POST");
    reply.header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key, X-Request-Id");
    reply.header("Access-Control-Max-Age", "600");
    reply.code(204).send();
    return true;
  }
  if (STATE_CHANGING.has(req.method) && !allowedOrigin && isCrossSite(req, https)) {
    sendError(reply, { code: "forbidden", message: "cross-site request refused (CSRF protection); call the API from an allowed origin or without browser credentials", reason: "cross_site" });
    return true;
  }
  return false;
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
