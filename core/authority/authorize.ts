// Whether a caller may perform an effect of the table (./effects.ts), and the proof that it may.
// Functions that perform an effect take an Authorized<E>; only authorizeEffect() makes one, so the
// compiler refuses a path to an effect that skipped the check.
import type { Caller, OutsideCaller } from "../../sdk/context.js";
import { CapabilityError, HostError } from "../base/errors.js";
import type { GrantSet } from "../hostapi/grants.js";
import { matchesAny, patternWithin } from "../hostapi/patterns.js";
import { actorOf } from "./actor.js";
import { EFFECTS, type EffectName } from "./effects.js";

declare const proof: unique symbol;

/** That `actor` may perform `effect` (on `target`, where the check depended on it). */
export interface Authorized<E extends EffectName> {
  readonly effect: E;
  readonly actor: string;
  readonly target?: string;
  readonly [proof]: true;
}

/** An operator's permissions as of now (the union of their roles'); undefined when there is no such operator. */
export interface PrincipalFacts {
  permissionsOfOperator(name: string): readonly string[] | undefined;
}

export interface EffectFacts extends PrincipalFacts {
  /** The grants of an active module as of now; undefined when it holds none. */
  grantsOf(moduleId: string): GrantSet | undefined;
}

export interface EffectRequest {
  /** The permission when it depends on the target (a setting's owner's); default the table's. */
  permission?: string;
  /** What the effect acts on (a setting's key, a module id), named in refusals and the proof. */
  target?: string;
  /**
   * A module acting on something it owns (its own settings): its grants need not hold the
   * effect's capability; the callers it acts for still need the permission.
   */
  ownedByModule?: boolean;
}

/** The outside callers a call acts for: a token or session itself, a module's onBehalfOf, none for the operator. */
export function outsideCallers(caller: Caller): readonly OutsideCaller[] | undefined {
  if (caller.kind === "token" || caller.kind === "session") return [caller];
  if (caller.kind === "module") return caller.onBehalfOf;
  return undefined;
}

/**
 * A token's or session's scopes against a permission, and, when it belongs to an operator, that
 * operator's roles as they are now (a token never holds more than its operator, whatever its
 * scopes say); the refusal names who lacked it.
 */
export function checkScopes(c: OutsideCaller, permission: string, what: string, facts: PrincipalFacts, via?: string): void {
  const who = c.kind === "token" ? `token ${c.tokenId}` : `console session ${c.sessionId}`;
  const lead = via ? `module '${via}' acts here for ${who}, and that ${c.kind === "token" ? "token" : "session"}` : `this ${c.kind === "token" ? "token" : "console session"}`;
  const details = { permission, side: "caller", caller: actorOf(c), ...(via ? { module: via } : {}) };
  if (!Array.isArray(c.scopes) || !matchesAny(c.scopes, permission)) throw new HostError("forbidden", `${lead} may not ${what}: it needs a scope matching '${permission}'`, { details });
  if (c.operator === undefined) return;
  const held = facts.permissionsOfOperator(c.operator);
  if (held === undefined)
    throw new HostError("unauthorized", `${lead} belongs to operator '${c.operator}', who no longer exists; sign in again as an operator who does`, { details: { ...details, operator: c.operator } });
  if (!matchesAny(held, permission))
    throw new HostError("forbidden", `${lead} may not ${what}: operator '${c.operator}''s roles do not allow '${permission}' (\`warden operator list\` shows their roles)`, {
      details: { ...details, operator: c.operator },
    });
}

/**
 * Nobody hands out more than they hold: each outside caller (a token, a session, those a module
 * acts for) must hold every one of `permissions` by its own scopes and its operator's roles. The
 * home's holder is not limited; a module acting alone was stopped by the effect's capability.
 */
export function checkHolds(caller: Caller, permissions: readonly string[], what: string, facts: PrincipalFacts): void {
  for (const c of outsideCallers(caller) ?? []) {
    const limits = [c.scopes, ...(c.operator !== undefined ? [facts.permissionsOfOperator(c.operator) ?? []] : [])];
    const beyond = permissions.filter((p) => limits.some((limit) => !patternWithin(limit, p)));
    if (beyond.length)
      throw new HostError("forbidden", `${what} would hand out ${beyond.map((p) => `'${p}'`).join(", ")}, which ${actorOf(c)} does not hold itself; nobody hands out more than they hold`, {
        details: { permissions: beyond, side: "caller", caller: actorOf(c) },
      });
  }
}

export function authorizeEffect<E extends EffectName>(caller: Caller, effect: E, facts: EffectFacts, req: EffectRequest = {}): Authorized<E> {
  const entry = EFFECTS[effect];
  const permission = req.permission ?? entry.permission;
  const what = `${entry.meaning}${req.target ? ` (${req.target})` : ""}`;
  if (caller.kind === "module") {
    if (!req.ownedByModule) {
      const grants = facts.grantsOf(caller.moduleId);
      // A module reaches an effect through the capability the table names; one whose permission is
      // a capability (security.manage, ...) must be held as well (setting another owner's settings).
      const needed = [entry.capability as string, ...(permission !== entry.permission && permission !== "config.set" ? [permission] : [])];
      for (const cap of needed) {
        if (!grants?.has(cap)) {
          throw new CapabilityError(caller.moduleId, cap, `${what} needs it (side: module)`);
        }
      }
    }
    for (const c of caller.onBehalfOf ?? []) checkScopes(c, permission, what, facts, caller.moduleId);
  } else if (caller.kind === "token" || caller.kind === "session") {
    checkScopes(caller, permission, what, facts);
  } else if (caller.kind !== "operator") {
    throw new HostError("forbidden", "unknown caller kind");
  }
  return { effect, actor: actorOf(caller), ...(req.target === undefined ? {} : { target: req.target }) } as Authorized<E>;
}
