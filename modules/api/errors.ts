// One error body for every failure: the SDK's wire shape (ErrorBody) with its code's status.
import { randomBytes } from "node:crypto";
import type { FastifyReply } from "fastify";
import { errorFields, httpStatusFor, isWardenError, type ErrorBody, type ErrorFields } from "../../sdk/errors.js";

export type ApiErrorFields = ErrorFields;

export function sendError(reply: FastifyReply, e: ApiErrorFields, status = httpStatusFor(e.code)): FastifyReply {
  const body: ErrorBody = { error: e };
  if (e.retry_after !== undefined) reply.header("Retry-After", String(e.retry_after));
  return reply.code(status).type("application/json; charset=utf-8").send(body);
}

/** Turns whatever a dispatch threw into the public shape; anything unknown is `internal`, no details. */
export function publicError(err: unknown): ApiErrorFields {
  // The host's errors come from its own copy of the SDK, not this bundle's: recognised by their code.
  if (isWardenError(err) && err.code !== "internal") return errorFields(err.code, err.message, err);
  // The host's error id travels (so an operator can find the cause in host.log); the cause does not.
  const given = isWardenError(err) ? (err.details as { error_id?: unknown } | undefined)?.error_id : undefined;
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
