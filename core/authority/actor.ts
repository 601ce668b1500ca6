// How a caller is named in the audit chain and logs: operator:local, token:<id>, console:<session>,
// module:<id>.
import type { Caller } from "../../sdk/context.js";

export function actorOf(caller: Caller): string {
  if (caller.kind === "operator") return "operator:local";
  if (caller.kind === "token") return `token:${caller.tokenId}`;
  if (caller.kind === "session") return `console:${caller.sessionId}`;
  return `module:${caller.moduleId}`;
}
