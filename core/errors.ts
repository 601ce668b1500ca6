// HostError, the one error family the host raises on purpose. Its codes and their exit codes and
// HTTP statuses are the SDK's public catalogue (sdk/errors.ts).
import { randomBytes } from "node:crypto";
import { ERROR_CATALOGUE, type ErrorBody, type ErrorCode, type ErrorSpec } from "../sdk/errors.js";

export { ERROR_CATALOGUE, type ErrorCode, type ErrorSpec };

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.prototype.hasOwnProperty.call(ERROR_CATALOGUE, code);
}

export interface ErrorExtras {
  details?: unknown;
  reason?: string;
  retryAfter?: number;
  blockedUntil?: string;
  lockedUntil?: string;
  cause?: unknown;
}

/** Every error the host raises on purpose. `code` is the contract; the message is for people. */
export class HostError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  readonly reason?: string;
  readonly retryAfter?: number;
  readonly blockedUntil?: string;
  readonly lockedUntil?: string;

  constructor(code: ErrorCode, message: string, extras: ErrorExtras = {}) {
    super(message, extras.cause === undefined ? undefined : { cause: extras.cause });
    this.name = "HostError";
    this.code = code;
    if (extras.details !== undefined) this.details = extras.details;
    if (extras.reason !== undefined) this.reason = extras.reason;
    if (extras.retryAfter !== undefined) this.retryAfter = extras.retryAfter;
    if (extras.blockedUntil !== undefined) this.blockedUntil = extras.blockedUntil;
    if (extras.lockedUntil !== undefined) this.lockedUntil = extras.lockedUntil;
  }

  get spec(): ErrorSpec {
    return ERROR_CATALOGUE[this.code];
  }

  /** The wire shape shared by the CLI's --json output and REST bodies. */
  toJSON(): ErrorBody["error"] {
    const out: ErrorBody["error"] = { code: this.code, message: this.message };
    if (this.reason !== undefined) out.reason = this.reason;
    if (this.retryAfter !== undefined) out.retry_after = this.retryAfter;
    if (this.blockedUntil !== undefined) out.blocked_until = this.blockedUntil;
    if (this.lockedUntil !== undefined) out.locked_until = this.lockedUntil;
    if (this.details !== undefined) out.details = this.details;
    return out;
  }
}

export type { ErrorBody } from "../sdk/errors.js";

export class CapabilityError extends HostError {
  readonly module: string;
  readonly capability: string;
  constructor(module: string, capability: string, why = "it was not granted") {
    super(
      "capability_denied",
      `module '${module}' may not use capability '${capability}': ${why}. ` +
        `Declare "${capability}" in its module.json capabilities and have an operator grant it.`,
      // side: the module lacked it (a call it makes for a caller can also be refused on the caller's side: forbidden).
      { details: { module, capability, side: "module" } },
    );
    this.name = "CapabilityError";
    this.module = module;
    this.capability = capability;
  }
}

/** Where internal errors are logged (the subset of a pino logger this needs). */
export interface ErrorLog {
  error(obj: object, msg?: string): void;
}

/**
 * An error the host did not raise on purpose: logged with its cause and stack under a fresh error
 * id, and answered as `internal` with that id (and what happened), so an operator can find it.
 */
export function internalError(cause: unknown, log?: ErrorLog, where?: string): HostError {
  const id = randomBytes(5).toString("hex");
  const what = cause instanceof Error ? cause.message : String(cause);
  log?.error({ error_id: id, ...(where ? { where } : {}), err: cause instanceof Error ? { name: cause.name, message: cause.message, stack: cause.stack } : what }, "internal error");
  return new HostError("internal", `internal error ${id}${where ? ` in ${where}` : ""}: ${what.slice(0, 300)} (the host logged the cause under error id ${id})`, { details: { error_id: id }, cause });
}

/** Anything thrown inside the host as a HostError; a foreign error becomes `internal` with an id. */
export function toHostError(err: unknown, log?: ErrorLog, where?: string): HostError {
  if (err instanceof HostError) return err;
  return internalError(err, log, where);
}

export function exitCodeFor(code: string): number {
  return isErrorCode(code) ? ERROR_CATALOGUE[code].exit : 1;
}

export function httpStatusFor(code: string): number {
  return isErrorCode(code) ? ERROR_CATALOGUE[code].http : 500;
}
