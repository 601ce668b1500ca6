// Whether a caller may run a command: the local operator may run anything; a token needs a scope
// matching the command's permission; a module caller was already checked by commands.invoke.
import type { Caller } from "../../sdk/context.js";
import { matchesAny } from "../capabilities/grants.js";
import { HostError } from "../errors.js";

export function checkPermission(caller: Caller, permission: string, command: string): void {
  if (caller.kind === "operator" || caller.kind === "module") return;
  if (caller.kind === "token" && Array.isArray(caller.scopes) && matchesAny(caller.scopes, permission)) return;
  throw new HostError(
    "forbidden",
    `this token may not call ${command}: it needs a scope matching '${permission}'`,
    { details: { command, permission } },
  );
}
