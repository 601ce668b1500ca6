// What two-person approval (`approvals.required` 2, Vault's control groups) holds for a second
// operator: approving elevated capabilities, trusting or removing a publisher, removing a module,
// and switching enforcement off. By effect (authority belongs to the effect): ../commands/bus.ts
// asks `effectNeedsSecond` wherever an effect is authorized, and files a request instead of running
// a top-level command `protectedCall` names, before its handler does anything at all.
import type { EffectName } from "../authority/effects.js";

/** Effects that need a second operator whatever their target. */
// Adding an operator is protected too: a lone admin could otherwise add a second admin to approve their requests.
const PROTECTED_EFFECTS: ReadonlySet<EffectName> = new Set(["capability.grant_elevated", "publisher.trust", "module.remove", "principal.manage"]);

/**
 * Whether setting `key` to `value` (from `current`) is protected: it switches enforcement off,
 * lowers the bar, redefines what a role holds, or changes who the identity provider vouches for.
 */
export function protectedSetting(key: string, value: unknown, current: unknown): boolean {
  if (key === "security.enabled" || key === "modules.require_signature") return value === false || value === "false";
  if (key === "approvals.required") return Number(value) < Number(current);
  return key === "roles.custom" || key.startsWith("console.oidc.");
}

/** Whether authorizing `effect` (on a setting: to `value`) needs a second operator. */
export function effectNeedsSecond(effect: EffectName, setting?: { key: string; value: unknown; current: unknown }): boolean {
  if (PROTECTED_EFFECTS.has(effect)) return true;
  return effect === "setting.change" && setting !== undefined && protectedSetting(setting.key, setting.value, setting.current);
}

type Input = Record<string, unknown>;

/**
 * Top-level commands filed as requests when two-person approval is on: what each would change, in
 * words, or undefined when this call changes nothing protected. `current` reads a setting.
 */
/** What a protected call would change, in words; undefined when this input changes nothing protected. */
export type ProtectRule = (input: Input, current: (key: string) => unknown) => string | undefined;

export const PROTECTED_CALLS: Readonly<Record<string, ProtectRule>> = {
  "module.approve": (i) => `approve what module '${String(i.id)}' asks for${i.capability ? ` (${String(i.capability)})` : ""}`,
  "module.install": (i) => (i.approve === true ? `install ${String(i.source)} and approve what it asks for` : undefined),
  "module.remove": (i) => `remove module '${String(i.id)}'${i.purge ? " and purge its data" : ""}`,
  "trust.add": (i) => `trust the publisher key '${String(i.name)}'${i.ids ? ` for ${String(i.ids)}` : " for any module id"}`,
  "trust.remove": (i) => `stop trusting the publisher '${String(i.which)}'${i.disableSigned ? " and disable what it signed" : ""}`,
  "security.disable": () => "switch security enforcement off",
  "operator.add": (i) => `make ${String(i.name)} an operator with the roles ${Array.isArray(i.role) ? i.role.join(", ") : String(i.role)}`,
  "operator.remove": (i) => `remove the operator ${String(i.name)}`,
  "security.config": (i, current) => {
    const set = typeof i.set === "string" ? i.set : "";
    const eq = set.indexOf("=");
    if (eq < 0) return undefined;
    const key = `security.${set.slice(0, eq)}`;
    return protectedSetting(key, set.slice(eq + 1), current(key)) ? `set ${key} to ${set.slice(eq + 1)}` : undefined;
  },
  "config.set": (i, current) => (typeof i.key === "string" && protectedSetting(i.key, i.value, current(i.key)) ? `set ${i.key} to ${JSON.stringify(i.value)}` : undefined),
};
