// Roles: named sets of permission patterns. Four are built in; an operator adds their own in the
// setting `roles.custom` ({"auditor": ["audit.read", "module.list"]}). An operator holds the union
// of their roles' permissions, and every token or session of theirs at most that.
import { HostError } from "../base/errors.js";

const READS = [
  "module.list",
  "module.inspect",
  "module.stats",
  "module.blocked",
  "module.verify",
  "trust.list",
  "trust.export",
  "config.get",
  "config.list",
  "audit.read",
  "api.read",
  "metrics.read",
  "operators.read",
  "console.login",
  // Pairing one's own CLI (`warden login`) gives it only what the operator holds.
  "auth.pair",
  "approvals.read",
];

export const BUILTIN_ROLES: Readonly<Record<string, { permissions: readonly string[]; meaning: string }>> = {
  viewer: { permissions: READS, meaning: "reads status, modules, settings and the audit chain; changes nothing" },
  operator: {
    permissions: [...READS, "module.enable", "module.disable", "module.reload", "security.manage", "cache.manage", "approvals.decide"],
    meaning: "a viewer who also enables, disables and reloads modules and takes security actions (block, lockdown)",
  },
  approver: {
    permissions: [...READS, "module.approve", "module.revoke", "modules.trust", "approvals.decide"],
    meaning: "a viewer who also approves and revokes capabilities and decides which publishers are trusted",
  },
  admin: { permissions: ["*"], meaning: "everything, operators and tokens included" },
};

export const ROLE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export type CustomRoles = Readonly<Record<string, readonly string[]>>;

export interface RoleInfo {
  name: string;
  builtin: boolean;
  permissions: string[];
  meaning?: string;
}

/** Every role: the built-in ones, then the custom ones (a custom role never shadows a built-in one). */
export function allRoles(custom: CustomRoles): RoleInfo[] {
  const out: RoleInfo[] = Object.entries(BUILTIN_ROLES).map(([name, r]) => ({ name, builtin: true, permissions: [...r.permissions], meaning: r.meaning }));
  for (const [name, permissions] of Object.entries(custom)) {
    if (!(name in BUILTIN_ROLES)) out.push({ name, builtin: false, permissions: [...permissions] });
  }
  return out;
}

/** The permissions of a set of roles; a role that no longer exists gives none. */
export function permissionsOf(roles: readonly string[], custom: CustomRoles): string[] {
  const out = new Set<string>();
  for (const role of roles) {
    const perms = (Object.hasOwn(BUILTIN_ROLES, role) ? BUILTIN_ROLES[role]?.permissions : Object.hasOwn(custom, role) ? custom[role] : undefined) ?? [];
    for (const p of perms) out.add(p);
  }
  return [...out];
}

/** Refuses a role that is neither built in nor in `roles.custom`. */
export function checkRoles(roles: readonly string[], custom: CustomRoles): void {
  if (roles.length === 0) throw new HostError("input_invalid", "give at least one --role (`warden role list` shows them)");
  const unknown = roles.filter((r) => !Object.hasOwn(BUILTIN_ROLES, r) && !Object.hasOwn(custom, r));
  if (unknown.length) throw new HostError("input_invalid", `no role is named ${unknown.map((r) => `'${r.slice(0, 32)}'`).join(", ")}; \`warden role list\` shows the roles`);
}
