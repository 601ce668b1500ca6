// Checks of the argument lists that cross into the host (from an isolate they are parsed JSON, so
// only their shape is in doubt). Each checker names the method and the argument in its refusal.
import { HostError } from "../base/errors.js";

export type Check<T> = (value: unknown, method: string, what: string) => T;

export function bad(method: string, what: string): HostError {
  return new HostError("input_invalid", `${method}: ${what}`);
}

export const str =
  (max: number, min = 1): Check<string> =>
  (v, method, what) => {
    if (typeof v !== "string" || v.length < min) throw bad(method, `${what} must be a string${min > 0 ? " of at least " + min + " character" + (min > 1 ? "s" : "") : ""}`);
    if (Buffer.byteLength(v) > max) throw bad(method, `${what} is ${Buffer.byteLength(v)} bytes, ${max} allowed`);
    // Every backend must store exactly what it was given: PostgreSQL text holds no NUL, and a lone
    // surrogate would come back as U+FFFD. Refused here, the same on every backend.
    if (v.includes("\u0000") || /\p{Cs}/u.test(v)) throw bad(method, `${what} must be well-formed text without NUL characters`);
    return v;
  };

export const opt =
  <T>(inner: Check<T>): Check<T | undefined> =>
  (v, method, what) =>
    v === undefined || v === null ? undefined : inner(v, method, what);

export const int =
  (min: number, max: number): Check<number> =>
  (v, method, what) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw bad(method, `${what} must be an integer from ${min} to ${max}`);
    return v;
  };

export const object: Check<Record<string, unknown>> = (v, method, what) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(method, `${what} must be an object`);
  return v as Record<string, unknown>;
};

/** Any JSON value (it already crossed as JSON or is the host's own). */
export const json: Check<unknown> = (v) => v;

/** The argument list, checked position by position; extra arguments are refused. */
export function tuple<T extends unknown[]>(method: string, raw: readonly unknown[], checks: { [K in keyof T]: [string, Check<T[K]>] }): T {
  const list: ReadonlyArray<readonly [string, Check<unknown>]> = checks;
  if (raw.length > list.length) throw bad(method, `takes at most ${list.length} argument${list.length === 1 ? "" : "s"}, got ${raw.length}`);
  return list.map(([what, check], i) => check(raw[i], method, what)) as T;
}
