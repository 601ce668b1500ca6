// The one policy point: whether a caller may run a command. Every dispatch asks it, whoever calls
// (a token over REST, the local operator, a module through commands.invoke or a provider's
// namespace), so there is no path to a command that skips it.
//
//   operator  the local CLI and control socket (they hold the bootstrap token or the home): anything
//   token     a scope must match the command's permission
//   session   an operator console session: as a token, with the scopes it was opened with
//             (a token or session that belongs to an operator also needs the operator's roles to allow it)
//   module    as a token, with the module's grants as its scopes, and, when it acts for outside
//             callers (it is handling their calls), each of them must hold the permission too:
//             - commands.invoke patterns (typed; "*" reaches only the user modules it depends on,
//               anything explicit beyond them was approved by an operator);
//             - an elevated capability it holds (security.manage, ...) opens the commands of that
//               permission of the module that provides the capability under a namespace.
import type { Caller, CommandInfo } from "../../sdk/context.js";
import { CapabilityError, HostError } from "../base/errors.js";
import type { GrantSet } from "../hostapi/grants.js";
import { coversCommand } from "../hostapi/scopes.js";
import { checkScopes, type PrincipalFacts } from "../authority/authorize.js";

export interface PolicyFacts extends PrincipalFacts {
  /** The grants of an active module as of now; undefined when it holds none. */
  grantsOf(moduleId: string): GrantSet | undefined;
  /** Whether `moduleId` opens its commands of permission `capability` to holders of that capability. */
  exposes(moduleId: string, capability: string): boolean;
}

export function authorize(caller: Caller, info: CommandInfo, facts: PolicyFacts): void {
  switch (caller.kind) {
    case "operator":
      return;
    case "token":
    case "session":
      return checkScopes(caller, info.permission, `call ${info.command}`, facts);
    case "module": {
      const grants = facts.grantsOf(caller.moduleId);
      if (grants && moduleMay(grants, info, facts)) {
        for (const c of caller.onBehalfOf ?? []) checkScopes(c, info.permission, `call ${info.command}`, facts, caller.moduleId);
        return;
      }
      throw new CapabilityError(
        caller.moduleId,
        "commands.invoke",
        `${info.command} (permission '${info.permission}') is not among the commands it may invoke; ` + `"*" reaches only the user modules it depends on, anything else must be listed (and approved)`,
      );
    }
    default:
      throw new HostError("forbidden", "unknown caller kind");
  }
}

function moduleMay(grants: GrantSet, info: CommandInfo, facts: PolicyFacts): boolean {
  if (grants.has(info.permission) && facts.exposes(info.module, info.permission)) return true;
  const invoke = grants.scope("commands.invoke");
  return Boolean(invoke && (grants.unrestricted || coversCommand(invoke, grants.facts, info)));
}
