// `warden module install|approve|revoke|remove`: installs into <home>/modules/<id>, pins hashes,
// stages upgrades that add capabilities until an operator approves them, and refuses a patch
// release that grows capabilities.
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { extname, join, resolve } from "node:path";
import semver from "semver";
import { compareGrants, describeGrant, elevations, toGrants } from "../hostapi/grants.js";
import { scopeFacts } from "../loader/grant-policy.js";
import type { ApprovalTarget } from "../kernel.js";
import type { Authorized } from "../authority/authorize.js";
import type { ModuleLoader } from "../loader/module-loader.js";
import { checkApprovalTarget, type OperatorActions } from "../loader/operator-actions.js";
import { HostError, refusals } from "../base/errors.js";
import type { Kernel } from "../kernel.js";
import { readManifest, type LoadedManifest } from "../manifest/index.js";
import type { ModuleRecord } from "../store/store.js";
import { copyFolder, hashFolder } from "../loader/files.js";
import { materializeModule, shareFiles } from "./shared-files.js";
import { readSignedPack, withUnpackedBytes } from "./unpack.js";
import { homeLayout } from "../base/home.js";
import type { Provenance } from "../store/store.js";
import { blockedRefusal, judgePack, publisherLabel, signatureRefusal, type PackFacts } from "../supply/provenance.js";
import { parseSignature } from "../supply/signature.js";

export interface InstallOptions {
  /**
   * Grant what needs approval now: only with the proof that the caller may approve (the same
   * permission as `module approve`, by every path), never a bare flag.
   */
  approve?: Authorized<"capability.grant_elevated">;
  allowDowngrade?: boolean;
  /** The pack's detached signature; default: the pack's path with `.sig` added. */
  signature?: string;
}

/** What install knows of a pack before it reads the module inside. */
type PackIn = Pick<PackFacts, "sha256" | "signature">;

export interface InstallReport {
  id: string;
  version: string;
  action: "installed" | "upgraded" | "downgraded" | "reinstalled" | "staged";
  state: string;
  capabilities: Array<{ name: string; elevated: boolean }>;
  added: string[];
  removed: string[];
  previous?: string;
  note: string;
  /** The verified publisher's name, or "unverified (why)". */
  publisher: string;
  /** sha256 of the pack installed (what `module block` names); null for a folder. */
  pack: string | null;
  /** Said when the pack installed although its publisher is not verified. */
  warning?: string;
}

const names = (l: LoadedManifest) => (l.manifest.capabilities ?? []).map((c) => (typeof c === "string" ? c : c.name));

export class Installer {
  constructor(
    private readonly kernel: Kernel,
    private readonly loader: ModuleLoader,
    private readonly actions: OperatorActions,
    private readonly home: string,
  ) {}

  get modulesDir(): string {
    return homeLayout(this.home).modules;
  }

  async install(source: string, o: InstallOptions, auth: Authorized<"module.install">): Promise<InstallReport> {
    const { actor } = auth;
    const src = resolve(source);
    if (!existsSync(src)) throw new HostError("usage", `${source} does not exist; give a module folder or a .tgz`);
    if (/\.(tgz|tar\.gz)$/.test(src) || extname(src) === ".tgz") {
      const pack = readSignedPack(src, source, o.signature === undefined ? undefined : resolve(o.signature));
      this.#preflight(pack);
      return withUnpackedBytes(pack.bytes, this.home, (dir) => this.#install(dir, o, actor, pack), source);
    }
    return this.#install(src, o, actor, { sha256: null, signature: null });
  }

  /**
   * Before a pack is unpacked: a blocked pack, and (when signatures are required) one whose
   * signature is missing, malformed, by an untrusted key or not over these bytes, is refused without
   * its archive ever being read. The id and version it claims are checked against its manifest after.
   */
  #preflight(pack: PackIn): void {
    const blocked = this.kernel.supply.blocked(pack.sha256);
    if (blocked && pack.sha256) throw blockedRefusal(undefined, pack.sha256, blocked.reason);
    if (!this.kernel.config.get("modules.require_signature")) return;
    const claimed = typeof pack.signature === "object" && pack.signature ? parseSignature(pack.signature) : undefined;
    const as = claimed?.ok ? { id: claimed.signature.id, version: claimed.signature.version } : { id: "", version: "" };
    const refusal = signatureRefusal(judgePack({ ...pack, ...as }, this.kernel.supply), claimed?.ok ? `the pack (its signature names ${as.id} ${as.version})` : "the pack");
    // A key trusted only for other ids is judged once the manifest is read (it names the id).
    if (refusal && refusal.code !== "publisher_not_allowed") throw refusal;
  }

  /** The verdict on what is being installed, refused here when policy says so (blocked; signatures required). */
  #judge(id: string, version: string, pack: PackIn): Provenance {
    const blocked = this.kernel.supply.blocked(pack.sha256);
    if (blocked && pack.sha256) throw blockedRefusal(id, pack.sha256, blocked.reason);
    const verdict = judgePack({ ...pack, id, version }, this.kernel.supply);
    // Without required signatures, anything but a verified publisher installs with a warning and
    // shows as unverified: the operator decides, and sees what they decided on.
    if (this.kernel.config.get("modules.require_signature")) {
      const refusal = signatureRefusal(verdict, id);
      if (refusal) throw refusal;
    }
    return verdict;
  }

  async #install(dir: string, o: InstallOptions, actor: string, pack: PackIn & { bytes?: Buffer }): Promise<InstallReport> {
    const incoming = readManifest(dir, { allowSystem: false });
    const id = incoming.manifest.id;
    const provenance = this.#judge(id, incoming.manifest.version, pack);
    const said = {
      publisher: publisherLabel(provenance),
      pack: provenance.pack,
      ...(provenance.status === "verified" ? {} : { warning: `the publisher is unverified: ${provenance.reason ?? provenance.status}` }),
    };
    const provenanceEvent = { pack: provenance.pack, publisher: provenance.publisher, signature: provenance.status, ...(provenance.reason ? { reason: provenance.reason } : {}) };
    const existing = this.loader.entry(id);
    const target = join(this.modulesDir, id);
    if (existing && resolve(existing.dir) !== target) {
      throw new HostError("module_duplicate", `module id '${id}' is already provided by ${existing.dir}; it cannot be installed over`);
    }
    const record = this.loader.records.get(id);
    const needsApproval = new Set(
      elevations(
        toGrants(incoming.manifest.capabilities),
        scopeFacts(incoming.manifest, (x) => this.loader.entry(x)?.kind),
      ).map((e) => e.capability),
    );
    const capabilities = toGrants(incoming.manifest.capabilities).map((g) => ({ name: describeGrant(g), elevated: needsApproval.has(g.name) }));
    const files = hashFolder(dir);

    if (!existing?.loaded) {
      mkdirSync(this.modulesDir, { recursive: true, mode: 0o700 });
      if (existsSync(target)) rmSync(target, { recursive: true, force: true });
      copyFolder(dir, target);
      await this.#share(target, files, pack);
      const elevated = capabilities.filter((c) => c.elevated).map((c) => c.name);
      await this.loader.records.installed(
        id,
        { installedPath: target, files, provenance },
        o.approve ? { hash: incoming.hash, capabilities: incoming.manifest.capabilities ?? [] } : undefined,
        actor,
        {
          version: incoming.manifest.version,
          hash: incoming.hash,
          capabilities: names(incoming),
          approved: Boolean(o.approve),
          ...provenanceEvent,
        },
      );
      const summary = await this.loader.addModule(target);
      return {
        id,
        version: incoming.manifest.version,
        action: "installed",
        state: summary.state,
        capabilities,
        added: names(incoming),
        removed: [],
        ...said,
        note: summary.state === "pending_approval" ? `elevated capabilities (${elevated.join(", ")}) need \`warden module approve ${id}\`` : "ready",
      };
    }

    // An upgrade (or downgrade, or reinstall) of an installed module.
    const old = existing.loaded;
    const cmp = semver.compare(incoming.manifest.version, old.manifest.version);
    if (cmp < 0 && !o.allowDowngrade) {
      throw new HostError("usage", `${id} ${incoming.manifest.version} is older than the installed ${old.manifest.version}; pass --allow-downgrade to go back`);
    }
    // Typed scopes are compared, not names: a wider net.fetch host list or a broader pattern is an
    // added capability like any other.
    const kindOf = (x: string) => this.loader.entry(x)?.kind;
    const { added, removed } = compareGrants(toGrants(old.manifest.capabilities), toGrants(incoming.manifest.capabilities), {
      prev: scopeFacts(old.manifest, kindOf),
      next: scopeFacts(incoming.manifest, kindOf),
    });
    const bump = cmp > 0 ? semver.diff(old.manifest.version, incoming.manifest.version) : null;
    if (added.length > 0 && (bump === "patch" || bump === "prepatch" || bump === "prerelease")) {
      throw new HostError(
        "manifest_invalid",
        `${id} ${incoming.manifest.version} adds or widens capabilities (${added.join("; ")}) in a patch release; capabilities may only grow with a minor or major version`,
        {
          details: { file: incoming.file, problems: [{ path: "/capabilities", message: `adds ${added.join("; ")} in a patch release` }] },
        },
      );
    }
    const action: InstallReport["action"] = cmp > 0 ? "upgraded" : cmp < 0 ? "downgraded" : "reinstalled";
    // A different publisher than the installed version's is a change of who the operator trusts
    // with the module: it waits for approval like a new capability.
    const before = record.provenance?.status === "verified" ? record.provenance.publisher : null;
    const now = provenance.status === "verified" ? provenance.publisher : null;
    if (before && before.keyId !== now?.keyId) added.push(`publisher: ${before.name} -> ${now ? now.name : `unverified (${provenance.status})`}`);
    if (added.length > 0 && !o.approve) {
      const stagedDir = join(this.modulesDir, ".staged", id);
      rmSync(stagedDir, { recursive: true, force: true });
      mkdirSync(join(this.modulesDir, ".staged"), { recursive: true, mode: 0o700 });
      copyFolder(dir, stagedDir);
      await this.#share(stagedDir, files, pack);
      await this.loader.records.staged(id, { dir: stagedDir, version: incoming.manifest.version, hash: incoming.hash, files, added, removed, provenance }, actor, {
        from: old.manifest.version,
        to: incoming.manifest.version,
        added,
        removed,
        ...provenanceEvent,
      });
      return {
        id,
        version: incoming.manifest.version,
        action: "staged",
        state: existing.state,
        capabilities,
        added,
        removed,
        previous: old.manifest.version,
        ...said,
        note: `${old.manifest.version} keeps serving; \`warden module approve ${id}\` switches to ${incoming.manifest.version} and grants ${added.join("; ")}`,
      };
    }
    await this.#share(dir, files, pack);
    await this.#swapIn(id, dir, incoming, { files, provenance }, record, actor, action, Boolean(o.approve), provenanceEvent);
    const state = this.loader.entry(id)!.state;
    return { id, version: incoming.manifest.version, action, state, capabilities, added, removed, previous: old.manifest.version, ...said, note: "ready" };
  }

  /** Approve: a staged upgrade is swapped in; otherwise the module's manifest is approved as it is. */
  async approve(id: string, target: ApprovalTarget, auth: Authorized<"capability.grant_elevated">): Promise<unknown> {
    const { actor } = auth;
    const record = this.loader.records.get(id);
    if (record.staged) {
      const staged = { ...record.staged, dir: join(this.modulesDir, ".staged", id) };
      checkApprovalTarget(id, { version: staged.version, hash: staged.hash }, target);
      // Staged through another host of a fleet: its files come from the store, checked.
      if (this.kernel.store.changes) await materializeModule(this.kernel, id, staged.files, staged.provenance, staged.dir);
      const incoming = readManifest(staged.dir, { allowSystem: false });
      if (incoming.hash !== staged.hash) throw new HostError("integrity_failed", `the staged upgrade of ${id} changed on disk; install it again`);
      // Judged again under the policy as it is now: a key removed or signatures required since it
      // was staged count, as they would for an install today.
      const was = staged.provenance;
      const provenance = this.#judge(id, incoming.manifest.version, {
        sha256: was?.pack ?? null,
        signature: was?.signature ? Buffer.from(JSON.stringify(was.signature)) : null,
      });
      await this.#swapIn(id, staged.dir, incoming, { files: staged.files, provenance }, { ...record, staged: null }, actor, "upgraded", true, {
        pack: provenance.pack,
        publisher: provenance.publisher,
      });
      rmSync(staged.dir, { recursive: true, force: true });
      return this.actions.approve(id, target, auth);
    }
    return this.actions.approve(id, target, auth);
  }

  async #swapIn(
    id: string,
    from: string,
    incoming: LoadedManifest,
    { files, provenance }: { files: Record<string, string>; provenance: Provenance },
    record: ModuleRecord,
    actor: string,
    action: string,
    approving: boolean,
    said: Record<string, unknown>,
  ): Promise<void> {
    const target = join(this.modulesDir, id);
    const trash = join(this.modulesDir, ".trash", `${id}-${Date.now()}`);
    await this.loader.deactivate(id);
    mkdirSync(join(this.modulesDir, ".trash"), { recursive: true, mode: 0o700 });
    renameSync(target, trash);
    try {
      copyFolder(from, target);
    } catch (e) {
      renameSync(trash, target);
      throw e;
    }
    rmSync(trash, { recursive: true, force: true });
    // Only here when capabilities did not grow or widen (or the operator approved this very
    // manifest), so an approval carries over to the new manifest.
    const carry = record.approvedHash !== null || approving;
    await this.loader.records.swapped(
      id,
      { installedPath: target, files, provenance },
      carry ? { hash: incoming.hash, capabilities: incoming.manifest.capabilities ?? [] } : undefined,
      actor,
      `module.${action === "upgraded" ? "upgrade" : action === "downgraded" ? "downgrade" : "reinstall"}`,
      { version: incoming.manifest.version, hash: incoming.hash, ...said },
    );
    await this.loader.reloadModule(id);
  }

  /**
   * With a store shared by a fleet, the files go there too, so every host can run them; so does
   * the pack they came from, which every host verifies again before it runs them.
   */
  async #share(dir: string, files: Record<string, string>, pack: PackIn & { bytes?: Buffer }): Promise<void> {
    if (!this.kernel.store.changes) return;
    await shareFiles(this.kernel.store, dir, files);
    if (pack.sha256 && pack.bytes) await this.kernel.store.blobs.put(pack.sha256, pack.bytes);
  }

  async remove(id: string, purge: boolean, auth: Authorized<"module.remove">): Promise<{ id: string; removed: boolean; purged: number }> {
    const { actor } = auth;
    const e = this.loader.entry(id);
    if (!e) throw HostError.from(refusals.moduleNotFound(id));
    if (e.kind === "system") throw new HostError("usage", `'${id}' is a system module; it can be disabled, not removed`);
    const target = join(this.modulesDir, id);
    if (resolve(e.dir) !== target) throw new HostError("usage", `'${id}' was not installed with \`warden module install\` (it lives at ${e.dir}); remove its folder or --modules flag instead`);
    await this.loader.forget(id);
    rmSync(target, { recursive: true, force: true });
    rmSync(join(this.modulesDir, ".staged", id), { recursive: true, force: true });
    const purged = await this.loader.records.removed(id, actor, async (tx) => {
      if (!purge) return 0;
      for (const secret of await tx.secrets.list(id)) await tx.secrets.delete(id, secret.name);
      return tx.storage.purge(id);
    });
    return { id, removed: true, purged };
  }
}
