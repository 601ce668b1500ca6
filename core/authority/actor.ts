// How a caller is named in the audit chain and logs: operator:local (whoever holds the home),
// operator:<name> (a token or console session of a named operator), token:<id> (a service account's
// token), console:<session>, module:<id>.
import type { Caller } from "../../sdk/context.js";

export function actorOf(caller: Caller): string {
  if (caller.kind === "operator") return "operator:local";
  if ((caller.kind === "token" || caller.kind === "session") && caller.operator !== undefined) return `operator:${caller.operator}`;
  if (caller.kind === "token") return `token:${caller.tokenId}`;
  if (caller.kind === "session") return `console:${caller.sessionId}`;
  return `module:${caller.moduleId}`;
}
