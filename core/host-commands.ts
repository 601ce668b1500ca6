// Commands the host itself owns, in reserved namespaces: module.*, config.*. They are declared
// and dispatched through the same bus as module commands, so permissions, input validation, CLI
// help and REST routes treat them alike.
import { redact } from "./log/redact.js";
import type { CommandManifest } from "../sdk/manifest.js";
import type { BoundHandler, CommandBus } from "./commands/bus.js";
import type { ConfigService } from "./config/config-service.js";
import type { AuditSink } from "./kernel.js";
import type { ModuleLoader } from "./loader/module-loader.js";
import type { OperatorActions } from "./loader/operator-actions.js";
import type { Store } from "./store/store.js";
import type { Installer } from "./lifecycle/installer.js";
import type { Ledger } from "./ledger.js";
import type { SecretStore } from "./secrets/secret-store.js";
import { HostError, refusals } from "./base/errors.js";
import { actorOf } from "./authority/actor.js";
import { blockCommands, trustCommands } from "./supply-commands.js";
import { operatorCommands, roleCommands } from "./principal-commands.js";
import { approvalCommands } from "./approval-commands.js";

export const HOST_NAMESPACES = new Set(["module", "config", "audit", "secrets", "trust", "operator", "role", "approval"]);

const idArg = { type: "object", properties: { id: { type: "string", minLength: 1, maxLength: 64 } }, required: ["id"], additionalProperties: false };
const none = { type: "object", properties: {}, additionalProperties: false };

export interface HostCommand extends CommandManifest {
  run: BoundHandler;
}

/** What the host's own commands act through. */
export interface HostCommandDeps {
  home: string;
  bus: CommandBus;
  loader: ModuleLoader;
  actions: OperatorActions;
  installer: Installer;
  config: ConfigService;
  audit: AuditSink;
  store: Store;
  ledger: Ledger;
  secrets: SecretStore;
}

const secretRef = {
  module: { type: "string", minLength: 1, maxLength: 64, description: "the module the secret belongs to" },
  name: { type: "string", minLength: 1, maxLength: 64, description: "the secret's name" },
};

export function registerHostCommands(deps: HostCommandDeps): void {
  const commands: Record<string, Record<string, HostCommand>> = {
    module: { ...moduleReads(deps), ...moduleChanges(deps), ...blockCommands(deps) },
    trust: trustCommands(deps),
    operator: operatorCommands(deps),
    role: roleCommands(deps),
    approval: approvalCommands(deps),
    config: configCommands(deps),
    secrets: secretsCommands(deps),
    audit: auditCommands(deps),
  };
  for (const [ns, cmds] of Object.entries(commands)) {
    for (const [name, { run, ...manifest }] of Object.entries(cmds)) {
      deps.bus.declare(ns, name, manifest, { checkOutput: false, kind: "host" });
      deps.bus.bind(ns, name, run);
    }
  }
}

/** module.list, inspect, stats: what is installed and how it runs. */
function moduleReads({ loader, actions, ledger }: HostCommandDeps): Record<string, HostCommand> {
  return {
    list: {
      description: "List every discovered module with its state",
      input: none,
      readOnly: true,
      run: async () => loader.list(),
    },
    inspect: {
      description: "Show a module's manifest, grants, state and last error",
      input: idArg,
      args: ["id"],
      readOnly: true,
      run: async (input) => actions.inspect((input as { id: string }).id),
    },
    stats: {
      description: "Per-module ledger: calls, errors by code, capability denials, CPU time, heap, p50/p99 latency",
      input: { type: "object", properties: { id: { type: "string", minLength: 1, maxLength: 64 } }, additionalProperties: false },
      args: ["id"],
      permission: "metrics.read",
      readOnly: true,
      run: async (input) => {
        const { id } = input as { id?: string };
        await ledger.refresh();
        if (id !== undefined) {
          if (!loader.entry(id)) throw HostError.from(refusals.moduleNotFound(id));
          return { ...ledger.stats(id), state: loader.entry(id)!.state };
        }
        return loader
          .list()
          .filter((m) => !m.error || m.error.code !== "module_duplicate")
          .map((m) => ({ ...ledger.stats(m.id), state: m.state }));
      },
    },
  };
}

/** module.install, approve, revoke, remove, reload, enable, disable: each an effect with its audit event. */
function moduleChanges({ loader, actions, installer, bus, audit }: HostCommandDeps): Record<string, HostCommand> {
  return {
    install: {
      description: "Install a module folder or .tgz into the home (validated, hashes pinned); shows its capabilities",
      input: {
        type: "object",
        properties: {
          source: { type: "string", minLength: 1, maxLength: 4096, description: "module folder or .tgz" },
          approve: { type: "boolean", description: "grant its capabilities (elevated ones included) now" },
          allowDowngrade: { type: "boolean", description: "allow installing an older version" },
          signature: { type: "string", minLength: 1, maxLength: 4096, description: "the pack's signature file (default: the pack's path with .sig added)" },
        },
        required: ["source"],
        additionalProperties: false,
      },
      args: ["source"],
      run: async (input, call) => {
        const { source, approve, allowDowngrade, signature } = input as { source: string; approve?: boolean; allowDowngrade?: boolean; signature?: string };
        // Granting what needs approval is the approve effect, whichever command reaches it.
        const approval = approve ? bus.authorize(call.caller, "capability.grant_elevated", { target: source }) : undefined;
        return installer.install(
          source,
          { ...(approval ? { approve: approval } : {}), ...(allowDowngrade === undefined ? {} : { allowDowngrade }), ...(signature === undefined ? {} : { signature }) },
          bus.authorize(call.caller, "module.install"),
        );
      },
    },
    approve: {
      description: "Grant exactly what `module inspect` shows awaiting approval (the pending manifest or the staged upgrade), named by its manifest hash",
      input: {
        type: "object",
        properties: {
          id: { type: "string", minLength: 1, maxLength: 64 },
          hash: { type: "string", pattern: "^[0-9a-f]{64}$", description: "manifest hash being approved (the CLI fills it in from `module inspect` and shows it)" },
          version: { type: "string", maxLength: 64, description: "version being approved" },
        },
        required: ["id", "hash"],
        additionalProperties: false,
      },
      args: ["id"],
      run: async (input, call) => {
        const { id, hash, version } = input as { id: string; hash: string; version?: string };
        return installer.approve(id, { hash, ...(version === undefined ? {} : { version }) }, bus.authorize(call.caller, "capability.grant_elevated", { target: id }));
      },
    },
    revoke: {
      description: "Withdraw one capability from a module at runtime (its next call that needs it is refused)",
      confirm: "withdraw a capability from a module (`module approve` gives it back)",
      input: {
        type: "object",
        properties: {
          id: { type: "string", minLength: 1, maxLength: 64 },
          capability: { type: "string", minLength: 1, maxLength: 100 },
          force: { type: "boolean", description: "revoke a capability a system module runs on (breaks what it does; `module approve` gives it back)" },
        },
        required: ["id", "capability"],
        additionalProperties: false,
      },
      args: ["id", "capability"],
      run: async (input, call) => {
        const { id, capability, force } = input as { id: string; capability: string; force?: boolean };
        return actions.revoke(id, capability, bus.authorize(call.caller, "capability.revoke", { target: id }), force ?? false);
      },
    },
    remove: {
      description: "Remove an installed module (its storage only with --purge)",
      confirm: "remove a module (its storage and secrets too with --purge)",
      input: {
        type: "object",
        properties: {
          id: { type: "string", minLength: 1, maxLength: 64 },
          purge: { type: "boolean", description: "also delete its storage and secrets (asks for confirmation)" },
          yes: { type: "boolean", description: "confirm --purge without asking (needed when stdin is not a terminal)" },
        },
        required: ["id"],
        additionalProperties: false,
      },
      args: ["id"],
      run: async (input, call) => {
        const { id, purge } = input as { id: string; purge?: boolean };
        return installer.remove(id, purge ?? false, bus.authorize(call.caller, "module.remove", { target: id }));
      },
    },
    reload: {
      description: "Read a module's folder again and re-activate it if it was active",
      input: idArg,
      args: ["id"],
      run: async (input, call) => {
        const { id } = input as { id: string };
        const out = await loader.reloadModule(id);
        await audit.append({ actor: actorOf(call.caller), action: "module.reload", target: id });
        return out;
      },
    },
    enable: {
      description: "Enable a disabled module",
      input: idArg,
      args: ["id"],
      run: async (input, call) => actions.enable((input as { id: string }).id, bus.authorize(call.caller, "module.enable")),
    },
    disable: {
      description: "Disable a module (deactivates it; survives restarts)",
      confirm: "disable a module (its commands stop answering until it is enabled)",
      input: idArg,
      args: ["id"],
      run: async (input, call) => actions.disable((input as { id: string }).id, bus.authorize(call.caller, "module.disable")),
    },
  };
}

/** config.get, set, list: settings, each change stored with its audit event (ConfigService.setAudited). */
function configCommands({ bus, config }: HostCommandDeps): Record<string, HostCommand> {
  return {
    get: {
      description: "Show one setting",
      input: { type: "object", properties: { key: { type: "string", minLength: 3, maxLength: 200 } }, required: ["key"], additionalProperties: false },
      args: ["key"],
      readOnly: true,
      run: async (input) => {
        return config.describe((input as { key: string }).key);
      },
    },
    set: {
      description: "Change a setting (validated against its owner's config schema; audited)",
      input: {
        type: "object",
        properties: { key: { type: "string", minLength: 3, maxLength: 200 }, value: {} },
        required: ["key", "value"],
        additionalProperties: false,
      },
      args: ["key", "value"],
      run: async (input, call) => {
        const { key, value } = input as { key: string; value: unknown };
        // The setting's owner names the permission (security's need security.manage): holding
        // config.set reaches only what its owner leaves to config.set.
        const auth = bus.authorizeSetting(call.caller, key, config.permissionFor(key), value);
        // Text from the CLI is parsed (`100` -> 100); JSON from REST is taken as given.
        const fromText = call.caller.kind === "operator" && typeof value === "string";
        const stored = await config.setAudited(key, value, auth, { fromText });
        return { key, value: redact(stored) };
      },
    },
    list: {
      description: "List every setting with its value and whether it is a default",
      input: { type: "object", properties: { prefix: { type: "string", maxLength: 200 } }, additionalProperties: false },
      readOnly: true,
      run: async (input) => config.list((input as { prefix?: string }).prefix),
    },
  };
}

/** secrets.set, delete, list: a module's secrets, sealed, never shown. */
function secretsCommands({ loader, store, audit, secrets }: HostCommandDeps): Record<string, HostCommand> {
  const knownModule = (id: string) => {
    if (!loader.entry(id)) throw HostError.from(refusals.moduleNotFound(id));
  };
  return {
    set: {
      description: "Set a module's secret (the CLI reads the value from stdin; it is encrypted at rest and shown nowhere)",
      input: {
        type: "object",
        properties: { ...secretRef, value: { type: "string", minLength: 1, maxLength: 65536, description: "the value (leave it out on the CLI: it is read from stdin)" } },
        required: ["module", "name", "value"],
        additionalProperties: false,
      },
      args: ["module", "name"],
      run: async (input, call) => {
        const { module, name, value } = input as { module: string; name: string; value: string };
        knownModule(module);
        await store.transaction(async (tx) => {
          await secrets.set(module, name, value, tx);
          await audit.append({ actor: actorOf(call.caller), action: "secret.set", target: `${module}/${name}` }, tx);
        });
        return { module, name, set: true };
      },
    },
    list: {
      description: "List secrets by module and name (never values)",
      input: { type: "object", properties: { module: secretRef.module }, additionalProperties: false },
      args: ["module"],
      readOnly: true,
      run: async (input) => ({ key: secrets.keySource(), secrets: await secrets.list((input as { module?: string }).module) }),
    },
    delete: {
      description: "Delete a module's secret",
      input: { type: "object", properties: secretRef, required: ["module", "name"], additionalProperties: false },
      args: ["module", "name"],
      run: async (input, call) => {
        const { module, name } = input as { module: string; name: string };
        const deleted = await store.transaction(async (tx) => {
          const d = await secrets.delete(module, name, tx);
          if (d) await audit.append({ actor: actorOf(call.caller), action: "secret.delete", target: `${module}/${name}` }, tx);
          return d;
        });
        if (!deleted) throw HostError.from(refusals.secretNotFound(module, name));
        return { module, name, deleted };
      },
    },
  };
}

/** audit.tail, verify, checkpoint: the tamper-evident chain. */
function auditCommands({ audit, home }: HostCommandDeps): Record<string, HostCommand> {
  return {
    tail: {
      description: "Show the last audit events",
      input: { type: "object", properties: { n: { type: "integer", minimum: 1, maximum: 10000, default: 20, description: "how many events (default 20)" } }, additionalProperties: false },
      permission: "audit.read",
      readOnly: true,
      run: async (input) => audit.tail((input as { n?: number }).n ?? 20),
    },
    verify: {
      description: "Verify the audit chain end to end (and against a checkpoint kept elsewhere)",
      input: {
        type: "object",
        properties: { checkpoint: { description: "a checkpoint from `audit checkpoint` (the CLI reads it from the file you name)" } },
        additionalProperties: false,
      },
      permission: "audit.read",
      readOnly: true,
      run: async (input) => audit.verify((input as { checkpoint?: unknown }).checkpoint),
    },
    checkpoint: {
      description: "A signed checkpoint of the chain's end, to keep where the host cannot rewrite it (also written to the security log)",
      input: { type: "object", properties: { out: { type: "string", minLength: 1, maxLength: 4096, description: "file the CLI writes the checkpoint to" } }, additionalProperties: false },
      permission: "audit.read",
      run: async (_input, call) => {
        const cp = await audit.checkpoint(home);
        await audit.append({ actor: actorOf(call.caller), action: "audit.checkpoint", target: String((cp as { seq: number }).seq) });
        return cp;
      },
    },
  };
}
