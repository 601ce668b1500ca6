// One sandbox process as the host sees it: starts it, routes replies to pending requests, and
// fails every pending request with module_crashed the moment the process dies, so no call is
// left hanging.
import { fork, type ChildProcess } from "node:child_process";
import type { FromWorker, ToWorker, WireError } from "./messages.js";

type Done = Extract<FromWorker, { t: "done" }>;

export interface ProcessEvents {
  message(m: Exclude<FromWorker, Done | { t: "ready" } | { t: "stats" }>): void;
  /** `running`: modules that had a request in flight when the process died. */
  exit(code: number | null, signal: NodeJS.Signals | null, running: string[]): void;
}

export class SandboxProcess {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (m: Done) => void; modules: string }>();
  readonly #statsWaiters = new Map<number, (m: Record<string, { cpuMs: number; heap: number }>) => void>();
  readonly ready: Promise<void>;
  #seq = 0;
  #alive = true;
  /** Modules placed on this process (active or activating). */
  readonly modules = new Set<string>();
  readonly quarantine: boolean;

  constructor(script: string, events: ProcessEvents, quarantine = false) {
    this.quarantine = quarantine;
    this.#child = fork(script, [], {
      execArgv: ["--no-node-snapshot", "--max-old-space-size=512"],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      serialization: "json",
      env: { ...process.env, NODE_OPTIONS: "" },
    });
    this.#child.stderr?.resume(); // V8's fatal OOM text goes nowhere rather than into a pipe that fills
    let markReady: () => void;
    this.ready = new Promise((r) => (markReady = r));
    this.#child.on("message", (m: FromWorker) => {
      if (m.t === "ready") return markReady();
      if (m.t === "done") {
        const p = this.#pending.get(m.rq);
        this.#pending.delete(m.rq);
        p?.resolve(m);
        return;
      }
      if (m.t === "stats") {
        this.#statsWaiters.get(m.rq)?.(m.modules);
        this.#statsWaiters.delete(m.rq);
        return;
      }
      events.message(m);
    });
    this.#child.on("exit", (code, signal) => {
      this.#alive = false;
      const running = this.inFlightModules();
      markReady();
      const crashed: WireError = { code: "module_crashed", message: `the sandbox process died (${signal ?? `exit ${code}`}); it is being restarted` };
      for (const [rq, p] of this.#pending) p.resolve({ t: "done", rq, err: crashed });
      this.#pending.clear();
      for (const w of this.#statsWaiters.values()) w({});
      this.#statsWaiters.clear();
      events.exit(code, signal, running);
    });
    this.#child.on("error", () => {});
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** Module ids with a request in flight (to find who crashed a process). */
  inFlightModules(): string[] {
    return [...new Set([...this.#pending.values()].map((p) => p.modules))];
  }

  request(m: ToWorker & { rq: number }, moduleId: string): Promise<Done> {
    if (!this.#alive) return Promise.resolve({ t: "done", rq: m.rq, err: { code: "module_crashed", message: "the sandbox process is not running" } });
    return new Promise((resolve) => {
      this.#pending.set(m.rq, { resolve, modules: moduleId });
      this.#child.send(m);
    });
  }

  nextRq(): number {
    return ++this.#seq;
  }

  send(m: ToWorker): void {
    if (this.#alive) this.#child.send(m);
  }

  stats(): Promise<Record<string, { cpuMs: number; heap: number }>> {
    if (!this.#alive) return Promise.resolve({});
    const rq = this.nextRq();
    return new Promise((resolve) => {
      this.#statsWaiters.set(rq, resolve);
      this.#child.send({ t: "stats", rq });
    });
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.#alive) this.#child.kill(signal);
  }

  async stop(): Promise<void> {
    if (!this.#alive) return;
    const exited = new Promise<void>((r) => this.#child.once("exit", () => r()));
    this.#child.disconnect?.();
    const timer = setTimeout(() => this.kill(), 2000);
    await exited;
    clearTimeout(timer);
  }
}
