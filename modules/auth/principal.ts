// Whose a new token is, and what it may hold at most. A token belongs to an operator (theirs when
// an operator's token or session asks; any operator's only when the home's holder asks) or to no
// one (a service account's). Nobody hands out more than they hold: its scopes must be within the
// asker's own scopes and, for a module acting for callers, within each caller's.
import type { CallInfo, OutsideCaller } from "../../sdk/context.js";
import { WardenError } from "../../sdk/errors.js";
import { bindWithin, parseBind } from "../../sdk/system/bound-addresses.js";
import { patternWithin } from "../../sdk/patterns.js";

export interface Limit {
  what: string;
  patterns: readonly string[];
}

/** The outside callers a grant is made for: a token or session itself, or those a module acts for. */
function outside(call: CallInfo | undefined): readonly OutsideCaller[] {
  const c = call?.caller;
  if (!c) return [];
  if (c.kind === "token" || c.kind === "session") return [c];
  if (c.kind === "module") return c.onBehalfOf ?? [];
  return [];
}

/** The operator the new token belongs to; `requested` is `--operator`. */
export function ownerOf(requested: string | undefined, call: CallInfo | undefined): string | undefined {
  const c = call?.caller;
  if (!c || c.kind === "operator") return requested;
  const operators = [...new Set(outside(call).flatMap((o) => (o.operator !== undefined ? [o.operator] : [])))];
  if (operators.length > 1) throw new WardenError("forbidden", "this grant acts for several operators at once; whose token it would be is not clear");
  const own = operators[0];
  if (requested !== undefined && requested !== own)
    throw new WardenError(
      "forbidden",
      own === undefined
        ? "only an operator's own token or session, or the home's CLI, mints a token for an operator; this caller is a service account"
        : `a token is minted for its asker's own operator ('${own}'); the home's CLI mints one for another operator`,
    );
  return own;
}

/**
 * Where the new token may be used: never wider than where its asker may be. `requested` must lie
 * within each bound asker's CIDRs; without it, a bound asker's own bind is inherited.
 */
export function bindOf(requested: string[] | undefined, call: CallInfo | undefined): string[] | undefined {
  const bound = outside(call).flatMap((o) => (o.bind !== undefined ? [o.bind] : []));
  const wanted = requested === undefined ? undefined : parseBind(requested);
  if (wanted === undefined) {
    const [first] = bound;
    if (first !== undefined && bound.some((b) => !bindWithin(b, first))) throw new WardenError("input_invalid", "the callers this grant acts for are bound to different addresses; give --bind");
    return bound[0];
  }
  for (const b of bound) {
    if (!bindWithin(b, wanted))
      throw new WardenError("forbidden", `--bind ${wanted.join(",")} reaches beyond ${b.join(",")}, where the asker may be used; a token is bound at least as narrowly as its asker`);
  }
  return wanted;
}

/** What the asker holds: each outside caller's scopes (their operators' roles are added by the caller). */
export function limitsOf(call: CallInfo | undefined): Limit[] {
  return outside(call).map((o) => ({ what: `the ${o.kind === "token" ? `token ${o.tokenId}` : `console session ${o.sessionId}`}'s own scopes`, patterns: o.scopes }));
}

/** Who approves a CLI sign-in: a named operator's token or session; the CLI session gets at most what it holds. */
export function approverOf(call: CallInfo): { operator: string; scopes: string[]; bind: string[] | null; by: string } {
  const callers = outside(call);
  const c = callers.length === 1 ? callers[0] : undefined;
  if (!c || c.operator === undefined)
    throw new WardenError("forbidden", "a CLI sign-in is approved by a named operator signed in to the console (`warden operator add` names one); the home's own CLI needs no sign-in");
  return { operator: c.operator, scopes: [...c.scopes], bind: c.bind ?? null, by: c.kind === "token" ? `token:${c.tokenId}` : `console:${c.sessionId}` };
}

export interface GrantInput {
  name: string;
  scopes: string[];
  expires?: string;
  operator?: string;
  bind?: string[];
}

/**
 * A grant as the asker may make it: whose token it is, where it may be used, and the limits its
 * scopes must lie within (the asker's own, and its operator's roles).
 */
export function boundedGrant(o: GrantInput, call: CallInfo | undefined, permissionsOf: (operator: string) => readonly string[] | undefined): GrantInput & { within: Limit[] } {
  const { operator, bind: requested, ...rest } = o;
  const owner = ownerOf(operator, call);
  const bind = bindOf(requested, call);
  const within = limitsOf(call);
  if (owner !== undefined) {
    const held = permissionsOf(owner);
    if (!held) throw new WardenError("not_found", `no operator is named '${owner}'; \`warden operator list\` shows them`);
    within.push({ what: `operator '${owner}''s roles`, patterns: held });
  }
  return { ...rest, ...(owner !== undefined ? { operator: owner } : {}), ...(bind !== undefined ? { bind } : {}), within };
}

/** A token as rotate and revoke see it. */
export interface TargetToken {
  name: string;
  scopes: string[];
  operator: string | null;
  bind: string[] | null;
  bootstrap: boolean;
}

/**
 * Rotating or revoking a token acts on another credential: only one within the asker's reach.
 * A rotation hands back a new secret, so a narrow token that could rotate a wider one would hold
 * it: the target must be the asker's own operator's (or a service account's when the asker is
 * one), its scopes within the asker's scopes and operator's roles, and bound at least as narrowly.
 * The bootstrap token and CLI sessions' access tokens are managed by the home's CLI and `warden
 * logout`. The home's holder is not limited.
 */
export function checkTargetWithin(verb: "rotate" | "revoke", target: TargetToken, call: CallInfo | undefined, permissionsOf: (operator: string) => readonly string[] | undefined): void {
  const callers = outside(call);
  if (!call || call.caller.kind === "operator") return;
  const refuse = (why: string) => new WardenError("forbidden", `this caller may not ${verb} token '${target.name}': ${why}`, { details: { token: target.name, side: "caller" } });
  if (target.bootstrap) throw refuse("the bootstrap token is the home's own; `warden auth reset` on the host replaces it");
  if (/^cli\.[0-9a-f]{16}\./.test(target.name)) throw refuse("it is a CLI session's access token; `warden logout` (or removing its operator) ends that session");
  if (callers.length === 0) return; // a module acting alone: its capability (auth.manage) was checked
  for (const c of callers) {
    if ((target.operator ?? undefined) !== c.operator) throw refuse(target.operator ? `it belongs to operator '${target.operator}'` : "it is a service account's");
    const limits = [c.scopes, ...(c.operator !== undefined ? [permissionsOf(c.operator) ?? []] : [])];
    const beyond = target.scopes.filter((s) => limits.some((l) => !patternWithin(l, s)));
    if (beyond.length) throw refuse(`it holds ${beyond.map((s) => `'${s}'`).join(", ")}, which the asker does not`);
    if (c.bind !== undefined && (target.bind === null || !bindWithin(c.bind, target.bind))) throw refuse(`it may be used from more places than the asker (${c.bind.join(", ")})`);
  }
}
