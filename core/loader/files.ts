// File hashes of a module folder (recorded at install, checked at load) and safe folder copies.
import { createHash } from "node:crypto";
import { cpSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { HostError } from "../base/errors.js";

const MAX_FILES = 5000;
const MAX_TOTAL_BYTES = 64 * 1024 * 1024;

/** sha256 of every regular file under dir, keyed by relative path with forward slashes. Links are refused. */
export function hashFolder(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  let total = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name === "node_modules" || name === ".git") continue;
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) throw new HostError("manifest_invalid", `${p}: links are not allowed in a module folder`);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        total += st.size;
        if (Object.keys(out).length >= MAX_FILES || total > MAX_TOTAL_BYTES) {
          throw new HostError("manifest_invalid", `${dir}: a module may hold at most ${MAX_FILES} files and ${MAX_TOTAL_BYTES} bytes`);
        }
        out[relative(dir, p).split(sep).join("/")] = createHash("sha256").update(readFileSync(p)).digest("hex");
      }
    }
  };
  walk(dir);
  return out;
}

/** Files whose hash differs, that vanished, or that appeared since `expected` was recorded. */
export function changedFiles(dir: string, expected: Record<string, string>): string[] {
  let actual: Record<string, string>;
  try {
    actual = hashFolder(dir);
  } catch (e) {
    return [(e as Error).message];
  }
  const changed = new Set<string>();
  for (const [f, h] of Object.entries(expected)) if (actual[f] !== h) changed.add(f);
  for (const f of Object.keys(actual)) if (!(f in expected)) changed.add(f);
  return [...changed].sort();
}

export function copyFolder(from: string, to: string): void {
  cpSync(from, to, { recursive: true, errorOnExist: true, force: false, verbatimSymlinks: true, filter: (src) => !src.split(sep).includes("node_modules") });
}
