// How a caller is named in the audit chain and logs: operator:local, token:<id>, module:<id>.
import type { Caller } from "../../sdk/context.js";

export function actorOf(caller: Caller): string {
  if (caller.kind === "operator") return "operator:local";
  if (caller.kind === "token") return `token:${caller.tokenId}`;
  return `module:${caller.moduleId}`;
}
