// Where modules run: `size` shared sandbox processes, least loaded first, and a quarantine process
// of its own for each module whose code was running when its process died (a module that keeps
// crashing only ever takes itself down). Placement is serialised so that concurrent activations
// never over-fill the pool; a dead process is replaced when a module is next placed.
import { HostError } from "../base/errors.js";
import type { SandboxProcess } from "./sandbox-process.js";

/** One place a process runs: a pool index or a quarantined module's own. */
export interface PoolEntry {
  proc: SandboxProcess | undefined;
  /** Times this entry's process died and was replaced. */
  restarts: number;
}

export interface PlacedProcess {
  proc: SandboxProcess;
  role: "pool" | "quarantine";
  /** Pool index, or the quarantined module's id. */
  slot: string;
  restarts: number;
}

export class ProcessPool {
  readonly #pool: PoolEntry[];
  readonly #quarantine = new Map<string, PoolEntry>();
  readonly #quarantined = new Set<string>();
  readonly #spawn: (entry: PoolEntry, quarantine: boolean) => Promise<SandboxProcess>;
  #placing: Promise<unknown> = Promise.resolve();
  #closing = false;

  constructor(size: number, spawn: (entry: PoolEntry, quarantine: boolean) => Promise<SandboxProcess>) {
    this.#pool = Array.from({ length: size }, () => ({ proc: undefined, restarts: 0 }));
    this.#spawn = spawn;
  }

  /** A live, ready process for module `id`: its quarantine process if it has one, else the least loaded. */
  place(id: string): Promise<SandboxProcess> {
    const next = this.#placing.then(() => this.#placeNow(id));
    this.#placing = next.catch(() => {});
    return next;
  }

  async #placeNow(id: string): Promise<SandboxProcess> {
    if (this.#closing) throw new HostError("module_unavailable", "the host is shutting down");
    if (this.#quarantined.has(id)) {
      let q = this.#quarantine.get(id);
      if (!q) this.#quarantine.set(id, (q = { proc: undefined, restarts: 0 }));
      if (!q.proc?.alive) q.proc = await this.#spawn(q, true);
      await q.proc.ready;
      return q.proc;
    }
    let least: SandboxProcess | undefined;
    for (const e of this.#pool) {
      if (!e.proc?.alive) e.proc = await this.#spawn(e, false);
      if (!least || e.proc.modules.size < least.modules.size) least = e.proc;
    }
    if (!least) throw new HostError("module_unavailable", "the sandbox pool has no process (poolSize is 0)");
    await least.ready;
    return least;
  }

  /** From now on `id` runs in a process of its own. */
  quarantine(id: string): void {
    this.#quarantined.add(id);
  }

  isQuarantined(id: string): boolean {
    return this.#quarantined.has(id);
  }

  quarantinedModules(): string[] {
    return [...this.#quarantined].sort();
  }

  /** The quarantine process of `id`, if one runs. */
  quarantineProcess(id: string): SandboxProcess | undefined {
    return this.#quarantine.get(id)?.proc;
  }

  /** `id` left its quarantine process (deactivated): the entry goes. */
  leaveQuarantine(id: string): void {
    this.#quarantine.delete(id);
  }

  processes(): PlacedProcess[] {
    const out: PlacedProcess[] = [];
    this.#pool.forEach((e, i) => e.proc && out.push({ proc: e.proc, role: "pool", slot: String(i), restarts: e.restarts }));
    for (const [id, e] of this.#quarantine) if (e.proc) out.push({ proc: e.proc, role: "quarantine", slot: id, restarts: e.restarts });
    return out;
  }

  /** No more placements; forgets every process (the caller stops them). */
  close(): void {
    this.#closing = true;
    for (const e of this.#pool) e.proc = undefined;
    this.#quarantine.clear();
  }
}
