// The manifest index: an unchanged module.json (same folder, mtime, size and inode, same host
// version) is taken from system.brain without reading or validating it again, so host start stays
// flat in the number of installed modules. Its files are still checked against the install hashes
// at activation.
import { statSync } from "node:fs";
import { join } from "node:path";
import { readManifest, type LoadedManifest } from "../manifest/index.js";
import type { Candidate } from "./discover.js";

export type IndexSnapshot = Map<string, { stamp: string; loaded: string }>;

/** The candidate's validated manifest. New or changed entries are pushed onto `fresh`, which the caller writes to the index. */
export function readIndexedManifest(c: Candidate, hostVersion: string, index: IndexSnapshot | undefined, fresh: Array<[string, string, string]>): LoadedManifest {
  let stamp: string | undefined;
  try {
    const st = statSync(join(c.dir, "module.json"));
    stamp = `${st.mtimeMs}:${st.size}:${st.ino}:${hostVersion}:${c.system}`;
  } catch {
    stamp = undefined;
  }
  const hit = stamp ? index?.get(c.dir) : undefined;
  if (hit && hit.stamp === stamp) return JSON.parse(hit.loaded) as LoadedManifest;
  const loaded = readManifest(c.dir, { allowSystem: c.system });
  if (stamp) fresh.push([c.dir, stamp, JSON.stringify(loaded)]);
  return loaded;
}
