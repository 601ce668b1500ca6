// What an operator (or a module holding modules.manage) does to installed modules: approve exactly
// what is pending, enable, disable, revoke one capability at run time, inspect. Each writes its
// record through ModuleRecords (audited in the same transaction) and then moves the loader's
// entry to the state that follows.
import { resolve } from "node:path";
import { HostError } from "../base/errors.js";
import { describeGrant, elevations, toGrants } from "../hostapi/grants.js";
import { CAPABILITIES } from "../hostapi/catalogue.js";
import type { ApprovalTarget } from "../kernel.js";
import type { Authorized } from "../authority/authorize.js";
import { changedFiles } from "./files.js";
import { scopeFacts } from "./grant-policy.js";
import { summarize, transition, type ModuleSummary } from "./module-entry.js";
import { unavailable, type ModuleLoader } from "./module-loader.js";
import { publisherLabel } from "../supply/provenance.js";

/** Errors that no operator action clears: the module's files must change first. */
const PERMANENT = new Set(["manifest_invalid", "host_incompatible", "dependency_cycle", "module_duplicate"]);

/** Refuses an approval of something other than what awaits approval now (an install raced the operator). */
export function checkApprovalTarget(id: string, pending: { version: string; hash: string }, target: ApprovalTarget): void {
  if (target.hash !== pending.hash || (target.version !== undefined && target.version !== pending.version)) {
    throw new HostError(
      "approval_stale",
      `the approval names ${id} ${target.version ?? ""} (manifest ${target.hash.slice(0, 12)}...), but what awaits approval now is ${pending.version} (manifest ${pending.hash.slice(0, 12)}...); run \`warden module inspect ${id}\` and approve what it shows`,
      {
        details: { module: id, pending, given: target },
      },
    );
  }
}

export class OperatorActions {
  constructor(private readonly loader: ModuleLoader) {}

  /** What an approval of this module would cover now: the manifest as loaded, pinned by its hash. */
  pendingApproval(id: string): { version: string; hash: string } {
    const e = this.loader.require(id);
    if (!e.loaded) throw unavailable(e);
    return { version: e.loaded.manifest.version, hash: e.loaded.hash };
  }

  async approve(id: string, target: ApprovalTarget, auth: Authorized<"capability.grant_elevated">): Promise<ModuleSummary> {
    const { actor } = auth;
    const e = this.loader.require(id);
    if (!e.loaded) throw unavailable(e);
    checkApprovalTarget(id, this.pendingApproval(id), target);
    const grants = e.loaded.manifest.capabilities ?? [];
    await this.loader.records.approve(id, { hash: e.loaded.hash, capabilities: grants }, actor, {
      version: e.loaded.manifest.version,
      hash: e.loaded.hash,
      capabilities: toGrants(grants).map(describeGrant),
    });
    if (e.state === "pending_approval") {
      transition(e, { to: "installed" });
      this.loader.redecide(e);
    } else {
      await this.loader.applyRecord(id); // revoked capabilities come back, running or not
    }
    return summarize(e);
  }

  async enable(id: string, auth: Authorized<"module.enable">): Promise<ModuleSummary> {
    const { actor } = auth;
    const e = this.loader.require(id);
    await this.loader.records.setDisabled(id, false, actor);
    if ((e.state === "disabled" || e.state === "failed") && e.loaded && !(e.error && PERMANENT.has(e.error.code))) {
      transition(e, { to: "installed", clearBreaker: true });
      const now = this.loader.redecide(e);
      // A system module runs from the start (it serves REST, security, the console): enabled, it
      // runs again now, and a surface it provides comes back with it.
      if (e.kind === "system" && now === "installed") await this.loader.ensureActive(id).catch(() => {});
    }
    return summarize(e);
  }

  async disable(id: string, auth: Authorized<"module.disable">): Promise<ModuleSummary> {
    const { actor } = auth;
    const e = this.loader.require(id);
    await this.loader.records.setDisabled(id, true, actor);
    await this.loader.deactivate(id);
    transition(e, { to: "disabled" });
    return summarize(e);
  }

  /** Withdraw one capability at run time: the module's next call that needs it is refused. */
  async revoke(id: string, capability: string, auth: Authorized<"capability.revoke">, force = false): Promise<ModuleSummary & { revoked: string[] }> {
    const { actor } = auth;
    const e = this.loader.require(id);
    // A system module's declared capabilities are what it runs on (the api module's
    // commands.dispatch is the REST surface itself): one click must not break the host.
    const declared = (e.loaded?.manifest.capabilities ?? []).map((c) => (typeof c === "string" ? c : c.name));
    if (e.kind === "system" && declared.includes(capability) && !force) {
      const meaning = CAPABILITIES.get(capability)?.meaning ?? capability;
      throw new HostError(
        "capability_required",
        `'${id}' is a system module and runs on '${capability}' (${meaning}); revoking it stops that for every caller. Pass --force to revoke it anyway; \`warden module approve ${id}\` gives it back`,
        {
          details: { module: id, capability },
        },
      );
    }
    const { revoked } = await this.loader.records.revoke(id, capability, actor);
    e.grants = e.grants.without(new Set([capability]));
    return { ...summarize(e), revoked };
  }

  inspect(id: string): Record<string, unknown> {
    const e = this.loader.require(id);
    const record = this.loader.records.find(id);
    const p = record?.provenance;
    return {
      ...this.loader.summary(e),
      provenance: p ? { status: p.status, pack: p.pack, publisher: p.publisher, keyId: p.signature?.key_id ?? null, ...(p.reason ? { reason: p.reason } : {}) } : null,
      manifest: e.loaded?.manifest ?? null,
      manifestHash: e.loaded?.hash ?? null,
      grants: e.grants.requests(),
      elevated: e.loaded
        ? elevations(
            toGrants(e.loaded.manifest.capabilities),
            scopeFacts(e.loaded.manifest, (x) => this.loader.kindOf(x)),
          )
        : [],
      pending_approval: e.state === "pending_approval" && e.loaded ? { version: e.loaded.manifest.version, hash: e.loaded.hash } : null,
      approvedHash: record?.approvedHash ?? null,
      revoked: record?.revoked ?? [],
      files_verified: record?.files && record.installedPath && resolve(record.installedPath) === resolve(e.dir) ? changedFiles(e.dir, record.files).length === 0 : null,
      staged_upgrade: record?.staged
        ? {
            version: record.staged.version,
            hash: record.staged.hash,
            added: record.staged.added,
            removed: record.staged.removed,
            publisher: publisherLabel(record.staged.provenance, this.loader.kernel.supply),
          }
        : null,
      commands: this.loader.kernel.bus
        .list()
        .filter((c) => c.module === id)
        .map((c) => c.command),
    };
  }
}
