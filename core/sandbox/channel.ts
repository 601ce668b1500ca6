// How frames cross between the host and a sandbox process: over a pipe, each frame a 4-byte
// little-endian length, then the JSON header, a newline, and the payload text. Writes made in one
// turn of the event loop go out as one write (calls in flight are pipelined, not one syscall
// each); a reader refuses a frame longer than its cap before buffering it.
import type { Writable } from "node:stream";

/**
 * What a reader hands on: the parsed JSON header, typed by the protocol the reader was made for
 * (core/sandbox/protocol.ts); each side checks the fields it acts on.
 */
export type FrameHandler<H> = (header: H, payload: string) => void;

/**
 * When queued frames go out by themselves: at the end of the current job ("microtask"), or once
 * the event loop has handled everything that was ready ("turn": setImmediate). A host serving
 * HTTP parses each connection's request in its own I/O callback; flushing per callback sent one
 * write, and woke a sandbox process, per request. Per turn, the requests that arrived together
 * cross together, as calls in flight from one caller always did.
 */
export type FlushWhen = "microtask" | "turn";

/** Frames that go out at once when flushing per turn (a sandbox process runs up to 64 calls per entry). */
const FULL_BATCH = 64;

export class FrameWriter {
  readonly #out: Writable;
  readonly #when: FlushWhen;
  #frames: string[] = [];
  #bytes: number[] = [];
  #total = 0;
  #scheduled = false;

  constructor(out: Writable, when: FlushWhen = "microtask") {
    this.#out = out;
    this.#when = when;
  }

  send(header: object, payload = ""): void {
    const frame = `${JSON.stringify(header)}\n${payload}`;
    const n = Buffer.byteLength(frame);
    this.#frames.push(frame);
    this.#bytes.push(n);
    this.#total += 4 + n;
    // A full batch need not wait for the end of the turn.
    if (this.#when === "turn" && this.#frames.length >= FULL_BATCH) return this.flush();
    if (!this.#scheduled) {
      this.#scheduled = true;
      if (this.#when === "turn") setImmediate(this.#flushQueued);
      else queueMicrotask(this.#flushQueued);
    }
  }

  readonly #flushQueued = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  /** Writes everything queued now (a long batch of work should not hold earlier replies back). */
  flush(): void {
    if (this.#frames.length === 0) return;
    const buf = Buffer.allocUnsafe(this.#total);
    let off = 0;
    for (let i = 0; i < this.#frames.length; i++) {
      const n = this.#bytes[i]!;
      buf.writeUInt32LE(n, off);
      buf.write(this.#frames[i]!, off + 4, n, "utf8");
      off += 4 + n;
    }
    this.#frames = [];
    this.#bytes = [];
    this.#total = 0;
    if (!this.#out.destroyed) this.#out.write(buf);
  }
}

export class FrameReader<H> {
  readonly #max: number;
  readonly #onFrame: FrameHandler<H>;
  readonly #onViolation: (why: string) => void;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Length of the frame being assembled, once its prefix has been read. */
  #need = -1;
  #broken = false;

  constructor(maxFrameBytes: number, onFrame: FrameHandler<H>, onViolation: (why: string) => void) {
    this.#max = maxFrameBytes;
    this.#onFrame = onFrame;
    this.#onViolation = onViolation;
  }

  push(chunk: Buffer): void {
    if (this.#broken) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    let buf: Buffer | undefined;
    let off = 0;
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < 4) break;
        buf ??= this.#take();
        this.#need = buf.readUInt32LE(off);
        if (this.#need > this.#max) {
          this.#broken = true;
          this.#onViolation(`a frame of ${this.#need} bytes (at most ${this.#max} allowed)`);
          return;
        }
        off += 4;
        this.#buffered -= 4;
      }
      if (this.#buffered < this.#need) break;
      buf ??= this.#take();
      const end = off + this.#need;
      const nl = buf.indexOf(0x0a, off);
      if (nl < 0 || nl >= end) {
        this.#broken = true;
        this.#onViolation("a frame without a header");
        return;
      }
      // JSON.parse's result is the protocol's header type only once the side acting on it checks it.
      let header: H | undefined;
      try {
        header = JSON.parse(buf.toString("utf8", off, nl));
      } catch {
        header = undefined;
      }
      if (header === null || typeof header !== "object") {
        this.#broken = true;
        this.#onViolation("a frame whose header is not a JSON object");
        return;
      }
      const payload = nl + 1 === end ? "" : buf.toString("utf8", nl + 1, end);
      this.#buffered -= this.#need;
      this.#need = -1;
      off = end;
      this.#onFrame(header, payload);
      if (this.#broken) return;
    }
    if (buf) {
      // Keep only the unread tail; partial frames wait for more chunks without being copied again.
      this.#chunks = off < buf.length ? [buf.subarray(off)] : [];
    }
  }

  /** Joins the buffered chunks into one (only when a whole frame, or a prefix, is there to read). */
  #take(): Buffer {
    const buf = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#chunks = [buf];
    return buf;
  }
}
