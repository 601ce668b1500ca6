// The caller a system module's commands.dispatch may act for (the REST surface dispatching a
// request as its authenticated caller): a token or console session only, never the operator, and
// only the fields a caller has, copied (nothing else the module put on the object comes along).
import type { Caller } from "../../sdk/context.js";
import { bad, object } from "./args.js";

/** Whose token or session it is (an operator) and where it may be used, as the dispatching surface verified them. */
function operatorOf(c: Record<string, unknown>): { operator?: string; bind?: string[] } {
  const bind = Array.isArray(c.bind) && c.bind.every((b) => typeof b === "string") ? { bind: [...(c.bind as string[])] } : {};
  return typeof c.operator === "string" ? { operator: c.operator, ...bind } : bind;
}

/** The external caller a dispatch may act for: tokens (and console sessions) only, never the operator. */
export function dispatchedCaller(v: unknown, method: string): Caller {
  const c = object(v, method, "call.caller");
  if (c.kind === "token" && typeof c.tokenId === "string" && Array.isArray(c.scopes) && c.scopes.every((s) => typeof s === "string")) {
    return { kind: "token", tokenId: c.tokenId, ...(typeof c.name === "string" ? { name: c.name } : {}), scopes: [...(c.scopes as string[])], ...operatorOf(c) };
  }
  if (c.kind === "session" && typeof c.sessionId === "string" && Array.isArray(c.scopes) && c.scopes.every((s) => typeof s === "string")) {
    return { kind: "session", sessionId: c.sessionId, scopes: [...(c.scopes as string[])], ...operatorOf(c) };
  }
  throw bad(method, 'call.caller must be a verified token or console-session caller {kind: "token", tokenId, scopes}; a module acts as itself through commands.invoke');
}
