// Installing from a .tgz: extracted as it is read into a fresh private folder under the home, with
// tar's own protections (no absolute paths, no `..`, regular files and folders only) and Warden's
// budgets checked entry by entry from the headers, before the data is written: at most
// MAX_ENTRIES entries and MAX_BYTES in all. An archive over budget stops being read at once (a
// small archive cannot unpack into a large folder), and the folder is removed whatever happens.
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { MAX_SIGNATURE_BYTES, readCapped, sha256Hex } from "../supply/signature.js";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";
import { HostError } from "../base/errors.js";
import { homeLayout } from "../base/home.js";

export const MAX_ENTRIES = 5000;
export const MAX_BYTES = 64 * 1024 * 1024;

/** Runs `use` on the unpacked module folder, then removes everything that was unpacked. `shownAs`: the name errors give the archive. */
export async function withUnpackedArchive<T>(file: string, home: string, use: (dir: string) => Promise<T>, shownAs = file): Promise<T> {
  const parent = homeLayout(home).tmp;
  mkdirSync(parent, { recursive: true, mode: 0o700 });
  const root = mkdtempSync(join(parent, "unpack-"));
  try {
    await extract(file, root, shownAs);
    return await use(moduleFolder(shownAs, root));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * A pack's bytes, read once: a regular file (never a FIFO or device, which would block or never
 * end) within the archive budget. What is verified and what is unpacked are then these same bytes,
 * never the path again, which someone could change in between.
 */
export function readPack(file: string, shownAs = file): Buffer {
  const bytes = readCapped(file, MAX_BYTES);
  if (!bytes) throw new HostError("payload_too_large", `${shownAs} is larger than ${MAX_BYTES} bytes; a module pack may be at most that`);
  return bytes;
}

/** A pack read once, with its detached signature (`signature`, else the pack's path plus `.sig`) as found. */
export interface PackRead {
  bytes: Buffer;
  sha256: string;
  /** The signature file's bytes; null when there is none; "too-large" when it was not read. */
  signature: Buffer | null | "too-large";
}

/** What install and `module verify` read of a pack: the same bytes, hash and signature both judge. */
export function readSignedPack(file: string, shownAs: string, signature?: string): PackRead {
  const bytes = readPack(file, shownAs);
  const sigFile = signature ?? `${file}.sig`;
  if (signature !== undefined && !existsSync(sigFile)) throw new HostError("usage", `the signature ${signature} does not exist; give the .sig file that came with the pack`);
  return { bytes, sha256: sha256Hex(bytes), signature: existsSync(sigFile) ? (readCapped(sigFile, MAX_SIGNATURE_BYTES) ?? "too-large") : null };
}

/** Runs `use` on the module folder these pack bytes unpack to, through a private copy in the home. */
export async function withUnpackedBytes<T>(bytes: Buffer, home: string, use: (dir: string) => Promise<T>, shownAs: string): Promise<T> {
  const parent = homeLayout(home).tmp;
  mkdirSync(parent, { recursive: true, mode: 0o700 });
  const holder = mkdtempSync(join(parent, "pack-"));
  try {
    const file = join(holder, "pack.tgz");
    writeFileSync(file, bytes, { mode: 0o600, flag: "wx" });
    return await withUnpackedArchive(file, home, use, shownAs);
  } finally {
    rmSync(holder, { recursive: true, force: true });
  }
}

async function extract(file: string, dir: string, shownAs: string): Promise<void> {
  let entries = 0;
  let bytes = 0;
  let over: string | undefined;
  const source = createReadStream(file);
  const stop = (why: string) => {
    over ??= why;
    source.destroy();
  };
  const unpack = tar.x({
    cwd: dir,
    strict: true,
    preservePaths: false,
    filter: (path, entry) => {
      if (over) return false;
      const type = (entry as { type?: string }).type;
      const size = (entry as { size?: number }).size ?? 0;
      if (++entries > MAX_ENTRIES) {
        stop(`it holds more than ${MAX_ENTRIES} entries`);
        return false;
      }
      bytes += size;
      if (bytes > MAX_BYTES) {
        stop(`it unpacks to more than ${MAX_BYTES} bytes (at ${String(path).slice(0, 200)})`);
        return false;
      }
      return type === "File" || type === "Directory" || type === "OldFile";
    },
  });
  try {
    await pipeline(source, unpack);
  } catch (e) {
    if (over) throw new HostError("payload_too_large", `${shownAs} was refused: ${over}; a module archive may hold ${MAX_ENTRIES} entries and ${MAX_BYTES} bytes`);
    throw new HostError("manifest_invalid", `${shownAs} is not a readable .tgz archive: ${(e as Error).message}`);
  }
  if (over) throw new HostError("payload_too_large", `${shownAs} was refused: ${over}; a module archive may hold ${MAX_ENTRIES} entries and ${MAX_BYTES} bytes`);
}

function moduleFolder(file: string, dir: string): string {
  if (existsSync(join(dir, "module.json"))) return dir;
  // npm pack puts everything under package/; accept any single top folder.
  const top = readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory());
  if (top.length === 1 && existsSync(join(dir, top[0]!, "module.json"))) return join(dir, top[0]!);
  throw new HostError("manifest_invalid", `${file}: no module.json at the archive's top level (or in its single top folder)`);
}
