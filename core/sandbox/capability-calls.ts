// The bridge's host half for one module: a capability call that crossed from its sandbox is
// checked and run by its port (in its fair turn) and answered to its process; a refusal the prelude
// already threw is checked (and audited) too; errors handed to the module are kept under a nonce,
// so one it re-throws comes back as the host's own object, and anything else the sandbox reports
// becomes a HostError.
import { HostError, toHostError } from "../base/errors.js";
import { MAX_PENDING_PER_MODULE } from "./fair-turns.js";
import type { WireError } from "./protocol.js";
import type { SandboxProcess } from "./sandbox-process.js";
import type { Slot, SupervisorOptions } from "./slot.js";
import { parseWire, toWire } from "./wire.js";

const ISSUED_KEPT = 256;
let nonces = 0;

/** A capability call the module made: checked and run by its port (in its fair turn), answered to its process. */
export function capabilityCall(slot: Slot, proc: SandboxProcess, rq: number, method: string, payload: string, log: SupervisorOptions["logger"]): void {
  const id = slot.spec.id;
  const fail = (e: unknown) => {
    const err = e instanceof HostError ? e : toHostError(e);
    if (!(e instanceof HostError)) log?.("error", "a capability call failed inside the host", { module: id, method, err: String((e as Error)?.message ?? e) });
    proc.send({ t: "capr", id, rq, err: { code: err.code, message: err.message, nonce: issueError(slot, err) } });
  };
  let args: unknown;
  try {
    args = parseWire(payload, `${method} arguments`);
    if (!Array.isArray(args)) throw new Error(`${method} arguments must be a list`);
  } catch (e) {
    return fail(new HostError("input_invalid", (e as Error).message));
  }
  const run = (): Promise<void> => {
    let result: Promise<unknown>;
    try {
      result = slot.port.call(method, args as unknown[]);
    } catch (e) {
      fail(e);
      return Promise.resolve();
    }
    return result.then((v) => {
      let text: string;
      try {
        text = toWire(v, `the result of ${method}`);
      } catch (e) {
        return fail(new HostError("internal", (e as Error).message));
      }
      proc.send({ t: "capr", id, rq }, text);
    }, fail);
  };
  if (!slot.turns.take(method, run)) {
    fail(new HostError("rate_limited", `module '${id}' has ${MAX_PENDING_PER_MODULE} capability calls waiting on the host; await some before making more`, { retryAfter: 1 }));
  }
}

/** A refusal the prelude threw already: the port checks it (and audits it); its error is kept under the prelude's nonce. */
export function deniedCall(slot: Slot, method: string, nonce: string | undefined): void {
  let check: Promise<unknown>;
  try {
    check = slot.port.call(method, []);
  } catch (e) {
    check = Promise.reject(e);
  }
  const done = check.then(
    () => {},
    (e) => {
      if (nonce && e instanceof HostError) issueError(slot, e, nonce);
    },
  );
  if (!nonce) return;
  slot.denials.set(nonce, done);
  void done.finally(() => slot.denials.delete(nonce));
}

/** Remembers an error handed to the module; returns the nonce that names it. */
/** An error handed to the module, kept under a nonce: re-thrown by the module, it passes through as itself. */
export function issueError(slot: Slot, err: HostError, nonce = `h:${++nonces}`): string {
  slot.issued.set(nonce, err);
  const oldest = slot.issued.keys().next();
  if (slot.issued.size > ISSUED_KEPT && !oldest.done) slot.issued.delete(oldest.value);
  return nonce;
}

/**
 * An error from the sandbox as a HostError. The sandbox process (not the module) sets `code`; a
 * module's own code stays under details; an error the host issued to the module and the module
 * re-threw comes back as the host's own error object.
 */
export async function rebuildError(slot: Slot, w: WireError, where: string): Promise<HostError> {
  const id = slot.spec.id;
  if (w.nonce) {
    await slot.denials.get(w.nonce);
    const issued = slot.issued.get(w.nonce);
    if (issued) return issued;
  }
  return sandboxError(id, w, where);
}

/** What the sandbox process (not the module) reports as a HostError; a module's own code stays under details. */
function sandboxError(id: string, w: WireError, where: string): HostError {
  switch (w.code) {
    case "timeout":
    case "memory_limit":
    case "module_crashed":
    case "module_unavailable":
      return new HostError(w.code, `module '${id}' (${where}): ${w.message}`);
    default:
      return new HostError("module_error", `${id} (${where}): ${w.message}`, w.own ? { details: { code: w.own } } : {});
  }
}
