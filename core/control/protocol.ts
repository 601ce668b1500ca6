// The control socket: one JSON line in, one JSON line out, per connection. Authenticated with the
// bootstrap token, which only the home's owner can read.
import { join } from "node:path";
import type { ErrorFields } from "../../sdk/errors.js";

export const MAX_CONTROL_BYTES = 16 * 1024 * 1024;

export type ControlRequest =
  | { op: "call"; token: string; command: string; input: unknown }
  | { op: "status"; token: string }
  | { op: "catalogue"; token: string };

export type ControlResponse =
  | { ok: true; result: unknown }
  | { ok: false; error: ErrorFields };

export function socketPath(home: string): string {
  return join(home, "control.sock");
}

export function bootstrapTokenPath(home: string): string {
  return join(home, "bootstrap.token");
}
