// The host commands of the supply chain: `trust add|list|remove|export` (the publisher keys this
// host or fleet trusts) and `module block|unblock|blocked|verify` (the kill switch, and what a pack
// is). Trusting and blocking are effects that need `modules.trust` by every path; disabling what a
// removed key signed is also the disable effect, so it needs that permission too.
import { resolve } from "node:path";
import { HostError } from "./base/errors.js";
import type { HostCommand, HostCommandDeps } from "./host-commands.js";
import { readSignedPack, withUnpackedBytes } from "./lifecycle/unpack.js";
import { readManifest } from "./manifest/index.js";
import { applyTrustPolicy } from "./loader/integrity.js";
import { judgePack, publisherLabel } from "./supply/provenance.js";

const sha256Arg = { type: "string", pattern: "^[0-9a-f]{64}$", description: "the pack's sha256 (`module list` and `module inspect` show it)" };

/** Module ids whose installed pack is `sha256`, or whose publisher key is `keyId`. */
function modulesWith(deps: HostCommandDeps, match: { pack?: string; keyId?: string }): string[] {
  return deps.loader.records
    .all()
    .filter(
      (r) => (match.pack !== undefined && r.provenance?.pack === match.pack) || (match.keyId !== undefined && r.provenance?.status === "verified" && r.provenance.publisher?.keyId === match.keyId),
    )
    .map((r) => r.id)
    .sort();
}

export function trustCommands(deps: HostCommandDeps): Record<string, HostCommand> {
  const { bus, loader, actions, config } = deps;
  const policy = () => deps.loader.kernel.supply;
  return {
    add: {
      description: "Trust a publisher's public key (its .pub file) for module packs it signs, optionally only for some module ids",
      input: {
        type: "object",
        properties: {
          key: { type: "string", minLength: 1, maxLength: 8192, description: "the publisher's public key: a .pub file (the CLI reads it) or the raw key as base64" },
          name: { type: "string", minLength: 1, maxLength: 64, description: "the publisher's name, shown wherever its modules are" },
          ids: { type: "string", minLength: 1, maxLength: 2000, description: "module ids it may sign, comma-separated patterns ('acme-*'); default: any" },
        },
        required: ["key", "name"],
        additionalProperties: false,
      },
      args: ["key"],
      permission: "modules.trust",
      run: async (input, call) => {
        const { key, name, ids } = input as { key: string; name: string; ids?: string };
        const auth = bus.authorize(call.caller, "publisher.trust", { target: name });
        const patterns =
          ids === undefined
            ? []
            : ids
                .split(",")
                .map((p) => p.trim())
                .filter((p) => p !== "");
        // A list that says nothing must not mean "any id" (a script's empty variable would trust a key for everything).
        if (ids !== undefined && patterns.length === 0)
          throw new HostError("input_invalid", "--ids names no module id pattern; leave it out to trust the key for any id, or give patterns like 'acme-*'");
        const added = await policy().add(key, name, patterns, auth.actor);
        const any = (xs: string[]) => (xs.length ? xs : ["*"]);
        return { name: added.name, keyId: added.keyId, ids: any(added.ids), ...(added.replaced ? { replaced_ids: any(added.replaced) } : {}), revision: policy().doc.revision };
      },
    },
    list: {
      description: "List the trusted publisher keys, and whether signatures are required",
      input: { type: "object", properties: {}, additionalProperties: false },
      readOnly: true,
      run: async () => ({
        require_signature: config.get("modules.require_signature"),
        revision: policy().doc.revision,
        ...(policy().problem ? { problem: policy().problem } : {}),
        keys: policy().doc.keys.map((k) => ({
          name: k.name,
          keyId: k.keyId,
          ids: k.ids.length ? k.ids : ["*"],
          addedBy: k.addedBy,
          addedAt: k.addedAt,
          modules: modulesWith(deps, { keyId: k.keyId }),
        })),
      }),
    },
    remove: {
      description: "Stop trusting a publisher key (by name or key id); --disable-signed also disables the modules it signed",
      confirm: "stop trusting a publisher (packs it signs are then unverified; refused where signatures are required)",
      input: {
        type: "object",
        properties: {
          which: { type: "string", minLength: 1, maxLength: 64, description: "the publisher's name or key id" },
          disableSigned: { type: "boolean", description: "also disable every installed module this key signed (on every host)" },
        },
        required: ["which"],
        additionalProperties: false,
      },
      args: ["which"],
      permission: "modules.trust",
      run: async (input, call) => {
        const { which, disableSigned } = input as { which: string; disableSigned?: boolean };
        const auth = bus.authorize(call.caller, "publisher.trust", { target: which });
        // Disabling modules is the disable effect, whichever command reaches it: checked before anything changes.
        const disabling = disableSigned ? bus.authorize(call.caller, "module.disable") : undefined;
        const removed = await policy().remove(which, auth.actor);
        const disabled: string[] = [];
        if (disabling) {
          for (const id of modulesWith(deps, { keyId: removed.keyId })) {
            if (loader.records.get(id).disabled) continue;
            await actions.disable(id, disabling);
            disabled.push(id);
          }
        }
        const stranded = config.get("modules.require_signature") && policy().doc.keys.length === 0;
        return {
          removed: removed.name,
          keyId: removed.keyId,
          disabled,
          revision: policy().doc.revision,
          ...(stranded ? { warning: "no key is trusted now and signatures are required: every pack install will be refused until you `warden trust add` one" } : {}),
        };
      },
    },
    export: {
      description: "Print the whole trust policy (keys, removed keys, blocked packs) and whether signatures are required; --json gives the document to keep",
      input: { type: "object", properties: {}, additionalProperties: false },
      readOnly: true,
      run: async () => ({ require_signature: config.get("modules.require_signature"), ...policy().doc }),
    },
  };
}

export function blockCommands(deps: HostCommandDeps): Record<string, HostCommand> {
  const { bus, loader } = deps;
  const policy = () => deps.loader.kernel.supply;
  return {
    block: {
      description: "Block a pack by its sha256 on every host: refused at install, and a module running it is stopped",
      confirm: "block a pack on every host (modules running it stop; `module unblock` lifts it)",
      input: {
        type: "object",
        properties: { sha256: sha256Arg, reason: { type: "string", minLength: 1, maxLength: 500, description: "why, shown wherever it is refused" } },
        required: ["sha256", "reason"],
        additionalProperties: false,
      },
      args: ["sha256"],
      permission: "modules.trust",
      run: async (input, call) => {
        const { sha256, reason } = input as { sha256: string; reason: string };
        const auth = bus.authorize(call.caller, "pack.block", { target: sha256 });
        const modules = modulesWith(deps, { pack: sha256 });
        const entry = await policy().block(sha256, reason, auth.actor, modules);
        const stopped = await applyTrustPolicy(loader);
        return { ...entry, modules, stopped };
      },
    },
    unblock: {
      description: "Lift a block: the pack may be installed again, and modules it stopped may run",
      input: { type: "object", properties: { sha256: sha256Arg }, required: ["sha256"], additionalProperties: false },
      args: ["sha256"],
      permission: "modules.trust",
      run: async (input, call) => {
        const { sha256 } = input as { sha256: string };
        const auth = bus.authorize(call.caller, "pack.block", { target: sha256 });
        const entry = await policy().unblock(sha256, auth.actor);
        await applyTrustPolicy(loader);
        return { unblocked: entry.sha256, reason: entry.reason };
      },
    },
    blocked: {
      description: "List the blocked packs with who blocked them and why",
      input: { type: "object", properties: {}, additionalProperties: false },
      readOnly: true,
      run: async () => policy().doc.blocked.map((b) => ({ ...b, modules: modulesWith(deps, { pack: b.sha256 }) })),
    },
    verify: {
      description: "Say who signed a pack and whether this host trusts that key (reads PACK and PACK.sig)",
      input: {
        type: "object",
        properties: {
          source: { type: "string", minLength: 1, maxLength: 4096, description: "the pack (.tgz)" },
          signature: { type: "string", minLength: 1, maxLength: 4096, description: "its signature (default: the pack's path with .sig added)" },
        },
        required: ["source"],
        additionalProperties: false,
      },
      args: ["source"],
      readOnly: true,
      run: async (input) => {
        const { source, signature } = input as { source: string; signature?: string };
        const { bytes, sha256, signature: sig } = readSignedPack(resolve(source), source, signature === undefined ? undefined : resolve(signature));
        const { id, version } = await withUnpackedBytes(bytes, deps.home, async (dir) => readManifest(dir, { allowSystem: false }).manifest, source);
        const verdict = judgePack({ sha256, signature: sig, id, version }, policy());
        const blocked = policy().blocked(sha256);
        return {
          pack: sha256,
          id,
          version,
          signed: verdict.signature !== null,
          keyId: verdict.signature?.key_id ?? null,
          publisher: publisherLabel(verdict),
          status: verdict.status,
          trusted: verdict.status === "verified",
          ...(verdict.reason ? { reason: verdict.reason } : {}),
          ...(blocked ? { blocked: blocked.reason } : {}),
          require_signature: deps.config.get("modules.require_signature"),
        };
      },
    },
  };
}
