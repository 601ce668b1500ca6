// Installed module files in a shared store. The host that installs a module puts each file in the
// store by its sha256 (before the record naming those hashes commits); every other host writes
// them into its own <home>/modules/<id> and checks each hash before the folder is swapped in, so
// a host runs only the bytes the operator installed, whichever host they came through.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { HostError } from "../base/errors.js";
import type { Store } from "../store/store.js";

/** Puts the files of `dir` (already hashed into `files`) into the store, checking them on the way. */
export async function shareFiles(store: Store, dir: string, files: Record<string, string>): Promise<void> {
  const hashes = [...new Set(Object.values(files))];
  const have = new Set(await store.blobs.have(hashes));
  for (const [path, hash] of Object.entries(files)) {
    if (have.has(hash)) continue;
    const content = readFileSync(join(dir, ...path.split("/")));
    if (sha256(content) !== hash) throw new HostError("integrity_failed", `${path} in ${dir} changed while it was being installed; install again`);
    await store.blobs.put(hash, content);
    have.add(hash);
  }
}

/**
 * Writes `files` from the store into `target`, replacing what is there only once every file is
 * written and checked. A blob that is missing or does not hash to its name fails the whole folder.
 */
export async function materialize(store: Store, moduleId: string, files: Record<string, string>, target: string): Promise<void> {
  const tmp = `${target}.incoming-${process.pid}-${Date.now()}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    for (const [path, hash] of Object.entries(files)) {
      const out = resolve(tmp, ...path.split("/"));
      // Paths come from the store: one that climbs out of the folder is refused, not followed.
      if (!out.startsWith(resolve(tmp) + sep)) throw new HostError("integrity_failed", `module '${moduleId}': the stored file path '${path}' leaves the module folder`);
      const content = await store.blobs.get(hash);
      if (!content) throw new HostError("integrity_failed", `module '${moduleId}': the store has no content for ${path} (sha256 ${hash.slice(0, 12)}...); install it again through any host`);
      if (sha256(content) !== hash) throw new HostError("integrity_failed", `module '${moduleId}': the stored content of ${path} does not match its sha256; install it again through any host`);
      mkdirSync(dirname(out), { recursive: true, mode: 0o700 });
      writeFileSync(out, content, { mode: 0o600 });
    }
    if (existsSync(target)) {
      const old = `${target}.old-${process.pid}-${Date.now()}`;
      renameSync(target, old);
      renameSync(tmp, target);
      rmSync(old, { recursive: true, force: true });
    } else {
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      renameSync(tmp, target);
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}
