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
import { bundleModule, type BundleResult } from "./bundle.js";
import { HostError, toHostError } from "../base/errors.js";
import { CACHE_DIR } from "../base/paths.js";
import type { ActivationSpec, ActiveModule, HostPort, ModuleRuntime } from "../runtime.js";
import { sandboxProcessScript } from "./process-script.js";
import { DENIAL_RQ, type DeathReason, type Limits, type Setup, type WireError } from "./protocol.js";
import { SandboxProcess, type Notice } from "./sandbox-process.js";
import { MAX_MESSAGE_BYTES, parseWire, toWire } from "./wire.js";

export type SupervisorLogLevel = "debug" | "info" | "warn" | "error";

export interface SupervisorOptions {
  /** Shared sandbox processes (quarantine processes come on top). Default 2. */
  poolSize?: number;
  /** Host policy: caps every module's limits.memoryMb. */
  maxMemoryMb: number;
  /** Host policy: caps every module's limits.timeoutMs. */
  maxTimeoutMs: number;
  /** Failures (crash, OOM, timeout) within windowMs that fail a module. Default 3 in 60 s. */
  breaker?: { failures: number; windowMs: number };
  logger?: (level: SupervisorLogLevel, msg: string, data?: Record<string, unknown>) => void;
  /**
   * How long a sandbox process busy-polls after a burst of calls, in µs (0: never, the default).
   * Polling saves an idle core's wake-up per call, but where host and sandbox share a core (a
   * pinned server, a busy machine) it takes the CPU the host needs to answer: measured on one core
   * it tripled the sandbox's CPU per call and did not lower p50.
   */
  spinUs?: number;
  /** A process with calls pending that is silent for its modules' longest timeout plus this is killed as hung. Default 5000. */
  hangGraceMs?: number;
}

export type ModuleState = "activating" | "active" | "restarting" | "failed";

export interface ProcessStats {
  pid: number | undefined;
  role: "pool" | "quarantine";
  /** Pool index, or the quarantined module's id. */
  slot: string;
  modules: string[];
  /** Times this slot's process died and was replaced. */
  restarts: number;
  quarantine: boolean;
}

interface Slot {
  spec: ActivationSpec;
  limits: Limits;
  port: HostPort;
  bundle: BundleResult;
  proc: SandboxProcess;
  state: ModuleState;
  /** The isolate is gone (timeout, memory, crash) and is re-created before the next call. */
  stale: boolean;
  /** Commands the port accepted a handler for. */
  registered: Set<string>;
  registerError?: HostError;
  /** Host errors handed to the module, by nonce: re-thrown by the module, they pass through as themselves. */
  issued: Map<string, HostError>;
  /** Refusals the prelude already threw whose host-side check is still running, by nonce. */
  denials: Map<string, Promise<void>>;
  cpuMs: number;
  heap: number;
  reactivating?: Promise<void>;
  /** Its capability calls running on the host now, and those waiting for a turn (fair turns). */
  running: number;
  waiting: Array<() => void>;
}

interface PoolEntry {
  proc: SandboxProcess | undefined;
  restarts: number;
}

const ISSUED_KEPT = 256;
/** Capability calls one module may have waiting on the host (its prelude refuses more with rate_limited). */
const MAX_PENDING_PER_MODULE = 256;
/**
 * Only the guilty pay: a module's capability calls run on the host at most this many at a time
 * (the rest wait their turn, in order), so a module flooding the store or the cache delays a
 * neighbour's call by a few of its own, not by all it sent. Calls that run other commands
 * (commands.invoke, commands.dispatch) are not held back: a chain waiting on itself must not wait
 * for its own turn.
 */
const RUNNING_PER_MODULE = 4;
const UNQUEUED = new Set(["commands.invoke", "commands.dispatch", "net.fetch"]);
const FAILURE_CODES = new Set(["timeout", "memory_limit", "module_crashed"]);

export class SandboxSupervisor implements ModuleRuntime {
  readonly #o: Required<Omit<SupervisorOptions, "logger">> & Pick<SupervisorOptions, "logger">;
  readonly #pool: PoolEntry[];
  readonly #quarantine = new Map<string, PoolEntry>();
  readonly #quarantined = new Set<string>();
  readonly #slots = new Map<string, Slot>();
  readonly #failures = new Map<string, number[]>();
  readonly #failed = new Set<string>();
  #closing = false;
  #nonces = 0;
  #restarts = 0;
  /** Placement is serialised so that concurrent activations never over-fill the pool. */
  #placing: Promise<unknown> = Promise.resolve();

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
    this.#pool = Array.from({ length: this.#o.poolSize }, () => ({ proc: undefined, restarts: 0 }));
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
    this.#failed.delete(spec.id);
    this.#failures.delete(spec.id);
    const proc = await this.#place(spec.id);
    const slot: Slot = {
      spec, limits, port, bundle, proc,
      state: "activating", stale: true, registered: new Set(), issued: new Map(), denials: new Map(), cpuMs: 0, heap: 0, running: 0, waiting: [],
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
    const procs = this.#processes().map((p) => p.proc);
    this.#slots.clear();
    await Promise.all(procs.map((p) => p.stop()));
    for (const e of this.#pool) e.proc = undefined;
    this.#quarantine.clear();
  }

  /** Per process: pid, role, modules and how often its slot was restarted. */
  stats(): ProcessStats[] {
    return this.#processes().map(({ proc, role, slot, restarts }) => ({ pid: proc.pid, role, slot, modules: [...proc.modules].sort(), restarts, quarantine: role === "quarantine" }));
  }

  /** Sandbox processes that died and were replaced, in total. */
  get restarts(): number {
    return this.#restarts;
  }

  /** A module's state here; undefined when it is not active in this runtime. */
  moduleState(id: string): ModuleState | undefined {
    if (this.#failed.has(id)) return "failed";
    return this.#slots.get(id)?.state;
  }

  /** Modules moved to a process of their own after they took a shared one down. */
  quarantinedModules(): string[] {
    return [...this.#quarantined].sort();
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
      this.#processes().map(async ({ proc }) => {
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
    if (this.#failed.has(id)) throw this.#breakerError(id);
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
    if (m.err) throw await this.#rebuild(slot, m.err, command);
    try {
      return parseWire(out, `the result of ${id}.${command}`);
    } catch (e) {
      throw new HostError("module_error", `${id} (${command}): ${(e as Error).message}`);
    }
  }

  #deliver(slot: Slot, sub: string, event: string, payload: unknown): void {
    if (this.#slots.get(slot.spec.id) !== slot || slot.stale || this.#failed.has(slot.spec.id)) return;
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
      this.#quarantine.delete(slot.spec.id);
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
      throw await this.#rebuild(slot, m.err, "activate");
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
      if (!slot.proc.alive || (this.#quarantined.has(slot.spec.id) && !slot.proc.quarantine)) {
        slot.proc.modules.delete(slot.spec.id);
        slot.proc = await this.#place(slot.spec.id);
        slot.proc.modules.add(slot.spec.id);
      }
      await this.#load(slot);
    })().finally(() => delete slot.reactivating);
    return slot.reactivating;
  }

  /**
   * An error from the sandbox as a HostError. The sandbox process (not the module) sets `code`; a
   * module's own code stays under details; an error the host issued to the module and the module
   * re-threw comes back as the host's own error object.
   */
  async #rebuild(slot: Slot, w: WireError, where: string): Promise<HostError> {
    const id = slot.spec.id;
    if (w.nonce) {
      await slot.denials.get(w.nonce);
      const issued = slot.issued.get(w.nonce);
      if (issued) return issued;
    }
    switch (w.code) {
      case "timeout":
      case "memory_limit":
      case "module_crashed":
      case "module_unavailable":
        return new HostError(w.code, `module '${id}' (${where}): ${w.message}`);
      default:
        return new HostError("module_error", `${id} (${where}): ${w.message}`, w.own ? { details: { code: w.own } } : {});
    }
  }

  // --- what the sandbox sends ------------------------------------------------------------------

  #onNotice(proc: SandboxProcess, m: Notice, payload: string): void {
    const slot = this.#slots.get(m.id);
    // Only the process a module lives on speaks for it.
    if (!slot || slot.proc !== proc) return;
    switch (m.t) {
      case "cap":
        return m.rq === DENIAL_RQ ? this.#denied(slot, m.method, m.nonce) : this.#capability(slot, proc, m.rq, m.method, payload);
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

  #capability(slot: Slot, proc: SandboxProcess, rq: number, method: string, payload: string): void {
    const id = slot.spec.id;
    const fail = (e: unknown) => {
      const err = e instanceof HostError ? e : toHostError(e);
      if (!(e instanceof HostError)) this.#o.logger?.("error", "a capability call failed inside the host", { module: id, method, err: String((e as Error)?.message ?? e) });
      proc.send({ t: "capr", id, rq, err: { code: err.code, message: err.message, nonce: this.#issue(slot, err) } });
    };
    let args: unknown;
    try {
      args = parseWire(payload, `${method} arguments`);
      if (!Array.isArray(args)) throw new Error(`${method} arguments must be a list`);
    } catch (e) {
      return fail(new HostError("input_invalid", (e as Error).message));
    }
    const run = (): Promise<void> => {
      let result: Promise<unknown>;
      try {
        result = slot.port.call(method, args as unknown[]);
      } catch (e) {
        fail(e);
        return Promise.resolve();
      }
      return result.then((v) => {
        let text: string;
        try {
          text = toWire(v, `the result of ${method}`);
        } catch (e) {
          return fail(new HostError("internal", (e as Error).message));
        }
        proc.send({ t: "capr", id, rq }, text);
      }, fail);
    };
    if (UNQUEUED.has(method)) return void run();
    // The host holds at most MAX_PENDING_PER_MODULE of them, whatever the sandbox sends.
    if (slot.waiting.length >= MAX_PENDING_PER_MODULE) {
      return fail(new HostError("rate_limited", `module '${id}' has ${MAX_PENDING_PER_MODULE} capability calls waiting on the host; await some before making more`, { retryAfter: 1 }));
    }
    const turn = () => {
      slot.running++;
      void run().finally(() => {
        slot.running--;
        slot.waiting.shift()?.();
      });
    };
    if (slot.running < RUNNING_PER_MODULE) turn();
    else slot.waiting.push(turn);
  }

  /** A refusal the prelude threw already: the port checks it (and audits it); its error is kept under the prelude's nonce. */
  #denied(slot: Slot, method: string, nonce: string | undefined): void {
    let check: Promise<unknown>;
    try {
      check = slot.port.call(method, []);
    } catch (e) {
      check = Promise.reject(e);
    }
    const done = check.then(
      () => {},
      (e) => {
        if (nonce && e instanceof HostError) this.#issue(slot, e, nonce);
      },
    );
    if (!nonce) return;
    slot.denials.set(nonce, done);
    void done.finally(() => slot.denials.delete(nonce));
  }

  /** Remembers an error handed to the module; returns the nonce that names it. */
  #issue(slot: Slot, err: HostError, nonce = `h:${++this.#nonces}`): string {
    slot.issued.set(nonce, err);
    if (slot.issued.size > ISSUED_KEPT) slot.issued.delete(slot.issued.keys().next().value!);
    return nonce;
  }

  // --- failures --------------------------------------------------------------------------------

  #recordFailure(id: string, err: HostError): void {
    if (!FAILURE_CODES.has(err.code) || this.#failed.has(id)) return;
    const now = Date.now();
    const list = (this.#failures.get(id) ?? []).filter((t) => now - t < this.#o.breaker.windowMs);
    list.push(now);
    this.#failures.set(id, list);
    if (list.length < this.#o.breaker.failures) return;
    this.#failures.delete(id);
    this.#failed.add(id);
    const slot = this.#slots.get(id);
    if (slot) slot.state = "failed";
    const error = this.#breakerError(id, list.length, err.code);
    this.#o.logger?.("warn", "circuit breaker opened", { module: id, failures: list.length, last: err.code });
    // Nothing of it keeps running: its isolate goes, and a quarantine process of its own with it.
    if (slot?.proc.alive) slot.proc.send({ t: "deactivate", id, rq: slot.proc.nextRq() });
    const q = this.#quarantine.get(id);
    if (q?.proc && slot && q.proc === slot.proc) void q.proc.stop();
    this.onModuleFailed(id, error);
  }

  #breakerError(id: string, failures?: number, last?: string): HostError {
    return new HostError(
      "module_unavailable",
      `module '${id}' was stopped by its circuit breaker` +
        (failures ? ` after ${failures} failures within ${Math.round(this.#o.breaker.windowMs / 1000)} s (last: ${last})` : "") +
        `; it stays stopped until an operator runs \`warden module enable ${id}\``,
      { details: { module: id, ...(last ? { last } : {}) } },
    );
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
      if (!proc.quarantine) this.#quarantined.add(culprit);
      this.#recordFailure(culprit, new HostError("module_crashed", info.why));
    }
    if (proc.quarantine) return;
    // The others were innocent: bring them back at once.
    for (const id of proc.modules) {
      const s = this.#slots.get(id);
      if (id === culprit || !s || s.proc !== proc || this.#failed.has(id)) continue;
      this.#reactivate(s).catch((e) => this.#o.logger?.("warn", "re-activation after a sandbox restart failed", { module: id, err: String((e as Error)?.message ?? e) }));
    }
  }

  // --- placement -------------------------------------------------------------------------------

  #place(id: string): Promise<SandboxProcess> {
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
    for (const e of this.#pool) if (!e.proc?.alive) e.proc = await this.#spawn(e, false);
    const proc = this.#pool.map((e) => e.proc!).sort((a, b) => a.modules.size - b.modules.size)[0]!;
    await proc.ready;
    return proc;
  }

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

  #processes(): Array<{ proc: SandboxProcess; role: "pool" | "quarantine"; slot: string; restarts: number }> {
    const out: Array<{ proc: SandboxProcess; role: "pool" | "quarantine"; slot: string; restarts: number }> = [];
    this.#pool.forEach((e, i) => e.proc && out.push({ proc: e.proc, role: "pool", slot: String(i), restarts: e.restarts }));
    for (const [id, e] of this.#quarantine) if (e.proc) out.push({ proc: e.proc, role: "quarantine", slot: id, restarts: e.restarts });
    return out;
  }

  #drop(slot: Slot): void {
    const id = slot.spec.id;
    if (this.#slots.get(id) === slot) this.#slots.delete(id);
    slot.proc.modules.delete(id);
  }
}

export type { DeathReason };
