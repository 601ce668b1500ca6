// The supervisor: runs user modules in isolates inside a small pool of sandbox processes.
//
// Placement: modules are spread over `poolSize` shared processes (least loaded first). A module
// that was running when its process died is moved to a quarantine process of its own, so a module
// that keeps crashing only ever takes itself down. A dead process is replaced at once and the
// other modules it held are re-activated on the replacement. After `breaker.failures` crashes,
// OOMs or timeouts within `breaker.windowMs` a module is failed (circuit breaker) and stays failed
// until an operator re-enables it.
import { randomBytes } from "node:crypto";
import { basename } from "node:path";
import type { CallInfo } from "../../sdk/context.js";
import { contextApiTable, SERVICE_API } from "../capabilities/catalogue.js";
import { HostError } from "../errors.js";
import type { ActivationSpec, ActiveModule, HostPort, ModuleRuntime } from "../runtime.js";
import { bundleForIsolate, workerScript, type Bundle } from "./bundler.js";
import { MAX_MESSAGE_BYTES, type FromWorker, type Setup, type WireError } from "./messages.js";
import { SandboxProcess } from "./sandbox-process.js";

export interface SandboxOptions {
  poolSize: number;
  breaker: { failures: number; windowMs: number };
  log?: (level: "info" | "warn" | "error", msg: string, data?: Record<string, unknown>) => void;
}

interface Slot {
  spec: ActivationSpec;
  port: HostPort;
  bundle: Bundle;
  proc: SandboxProcess;
  /** The isolate is gone (timeout, memory, crash) and must be re-created before the next call. */
  stale: boolean;
  registerError?: HostError;
  /** Host errors handed to the module, by nonce: re-thrown by the module, they pass through as themselves. */
  issued: Map<string, HostError>;
  cpuMs: number;
  heap: number;
  failed: boolean;
  reactivating?: Promise<void>;
}

const FIXED_API = contextApiTable();

export class SandboxRuntime implements ModuleRuntime {
  readonly #o: SandboxOptions;
  readonly #pool: SandboxProcess[] = [];
  readonly #quarantine = new Map<string, SandboxProcess>();
  readonly #slots = new Map<string, Slot>();
  readonly #failures = new Map<string, number[]>();
  readonly #quarantined = new Set<string>();
  #script: Promise<string> | undefined;
  #closing = false;
  restarts = 0;
  /** The circuit breaker opened: the kernel marks the module failed. */
  onModuleFailed: (id: string, error: HostError) => void = () => {};

  constructor(options: SandboxOptions) {
    this.#o = options;
  }

  async activate(spec: ActivationSpec, port: HostPort): Promise<ActiveModule> {
    if (this.#closing) throw new HostError("module_unavailable", "the host is shutting down");
    const bundle = await bundleForIsolate(spec.entryFile, spec.dir);
    const proc = await this.#place(spec.id);
    const slot: Slot = { spec, port, bundle, proc, stale: false, issued: new Map(), cpuMs: 0, heap: 0, failed: false };
    this.#slots.set(spec.id, slot);
    proc.modules.add(spec.id);
    try {
      await this.#load(slot);
    } catch (e) {
      this.#drop(spec.id);
      throw e;
    }
    return {
      invoke: (command, input, call) => this.#invoke(slot, command, input, call),
      deliverEvent: (sub, event, payload) => {
        if (!slot.stale) slot.proc.send({ t: "event", id: spec.id, sub, event, payload: JSON.stringify(payload ?? null) });
      },
      deactivate: async () => {
        const s = this.#slots.get(spec.id);
        if (!s) return;
        this.#drop(spec.id);
        if (s.proc.alive) await s.proc.request({ t: "deactivate", id: spec.id, rq: s.proc.nextRq() }, spec.id);
      },
    };
  }

  /** Resource use per module, as last reported by its sandbox process. */
  resources(id: string): { cpuMs: number; heapBytes: number } | undefined {
    const s = this.#slots.get(id);
    return s ? { cpuMs: s.cpuMs, heapBytes: s.heap } : undefined;
  }

  async refreshStats(): Promise<void> {
    for (const proc of [...this.#pool, ...this.#quarantine.values()]) {
      const stats = await proc.stats();
      for (const [id, st] of Object.entries(stats)) {
        const s = this.#slots.get(id);
        if (s) {
          s.cpuMs = st.cpuMs;
          s.heap = st.heap;
        }
      }
    }
  }

  stats(): Array<{ pid: number | undefined; quarantine: boolean; modules: string[] }> {
    return [...this.#pool, ...this.#quarantine.values()].map((p) => ({ pid: p.pid, quarantine: p.quarantine, modules: [...p.modules] }));
  }

  /** Modules moved to a process of their own after they took a shared one down. */
  quarantinedModules(): string[] {
    return [...this.#quarantined].sort();
  }

  /** For tests: the process a module runs in. */
  pidOf(id: string): number | undefined {
    return this.#slots.get(id)?.proc.pid;
  }

  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#pool, ...this.#quarantine.values()].map((p) => p.stop()));
    this.#pool.length = 0;
    this.#quarantine.clear();
    this.#slots.clear();
  }

  async #load(slot: Slot): Promise<void> {
    const { spec } = slot;
    delete slot.registerError;
    const setup: Setup = {
      id: spec.id,
      granted: spec.grants.map((g) => g.name),
      commands: Object.keys(spec.manifest.commands ?? {}),
      api: FIXED_API,
      dynamic: { ...SERVICE_API },
      module: { id: spec.id, version: spec.version, kind: "user" },
      maxMessageBytes: MAX_MESSAGE_BYTES,
    };
    const done = await slot.proc.request(
      { t: "activate", id: spec.id, rq: slot.proc.nextRq(), code: slot.bundle.code, codeHash: slot.bundle.hash, setup, limits: spec.limits, filename: `warden:${spec.id}/${basename(spec.entryFile)}` },
      spec.id,
    );
    if (done.err) {
      const err = this.#toHostError(slot, done.err, "activate");
      this.#recordFailure(slot, err);
      throw err;
    }
    if (slot.registerError) {
      slot.proc.send({ t: "deactivate", id: spec.id, rq: slot.proc.nextRq() });
      throw slot.registerError;
    }
    slot.stale = false;
  }

  async #invoke(slot: Slot, command: string, input: unknown, call: CallInfo): Promise<unknown> {
    if (slot.failed) throw new HostError("module_unavailable", `module '${slot.spec.id}' was stopped by its circuit breaker; an operator must run \`warden module enable ${slot.spec.id}\``);
    if (slot.stale) {
      slot.reactivating ??= this.#reactivate(slot).finally(() => delete slot.reactivating);
      await slot.reactivating;
    }
    const proc = slot.proc;
    const done = await proc.request({ t: "invoke", id: slot.spec.id, rq: proc.nextRq(), name: command, input: JSON.stringify(input ?? {}), call: JSON.stringify(call) }, slot.spec.id);
    if (done.cpuMs !== undefined) slot.cpuMs = done.cpuMs;
    if (done.err) {
      const err = this.#toHostError(slot, done.err, command);
      if (["timeout", "memory_limit", "module_crashed"].includes(err.code)) {
        slot.stale = true;
        this.#recordFailure(slot, err);
      }
      throw err;
    }
    const r = JSON.parse(done.r!) as { v: unknown };
    return r.v === null ? undefined : r.v;
  }

  async #reactivate(slot: Slot): Promise<void> {
    if (!slot.proc.alive || (this.#quarantined.has(slot.spec.id) && !slot.proc.quarantine)) {
      slot.proc.modules.delete(slot.spec.id);
      slot.proc = await this.#place(slot.spec.id);
      slot.proc.modules.add(slot.spec.id);
    }
    await this.#load(slot);
  }

  #toHostError(slot: Slot, w: WireError, where: string): HostError {
    if (w.nonce && slot.issued.has(w.nonce)) return slot.issued.get(w.nonce)!;
    switch (w.code) {
      case "timeout":
      case "memory_limit":
      case "module_crashed":
      case "module_unavailable":
        return new HostError(w.code, `${slot.spec.id} (${where}): ${w.message}`);
      default: {
        // Whatever code a module puts on its error stays its own, under details.
        return new HostError("module_error", `${slot.spec.id} (${where}): ${w.message}`, w.own ? { details: { code: w.own } } : {});
      }
    }
  }

  #recordFailure(slot: Slot, err: HostError): void {
    if (!["timeout", "memory_limit", "module_crashed"].includes(err.code)) return;
    const now = Date.now();
    const list = (this.#failures.get(slot.spec.id) ?? []).filter((t) => now - t < this.#o.breaker.windowMs);
    list.push(now);
    this.#failures.set(slot.spec.id, list);
    if (list.length >= this.#o.breaker.failures && !slot.failed) {
      slot.failed = true;
      const error = new HostError("module_unavailable", `module '${slot.spec.id}' failed ${list.length} times within ${Math.round(this.#o.breaker.windowMs / 1000)} s (last: ${err.code}); it stays stopped until \`warden module enable ${slot.spec.id}\``, {
        details: { module: slot.spec.id, last: err.code },
      });
      this.#o.log?.("warn", "circuit breaker opened", { module: slot.spec.id, failures: list.length });
      this.#failures.delete(slot.spec.id);
      this.onModuleFailed(slot.spec.id, error);
    }
  }

  #drop(id: string): void {
    const s = this.#slots.get(id);
    if (!s) return;
    s.proc.modules.delete(id);
    this.#slots.delete(id);
    const q = this.#quarantine.get(id);
    if (q && q === s.proc) {
      this.#quarantine.delete(id);
      void q.stop();
    }
  }

  /** Placement is serialised so that concurrent activations never over-fill the pool. */
  #placing: Promise<unknown> = Promise.resolve();

  #place(id: string): Promise<SandboxProcess> {
    const next = this.#placing.then(() => this.#placeNow(id));
    this.#placing = next.catch(() => {});
    return next;
  }

  async #placeNow(id: string): Promise<SandboxProcess> {
    if (this.#quarantined.has(id)) {
      let q = this.#quarantine.get(id);
      if (!q || !q.alive) {
        q = await this.#spawn(true);
        this.#quarantine.set(id, q);
      }
      await q.ready;
      return q;
    }
    for (let i = this.#pool.length - 1; i >= 0; i--) if (!this.#pool[i]!.alive) this.#pool.splice(i, 1);
    while (this.#pool.length < this.#o.poolSize) this.#pool.push(await this.#spawn(false));
    const proc = [...this.#pool].sort((a, b) => a.modules.size - b.modules.size)[0]!;
    await proc.ready;
    return proc;
  }

  async #spawn(quarantine: boolean): Promise<SandboxProcess> {
    const script = await (this.#script ??= workerScript());
    const proc: SandboxProcess = new SandboxProcess(script, { message: (m) => this.#onMessage(m), exit: (code, signal, running) => this.#onExit(proc, code, signal, running) }, quarantine);
    return proc;
  }

  #onExit(proc: SandboxProcess, code: number | null, signal: NodeJS.Signals | null, culprits: string[]): void {
    if (this.#closing) return;
    this.restarts++;
    this.#o.log?.("warn", "sandbox process died", { pid: proc.pid, code, signal, modules: [...proc.modules], running: culprits });
    for (const id of culprits) if (!proc.quarantine) this.#quarantined.add(id);
    for (const id of proc.modules) {
      const s = this.#slots.get(id);
      if (s) s.stale = true;
    }
    const i = this.#pool.indexOf(proc);
    if (i >= 0) this.#pool.splice(i, 1);
    for (const [id, q] of this.#quarantine) if (q === proc) this.#quarantine.delete(id);
    if (proc.quarantine) return;
    // The others were innocent: bring them back at once on a fresh process.
    const survivors = [...proc.modules].filter((id) => !culprits.includes(id));
    for (const id of survivors) {
      const s = this.#slots.get(id);
      if (s && !s.failed) {
        s.reactivating ??= this.#reactivate(s)
          .catch((e) => this.#o.log?.("warn", "re-activation after a sandbox restart failed", { module: id, err: String((e as Error).message) }))
          .finally(() => delete s.reactivating);
      }
    }
  }

  #onMessage(m: Exclude<FromWorker, { t: "done" } | { t: "ready" } | { t: "stats" }>): void {
    const slot = this.#slots.get(m.id);
    if (!slot) return;
    switch (m.t) {
      case "cap": {
        let args: unknown[];
        try {
          args = JSON.parse(m.args);
        } catch {
          args = [];
        }
        slot.port.call(m.method, Array.isArray(args) ? args : []).then(
          (v) => {
            if (m.rq === 0) return;
            let text: string;
            try {
              text = JSON.stringify({ v: v === undefined ? null : v });
            } catch {
              text = JSON.stringify({ e: { code: "internal", message: "the host's reply could not be encoded" } });
            }
            slot.proc.send({ t: "capr", id: m.id, rq: m.rq, r: text });
          },
          (e) => {
            if (m.rq === 0) return;
            const err = e instanceof HostError ? e : new HostError("internal", "internal error");
            const nonce = randomBytes(16).toString("hex");
            slot.issued.set(nonce, err);
            if (slot.issued.size > 64) slot.issued.delete(slot.issued.keys().next().value!);
            slot.proc.send({ t: "capr", id: m.id, rq: m.rq, r: JSON.stringify({ e: { code: err.code, message: err.message, nonce } }) });
          },
        );
        return;
      }
      case "register":
        try {
          slot.port.register(m.name);
        } catch (e) {
          slot.registerError ??= e instanceof HostError ? e : new HostError("manifest_invalid", String((e as Error).message));
        }
        return;
      case "log": {
        let data: unknown;
        try {
          data = m.data === undefined ? undefined : JSON.parse(m.data);
        } catch {
          data = undefined;
        }
        slot.port.log(m.level, m.msg, data);
        return;
      }
      case "dead":
        slot.stale = true;
        return;
    }
  }
}

