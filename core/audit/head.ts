// <home>/audit.head: one line "<seq> <hash> <signature>\n" naming the last event Warden wrote,
// signed with the home's audit key (./anchor.ts). It lives outside the database so that rows cut
// from the end of the chain (which leave a valid, shorter chain) are still noticed.
import { closeSync, fchmodSync, fsyncSync, lstatSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { GENESIS } from "./hash.js";

export type Head = { state: "missing" } | { state: "unreadable"; why: string } | { state: "ok"; seq: number; hash: string; signature?: string };

const FORMAT = /^(\d{1,15}) ([0-9a-f]{64})(?: ([A-Za-z0-9+/=]{1,200}))?\n?$/;

export function readHead(file: string): Head {
  return readHeadFile(file).head;
}

/** The parsed head and its raw text (undefined when it could not be read), to restore it exactly. */
export function readHeadFile(file: string): { head: Head; raw: string | undefined } {
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { head: { state: "missing" }, raw: undefined };
    return { head: { state: "unreadable", why: (err as Error).message }, raw: undefined };
  }
  const m = FORMAT.exec(raw);
  if (!m) return { head: { state: "unreadable", why: "it is not '<seq> <sha256 hex>'" }, raw };
  return { head: { state: "ok", seq: Number(m[1]), hash: m[2]!, ...(m[3] ? { signature: m[3] } : {}) }, raw };
}

export function headLine(seq: number, hash: string, signature?: string): string {
  return signature ? `${seq} ${hash} ${signature}\n` : `${seq} ${hash}\n`;
}

/** Replaces the head atomically and durably: temp file, fsync, rename, fsync of the directory. */
export function writeHeadRaw(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    fchmodSync(fd, 0o600); // the mode argument only applies to a file this call created
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  syncDir(dirname(file));
}

export function writeHead(file: string, seq: number, hash: string, signature?: string): void {
  writeHeadRaw(file, headLine(seq, hash, signature));
}

export function removeHead(file: string): void {
  rmSync(file, { force: true });
  syncDir(dirname(file));
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the rename itself is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface HeadProblem {
  seq: number;
  reason: string;
}

/**
 * Compares the head with the chain's last row. `hashAt` gives the stored hash of a seq at or
 * before the last one. Returns the first seq that cannot be vouched for, or undefined when they agree.
 */
export function headProblem(head: Head, lastSeq: number, lastHash: string, hashAt: (seq: number) => string | undefined, prepared?: (seq: number, hash: string) => boolean): HeadProblem | undefined {
  if (head.state === "missing") {
    if (lastSeq === 0) return undefined;
    return { seq: lastSeq + 1, reason: `audit.head is missing, so rows after seq ${lastSeq} may have been cut (tail cut?)` };
  }
  if (head.state === "unreadable") {
    return { seq: lastSeq + 1, reason: `audit.head is unreadable (${head.why}), so the end of the chain after seq ${lastSeq} cannot be confirmed` };
  }
  if (head.seq > lastSeq) {
    return { seq: lastSeq + 1, reason: `the chain ends at seq ${lastSeq} but audit.head records seq ${head.seq} (tail cut: seq ${lastSeq + 1}..${head.seq} missing)` };
  }
  const stored = head.seq === lastSeq ? lastHash : head.seq === 0 ? GENESIS : hashAt(head.seq);
  if (stored !== head.hash) {
    return { seq: Math.max(1, head.seq), reason: `audit.head records a different hash for seq ${head.seq} (chain rewritten at or before seq ${head.seq})` };
  }
  // One behind, with the new head prepared (and signed) for exactly the chain's last row: the host
  // stopped between that event's commit and its head's replacement. Anything else behind the chain
  // was inserted outside Warden.
  if (head.seq < lastSeq && !(head.seq === lastSeq - 1 && prepared?.(lastSeq, lastHash))) {
    return { seq: head.seq + 1, reason: `audit.head records seq ${head.seq} but the chain goes on to seq ${lastSeq} (rows inserted outside Warden)` };
  }
  return undefined;
}

/** The head names the event before the chain's last (a stop between commit and head replacement). */
export function isOneBehind(head: Head, lastSeq: number): boolean {
  return head.state === "ok" && lastSeq > 0 && head.seq === lastSeq - 1;
}

/** The head prepared for the next event (`<file>.tmp`), as evidence after a stop. */
export function readPrepared(file: string): Head {
  return readHead(`${file}.tmp`);
}

/**
 * The new head, written and fsynced to `<file>.tmp` before the event commits: a head that cannot be
 * written fails the event, and its action, before anything is committed. Transactions on the home's
 * store do not overlap (its lock is held until the head is in place), so one temp name serves.
 */
export function prepareHead(file: string, text: string): string {
  const tmp = `${file}.tmp`;
  // The head itself must be replaceable (a folder, say, standing there would fail only after the commit).
  try {
    if (!lstatSync(file).isFile()) throw new Error(`${file} is not a regular file`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const fd = openSync(tmp, "w", 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

/** Moves a prepared head into place once its event committed; never replaces a newer head. */
export function installHead(file: string, tmp: string, seq: number): void {
  const current = readHead(file);
  if (current.state === "ok" && current.seq >= seq) {
    rmSync(tmp, { force: true });
    return;
  }
  renameSync(tmp, file);
  syncDir(dirname(file));
}

/** A prepared head for exactly (seq, hash), signed by this home's key when it has one. */
export function vouchedPrepared(
  p: Head,
  seq: number,
  hash: string,
  signer: { headSignatureProblem(seq: number, hash: string, signature: string | undefined): string | undefined } | undefined,
): boolean {
  if (p.state !== "ok" || p.seq !== seq || p.hash !== hash) return false;
  return signer === undefined || signer.headSignatureProblem(p.seq, p.hash, p.signature) === undefined;
}
