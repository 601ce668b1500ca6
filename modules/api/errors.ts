// One error body for every failure, with the status from the host's shared table.
import { randomBytes } from "node:crypto";
import type { FastifyReply } from "fastify";
import { ERROR_CATALOGUE } from "../../sdk/index.js";
import type { ErrorFields } from "../../sdk/errors.js";

export type ApiErrorFields = ErrorFields;

export function statusFor(code: string): number {
  return Object.prototype.hasOwnProperty.call(ERROR_CATALOGUE, code) ? ERROR_CATALOGUE[code as keyof typeof ERROR_CATALOGUE].http : 500;
}

export function sendError(reply: FastifyReply, e: ApiErrorFields, status = statusFor(e.code)): FastifyReply {
  const body: { error: ApiErrorFields } = { error: { code: e.code, message: e.message } };
  for (const k of ["reason", "retry_after", "blocked_until", "locked_until", "details"] as const) {
    if (e[k] !== undefined) Object.assign(body.error, { [k]: e[k] });
  }
  if (e.retry_after !== undefined) reply.header("Retry-After", String(e.retry_after));
  return reply.code(status).type("application/json; charset=utf-8").send(body);
}

/** Turns whatever a dispatch threw into the public shape; anything unknown is `internal`, no details. */
export function publicError(err: unknown): ApiErrorFields {
  const e = err as { code?: unknown; message?: unknown; details?: unknown; reason?: string; retryAfter?: number };
  if (e && typeof e.code === "string" && Object.prototype.hasOwnProperty.call(ERROR_CATALOGUE, e.code) && e.code !== "internal") {
    const out: ApiErrorFields = { code: e.code, message: String(e.message ?? e.code) };
    if (e.details !== undefined) out.details = e.details;
    if (e.reason !== undefined) out.reason = e.reason;
    if (e.retryAfter !== undefined) out.retry_after = e.retryAfter;
    return out;
  }
  // The host's error id travels (so an operator can find the cause in host.log); the cause does not.
  const given = (e?.details as { error_id?: unknown } | undefined)?.error_id;
  const id = typeof given === "string" ? given : randomBytes(5).toString("hex");
  return { code: "internal", message: `internal error ${id}; the host logged the cause under this id`, details: { error_id: id } };
}

/**
 * publicError, with what the host did not expect logged under the error id the answer names (the
 * answer promises it: "the host logged the cause under this id").
 */
export function loggedPublicError(err: unknown, log: (level: "error", msg: string, data: Record<string, unknown>) => void, where: string): ApiErrorFields {
  const pub = publicError(err);
  if (pub.code === "internal") log("error", `${where} failed`, { error_id: (pub.details as { error_id: string }).error_id, err: String((err as Error)?.message ?? err) });
  return pub;
}
