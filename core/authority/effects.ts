// The effects table: every effect that changes authority or protection, with the permission it needs
// on every path that reaches it (CLI, REST, console, a module's context, an install flag, a fleet
// peer). Authority belongs to the effect, not the entry point: `module install --approve` grants
// elevated capabilities, so it needs `module.approve` exactly as `module approve` does; `config set
// security.enabled false` switches security off, so it needs `security.manage` exactly as `security
// disable` does.
//
// The functions that perform an effect take an `Authorized<E>` (./authorize.ts), which only
// authorizeEffect() makes: a path that reaches an effect without passing its check does not compile.
//
// Each entry names:
//   permission  what a token's or console session's scopes must match (the operator holds all);
//   capability  what a module acting through its context must hold (and, acting for a caller,
//               that caller must hold `permission` too: authority never grows through a module);
//   commands    the host and system-module commands whose call performs it (test/effects.test.ts
//               walks every command and asserts each is listed once, with its manifest permission).
export const EFFECTS = {
  "capability.grant_elevated": {
    permission: "module.approve",
    capability: "modules.manage",
    meaning: "grant a module what needs an operator's approval (approve; install or upgrade with approve)",
    commands: ["module.approve"],
  },
  "capability.revoke": { permission: "module.revoke", capability: "modules.manage", meaning: "withdraw a capability from a module", commands: ["module.revoke"] },
  "module.install": {
    permission: "module.install",
    capability: "modules.manage",
    meaning: "install, upgrade or stage a module (granting nothing that needs approval by itself)",
    commands: ["module.install"],
  },
  "module.remove": { permission: "module.remove", capability: "modules.manage", meaning: "remove a module (with purge, its data too)", commands: ["module.remove"] },
  "module.enable": { permission: "module.enable", capability: "modules.manage", meaning: "enable a module", commands: ["module.enable"] },
  "module.disable": { permission: "module.disable", capability: "modules.manage", meaning: "disable a module", commands: ["module.disable"] },
  "module.reload": { permission: "module.reload", capability: "modules.manage", meaning: "read a module's folder again", commands: ["module.reload"] },
  "setting.change": {
    // OWNER: the setting's owner declares the permission (its manifest's `configPermission`;
    // `config.set` for the kernel's settings and owners that declare none). `config.set` is the
    // path to every owner's settings; the owners' own commands are paths to theirs.
    permission: "OWNER",
    capability: "config.manage",
    meaning: "change a setting",
    commands: ["config.set", "security.config", "security.enable", "security.disable", "cache.enable", "cache.disable"],
  },
  "publisher.trust": {
    permission: "modules.trust",
    // No module holds this capability: trust is decided by people, never by a module acting for one.
    capability: "modules.trust",
    meaning: "trust or stop trusting a publisher's signing key",
    commands: ["trust.add", "trust.remove"],
  },
  "pack.block": {
    permission: "modules.trust",
    capability: "modules.trust",
    meaning: "block or unblock a module pack on every host",
    commands: ["module.block", "module.unblock"],
  },
  "principal.manage": {
    permission: "operators.manage",
    // No module holds this capability: who runs the host is decided by people.
    capability: "operators.manage",
    meaning: "add, change or remove an operator (removing ends their tokens and sessions)",
    commands: ["operator.add", "operator.remove"],
  },
  "request.decide": {
    permission: "approvals.decide",
    // No module holds this capability: a second operator is a person.
    capability: "approvals.decide",
    meaning: "approve or deny a two-person request (the approver must also hold what it changes)",
    commands: ["approval.approve", "approval.deny"],
  },
  "secret.set": { permission: "secrets.set", capability: "modules.manage", meaning: "set a module's secret", commands: ["secrets.set"] },
  "secret.delete": { permission: "secrets.delete", capability: "modules.manage", meaning: "delete a module's secret", commands: ["secrets.delete"] },
  "token.mint": { permission: "auth.manage", capability: "auth.manage", meaning: "grant or rotate an API token", commands: ["auth.grant", "auth.rotate"] },
  "token.revoke": { permission: "auth.manage", capability: "auth.manage", meaning: "revoke API tokens", commands: ["auth.revoke", "auth.reset"] },
  "session.mint": {
    permission: "console.manage",
    capability: "console.manage",
    meaning: "issue a console login URL (its sessions carry the asker's scopes, principal and deadline)",
    commands: ["console.open"],
  },
  "session.pair": {
    permission: "auth.pair",
    capability: "auth.manage",
    meaning: "approve a CLI sign-in (warden login): a session of the approver's own operator, with at most their scopes and bind",
    commands: ["auth.pair"],
  },
  "session.revoke": { permission: "console.manage", capability: "console.manage", meaning: "end a console session", commands: ["console.revoke"] },
  "client.block": {
    permission: "security.manage",
    capability: "security.manage",
    meaning: "block or unblock a client, purge counters, lock down or unlock",
    commands: ["security.block", "security.unblock", "security.purge", "security.lockdown", "security.unlock"],
  },
  "cache.clear": { permission: "cache.manage", capability: "cache.manage", meaning: "clear or purge the shared cache", commands: ["cache.clear", "cache.purge"] },
  "audit.checkpoint": { permission: "audit.read", capability: "audit.read", meaning: "sign a checkpoint of the audit chain", commands: ["audit.checkpoint"] },
} as const satisfies Record<string, { permission: string; capability: string; meaning: string; commands: readonly string[] }>;

export type EffectName = keyof typeof EFFECTS;

/**
 * Commands that read, or act only on the caller's own credential: they change no one's authority
 * and are listed here so that the walk over every command can tell "no effect" from "forgotten".
 */
export const READS = [
  "module.list",
  "module.inspect",
  "module.stats",
  "module.blocked",
  "module.verify",
  "trust.list",
  "trust.export",
  "operator.list",
  "role.list",
  "approval.list",
  "config.get",
  "config.list",
  "secrets.list",
  "audit.tail",
  "audit.verify",
  "auth.list",
  "auth.pairing",
  "console.sessions",
  "console.whoami",
  "security.status",
  "cache.status",
  "api.traffic",
] as const;

/** The effect each command performs, from the table (one entry per command). */
export function effectOfCommand(command: string): EffectName | undefined {
  for (const [name, e] of Object.entries(EFFECTS) as Array<[EffectName, (typeof EFFECTS)[EffectName]]>) {
    if ((e.commands as readonly string[]).includes(command)) return name;
  }
  return undefined;
}
