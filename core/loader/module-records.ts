// The one writer of module records (operator intent that survives restarts: approvals pinned to a
// manifest hash, runtime revocations, disabled, install location and file hashes, staged
// upgrades). Every change is written together with its audit event in one transaction, so a
// record never changes unaudited and an event never describes a change that did not happen.
// Records are read once (load) and kept here, so deciding grants stays synchronous; a fleet host
// calls load() again when another host changed them.
import type { CapabilityRequest } from "../../sdk/manifest.js";
import type { AuditSink } from "../kernel.js";
import type { ModuleRecord, Provenance, Repos, StagedUpgrade, Store } from "../store/store.js";
import type { Sealer } from "../supply/seal.js";
import { HostError } from "../base/errors.js";

/** The manifest's id rule (manifests/module.schema.json): also a safe folder name. */
const MODULE_ID = /^[a-z][a-z0-9-]{1,39}$/;

export function isModuleId(id: unknown): id is string {
  return typeof id === "string" && MODULE_ID.test(id);
}

export interface Approval {
  hash: string;
  capabilities: readonly CapabilityRequest[];
}

/**
 * What a record's seal covers: everything but the time the store stamps and the seal itself, in a
 * fixed order. Each value is JSON the store keeps as JSON.stringify wrote it, so the text read back
 * is the text that was sealed.
 */
function sealed(r: ModuleRecord): string {
  return JSON.stringify([r.id, r.disabled, r.grants, r.approvedHash, r.revoked, r.installedPath, r.files, r.staged, r.provenance]);
}

export class ModuleRecords {
  readonly #store: Store;
  readonly #audit: AuditSink;
  readonly #sealer: Sealer | undefined;
  #records = new Map<string, ModuleRecord>();
  /** Records the store holds whose seal does not verify: their modules do not run here. */
  #refused = new Map<string, HostError>();

  /** `sealer`: present when the store is shared by a fleet; every record written is sealed, every one read verified. */
  constructor(store: Store, audit: AuditSink, sealer?: Sealer) {
    this.#store = store;
    this.#audit = audit;
    this.#sealer = sealer;
  }

  /**
   * Reads every record from the store (at start, and when another host changed one). A shared
   * store is not trusted further than a module's own manifest: a record whose id is not a module
   * id (it would become a path under <home>/modules) is left out and reported, and one whose seal
   * does not verify (written outside Warden) is kept out and its module refused.
   */
  async load(onRefused: (id: string) => void = () => {}): Promise<void> {
    const records = new Map<string, ModuleRecord>();
    const refused = new Map<string, HostError>();
    for (const r of await this.#store.modules.all()) {
      if (!isModuleId(r.id)) onRefused(r.id);
      else if (this.#sealer && !this.#sealer.verifyText("module-record", sealed(r), r.seal)) {
        refused.set(
          r.id,
          new HostError(
            "integrity_failed",
            `the store's record of module '${r.id}' is not sealed by a host of this fleet (it was written outside Warden, or under another WARDEN_SECRET_KEY); the module does not run. Check who can write the database, then install the module again through any host`,
            { details: { module: r.id } },
          ),
        );
      } else records.set(r.id, r);
    }
    this.#records = records;
    this.#refused = refused;
  }

  /** The ids whose stored record is not followed. */
  refusedIds(): string[] {
    return [...this.#refused.keys()];
  }

  /** Why the store's record of `id` is not followed, when it is not. */
  refusal(id: string): HostError | undefined {
    return this.#refused.get(id);
  }

  /** Whether records are sealed (the store is shared by a fleet). */
  get sealedStore(): boolean {
    return this.#sealer !== undefined;
  }

  get(id: string): ModuleRecord {
    return (
      this.#records.get(id) ?? {
        id,
        disabled: false,
        grants: null,
        approvedHash: null,
        revoked: [],
        installedPath: null,
        files: null,
        staged: null,
        provenance: null,
        seal: null,
        updatedAt: new Date().toISOString(),
      }
    );
  }

  find(id: string): ModuleRecord | undefined {
    return this.#records.get(id);
  }

  all(): ModuleRecord[] {
    return [...this.#records.values()];
  }

  async #write(id: string, change: Partial<ModuleRecord>, event: { actor: string; action: string; data?: Record<string, unknown> }): Promise<ModuleRecord> {
    const next = await this.#store.transaction(async (tx) => {
      // Another host may have changed it since: start from the store's record when it verifies,
      // never from one someone wrote beside Warden (this write would seal it).
      const stored = await tx.modules.get(id);
      const verified = stored && (!this.#sealer || this.#sealer.verifyText("module-record", sealed(stored), stored.seal));
      if (stored && !verified && !this.#records.has(id) && change.files === undefined) {
        throw new HostError("integrity_failed", `the store's record of module '${id}' is not sealed by a host of this fleet; install the module again (through any host) to replace it`, {
          details: { module: id },
        });
      }
      const current = verified ? stored : (this.#records.get(id) ?? this.get(id));
      const unsealed = { ...current, ...change, id };
      const record = { ...unsealed, seal: this.#sealer ? this.#sealer.sealText("module-record", sealed(unsealed)) : null };
      await tx.modules.put(record);
      await this.#audit.append({ actor: event.actor, action: event.action, target: id, ...(event.data ? { data: event.data } : {}) }, tx);
      return record;
    });
    this.#records.set(id, next);
    this.#refused.delete(id);
    return next;
  }

  approve(id: string, approval: Approval, actor: string, data: Record<string, unknown>): Promise<ModuleRecord> {
    // An approval grants what the manifest asks, revoked capabilities included: it is the way back from a revoke.
    return this.#write(id, { grants: [...approval.capabilities], approvedHash: approval.hash, revoked: [] }, { actor, action: "module.approve", data: { ...data, restored: this.get(id).revoked } });
  }

  revoke(id: string, capability: string, actor: string): Promise<ModuleRecord> {
    const revoked = [...new Set([...this.get(id).revoked, capability])];
    return this.#write(id, { revoked }, { actor, action: "module.revoke", data: { capability } });
  }

  setDisabled(id: string, disabled: boolean, actor: string): Promise<ModuleRecord> {
    return this.#write(id, { disabled }, { actor, action: disabled ? "module.disable" : "module.enable" });
  }

  installed(
    id: string,
    at: { installedPath: string; files: Record<string, string>; provenance: Provenance },
    approval: Approval | undefined,
    actor: string,
    data: Record<string, unknown>,
  ): Promise<ModuleRecord> {
    const approved = approval ? { grants: [...approval.capabilities], approvedHash: approval.hash } : {};
    return this.#write(id, { ...at, staged: null, ...approved }, { actor, action: "module.install", data });
  }

  staged(id: string, staged: StagedUpgrade, actor: string, data: Record<string, unknown>): Promise<ModuleRecord> {
    return this.#write(id, { staged }, { actor, action: "module.stage", data });
  }

  /** An upgrade, downgrade or reinstall swapped in; `approval` carries over only when nothing widened. */
  swapped(
    id: string,
    at: { installedPath: string; files: Record<string, string>; provenance: Provenance },
    approval: Approval | undefined,
    actor: string,
    action: string,
    data: Record<string, unknown>,
  ): Promise<ModuleRecord> {
    const approved = approval ? { grants: [...approval.capabilities], approvedHash: approval.hash } : {};
    return this.#write(id, { ...at, staged: null, ...approved }, { actor, action, data });
  }

  async removed(id: string, actor: string, purge: (tx: Repos) => Promise<number>): Promise<number> {
    const purged = await this.#store.transaction(async (tx) => {
      await tx.modules.delete(id);
      const n = await purge(tx);
      await this.#audit.append({ actor, action: "module.remove", target: id, data: { purged: n } }, tx);
      return n;
    });
    this.#records.delete(id);
    return purged;
  }

  /**
   * A development or test session (`warden dev`, sdk/testing) grants what the manifest declares,
   * minus `withheld`, on the author's own machine: recorded and audited like an approval.
   */
  grantForDevelopment(id: string, approval: Approval, withheld: readonly string[], actor: string): Promise<ModuleRecord> {
    return this.#write(
      id,
      { grants: [...approval.capabilities], approvedHash: approval.hash, revoked: [...withheld] },
      { actor, action: "module.approve", data: { hash: approval.hash, development: true, withheld } },
    );
  }
}
