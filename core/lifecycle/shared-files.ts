// Installed module files in a shared store. The host that installs a module puts each file in the
// store by its sha256 (before the record naming those hashes commits); every other host writes
// them into its own <home>/modules/<id> and checks each hash before the folder is swapped in, so
// a host runs only the bytes the operator installed, whichever host they came through.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { HostError } from "../base/errors.js";
import type { Kernel } from "../kernel.js";
import { changedFiles, copyFolder } from "../loader/files.js";
import { readManifest } from "../manifest/index.js";
import type { Provenance, Store } from "../store/store.js";
import { blockedRefusal, signedAsInstalled } from "../supply/provenance.js";
import { sha256Hex } from "../supply/signature.js";
import { withUnpackedBytes } from "./unpack.js";

/**
 * Writes a module another host installed into `target`, checked against what was verified at
 * install: a module installed from a pack is written from that pack, whose bytes must hash to the
 * record's sha256, whose signature (when it was verified at install) must verify again here with
 * the publisher's key, and whose files must be exactly the record's (every file, none more); a
 * module installed from a folder is written file by file, each checked against its hash. The record itself was verified (sealed)
 * before this is called.
 */
export async function materializeModule(kernel: Kernel, id: string, files: Record<string, string>, provenance: Provenance | null | undefined, target: string): Promise<void> {
  if (!provenance?.pack) return materialize(kernel.store, id, files, target);
  const sha = provenance.pack;
  const pack = await kernel.store.blobs.get(sha);
  if (!pack) throw new HostError("integrity_failed", `module '${id}': the store has no pack ${sha.slice(0, 12)}...; install it again through any host`);
  if (sha256Hex(pack) !== sha) throw new HostError("integrity_failed", `module '${id}': the stored pack does not match its sha256 ${sha.slice(0, 12)}...; install it again through any host`);
  const blocked = kernel.supply.blocked(sha);
  if (blocked) throw blockedRefusal(id, sha, blocked.reason);
  await withUnpackedBytes(
    pack,
    kernel.home,
    async (dir) => {
      const { manifest } = readManifest(dir, { allowSystem: false });
      if (manifest.id !== id) throw new HostError("integrity_failed", `the store's pack for module '${id}' holds '${manifest.id}'; install it again through any host`);
      // What was verified at install is verified here again, with the publisher's key: content its
      // publisher did not sign never runs. Whom to trust was decided at install (or approval), as
      // on every host that already runs it: removing a key later does not split the fleet.
      if (provenance.status === "verified") {
        const problem = signedAsInstalled(provenance.signature, sha, id, manifest.version, kernel.supply);
        if (problem) throw new HostError("signature_invalid", `module '${id}': ${problem}; it was changed in the store. Install it again through any host`, { details: { module: id, pack: sha } });
      }
      const differ = changedFiles(dir, files);
      if (differ.length > 0) {
        throw new HostError(
          "integrity_failed",
          `the store's file list for module '${id}' does not match its pack (${differ.slice(0, 5).join(", ")}); it was changed outside Warden. Install it again through any host`,
          {
            details: { module: id, changed: differ.slice(0, 50) },
          },
        );
      }
      await swapIn(target, (at) => copyFolder(dir, at));
    },
    `the stored pack of '${id}'`,
  );
}

/** Fills a fresh folder beside `target` with `fill`, then puts it in place of `target`. */
async function swapIn(target: string, fill: (dir: string) => Promise<void> | void): Promise<void> {
  const incoming = `${target}.incoming-${process.pid}-${Date.now()}`;
  rmSync(incoming, { recursive: true, force: true });
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  try {
    await fill(incoming);
    if (existsSync(target)) {
      const old = `${target}.old-${process.pid}-${Date.now()}`;
      renameSync(target, old);
      renameSync(incoming, target);
      rmSync(old, { recursive: true, force: true });
    } else renameSync(incoming, target);
  } catch (e) {
    rmSync(incoming, { recursive: true, force: true });
    throw e;
  }
}

/** Puts the files of `dir` (already hashed into `files`) into the store, checking them on the way. */
export async function shareFiles(store: Store, dir: string, files: Record<string, string>): Promise<void> {
  const hashes = [...new Set(Object.values(files))];
  const have = new Set(await store.blobs.have(hashes));
  for (const [path, hash] of Object.entries(files)) {
    if (have.has(hash)) continue;
    const content = readFileSync(join(dir, ...path.split("/")));
    if (sha256Hex(content) !== hash) throw new HostError("integrity_failed", `${path} in ${dir} changed while it was being installed; install again`);
    await store.blobs.put(hash, content);
    have.add(hash);
  }
}

/**
 * Writes `files` from the store into `target`, replacing what is there only once every file is
 * written and checked. A blob that is missing or does not hash to its name fails the whole folder.
 */
export async function materialize(store: Store, moduleId: string, files: Record<string, string>, target: string): Promise<void> {
  // Each file is fetched, checked and written in turn: the host holds one file of a module at a time.
  await swapIn(target, async (dir) => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const [path, hash] of Object.entries(files)) {
      const out = resolve(dir, ...path.split("/"));
      // Paths come from the store: one that climbs out of the folder is refused, not followed.
      if (!out.startsWith(resolve(dir) + sep)) throw new HostError("integrity_failed", `module '${moduleId}': the stored file path '${path}' leaves the module folder`);
      const content = await store.blobs.get(hash);
      if (!content) throw new HostError("integrity_failed", `module '${moduleId}': the store has no content for ${path} (sha256 ${hash.slice(0, 12)}...); install it again through any host`);
      if (sha256Hex(content) !== hash) throw new HostError("integrity_failed", `module '${moduleId}': the stored content of ${path} does not match its sha256; install it again through any host`);
      mkdirSync(dirname(out), { recursive: true, mode: 0o700 });
      writeFileSync(out, content, { mode: 0o600 });
    }
  });
}
