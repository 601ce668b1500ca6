// The supervisor: runs user modules in isolates inside a small pool of sandbox processes, and is
// the host side of the bridge (every capability call a module makes arrives here and goes to the
// HostPort the kernel gave for that module, which checks it).
//
// Placement: modules are spread over `poolSize` shared processes, least loaded first. A module
// whose code was running when its process died is moved to a quarantine process of its own, so a
// module that keeps crashing only ever takes itself down. A dead pool process is replaced at once
// and the other modules it held are re-activated on the pool; every call that was in flight fails
// with module_crashed (none is left hanging). After `breaker.failures` crashes, OOMs or timeouts
// within `breaker.windowMs` a module is failed (circuit breaker): its calls are refused with
// module_unavailable and it is not restarted until it is activated again (an operator's
// `module enable`).
import type { CallInfo } from "../../sdk/context.js";
import { bundleModule } from "./bundle.js";
import { HostError } from "../base/errors.js";
import { CACHE_DIR } from "../base/paths.js";
import type { ActivationSpec, ActiveModule, HostPort, ModuleRuntime } from "../runtime.js";
import { sandboxProcessScript } from "./process-script.js";
import { DENIAL_RQ, type DeathReason, type Setup } from "./protocol.js";
import { SandboxProcess, type Notice } from "./sandbox-process.js";
import { CircuitBreaker } from "./breaker.js";
import { FairTurns, MAX_PENDING_PER_MODULE } from "./fair-turns.js";
import { capabilityCall, deniedCall, rebuildError } from "./capability-calls.js";
import type { ModuleState, ProcessStats, Slot, SupervisorOptions } from "./slot.js";
import { ProcessPool, type PoolEntry } from "./process-pool.js";
import { MAX_MESSAGE_BYTES, parseWire, toWire } from "./wire.js";

export type { ModuleState, ProcessStats, SupervisorLogLevel, SupervisorOptions } from "./slot.js";

export class SandboxSupervisor implements ModuleRuntime {
  readonly #o: Required<Omit<SupervisorOptions, "logger">> & Pick<SupervisorOptions, "logger">;
  readonly #pool: ProcessPool;
  readonly #breaker: CircuitBreaker;
  readonly #slots = new Map<string, Slot>();
  #closing = false;
  #restarts = 0;

  /** The circuit breaker opened for a module: the kernel marks it failed. */
  onModuleFailed: (id: string, error: HostError) => void = () => {};

  constructor(options: SupervisorOptions) {
    this.#o = {
      poolSize: Math.max(1, Math.floor(options.poolSize ?? 2)),
      maxMemoryMb: options.maxMemoryMb,
      maxTimeoutMs: options.maxTimeoutMs,
      breaker: options.breaker ?? { failures: 3, windowMs: 60_000 },
      logger: options.logger,
      spinUs: options.spinUs ?? 0,
      hangGraceMs: options.hangGraceMs ?? 5000,
    };
    this.#pool = new ProcessPool(this.#o.poolSize, (entry, quarantine) => this.#spawn(entry, quarantine));
    this.#breaker = new CircuitBreaker(this.#o.breaker);
  }

  async activate(spec: ActivationSpec, port: HostPort): Promise<ActiveModule> {
    if (this.#closing) throw new HostError("module_unavailable", "the host is shutting down");
    const bundle = await bundleModule(spec.entryFile, spec.dir, "isolate");
    const limits = {
      memoryMb: Math.max(8, Math.min(spec.limits.memoryMb, this.#o.maxMemoryMb)),
      timeoutMs: Math.max(1, Math.min(spec.limits.timeoutMs, this.#o.maxTimeoutMs)),
    };
    // Activating again replaces what ran before; it is how an operator re-enables a module the breaker stopped.
    const previous = this.#slots.get(spec.id);
    if (previous) {
      this.#drop(previous);
      if (previous.proc.alive) previous.proc.send({ t: "deactivate", id: spec.id, rq: previous.proc.nextRq() });
    }
    this.#breaker.reset(spec.id);
    const proc = await this.#pool.place(spec.id);
    const slot: Slot = {
      spec,
      limits,
      port,
      bundle,
      proc,
      state: "activating",
      stale: true,
      registered: new Set(),
      issued: new Map(),
      denials: new Map(),
      cpuMs: 0,
      heap: 0,
      turns: new FairTurns(),
    };
    this.#slots.set(spec.id, slot);
    proc.modules.add(spec.id);
    try {
      await this.#load(slot);
    } catch (e) {
      this.#drop(slot);
      throw e;
    }
    return {
      invoke: (command, input, call) => this.#invoke(slot, command, input, call),
      deliverEvent: (sub, event, payload) => this.#deliver(slot, sub, event, payload),
      deactivate: () => this.#deactivate(slot),
    };
  }

  async close(): Promise<void> {
    this.#closing = true;
    const procs = this.#pool.processes().map((p) => p.proc);
    this.#pool.close();
    this.#slots.clear();
    await Promise.all(procs.map((p) => p.stop()));
  }

  /** Per process: pid, role, modules and how often its slot was restarted. */
  stats(): ProcessStats[] {
    return this.#pool.processes().map(({ proc, role, slot, restarts }) => ({ pid: proc.pid, role, slot, modules: [...proc.modules].sort(), restarts, quarantine: role === "quarantine" }));
  }

  /** Sandbox processes that died and were replaced, in total. */
  get restarts(): number {
    return this.#restarts;
  }

  /** A module's state here; undefined when it is not active in this runtime. */
  moduleState(id: string): ModuleState | undefined {
    if (this.#breaker.isOpen(id)) return "failed";
    return this.#slots.get(id)?.state;
  }

  /** Modules moved to a process of their own after they took a shared one down. */
  quarantinedModules(): string[] {
    return this.#pool.quarantinedModules();
  }

  /** The process a module runs in. */
  pidOf(id: string): number | undefined {
    return this.#slots.get(id)?.proc.pid;
  }

  /** Resource use per module, as last reported by its sandbox process (see refreshStats). */
  resources(id: string): { cpuMs: number; heapBytes: number } | undefined {
    const s = this.#slots.get(id);
    return s ? { cpuMs: s.cpuMs, heapBytes: s.heap } : undefined;
  }

  async refreshStats(): Promise<void> {
    await Promise.all(
      this.#pool.processes().map(async ({ proc }) => {
        for (const [id, st] of Object.entries(await proc.stats())) {
          const s = this.#slots.get(id);
          if (s && s.proc === proc) {
            s.cpuMs = st.cpuMs;
            s.heap = st.heap;
          }
        }
      }),
    );
  }

  // --- calls -----------------------------------------------------------------------------------

  async #invoke(slot: Slot, command: string, input: unknown, call: CallInfo): Promise<unknown> {
    const id = slot.spec.id;
    if (this.#breaker.isOpen(id)) throw this.#breaker.error(id);
    if (this.#slots.get(id) !== slot) throw new HostError("module_unavailable", `module '${id}' is not active`);
    if (slot.stale) await this.#reactivate(slot);
    if (!slot.registered.has(command)) {
      throw new HostError("module_unavailable", `module '${id}' declares '${command}' but did not register a handler for it in activate()`);
    }
    let payload: string;
    try {
      payload = `${JSON.stringify({ command: call.command, caller: call.caller })}\n${toWire(input ?? {}, `the input of ${id}.${command}`)}`;
    } catch (e) {
      throw new HostError("input_invalid", (e as Error).message);
    }
    const proc = slot.proc;
    const { m, payload: out } = await proc.request({ t: "invoke", id, rq: proc.nextRq(), name: command }, payload, id);
    if (m.err) throw await rebuildError(slot, m.err, command);
    try {
      return parseWire(out, `the result of ${id}.${command}`);
    } catch (e) {
      throw new HostError("module_error", `${id} (${command}): ${(e as Error).message}`);
    }
  }

  #deliver(slot: Slot, sub: string, event: string, payload: unknown): void {
    if (this.#slots.get(slot.spec.id) !== slot || slot.stale || this.#breaker.isOpen(slot.spec.id)) return;
    let text: string;
    try {
      text = toWire(payload ?? null, `the payload of event ${event}`);
    } catch (e) {
      this.#o.logger?.("warn", "event not delivered to a sandboxed module", { module: slot.spec.id, event, err: (e as Error).message });
      return;
    }
    slot.proc.send({ t: "event", id: slot.spec.id, sub: String(sub), event: String(event) }, text);
  }

  async #deactivate(slot: Slot): Promise<void> {
    if (this.#slots.get(slot.spec.id) !== slot) return;
    this.#drop(slot);
    const proc = slot.proc;
    if (proc.alive) await proc.request({ t: "deactivate", id: slot.spec.id, rq: proc.nextRq() }, "", slot.spec.id);
    if (proc.quarantine && proc.modules.size === 0) {
      this.#pool.leaveQuarantine(slot.spec.id);
      await proc.stop();
    }
  }

  /** Creates the module's isolate on its process and runs its activate(ctx). */
  async #load(slot: Slot): Promise<void> {
    const { spec } = slot;
    delete slot.registerError;
    slot.registered.clear();
    const setup: Setup = {
      id: spec.id,
      granted: spec.granted,
      commands: Object.keys(spec.manifest.commands ?? {}),
      api: spec.api,
      bound: { ...spec.bound },
      module: { id: spec.id, version: spec.version, kind: "user" },
      maxMessageBytes: MAX_MESSAGE_BYTES,
      maxPending: MAX_PENDING_PER_MODULE,
    };
    const proc = slot.proc;
    const { m } = await proc.request(
      { t: "activate", id: spec.id, rq: proc.nextRq(), hash: slot.bundle.hash, setup, limits: slot.limits, filename: `warden:${spec.id}/${spec.manifest.entry}` },
      slot.bundle.code,
      spec.id,
    );
    // The host's own refusal of a register call wins over whatever activate() made of it.
    if (m.err && slot.registerError) throw slot.registerError;
    if (m.err) {
      // A crash during activation counts against whoever was running (#onExit decides that), not
      // against this module merely because its activation was in flight.
      throw await rebuildError(slot, m.err, "activate");
    }
    if (slot.registerError) {
      proc.send({ t: "deactivate", id: spec.id, rq: proc.nextRq() });
      throw slot.registerError;
    }
    slot.stale = false;
    slot.state = "active";
  }

  #reactivate(slot: Slot): Promise<void> {
    slot.reactivating ??= (async () => {
      slot.state = "restarting";
      if (!slot.proc.alive || (this.#pool.isQuarantined(slot.spec.id) && !slot.proc.quarantine)) {
        slot.proc.modules.delete(slot.spec.id);
        slot.proc = await this.#pool.place(slot.spec.id);
        slot.proc.modules.add(slot.spec.id);
      }
      await this.#load(slot);
    })().finally(() => delete slot.reactivating);
    return slot.reactivating;
  }

  // --- what the sandbox sends ------------------------------------------------------------------

  #onNotice(proc: SandboxProcess, m: Notice, payload: string): void {
    const slot = this.#slots.get(m.id);
    // Only the process a module lives on speaks for it.
    if (!slot || slot.proc !== proc) return;
    switch (m.t) {
      case "cap":
        return m.rq === DENIAL_RQ ? deniedCall(slot, m.method, m.nonce) : capabilityCall(slot, proc, m.rq, m.method, payload, this.#o.logger);
      case "denials":
        if (Number.isSafeInteger(m.count) && m.count > 0) slot.port.deniedCount?.(Math.min(m.count, 1e9));
        if (Number.isSafeInteger(m.limited) && m.limited > 0) slot.port.limited?.("capability.pending", Math.min(m.limited, 1e9));
        return;
      case "register":
        try {
          slot.port.register(m.name);
          slot.registered.add(m.name);
        } catch (e) {
          const err = e instanceof HostError ? e : new HostError("manifest_invalid", String((e as Error)?.message ?? e));
          if (slot.state !== "active") slot.registerError ??= err;
          else this.#o.logger?.("warn", "a sandboxed module's late command registration was refused", { module: m.id, command: m.name, code: err.code });
        }
        return;
      case "log": {
        let data: unknown;
        try {
          data = parseWire(payload, "log data");
        } catch {
          data = undefined;
        }
        slot.port.log(m.level, String(m.msg), data);
        return;
      }
      case "dead":
        slot.stale = true;
        slot.state = "restarting";
        this.#recordFailure(slot.spec.id, new HostError(m.reason, m.message));
        return;
    }
  }

  // --- failures --------------------------------------------------------------------------------

  #recordFailure(id: string, err: HostError): void {
    const failures = this.#breaker.record(id, err.code);
    if (failures === undefined) return;
    const slot = this.#slots.get(id);
    if (slot) slot.state = "failed";
    const error = this.#breaker.error(id, failures, err.code);
    this.#o.logger?.("warn", "circuit breaker opened", { module: id, failures, last: err.code });
    // Nothing of it keeps running: its isolate goes, and a quarantine process of its own with it.
    if (slot?.proc.alive) slot.proc.send({ t: "deactivate", id, rq: slot.proc.nextRq() });
    const q = this.#pool.quarantineProcess(id);
    if (q && slot && q === slot.proc) void q.stop();
    this.onModuleFailed(id, error);
  }

  #onExit(entry: PoolEntry, proc: SandboxProcess, info: { culprit: string | undefined; running: string[]; why: string; code: number | null; signal: NodeJS.Signals | null }): void {
    if (entry.proc === proc) entry.proc = undefined;
    if (this.#closing || info.why.startsWith("stopped by the host")) return;
    this.#restarts++;
    entry.restarts++;
    // Whose fault: the module whose code was running; failing that, the only one with a call in flight.
    const culprit = info.culprit ?? (info.running.length === 1 ? info.running[0] : undefined);
    this.#o.logger?.("warn", "sandbox process died", { pid: proc.pid, why: info.why, modules: [...proc.modules], culprit: culprit ?? null, quarantine: proc.quarantine });
    for (const id of proc.modules) {
      const s = this.#slots.get(id);
      if (s && s.proc === proc) {
        s.stale = true;
        if (s.state !== "failed") s.state = "restarting";
      }
    }
    if (culprit !== undefined) {
      if (!proc.quarantine) this.#pool.quarantine(culprit);
      this.#recordFailure(culprit, new HostError("module_crashed", info.why));
    }
    if (proc.quarantine) return;
    // The others were innocent: bring them back at once.
    for (const id of proc.modules) {
      const s = this.#slots.get(id);
      if (id === culprit || !s || s.proc !== proc || this.#breaker.isOpen(id)) continue;
      this.#reactivate(s).catch((e) => this.#o.logger?.("warn", "re-activation after a sandbox restart failed", { module: id, err: String((e as Error)?.message ?? e) }));
    }
  }

  // --- processes -------------------------------------------------------------------------------

  async #spawn(entry: PoolEntry, quarantine: boolean): Promise<SandboxProcess> {
    const script = await sandboxProcessScript();
    const proc: SandboxProcess = new SandboxProcess(
      {
        script,
        cacheDir: CACHE_DIR,
        quarantine,
        hangMs: () => this.#longestTimeout(proc) + this.#o.hangGraceMs,
        spinUs: this.#o.spinUs,
      },
      {
        notice: (m, payload) => this.#onNotice(proc, m, payload),
        exit: (info) => this.#onExit(entry, proc, info),
      },
    );
    return proc;
  }

  #longestTimeout(proc: SandboxProcess): number {
    let max = 0;
    for (const id of proc.modules) max = Math.max(max, this.#slots.get(id)?.limits.timeoutMs ?? 0);
    return max;
  }

  #drop(slot: Slot): void {
    const id = slot.spec.id;
    if (this.#slots.get(id) === slot) this.#slots.delete(id);
    slot.proc.modules.delete(id);
  }
}

export type { DeathReason };
