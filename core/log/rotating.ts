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

export class RotatingFile {
  readonly #file: string;
  readonly #rotation: Rotation;
  readonly #dest: ReturnType<typeof pino.destination>;
  #size: number;

  constructor(file: string, rotation: Rotation = DEFAULT_ROTATION) {
    this.#file = file;
    this.#rotation = rotation;
    const fd = openPrivateFile(file);
    this.#dest = pino.destination({ fd, sync: true });
    this.#size = statSync(file).size;
  }

  /** Lines that could not be written (the file closed at exit, the disk full): never a crash. */
  dropped = 0;

  write(line: string): void {
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
    const { keep } = this.#rotation;
    rmSync(`${this.#file}.${keep}`, { force: true });
    for (let i = keep - 1; i >= 1; i--) if (existsSync(`${this.#file}.${i}`)) renameSync(`${this.#file}.${i}`, `${this.#file}.${i + 1}`);
    if (keep > 0) renameSync(this.#file, `${this.#file}.1`);
    else rmSync(this.#file, { force: true });
    // SonicBoom reopens by path; the new file is made owner-only like the first.
    closeSync(openPrivateFile(this.#file));
    this.#dest.reopen(this.#file);
    this.#size = 0;
  }
}
