// A fleet host following module changes made through other hosts: installed files are written
// from the store into this home (checked against their hashes), and changed records (approve,
// revoke, disable, enable, remove) are applied to the loaded modules. The store is the truth;
// this host's folders under <home>/modules are a cache of it.
import { existsSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Kernel } from "../kernel.js";
import type { ModuleLoader } from "../loader/module-loader.js";
import type { ModuleRecord } from "../store/store.js";
import { HostError } from "../base/errors.js";
import { isModuleId } from "../loader/module-records.js";
import { changedFiles } from "../loader/files.js";
import { materializeModule } from "./shared-files.js";
import { applyTrustPolicy, refuseModule } from "../loader/integrity.js";

export class FleetModules {
  constructor(
    private readonly kernel: Kernel,
    private readonly loader: ModuleLoader,
    private readonly modulesDir: string,
  ) {}

  /** At start, before discovery: every module installed through any host is materialised here. */
  async materializeAll(): Promise<void> {
    // Only records this host verified (in a fleet, sealed by a host): the rest are reported and left out.
    await this.loader.records.load(this.#refused);
    for (const r of this.loader.records.all()) await this.#materialize(r).catch((e) => this.#failed(r.id, e));
    for (const id of this.loader.records.refusedIds()) this.#failed(id, this.loader.records.refusal(id));
  }

  #refused = (id: string): void =>
    this.#failed(
      id.slice(0, 80),
      new HostError(
        "integrity_failed",
        `the store holds a module record whose id is not a module id (${JSON.stringify(id.slice(0, 80))}); it is ignored. Someone wrote to the shared database outside Warden: check who can.`,
      ),
    );

  /** After the store's change counter moved: config, the trust policy, then the module records. */
  async refresh(): Promise<void> {
    await this.kernel.config.reload();
    const policyChanged = await this.kernel.supply.load();
    await this.kernel.principals.load();
    await this.kernel.approvals.load();
    await this.syncFromStore();
    if (policyChanged) await applyTrustPolicy(this.loader);
  }

  /** Reads the module records again and applies what changed. */
  async syncFromStore(): Promise<void> {
    const before = new Map(this.loader.records.all().map((r) => [r.id, r]));
    const refusedBefore = new Set(this.loader.records.refusedIds());
    await this.loader.records.load(this.#refused);
    const after = new Map(this.loader.records.all().map((r) => [r.id, r]));
    // A record refused before and still refused was reported then; a newly refused one is reported now.
    const newlyRefused = this.loader.records.refusedIds().filter((id) => !refusedBefore.has(id));
    for (const id of new Set([...before.keys(), ...after.keys(), ...newlyRefused])) {
      const was = before.get(id);
      const now = after.get(id);
      if (was && now && sameRecord(was, now)) continue;
      try {
        await this.#apply(id, was, now);
      } catch (e) {
        this.#failed(id, e);
      }
    }
  }

  async #apply(id: string, was: ModuleRecord | undefined, now: ModuleRecord | undefined): Promise<void> {
    const target = join(this.modulesDir, id);
    const entry = this.loader.entry(id);
    const refused = this.loader.records.refusal(id);
    if (!now && refused) {
      // A record this host cannot verify is not a removal: the module stops and says why.
      await refuseModule(this.loader, id, refused);
      this.#failed(id, refused);
      return;
    }
    if (!now) {
      // Removed through another host; a module this host found elsewhere (--modules) is not ours.
      if (entry && resolve(entry.dir) === resolve(target)) {
        await this.loader.forget(id);
        rmSync(target, { recursive: true, force: true });
        this.kernel.log.info({ module: id }, "fleet: module removed through another host");
      }
      return;
    }
    const filesChanged = now.files !== null && JSON.stringify(now.files) !== JSON.stringify(was?.files ?? null);
    if (filesChanged && (await this.#materialize(now))) {
      if (entry) await this.loader.reloadModule(id);
      else await this.loader.addModule(target);
      this.kernel.log.info({ module: id }, "fleet: module files updated from the store");
      return;
    }
    await this.loader.applyRecord(id);
  }

  /** Writes the record's files into this home unless they are there already; true when it wrote. */
  async #materialize(r: ModuleRecord): Promise<boolean> {
    if (!r.files || !r.installedPath) return false;
    // The id becomes a folder name: only a module id, never a path, whatever the store says.
    if (!isModuleId(r.id)) {
      this.#refused(r.id);
      return false;
    }
    const target = join(this.modulesDir, r.id);
    if (existsSync(target) && changedFiles(target, r.files).length === 0) return false;
    await materializeModule(this.kernel, r.id, r.files, r.provenance, target);
    return true;
  }

  #failed(id: string, e: unknown): void {
    this.kernel.log.error({ module: id, code: (e as { code?: unknown })?.code, err: String((e as Error)?.message ?? e) }, "fleet: a module change from the store could not be applied on this host");
  }
}

function sameRecord(a: ModuleRecord, b: ModuleRecord): boolean {
  const strip = ({ updatedAt: _u, ...rest }: ModuleRecord) => JSON.stringify(rest);
  return strip(a) === strip(b);
}
