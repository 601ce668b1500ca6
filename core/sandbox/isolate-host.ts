// One isolate per active module, inside a sandbox process.
//
// Every entry into the isolate is a synchronous call from this thread (applySync) with a timeout,
// and the module's promise jobs run in the microtask checkpoint at the end of that call, under the
// same timeout. Nothing is ever scheduled into the isolate asynchronously (no async apply, no async
// callbacks), so module code only ever runs under a deadline: a loop after an await is stopped
// like a loop before it. The slice's timeout is the earliest deadline among the calls in flight,
// and a wall-clock watchdog fails the calls that stay unsettled past theirs (a promise that never
// settles). An isolate that overran or hit its heap limit is disposed and its calls fail with
// `timeout` or `memory_limit`; the next call re-creates it.
//
// The isolate sees one bridge function (an ivm.Callback, copying) and the setup as text; it never
// receives a Reference, an ExternalCopy or the ivm module.
import ivm from "isolated-vm";
import { CACHE_TAG, compileCached, takeShell } from "./isolate-shell.js";
import type { DeathReason, Limits, LogLevel, Setup, WireError } from "./protocol.js";

export interface IsolateEvents {
  /** A call (activate, invoke, deactivate) settled. text: result JSON, "" for undefined. */
  settled(rq: number, text: string | undefined, err: WireError | undefined): void;
  /** A capability call; the answer comes back through reply(). */
  capability(isolateRq: number, method: string, args: string): void;
  /** A refusal the prelude already threw; reported so the host audits it and knows the nonce. */
  denied(method: string, nonce: string): void;
  /** Refusals the prelude only counted (past its per-entry reports). */
  deniedCount(count: number, limited: number): void;
  register(name: string): void;
  log(level: LogLevel, message: string, data: string): void;
  /** The isolate was disposed (overran, out of memory); its calls have been failed. */
  died(reason: DeathReason, message: string): void;
  /** About to run module code (the sandbox process marks it for crash attribution). */
  entering(): void;
}

const LOG_LEVELS = new Set<LogLevel>(["debug", "info", "warn", "error"]);
const WATCHDOG_SLACK_MS = 20;
const SLICE_QUANTUM_MS = 10;

/**
 * Items for the prelude's run(), six primitives each: (0, rq, name, input, call, "") a call,
 * (1, isolateRq, text, "", "", "") a capability reply, (2, isolateRq, code, message, nonce, "") a
 * refusal. `calls` lists the rq of each call among them.
 */
export class Batch {
  readonly items: Array<number | string> = [];
  readonly calls: number[] = [];

  invoke(rq: number, name: string, input: string, call: string): void {
    this.items.push(0, rq, name, input, call, "");
    this.calls.push(rq);
  }

  reply(isolateRq: number, text: string, err: WireError | undefined): void {
    if (err) this.items.push(2, isolateRq, String(err.code), String(err.message), err.nonce ?? "", "");
    else this.items.push(1, isolateRq, text, "", "", "");
  }

  get size(): number {
    return this.items.length / 6;
  }
}

/** What the prelude hands back: its entry points, as references into the isolate. */
interface PreludeRuntime {
  activate: ivm.Reference;
  run: ivm.Reference;
  reply: ivm.Reference;
  deliver: ivm.Reference;
  deactivate: ivm.Reference;
}

export class IsolateHost {
  readonly #limits: Limits;
  readonly #events: IsolateEvents;
  readonly #isolate: ivm.Isolate;
  readonly #context: ivm.Context;
  #rt: PreludeRuntime | undefined;

  /** The prelude's entry points; only ever asked for once the isolate is set up (and not yet disposed). */
  #runtime(): PreludeRuntime {
    if (!this.#rt) throw new Error("the isolate is not set up (or was disposed)");
    return this.#rt;
  }
  /** Calls in flight: rq -> deadline (performance.now() ms: monotonic, so deadlines grow in call order). */
  readonly #calls = new Map<number, number>();
  #watchdog: NodeJS.Timeout | undefined;
  #watchdogAt = Infinity;
  #dead: DeathReason | undefined;

  constructor(setup: Setup, limits: Limits, events: IsolateEvents) {
    this.#limits = limits;
    this.#events = events;
    const shell = takeShell(Math.max(8, limits.memoryMb));
    this.#isolate = shell.isolate;
    this.#context = shell.context;
    const bridge = new ivm.Callback((kind: unknown, a: unknown, b: unknown, c: unknown, d: unknown) => this.#bridge(kind, a, b, c, d));
    const factory = shell.factory;
    const runtime = factory.applySync(undefined, [bridge, JSON.stringify(setup)], { result: { reference: true } }) as ivm.Reference;
    factory.release();
    this.#rt = {
      activate: runtime.getSync("activate", { reference: true }) as ivm.Reference,
      run: runtime.getSync("run", { reference: true }) as ivm.Reference,
      reply: runtime.getSync("reply", { reference: true }) as ivm.Reference,
      deliver: runtime.getSync("deliver", { reference: true }) as ivm.Reference,
      deactivate: runtime.getSync("deactivate", { reference: true }) as ivm.Reference,
    };
    runtime.release();
  }

  get dead(): DeathReason | undefined {
    return this.#dead;
  }

  get cpuMs(): number {
    try {
      return Number(this.#isolate.cpuTime) / 1e6;
    } catch {
      return 0;
    }
  }

  get heapBytes(): number {
    try {
      return this.#isolate.getHeapStatisticsSync().used_heap_size;
    } catch {
      return 0;
    }
  }

  /** Runs the module's bundle, then its activate(ctx); the outcome is reported as call rq. */
  load(rq: number, code: string, hash: string, filename: string): void {
    this.#begin(rq);
    let script: ivm.Script;
    try {
      script = compileCached(this.#isolate, code, filename, `${hash}-${CACHE_TAG}`);
    } catch (e) {
      return this.#settle(rq, undefined, { code: "module_error", message: `the module's code does not compile: ${messageOf(e)}` });
    }
    if (!this.#enter(rq, () => script.runSync(this.#context, { timeout: this.#slice() }), "loading the module")) return;
    this.#enter(rq, () => this.#runtime().activate.applySync(undefined, [rq], { timeout: this.#slice() }), "activate");
  }

  /**
   * What arrived together for this module (see Batch), in one entry: one timer, one switch into
   * the isolate and one microtask checkpoint for all of it. The calls share one deadline (the
   * earliest), as calls in flight on one isolate always do.
   */
  run(batch: Batch): void {
    if (batch.calls.length > 0) for (const rq of batch.calls) this.#begin(rq);
    else if (this.#dead) return; // only replies, for calls that already failed
    const what = batch.calls.length === 1 && batch.items.length === 6 ? String(batch.items[2]) : batch.calls.length > 0 ? `${batch.calls.length} calls` : "a continuation after a host call";
    this.#enter(batch.calls, () => this.#runtime().run.applySync(undefined, batch.items, { timeout: this.#slice() }), what);
  }

  deactivate(rq: number): void {
    this.#begin(rq);
    this.#enter(rq, () => this.#runtime().deactivate.applySync(undefined, [rq], { timeout: this.#slice() }), "deactivate");
  }

  /** The host's answer to a capability call. */
  reply(isolateRq: number, text: string, err: WireError | undefined): void {
    if (this.#dead) return;
    const args = err ? [isolateRq, false, "", String(err.code), String(err.message), err.nonce ?? ""] : [isolateRq, true, text, "", "", ""];
    this.#enter(undefined, () => this.#runtime().reply.applySync(undefined, args, { timeout: this.#slice() }), "a continuation after a host call");
  }

  deliver(sub: string, event: string, payload: string): void {
    if (this.#dead) return;
    this.#enter(undefined, () => this.#runtime().deliver.applySync(undefined, [sub, event, payload], { timeout: this.#slice() }), `the handler of event ${event}`);
  }

  dispose(): void {
    clearTimeout(this.#watchdog);
    this.#rt = undefined;
    try {
      if (!this.#isolate.isDisposed) this.#isolate.dispose();
    } catch {
      // already gone
    }
  }

  #begin(rq: number): void {
    this.#calls.set(rq, performance.now() + this.#limits.timeoutMs);
    this.#arm();
  }

  /**
   * The earliest deadline among the calls in flight. Every call of an isolate has the same
   * timeout, so deadlines grow in the order calls began, and a Map keeps that order: the first
   * entry is the earliest (O(1) per call, where a scan was O(calls in flight)).
   */
  #earliest(): number {
    for (const d of this.#calls.values()) return d;
    return Infinity;
  }

  /**
   * How long module code may run now: up to the earliest deadline of the calls in flight, rounded
   * up to a multiple of SLICE_QUANTUM_MS. isolated-vm keeps each entry's timer in its timer
   * thread's queue until that timer's time comes, even after the entry returned, and the thread
   * wakes once per distinct deadline: with exact deadlines that was a thread switch per call, most
   * of the sandbox's CPU per call. Rounded, the timers of a whole quantum expire together.
   * A call may so run up to SLICE_QUANTUM_MS past its limit.
   */
  #slice(): number {
    const now = performance.now();
    const earliest = this.#earliest();
    const end = Math.min(earliest, now + this.#limits.timeoutMs);
    return Math.max(1, Math.ceil(Math.ceil(end / SLICE_QUANTUM_MS) * SLICE_QUANTUM_MS - now));
  }

  /**
   * Enters the isolate. On a timeout or the heap limit the isolate is disposed and every call in
   * flight fails; an error thrown by the entry itself fails call rq (or each of the calls). Returns
   * whether it ran.
   */
  #enter(rq: number | number[] | undefined, fn: () => unknown, what: string): boolean {
    const each = (err: WireError) => {
      if (Array.isArray(rq)) for (const r of rq) this.#settle(r, undefined, err);
      else if (rq !== undefined) this.#settle(rq, undefined, err);
    };
    if (this.#dead || !this.#rt) {
      each({ code: this.#dead ?? "module_unavailable", message: `the module's isolate is gone (${this.#dead ?? "deactivated"})` });
      return false;
    }
    this.#events.entering();
    try {
      fn();
      return true;
    } catch (e) {
      const message = messageOf(e);
      if (this.#isolate.isDisposed || /memory limit|disposed/i.test(message)) {
        this.#kill("memory_limit", `${what} exceeded the module's memory limit of ${this.#limits.memoryMb} MB`);
      } else if (/Script execution timed out/i.test(message)) {
        this.#kill("timeout", `${what} ran longer than ${this.#limits.timeoutMs} ms`);
      } else {
        each({ code: "module_error", message: `${what}: ${message.slice(0, 2000)}` });
      }
      return false;
    }
  }

  #settle(rq: number, text: string | undefined, err: WireError | undefined): void {
    if (!this.#calls.delete(rq)) return;
    this.#events.settled(rq, text, err);
  }

  #arm(): void {
    const earliest = this.#earliest();
    // A watchdog already set to fire no later than needed stays: when it fires, #check arms the
    // next one. Calls one after another so share one timer instead of a clear and a set each.
    if (this.#watchdogAt <= earliest) return;
    clearTimeout(this.#watchdog);
    this.#watchdogAt = earliest;
    if (earliest === Infinity) return;
    this.#watchdog = setTimeout(() => this.#check(), Math.max(0, earliest - performance.now()) + WATCHDOG_SLACK_MS);
  }

  /** The watchdog: a call past its deadline means the module is stuck (a promise that never settles, or work it keeps scheduling). */
  #check(): void {
    this.#watchdogAt = Infinity;
    const now = performance.now();
    for (const d of this.#calls.values()) {
      if (d <= now) return this.#kill("timeout", `a call did not finish within ${this.#limits.timeoutMs} ms`);
    }
    this.#arm();
  }

  #kill(reason: DeathReason, message: string): void {
    if (this.#dead) return;
    this.#dead = reason;
    this.dispose();
    const calls = [...this.#calls.keys()];
    this.#calls.clear();
    for (const rq of calls) this.#events.settled(rq, undefined, { code: reason, message });
    this.#events.died(reason, message);
  }

  /** Everything the prelude sends out. Arguments are copies; anything of the wrong type is dropped. */
  #bridge(kind: unknown, a: unknown, b: unknown, c: unknown, d: unknown): void {
    switch (kind) {
      case "done":
        if (typeof a === "number" && typeof b === "string") this.#settle(a, b, undefined);
        return;
      case "fail":
        if (typeof a === "number") {
          const err: WireError = { code: "module_error", message: typeof b === "string" ? b : "the module failed" };
          if (typeof c === "string" && c) err.own = c;
          if (typeof d === "string" && d) err.nonce = d;
          this.#settle(a, undefined, err);
        }
        return;
      case "cap":
        if (typeof a === "number" && typeof b === "string" && typeof c === "string") this.#events.capability(a, b, c);
        return;
      case "deny":
        if (typeof a === "string" && typeof b === "string") this.#events.denied(a, b);
        return;
      case "denials": {
        const count = (v: unknown) => (typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : 0);
        this.#events.deniedCount(count(a), count(b));
        return;
      }
      case "register":
        if (typeof a === "string") this.#events.register(a);
        return;
      case "log":
        if (LOG_LEVELS.has(a as LogLevel) && typeof b === "string" && typeof c === "string") this.#events.log(a as LogLevel, b, c);
        return;
    }
  }
}

function messageOf(e: unknown): string {
  return String((e as Error)?.message ?? e);
}
