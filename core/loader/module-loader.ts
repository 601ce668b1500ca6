// The ModuleLoader: the registry of discovered modules (folders, validated manifests through the
// manifest index, dependency order, grant decisions by ./grant-policy.ts) and their activation:
// on demand, dependencies first, deactivated again when idle. One module failing marks it and its
// dependents failed; it never stops the others or the host. What operators do to modules is
// ./operator-actions.ts; the records they write, ./module-records.ts.
import { basename, resolve } from "node:path";
import { HostError, refusals, toHostError } from "../base/errors.js";
import { GrantSet } from "../hostapi/grants.js";
import { createHostPort } from "../hostapi/port.js";
import type { Kernel } from "../kernel.js";
import { HOST_VERSION } from "../base/paths.js";
import type { ModuleRuntime } from "../runtime.js";
import { decideGrants } from "./grant-policy.js";
import { ModuleRecords } from "./module-records.js";
import { integrityError, summaryWithProvenance } from "./integrity.js";
import { readIndexedManifest } from "./manifest-index.js";
import { discoverModules, type Candidate } from "./discover.js";
import { summarize, transition, type ModuleEntry, type ModuleState, type ModuleSummary } from "./module-entry.js";
import { resolveDependencies } from "./resolve.js";
import type { LoadedManifest } from "../manifest/index.js";
import { activationSpec, unavailable } from "./activation.js";

export interface LoaderOptions {
  kernel: Kernel;
  home: string;
  modulePaths: readonly string[];
  runtimes: { system: ModuleRuntime; user: ModuleRuntime };
  /** Test hook: a different folder of system modules. */
  systemDir?: string;
  hostVersion?: string;
}

export { unavailable };

export class ModuleLoader {
  readonly #o: LoaderOptions;
  readonly #entries = new Map<string, ModuleEntry>();
  /** Refused folders (duplicate ids) still listed, keyed by path. */
  readonly #shadows: ModuleEntry[] = [];
  #order: string[] = [];

  /** The one writer of module records. */
  readonly records: ModuleRecords;

  constructor(options: LoaderOptions) {
    this.#o = options;
    this.records = new ModuleRecords(options.kernel.store, options.kernel.audit, options.kernel.supply.sealer);
  }

  get kernel(): Kernel {
    return this.#o.kernel;
  }

  /** Discover, validate and resolve; activates nothing. */
  async load(): Promise<void> {
    const candidates = discoverModules({ home: this.#o.home, modulePaths: this.#o.modulePaths, ...(this.#o.systemDir ? { systemDir: this.#o.systemDir } : {}) });
    const index = await this.kernel.store.manifestIndex.all();
    await this.records.load();
    const fresh: Array<[string, string, string]> = [];
    for (const c of candidates) this.#loadCandidate(c, index, fresh);
    // New or changed manifests are remembered in one transaction (one fsync, not one per module).
    await this.#remember(fresh);
    this.#resolve();
  }

  /** Manifests read anew go into the index, all in one transaction. */
  async #remember(fresh: Array<[string, string, string]>): Promise<void> {
    if (fresh.length === 0) return;
    await this.kernel.store.transaction(async (tx) => {
      for (const [dir, stamp, loaded] of fresh) await tx.manifestIndex.put(dir, stamp, loaded);
    });
  }

  /** `knownId`: on a reload, a manifest that no longer reads stays listed under the id it had. */
  #loadCandidate(c: Candidate, index: Map<string, { stamp: string; loaded: string }> | undefined, fresh: Array<[string, string, string]>, knownId?: string): void {
    const kind = c.system ? "system" : "user";
    let entry: ModuleEntry;
    try {
      const loaded = readIndexedManifest(c, this.#o.hostVersion ?? HOST_VERSION, index, fresh);
      entry = { id: loaded.manifest.id, dir: c.dir, kind: loaded.manifest.kind ?? kind, loaded, state: "installed", grants: GrantSet.empty(loaded.manifest.id), subscriptions: [], undecided: true };
    } catch (e) {
      const error = e instanceof HostError ? e : new HostError("manifest_invalid", `${c.dir}: ${(e as Error).message}`);
      const id = knownId ?? c.folder;
      entry = { id, dir: c.dir, kind, state: "failed", error, grants: GrantSet.empty(id), subscriptions: [] };
    }
    const existing = this.#entries.get(entry.id);
    if (existing) {
      entry.shadow = true;
      transition(entry, {
        to: "failed",
        error: new HostError("module_duplicate", `module id '${entry.id}' at ${c.dir} is already provided by ${existing.dir}; the second is refused. Rename or remove one.`, {
          details: { id: entry.id, paths: [existing.dir, c.dir] },
        }),
      });
      this.#shadows.push(entry);
      return;
    }
    if (entry.loaded && entry.kind === "system") {
      try {
        this.kernel.providers.declare(entry.id, entry.loaded.manifest.provides);
      } catch (e) {
        transition(entry, { to: "failed", error: toHostError(e) });
      }
    }
    this.#entries.set(entry.id, entry);
    if (entry.loaded) {
      const { manifest } = entry.loaded;
      this.kernel.config.registerOwner(manifest.id, manifest.config, manifest.configPermission);
      // A command that clashes with one already declared fails this module, never the host's start.
      try {
        for (const [name, cmd] of Object.entries(manifest.commands ?? {})) this.kernel.bus.declare(manifest.id, name, cmd, { checkOutput: entry.kind === "user", kind: entry.kind });
      } catch (e) {
        this.kernel.bus.undeclareModule(manifest.id);
        transition(entry, { to: "failed", error: toHostError(e) });
      }
    }
  }

  #integrityError(e: ModuleEntry): HostError | undefined {
    return integrityError(e, { records: this.records, supply: this.kernel.supply, home: this.#o.home });
  }

  /** Discover one new folder (module install) without touching the others. */
  async addModule(dir: string): Promise<ModuleSummary> {
    const fresh: Array<[string, string, string]> = [];
    this.#loadCandidate({ dir, folder: basename(dir), system: false }, undefined, fresh);
    await this.#remember(fresh);
    this.#resolve();
    const e = [...this.#entries.values()].find((x) => resolve(x.dir) === resolve(dir));
    if (!e) throw new HostError("internal", `module at ${dir} vanished while loading`);
    return summarize(e);
  }

  /** Forget a module entirely (module remove): deactivated, commands undeclared. */
  async forget(id: string): Promise<void> {
    await this.deactivate(id);
    this.kernel.bus.undeclareModule(id);
    this.kernel.providers.forget(id);
    this.#entries.delete(id);
    this.#order = this.#order.filter((x) => x !== id);
  }

  /** Read the module's folder again (files changed, upgrade swapped in) and re-resolve. */
  async reloadModule(id: string): Promise<ModuleSummary> {
    const e = this.#entries.get(id);
    if (!e) throw HostError.from(refusals.moduleNotFound(id));
    const wasActive = e.state === "active";
    const dir = e.dir;
    const system = e.kind === "system";
    await this.forget(id);
    const fresh: Array<[string, string, string]> = [];
    this.#loadCandidate({ dir, folder: basename(dir), system }, undefined, fresh, id);
    await this.#remember(fresh);
    this.#resolve();
    if (wasActive && this.#entries.get(id)?.state === "installed") await this.ensureActive(id).catch(() => {});
    const now = this.#entries.get(id) ?? this.#shadows.find((x) => x.dir === dir) ?? [...this.#entries.values()].find((x) => x.dir === dir);
    if (!now) throw new HostError("module_not_found", `module '${id}' at ${dir} could not be read again; run \`warden module list\``);
    return summarize(now);
  }

  #resolve(): void {
    const nodes = [...this.#entries.values()].flatMap(({ id, loaded }) =>
      loaded ? [{ id, version: loaded.manifest.version, host: loaded.manifest.host, dependencies: loaded.manifest.dependencies ?? {} }] : [],
    );
    const { order, failures } = resolveDependencies(nodes, this.#o.hostVersion ?? HOST_VERSION);
    this.#order = order;
    for (const [id, error] of failures) {
      const e = this.#entries.get(id);
      if (e) transition(e, { to: "failed", error });
    }
    for (const e of this.#entries.values()) if (e.state === "installed") this.#decideGrants(e);
  }

  /** Decide state and grants from the operator's record: disabled, approval pinned to the hash, revocations. */
  redecide(e: ModuleEntry): ModuleState {
    this.#decideGrants(e);
    return e.state;
  }

  /**
   * Another host of a fleet changed this module's record (approve, revoke, disable, enable): the
   * decision is made again. A running module keeps running when it may, with the new grants from
   * its next call on (as a revoke on this host does); otherwise it is stopped first.
   */
  async applyRecord(id: string): Promise<void> {
    const e = this.#entries.get(id);
    if (!e?.loaded || e.shadow) return;
    if (e.state === "failed" && e.error && !e.breaker) return; // a load failure stays until its files change
    const d = decideGrants({ manifest: e.loaded.manifest, hash: e.loaded.hash, kind: e.kind, record: this.records.find(id), kindOf: (x) => this.#entries.get(x)?.kind });
    if (e.state === "active" || e.activating) {
      if (d.state === "installed") {
        e.grants = d.grants;
        return;
      }
      await this.deactivate(id);
    }
    if (e.breaker && this.records.find(id)?.disabled !== false) return; // stopped by its breaker: only an enable restarts it
    e.grants = d.grants;
    transition(e, { to: d.state, error: d.error, clearBreaker: true });
  }

  kindOf(id: string): "system" | "user" | undefined {
    return this.#entries.get(id)?.kind;
  }

  #decideGrants(e: ModuleEntry): void {
    delete e.undecided;
    const record = this.records.find(e.id);
    if (!e.loaded) return;
    const d = decideGrants({ manifest: e.loaded.manifest, hash: e.loaded.hash, kind: e.kind, record, kindOf: (id) => this.#entries.get(id)?.kind });
    e.grants = d.grants;
    transition(e, { to: d.state, error: d.error });
  }

  /** The grants of a module that runs now (active or activating): what the policy point checks a module caller against. */
  activeGrants(id: string): GrantSet | undefined {
    const e = this.#entries.get(id);
    return e && (e.state === "active" || e.activating) ? e.grants : undefined;
  }

  entry(id: string): ModuleEntry | undefined {
    return this.#entries.get(id);
  }

  /** An entry's summary, with where a user module's content came from. */
  summary(e: ModuleEntry): ModuleSummary {
    return summaryWithProvenance(e, this.records.find(e.id), this.kernel.supply);
  }

  list(): ModuleSummary[] {
    return [...this.#entries.values(), ...this.#shadows].map((e) => this.summary(e)).sort((a, b) => a.id.localeCompare(b.id) || a.path.localeCompare(b.path));
  }

  /**
   * Activate every module that can run (or only those of the given kinds), in dependency order.
   * A failure marks that module and, through ensureActive, its dependents; the rest go on.
   */
  async activateAll(kinds: ReadonlyArray<"system" | "user"> = ["system", "user"]): Promise<void> {
    for (const id of this.#order) {
      const e = this.#entries.get(id);
      if (e?.state === "installed" && kinds.includes(e.kind)) await this.ensureActive(id).catch(() => {});
    }
  }

  /** Activate the modules whose manifest asks for `"activation": "startup"`. */
  async activateStartup(): Promise<void> {
    for (const id of this.#order) {
      const e = this.#entries.get(id);
      if (e?.state === "installed" && e.loaded?.manifest.activation === "startup") await this.ensureActive(id).catch(() => {});
    }
  }

  /** Lazy activation: the module's dependencies first, then the module. */
  /** Whether a module is active now (no activation under way, nothing to wait for). */
  isActive(id: string): boolean {
    return this.#entries.get(id)?.state === "active";
  }

  async ensureActive(id: string): Promise<void> {
    const e = this.#entries.get(id);
    if (!e) throw HostError.from(refusals.moduleNotFound(id));
    if (e.state === "active") return;
    if (e.activating) return e.activating;
    if (e.undecided && e.state === "installed") {
      throw new HostError("module_unavailable", `module '${id}' is being added and its grants are not decided yet; try again in a moment`, { details: { module: id, state: "adding" } });
    }
    const loaded = e.loaded;
    if (e.state !== "installed" || !loaded) throw unavailable(e);
    e.activating = this.#activate(e, loaded).finally(() => {
      delete e.activating;
    });
    return e.activating;
  }

  async #activate(e: ModuleEntry, loaded: LoadedManifest): Promise<void> {
    const manifest = loaded.manifest;
    for (const dep of Object.keys(manifest.dependencies ?? {})) {
      try {
        await this.ensureActive(dep);
      } catch (err) {
        const cause = err as HostError;
        transition(e, {
          to: "failed",
          error: new HostError("dependency_unresolved", `module '${e.id}' cannot run because its dependency '${dep}' is not available (${cause.code}: ${cause.message})`, {
            details: { module: e.id, dependency: dep, cause: cause.code },
          }),
        });
        throw unavailable(e);
      }
    }
    const integrity = this.#integrityError(e);
    if (integrity) {
      transition(e, { to: "failed", error: integrity });
      throw unavailable(e);
    }
    const runtime = e.kind === "system" ? this.#o.runtimes.system : this.#o.runtimes.user;
    const port = createHostPort({
      kernel: this.kernel,
      moduleId: e.id,
      kind: e.kind,
      grants: () => e.grants,
      exactContext: runtime.sharesAsyncContext === true,
      declaredCommands: new Set(Object.keys(manifest.commands ?? {})),
      dependencies: Object.keys(manifest.dependencies ?? {}),
      onRegister: (name) =>
        this.kernel.bus.bind(e.id, name, (input, call) => {
          if (!e.active) return Promise.reject(unavailable(e));
          return e.active.invoke(name, input, call);
        }),
      track: (unsubscribe) => e.subscriptions.push(unsubscribe),
      deliver: (id, event, payload) => e.active?.deliverEvent?.(id, event, payload),
    });
    try {
      transition(e, { to: "active", active: await runtime.activate(activationSpec(this.kernel, e, loaded), port), at: Date.now() });
      this.kernel.log.info({ module: e.id, kind: e.kind }, "module active");
      this.kernel.events.emit("module.activated", { id: e.id });
    } catch (err) {
      this.#cleanup(e);
      const error = err instanceof HostError ? err : new HostError("module_error", `module '${e.id}' failed to activate: ${err instanceof Error ? err.message : String(err)}`);
      transition(e, { to: "failed", error });
      this.kernel.log.warn({ module: e.id, code: error.code, err: error.message }, "module failed to activate");
      this.kernel.events.emit("module.failed", { id: e.id, code: error.code });
      throw unavailable(e);
    }
  }

  #cleanup(e: ModuleEntry): void {
    for (const unsubscribe of e.subscriptions.splice(0)) unsubscribe();
    this.kernel.bus.unbindModule(e.id);
    this.kernel.services.withdraw(e.id);
    // (the transition that follows drops e.active)
  }

  async deactivate(id: string): Promise<void> {
    const e = this.#entries.get(id);
    if (!e?.active) return;
    const active = e.active;
    this.#cleanup(e);
    transition(e, { to: "installed" });
    try {
      await active.deactivate();
    } catch (err) {
      this.kernel.log.warn({ module: id, err: (err as Error).message }, "deactivate threw");
    }
  }

  #sweep: NodeJS.Timeout | undefined;

  /**
   * Deactivates user modules idle for longer than ttl seconds (0: never); the next call activates
   * them again. System modules stay: they hold the host's own state.
   */
  startIdleSweep(ttlSeconds: number): void {
    if (this.#sweep) clearInterval(this.#sweep);
    if (!ttlSeconds) return;
    const ttl = ttlSeconds * 1000;
    this.#sweep = setInterval(() => void this.sweepIdle(ttl), Math.max(1000, Math.min(ttl / 2, 30_000)));
    this.#sweep.unref();
  }

  async sweepIdle(ttlMs: number, now = Date.now()): Promise<string[]> {
    const idle: string[] = [];
    for (const e of this.#entries.values()) {
      if (e.kind !== "user" || e.state !== "active") continue;
      const last = Math.max(e.activatedAt ?? 0, this.kernel.ledger.lastCallAt(e.id));
      if (now - last >= ttlMs) idle.push(e.id);
    }
    for (const id of idle) await this.deactivate(id);
    if (idle.length) this.kernel.log.info({ modules: idle }, "idle modules deactivated");
    return idle;
  }

  /** Mark a module failed from outside (the sandbox's circuit breaker). */
  markFailed(id: string, error: HostError): void {
    const e = this.#entries.get(id);
    if (!e) return;
    this.#cleanup(e);
    transition(e, { to: "failed", error, breaker: true });
  }

  async deactivateAll(): Promise<void> {
    if (this.#sweep) clearInterval(this.#sweep);
    for (const id of [...this.#order].reverse()) await this.deactivate(id);
  }

  /** The entry, or module_not_found. */
  require(id: string): ModuleEntry {
    const e = this.#entries.get(id);
    if (!e) throw HostError.from(refusals.moduleNotFound(id));
    return e;
  }
}
