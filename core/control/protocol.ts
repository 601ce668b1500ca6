// The control socket: one JSON line in, one JSON line out, per connection. Authenticated with the
// bootstrap token, which only the home's owner can read.
import { readFileSync } from "node:fs";
import type { ErrorFields } from "../../sdk/errors.js";
import { homeLayout } from "../base/home.js";

/** The largest request line (a CLI command's input); anything longer is refused before parsing. */
export const MAX_CONTROL_BYTES = 1024 * 1024;
/** Connections served at once; more wait in the kernel's backlog. */
export const MAX_CONTROL_CONNECTIONS = 32;
/** Time allowed to send the request line. */
export const CONTROL_REQUEST_TIMEOUT_MS = 10_000;

export type ControlRequest = { op: "call"; token: string; command: string; input: unknown } | { op: "status"; token: string } | { op: "catalogue"; token: string };

export type ControlResponse = { ok: true; result: unknown } | { ok: false; error: ErrorFields };

export function socketPath(home: string): string {
  return homeLayout(home).controlSocket;
}

export function bootstrapTokenPath(home: string): string {
  return homeLayout(home).bootstrapToken;
}

/**
 * A home without a bootstrap token (a fleet host other than the one that started first: the
 * bootstrap token went to that host's home) gets a control token of its own when it serves.
 */
export function controlTokenPath(home: string): string {
  return homeLayout(home).controlToken;
}

/** What authenticates on this home's socket: the bootstrap token, else the control token. */
export function readControlToken(home: string): string | undefined {
  for (const file of [bootstrapTokenPath(home), controlTokenPath(home)]) {
    try {
      return readFileSync(file, "utf8").trim();
    } catch {
      // the next one
    }
  }
  return undefined;
}

/** The request's shape, checked before anything in it is used. */
export function parseControlRequest(value: unknown): ControlRequest | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "a control request is a JSON object";
  const r = value as Record<string, unknown>;
  if (typeof r.token !== "string" || r.token.length > 200) return "a control request needs a string token";
  if (r.op === "status" || r.op === "catalogue") return { op: r.op, token: r.token };
  if (r.op === "call") {
    if (typeof r.command !== "string" || r.command.length === 0 || r.command.length > 200) return "a call needs a command name";
    return { op: "call", token: r.token, command: r.command, input: r.input };
  }
  return "unknown control operation";
}
