// The host side of the floor (./isolate-child.ts): one request at a time or many in flight,
// framed exactly as the supervisor frames them.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { FrameReader, FrameWriter } from "../../core/sandbox/channel.js";

export class IsolateFloor {
  readonly #child: ChildProcess;
  readonly #writer: FrameWriter;
  readonly #pending = new Map<number, (text: string) => void>();
  readonly ready: Promise<void>;
  #seq = 0;

  /**
   * `isolates`: how many isolates the child holds; `call` names the one to enter. `wardenModule`:
   * a JSON file with a module's bundle and setup, to hold Warden isolates instead (the ablation).
   */
  constructor(isolates = 1, wardenModule?: string) {
    const args = [join(import.meta.dirname, "isolate-child.ts"), String(isolates), ...(wardenModule ? [wardenModule] : [])];
    this.#child = spawn(process.execPath, ["--no-node-snapshot", "--import", "tsx", ...args], {
      stdio: ["ignore", "ignore", "inherit", "pipe", "pipe"],
    });
    this.#writer = new FrameWriter(this.#child.stdio[3] as Writable);
    let ready!: () => void;
    this.ready = new Promise((r) => (ready = r));
    const reader = new FrameReader(
      64 * 1024 * 1024,
      (h: { t: string; rq?: number }, payload) => {
        if (h.t === "ready") return ready();
        const p = this.#pending.get(h.rq!);
        this.#pending.delete(h.rq!);
        p?.(payload);
      },
      (why) => {
        throw new Error(`floor: ${why}`);
      },
    );
    (this.#child.stdio[4] as Readable).on("data", (c: Buffer) => reader.push(c));
  }

  /** The pid, to read its CPU time. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  call(text: string, isolate = 0): Promise<string> {
    const rq = ++this.#seq;
    return new Promise((resolve) => {
      this.#pending.set(rq, resolve);
      this.#writer.send({ t: "invoke", rq, i: isolate }, text);
    });
  }

  close(): void {
    (this.#child.stdio[3] as Writable).end();
  }
}
