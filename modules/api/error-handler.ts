// Every failure gets the one error body: fastify's own (body too large, bad media type), a
// rejected JSON body, a router error before any hook, and anything unexpected (internal, logged
// under the error id the answer names).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { isWardenError } from "../../sdk/errors.js";
import type { ApiDeps } from "./deps.js";
import { publicError, sendError } from "./errors.js";
import { applySecurityHeaders } from "./headers.js";

export function registerErrorHandler(app: FastifyInstance, deps: ApiDeps): void {
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (isWardenError(err) && err.code === "malformed_request") return sendError(reply, { code: err.code, message: err.message });
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
    deps.log("error", "unhandled API error", { error_id: (pub.details as { error_id?: string } | undefined)?.error_id, err: String(err.stack ?? err.message) });
    return sendError(reply, pub);
  });
}

/** Router errors (bad URL encoding, over-long segments): no hook runs for them, so their headers, request id and access line are set here. */
export function frameworkErrorHandler(https: boolean, observe: (req: FastifyRequest, reply: FastifyReply) => void) {
  return (err: { code?: string }, req: FastifyRequest, reply: FastifyReply): void => {
    applySecurityHeaders(reply, https);
    reply.header("X-Request-Id", req.id);
    if (err.code === "FST_ERR_MAX_PARAM_LENGTH") sendError(reply, { code: "command_not_found", message: "no command at this path; GET /api/v1/openapi.json lists them" });
    else sendError(reply, { code: "malformed_request", message: "malformed request URL" });
    observe(req, reply);
  };
}
