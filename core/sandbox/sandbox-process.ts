// One sandbox process as the host sees it: starts it, frames messages to and from it, routes
// replies to pending requests, and fails every pending request with module_crashed the moment the
// process dies (or is found hung, or breaks the protocol), so no call is ever left hanging.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { FrameReader, FrameWriter } from "./channel.js";
import { MARK_BYTES, MARK_FD, type FromSandbox, type ToSandbox } from "./protocol.js";
import { MAX_MESSAGE_BYTES } from "./wire.js";

export type Done = Extract<FromSandbox, { t: "done" }>;
export type Notice = Exclude<FromSandbox, Done | { t: "ready" } | { t: "stats" } | { t: "beat" }>;

export interface ProcessEvents {
  notice(m: Notice, payload: string): void;
  /**
   * The process is gone. `culprit`: the module whose code it was running when it died, if any;
   * `running`: modules with a request in flight.
   */
  exit(info: { code: number | null; signal: NodeJS.Signals | null; culprit: string | undefined; running: string[]; why: string }): void;
}

export interface ProcessOptions {
  script: string;
  cacheDir: string;
  quarantine: boolean;
  /** A process with requests pending that sends nothing (not even its heartbeat) for this long is killed as hung. */
  hangMs: () => number;
  /** Sandbox processes busy-poll this long after a burst (0: never). */
  spinUs?: number;
}

const STDERR_TAIL = 4096;

export class SandboxProcess {
  readonly #child: ChildProcess;
  readonly #writer: FrameWriter;
  readonly #pending = new Map<number, { resolve: (r: { m: Done; payload: string }) => void; module: string }>();
  readonly #statsWaiters = new Map<number, (m: Record<string, { cpuMs: number; heap: number }>) => void>();
  readonly #hangMs: () => number;
  readonly ready: Promise<void>;
  readonly quarantine: boolean;
  /** Modules placed on this process (active or activating). */
  readonly modules = new Set<string>();
  #seq = 0;
  #alive = true;
  #lastHeard = Date.now();
  /** The mark file (protocol.ts MARK_FD): unlinked at once, held open until the process is gone. */
  #markFd: number | undefined;
  #stderrTail = "";
  /** An unfinished stderr line. */
  #stderrLine = "";
  #why = "";
  #stopping = false;
  #hangTimer: NodeJS.Timeout;

  constructor(o: ProcessOptions, events: ProcessEvents) {
    this.quarantine = o.quarantine;
    this.#hangMs = o.hangMs;
    // WARDEN_SANDBOX_CPU_PROF=<dir>: each sandbox process writes a V8 CPU profile there when it exits (for `npm run bench` work).
    const profileDir = process.env.WARDEN_SANDBOX_CPU_PROF;
    const markFd = (this.#markFd = openMarkFile());
    const stdio: ("ignore" | "pipe" | number)[] = ["ignore", "ignore", "pipe", "pipe", "pipe"];
    stdio[MARK_FD] = markFd;
    this.#child = spawn(process.execPath, ["--no-node-snapshot", "--max-old-space-size=512", ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []), o.script, o.cacheDir], {
      stdio,
      env: sandboxEnvironment(o.spinUs),
    });
    this.#writer = new FrameWriter(this.#child.stdio[3] as Writable, "turn");
    let markReady!: () => void;
    this.ready = new Promise((r) => (markReady = r));

    const reader = new FrameReader(
      MAX_MESSAGE_BYTES + 64 * 1024,
      (m: FromSandbox, payload) => {
        this.#lastHeard = Date.now();
        switch (m.t) {
          case "done": {
            const p = this.#pending.get(m.rq);
            if (!p) return;
            this.#pending.delete(m.rq);
            p.resolve({ m, payload });
            return;
          }
          case "ready":
            return markReady();
          case "beat":
            return;
          case "stats":
            this.#statsWaiters.get(m.rq)?.(m.modules);
            this.#statsWaiters.delete(m.rq);
            return;
          default:
            events.notice(m, payload);
        }
      },
      (why) => this.#violation(why),
    );
    (this.#child.stdio[4] as Readable).on("data", (chunk: Buffer) => reader.push(chunk));
    (this.#child.stdio[3] as Writable).on("error", () => {});
    (this.#child.stdio[4] as Readable).on("error", () => {});
    this.#child.stderr!.setEncoding("utf8");
    this.#child.stderr!.on("data", (text: string) => this.#stderr(text));

    this.#hangTimer = setInterval(() => {
      if (this.#pending.size === 0) return;
      const silent = Date.now() - this.#lastHeard;
      if (silent > this.#hangMs()) {
        this.#why = `it stopped responding for ${silent} ms`;
        this.kill();
      }
    }, 500);
    this.#hangTimer.unref();

    this.#child.on("exit", (code, signal) => {
      this.#alive = false;
      clearInterval(this.#hangTimer);
      markReady();
      const running = this.inFlightModules();
      const why = this.#why || (signal ? `killed by ${signal}` : `exit code ${code}`);
      const crashed = { code: "module_crashed", message: `the sandbox process died (${why}); it is restarted automatically` };
      for (const [rq, p] of this.#pending) p.resolve({ m: { t: "done", rq, err: crashed }, payload: "" });
      this.#pending.clear();
      for (const w of this.#statsWaiters.values()) w({});
      this.#statsWaiters.clear();
      // Whose code was running when it died: the last module it marked, unless the host stopped it.
      const abnormal = !this.#stopping && (signal !== null || code !== 0);
      const marked = this.#readMark();
      const culprit = abnormal && marked !== undefined && this.modules.has(marked) ? marked : undefined;
      const tail = this.#stderrTail + this.#stderrLine;
      events.exit({ code, signal, culprit, running, why: `${why}${tail.trim() ? `; last output: ${lastLines(tail)}` : ""}` });
    });
    this.#child.on("error", () => void this.#readMark());
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** Module ids with a request in flight (to find who crashed a process). */
  inFlightModules(): string[] {
    return [...new Set([...this.#pending.values()].map((p) => p.module))];
  }

  nextRq(): number {
    return ++this.#seq;
  }

  /** Sends a request and resolves with its reply; never rejects, never hangs past the process's death. */
  request(m: ToSandbox & { rq: number }, payload: string, moduleId: string): Promise<{ m: Done; payload: string }> {
    if (!this.#alive) return Promise.resolve({ m: { t: "done", rq: m.rq, err: { code: "module_crashed", message: "the sandbox process is not running" } }, payload: "" });
    if (this.#pending.size === 0) this.#lastHeard = Date.now();
    return new Promise((resolve) => {
      this.#pending.set(m.rq, { resolve, module: moduleId });
      this.#writer.send(m, payload);
    });
  }

  send(m: ToSandbox, payload = ""): void {
    if (this.#alive) this.#writer.send(m, payload);
  }

  stats(): Promise<Record<string, { cpuMs: number; heap: number }>> {
    if (!this.#alive) return Promise.resolve({});
    const rq = this.nextRq();
    return new Promise((resolve) => {
      this.#statsWaiters.set(rq, resolve);
      this.#writer.send({ t: "stats", rq });
    });
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.#alive) this.#child.kill(signal);
  }

  /** Closes the channel (the process exits on its own), killing it if it has not within 2 s. */
  async stop(): Promise<void> {
    if (!this.#alive) return;
    const exited = new Promise<void>((r) => this.#child.once("exit", () => r()));
    this.#why = "stopped by the host";
    this.#stopping = true;
    (this.#child.stdio[3] as Writable).end();
    const timer = setTimeout(() => this.kill(), 2000);
    await exited;
    clearTimeout(timer);
  }

  #violation(why: string): void {
    this.#why = `it broke the protocol: ${why}`;
    this.kill();
  }

  #stderr(text: string): void {
    const lines = (this.#stderrLine + text).split("\n");
    this.#stderrLine = lines.pop()!.slice(-STDERR_TAIL);
    for (const line of lines) this.#stderrTail = `${this.#stderrTail}${line}\n`.slice(-STDERR_TAIL);
  }

  /**
   * The module id the process marked last, once: the mark file is closed after, and forgotten
   * first (a closed fd number is soon another file's; it must never be read or closed again).
   */
  #readMark(): string | undefined {
    const fd = this.#markFd;
    if (fd === undefined) return undefined;
    this.#markFd = undefined;
    const buf = Buffer.alloc(MARK_BYTES);
    let n = 0;
    try {
      n = readSync(fd, buf, 0, MARK_BYTES, 0);
    } catch {
      // unreadable: attribution is a convenience
    } finally {
      closeSync(fd);
    }
    const id = buf.toString("latin1", 0, n).trim();
    return id || undefined;
  }
}

/** A private, already unlinked file: nothing is left behind, whatever happens to the host. */
function openMarkFile(): number {
  const dir = mkdtempSync(join(tmpdir(), "warden-mark-"));
  try {
    return openSync(join(dir, "mark"), "w+", 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function lastLines(text: string): string {
  return text.trim().split("\n").slice(-3).join(" | ").slice(0, 500);
}

/**
 * What a sandbox process starts with: an allow-list, never the host's environment (it holds
 * WARDEN_SECRET_KEY, store and Redis URLs with passwords, cloud credentials). Module code cannot
 * read the process's environment, but a sandbox escape must not find secrets lying there either.
 */
const PASSED_THROUGH = ["PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT"] as const;
export function sandboxEnvironment(spinUs?: number): Record<string, string> {
  const env: Record<string, string> = { NODE_OPTIONS: "" };
  for (const name of PASSED_THROUGH) {
    const v = process.env[name];
    if (v !== undefined) env[name] = v;
  }
  if (spinUs !== undefined) env.WARDEN_SANDBOX_SPIN_US = String(spinUs);
  return env;
}
