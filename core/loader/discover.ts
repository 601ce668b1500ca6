// Where module folders are found: system modules directly under the repo's modules/ (except
// examples/), user modules under <home>/modules/, each --modules DIR and config host.modulePaths.
// A DIR that is itself a module (has module.json) counts as one module.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { SYSTEM_MODULES_DIR } from "../base/paths.js";
import { homeLayout } from "../base/home.js";

export interface Candidate {
  dir: string;
  /** Folder name; the id a module is listed under when its manifest cannot be read. */
  folder: string;
  system: boolean;
}

const SKIP = new Set(["examples", "node_modules"]);

function subfolders(dir: string): string[] {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const d of entries) {
    if (d.name.startsWith(".") || SKIP.has(d.name)) continue;
    // Directory entries carry their type: no stat per module (host start stays cheap).
    if (d.isDirectory() || (d.isSymbolicLink() && isDir(join(dir, d.name)))) out.push(join(dir, d.name));
  }
  return out.sort();
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function discoverModules(options: { home: string; modulePaths: readonly string[]; systemDir?: string }): Candidate[] {
  const out: Candidate[] = [];
  const seen = new Set<string>();
  const add = (dir: string, system: boolean) => {
    const abs = resolve(dir);
    if (seen.has(abs)) return;
    seen.add(abs);
    out.push({ dir: abs, folder: abs.split(/[\\/]/).pop()!, system });
  };
  for (const dir of subfolders(options.systemDir ?? SYSTEM_MODULES_DIR)) add(dir, true);
  const userRoots = [homeLayout(options.home).modules, ...options.modulePaths];
  for (const root of userRoots) {
    if (existsSync(join(root, "module.json"))) add(root, false);
    else for (const dir of subfolders(root)) add(dir, false);
  }
  return out;
}
