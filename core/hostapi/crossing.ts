// How values cross into the host from a module's context in-process, mirroring the sandbox
// prelude's encode (core/sandbox/prelude.ts) rule for rule and message for message: JSON data
// only, copied, so an in-process module sees exactly the refusals and copy semantics a sandboxed
// one does (the conformance suite holds the two to the same transcript).
import { HostError } from "../base/errors.js";
import { MAX_MESSAGE_BYTES } from "../sandbox/wire.js";

function refuseValue(key: string, value: unknown): unknown {
  const t = typeof value;
  if (t === "function" || t === "symbol" || t === "bigint") {
    throw new TypeError(`it holds a ${t}${key === "" ? "" : ` at key '${String(key).slice(0, 100)}'`}; only JSON data crosses (objects, arrays, strings, numbers, booleans, null)`);
  }
  return value;
}

/** A JSON copy of `value`, or the prelude's refusal; undefined stays undefined. */
export function crossing<T>(value: T, what: string): T {
  if (value === undefined) return value;
  let text: string | undefined;
  try {
    text = JSON.stringify(value, refuseValue);
  } catch (e) {
    let why = e instanceof Error ? e.message : "it is not JSON data";
    if (/circular/i.test(why)) why = "it is cyclic (an object contains itself)";
    else if (/call stack/i.test(why)) why = "it is nested too deeply";
    throw new HostError("input_invalid", `${what} cannot cross to the host: ${why.slice(0, 300)}`);
  }
  if (text === undefined) return undefined as T;
  if (text.length > MAX_MESSAGE_BYTES) throw new HostError("payload_too_large", `${what} is ${text.length} characters of JSON; at most ${MAX_MESSAGE_BYTES} bytes may cross`);
  return JSON.parse(text) as T;
}
