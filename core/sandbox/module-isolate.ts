// One isolate per active user module, inside a sandbox process. The isolate gets plain data and
// two callbacks; the process keeps references to the prelude's runtime functions, never exposed
// to module code. Limits: a heap cap (memoryLimit), a timeout on every call, and a watchdog that
// disposes an isolate whose call overran even after an await (which `timeout` alone misses).
import ivm from "isolated-vm";
import type { Limits, Setup, WireError } from "./messages.js";
import { PRELUDE } from "./prelude.js";

export type DeathReason = "timeout" | "memory_limit" | "module_error";

export interface IsolateHooks {
  /** A capability call from the module; the reply comes back through ModuleIsolate.reply. */
  capability(rq: number, method: string, args: string): void;
  notify(kind: string, payload: string): void;
  died(reason: DeathReason, message: string): void;
}

export class CallFailure extends Error {
  constructor(readonly wire: WireError) {
    super(wire.message);
  }
}

/** V8 code cache per bundle hash, shared by the isolates of this process. */
const codeCache = new Map<string, Buffer>();

export class ModuleIsolate {
  readonly #isolate: ivm.Isolate;
  readonly #context: ivm.Context;
  readonly #limits: Limits;
  readonly #hooks: IsolateHooks;
  #runtime!: { activate: ivm.Reference; dispatch: ivm.Reference; deliver: ivm.Reference; deactivate: ivm.Reference; reply: ivm.Reference };
  #dead: DeathReason | undefined;
  #inFlight = 0;

  constructor(setup: Setup, limits: Limits, hooks: IsolateHooks) {
    this.#limits = limits;
    this.#hooks = hooks;
    this.#isolate = new ivm.Isolate({
      memoryLimit: Math.max(8, limits.memoryMb),
      // V8 cannot recover from these; the supervisor restarts this process.
      onCatastrophicError: () => process.abort(),
    });
    this.#context = this.#isolate.createContextSync();
    const global = this.#context.global;
    global.setSync("globalThis", global.derefInto());
    global.setSync("__wardenSetup", JSON.stringify(setup));
    global.setSync(
      "__wardenNotify",
      new ivm.Callback(
        (kind: string, payload: string) => {
          if (kind === "cap") {
            const [rq, method, args] = JSON.parse(String(payload)) as [number, string, string];
            hooks.capability(rq, String(method), String(args));
          } else hooks.notify(String(kind), String(payload));
        },
        { ignored: true },
      ),
    );
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

  /** Runs the prelude and the module's bundle, then its activate(ctx). */
  async load(code: string, codeHash: string, filename: string): Promise<void> {
    const prelude = this.#isolate.compileScriptSync(PRELUDE, { filename: "warden:prelude" });
    prelude.runSync(this.#context, { timeout: this.#limits.timeoutMs });
    const rt = this.#context.global.getSync("__wardenRuntime", { reference: true }) as ivm.Reference;
    this.#runtime = {
      activate: rt.getSync("activate", { reference: true }) as ivm.Reference,
      dispatch: rt.getSync("dispatch", { reference: true }) as ivm.Reference,
      deliver: rt.getSync("deliver", { reference: true }) as ivm.Reference,
      deactivate: rt.getSync("deactivate", { reference: true }) as ivm.Reference,
      reply: rt.getSync("reply", { reference: true }) as ivm.Reference,
    };
    rt.release();
    this.#context.global.deleteSync("__wardenRuntime");

    const cached = codeCache.get(codeHash);
    const script: ivm.Script & ivm.CachedDataResult = await this.#isolate.compileScript(code, {
      filename,
      ...(cached ? { cachedData: new ivm.ExternalCopy(cached.buffer.slice(cached.byteOffset, cached.byteOffset + cached.byteLength)) as any } : { produceCachedData: true }),
    });
    if (!cached && script.cachedData) codeCache.set(codeHash, Buffer.from(script.cachedData.copy()));
    await this.#guard(() => script.run(this.#context, { timeout: this.#limits.timeoutMs }), "loading the module");
    await this.#call(this.#runtime.activate, [], "activate");
  }

  invoke(name: string, input: string, info: string): Promise<string> {
    return this.#call(this.#runtime.dispatch, [name, input, info], name);
  }

  /** The host's answer to a capability call. */
  reply(rq: number, text: string): void {
    if (this.#dead) return;
    this.#runtime.reply.apply(undefined, [rq, text], { arguments: { copy: true }, timeout: this.#limits.timeoutMs }).catch(() => {});
  }

  deliver(sub: string, event: string, payload: string): void {
    if (this.#dead) return;
    this.#runtime.deliver.apply(undefined, [sub, event, payload], { arguments: { copy: true }, timeout: this.#limits.timeoutMs }).catch(() => {});
  }

  async deactivate(): Promise<void> {
    if (!this.#dead) {
      try {
        await this.#call(this.#runtime.deactivate, [], "deactivate");
      } catch {
        // a module that fails to deactivate is disposed all the same
      }
    }
    this.dispose();
  }

  dispose(): void {
    try {
      if (!this.#isolate.isDisposed) this.#isolate.dispose();
    } catch {
      // already gone
    }
  }

  /** Calls a prelude function; resolves to its JSON reply or rejects with a CallFailure. */
  async #call(fn: ivm.Reference, args: string[], what: string): Promise<string> {
    const reply = (await this.#guard(
      () => fn.apply(undefined, args, { arguments: { copy: true }, result: { promise: true, copy: true }, timeout: this.#limits.timeoutMs }),
      what,
    )) as string;
    // The prelude answers `{"v":...}` or `{"e":...}`; only an error needs parsing here.
    if (!reply.startsWith('{"e":')) return reply;
    const r = JSON.parse(reply) as { e?: { message: string; own?: string; nonce?: string } };
    if (r.e) {
      const wire: WireError = { code: "module_error", message: r.e.message };
      if (r.e.own) wire.own = r.e.own;
      if (r.e.nonce) wire.nonce = r.e.nonce;
      throw new CallFailure(wire);
    }
    return reply;
  }

  /**
   * Runs fn with the watchdog: if the call has not settled when its time is up (a loop after an
   * await, a promise that never settles), the isolate is disposed and the call fails with `timeout`.
   */
  async #guard<T>(fn: () => Promise<T>, what: string): Promise<T> {
    if (this.#dead) throw new CallFailure({ code: this.#dead, message: `the module's isolate is gone (${this.#dead})` });
    this.#inFlight++;
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#kill("timeout", `${what} ran longer than ${this.#limits.timeoutMs} ms`);
        reject(new CallFailure({ code: "timeout", message: `${what} ran longer than ${this.#limits.timeoutMs} ms` }));
      }, this.#limits.timeoutMs + 50);
    });
    try {
      return await Promise.race([fn(), watchdog]);
    } catch (e) {
      if (e instanceof CallFailure) throw e;
      throw this.#classify(e, what);
    } finally {
      clearTimeout(timer);
      this.#inFlight--;
    }
  }

  #classify(e: unknown, what: string): CallFailure {
    const message = String((e as Error)?.message ?? e);
    if (this.#isolate.isDisposed || /memory limit|disposed/i.test(message)) {
      const reason = this.#dead ?? (/memory/i.test(message) || this.#isolate.isDisposed ? "memory_limit" : "module_error");
      this.#kill(reason as DeathReason, message);
      return new CallFailure({ code: reason, message: reason === "memory_limit" ? `${what} exceeded the module's memory limit of ${this.#limits.memoryMb} MB` : `${what}: ${message}` });
    }
    if (/Script execution timed out/i.test(message)) {
      this.#kill("timeout", message);
      return new CallFailure({ code: "timeout", message: `${what} ran longer than ${this.#limits.timeoutMs} ms` });
    }
    return new CallFailure({ code: "module_error", message: `${what}: ${message.slice(0, 2000)}` });
  }

  #kill(reason: DeathReason, message: string): void {
    if (this.#dead) return;
    this.#dead = reason;
    this.dispose();
    this.#hooks.died(reason, message);
  }
}
