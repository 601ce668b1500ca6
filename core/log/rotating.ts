// A log file that rotates by size and keeps a bounded number of old files, so no amount of traffic
// can fill the disk through the logs: <file> is current, <file>.1 the one before, up to
// <file>.<keep>. Writes stay synchronous (pino's SonicBoom, sync), and rotation uses SonicBoom's
// own reopen (made for logrotate): rename the files, reopen the path.
import { closeSync, existsSync, renameSync, rmSync, statSync } from "node:fs";
import pino from "pino";
import { openPrivateFile } from "./streams.js";

export interface Rotation {
  /** Rotate once the current file would pass this many bytes. */
  maxBytes: number;
  /** Old files kept beside the current one. */
  keep: number;
}

export const DEFAULT_ROTATION: Rotation = { maxBytes: 16 * 1024 * 1024, keep: 5 };

/** Deferred lines are written once this many bytes wait, or DEFER_MS after the first. */
const DEFER_BYTES = 64 * 1024;
const DEFER_MS = 100;

/** Files with deferred lines waiting, written out synchronously when the process exits. */
const open = new Set<RotatingFile>();
let exitHook = false;

export class RotatingFile {
  readonly #file: string;
  readonly #rotation: Rotation;
  readonly #dest: ReturnType<typeof pino.destination>;
  readonly #defer: ((line: string) => boolean) | undefined;
  #size: number;
  #deferred: string[] = [];
  #deferredBytes = 0;
  #timer: NodeJS.Timeout | undefined;

  /**
   * `defer`: lines that may wait up to DEFER_MS to be written in one batch (access-log lines: one
   * synchronous write per request cost more than the request). Any other line writes them first,
   * so the file keeps its order; a kill -9 loses at most DEFER_MS of deferred lines.
   */
  constructor(file: string, rotation: Rotation = DEFAULT_ROTATION, o: { defer?: (line: string) => boolean } = {}) {
    this.#file = file;
    this.#rotation = rotation;
    this.#defer = o.defer;
    // Created owner-only here, then opened by path: SonicBoom can reopen (rotate) only a path, never an fd.
    closeSync(openPrivateFile(file));
    this.#dest = pino.destination({ dest: file, sync: true, append: true, mode: 0o600 });
    this.#size = statSync(file).size;
    if (this.#defer) {
      if (!exitHook) {
        exitHook = true;
        process.on("exit", () => {
          for (const f of open) f.flush();
        });
      }
    }
  }

  /** Lines that could not be written (the file closed at exit, the disk full): never a crash. */
  dropped = 0;

  write(line: string): void {
    if (this.#defer?.(line)) {
      this.#deferred.push(line);
      this.#deferredBytes += line.length;
      open.add(this); // only while lines wait: a closed host's file is not kept alive here
      if (this.#deferredBytes >= DEFER_BYTES) this.flush();
      else if (!this.#timer) {
        this.#timer = setTimeout(() => this.flush(), DEFER_MS);
        this.#timer.unref();
      }
      return;
    }
    this.flush();
    this.#write(line);
  }

  /** Writes the deferred lines now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    open.delete(this);
    if (this.#deferred.length === 0) return;
    const text = this.#deferred.join("");
    this.#deferred = [];
    this.#deferredBytes = 0;
    this.#write(text);
  }

  #write(line: string): void {
    const bytes = Buffer.byteLength(line);
    try {
      if (this.#size > 0 && this.#size + bytes > this.#rotation.maxBytes) this.#rotate();
      this.#dest.write(line);
      this.#size += bytes;
    } catch {
      // A log line is never worth the host: an event after the log closed (a backend's error while
      // the process exits) or a failing disk loses the line, not the process.
      this.dropped++;
    }
  }

  #rotate(): void {
    // Counted as rotated whatever happens below: a failing rename must not be retried on every line.
    this.#size = 0;
    const { keep } = this.#rotation;
    rmSync(`${this.#file}.${keep}`, { force: true });
    for (let i = keep - 1; i >= 1; i--) if (existsSync(`${this.#file}.${i}`)) renameSync(`${this.#file}.${i}`, `${this.#file}.${i + 1}`);
    if (keep > 0) renameSync(this.#file, `${this.#file}.1`);
    else rmSync(this.#file, { force: true });
    // SonicBoom reopens by path; the new file is made owner-only like the first.
    closeSync(openPrivateFile(this.#file));
    this.#dest.reopen(this.#file);
  }
}
