// HostError, the one error family the host raises on purpose. Its codes and their exit codes and
// HTTP statuses are the SDK's public catalogue (sdk/errors.ts).
import { randomBytes } from "node:crypto";
import { ERROR_CATALOGUE, WardenError, exitCodeFor, extrasOf, httpStatusFor, isErrorCode, isWardenError, type ErrorBody, type ErrorCode, type ErrorExtras, type ErrorSpec } from "../../sdk/errors.js";

export { ERROR_CATALOGUE, WardenError, exitCodeFor, httpStatusFor, isErrorCode, isWardenError, type ErrorBody, type ErrorCode, type ErrorExtras, type ErrorSpec };
export { refusals } from "../../sdk/errors.js";

/**
 * Every error the host raises on purpose: the SDK's WardenError (code, status, exit code, wire
 * body), named for where it came from. `code` is the contract; the message is for people.
 */
export class HostError extends WardenError {
  constructor(code: ErrorCode, message: string, extras: ErrorExtras = {}) {
    super(code, message, extras);
    this.name = "HostError";
  }

  /** A system module's (or the SDK's refusals') WardenError, from any copy of the SDK, as the host's own, fields kept. */
  static from(e: WardenError): HostError {
    return e instanceof HostError ? e : new HostError(e.code, e.message, extrasOf(e));
  }
}

export class CapabilityError extends HostError {
  readonly module: string;
  readonly capability: string;
  constructor(module: string, capability: string, why = "it was not granted") {
    super(
      "capability_denied",
      `module '${module}' may not use capability '${capability}': ${why}. ` + `Declare "${capability}" in its module.json capabilities and have an operator grant it.`,
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
  if (isWardenError(err)) return HostError.from(err);
  return internalError(err, log, where);
}
