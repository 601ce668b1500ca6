// `warden module pack [dir]`: the archive `warden module install` takes. The module is checked
// first (a broken module is not packed). The archive holds only the module, under package/ (as npm
// pack does): module.json's `files` when it lists them, else the folder without tests, lockfiles,
// package.json, tsconfig, dotfiles, node_modules and what .wardenignore lists (as .vscodeignore does
// for vsce). Packs are reproducible: the same folder gives the same bytes (sorted entries, fixed
// times and modes, no owner ids), so a pack's sha256 names its content.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import { MAX_SIGNATURE_BYTES, parseSignature, readCapped, signPack } from "../supply/signature.js";
import { join, relative, resolve, sep } from "node:path";
import ignore, { type Ignore } from "ignore";
import * as tar from "tar";
import { HostError } from "../base/errors.js";
import type { Manifest } from "../../sdk/manifest.js";
import { assertDir, checkModule } from "./check.js";

/** Left out unless module.json's `files` names them: what builds and tests a module, not what runs it. */
const DEFAULT_IGNORES = [
  ".*",
  "node_modules/",
  "*.tgz",
  "*.tgz.sig",
  "*.test.ts",
  "*.test.js",
  "*.spec.ts",
  "*.spec.js",
  "test/",
  "tests/",
  "__tests__/",
  "package.json",
  "package-lock.json",
  "npm-shrinkwrap.json",
  "yarn.lock",
  "pnpm-lock.yaml",
  "bun.lockb",
  "tsconfig*.json",
];
/** A time every entry carries, so the pack's bytes depend on contents only. */
const FIXED_TIME = new Date("2000-01-01T00:00:00Z");

export interface PackEntry {
  path: string;
  bytes: number;
}

/** What the pack of `dir` holds, sorted (`warden module pack --list`). */
export function packList(dir: string): PackEntry[] {
  assertDir(dir);
  return filesToPack(dir, JSON.parse(readFileSync(join(dir, "module.json"), "utf8")) as Manifest);
}

function filesToPack(dir: string, manifest: Pick<Manifest, "files">): PackEntry[] {
  const rules: Ignore = ignore().add(DEFAULT_IGNORES);
  const wardenignore = join(dir, ".wardenignore");
  if (existsSync(wardenignore)) rules.add(readFileSync(wardenignore, "utf8"));
  const listed = manifest.files ? ignore().add(manifest.files) : undefined;
  const out: PackEntry[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const rel = relative(dir, p).split(sep).join("/");
      if (e.name === "node_modules" || e.name === ".git") continue;
      if (e.isDirectory()) {
        // A folder `files` names is taken whole; otherwise its files are judged one by one.
        if (!listed && rules.ignores(`${rel}/`)) continue;
        walk(p);
      } else if (e.isFile()) {
        // Only regular files: a symlink is never packed (it could point anywhere on the author's disk).
        const wanted = rel === "module.json" || (listed ? listed.ignores(rel) : !rules.ignores(rel));
        if (wanted) out.push({ path: rel, bytes: statSync(p).size });
      }
    }
  };
  walk(dir);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export async function packModule(dir: string, outDir = process.cwd()): Promise<{ file: string; id: string; version: string; sha256: string; files: PackEntry[] }> {
  const report = await checkModule(dir);
  if (!report.ok) {
    throw new HostError(
      "manifest_invalid",
      `${dir} does not pass \`warden module check\`; fix it first: ${report.problems
        .slice(0, 3)
        .map((p) => p.message)
        .join("; ")}`,
      { details: { problems: report.problems } },
    );
  }
  const manifest = JSON.parse(readFileSync(join(dir, "module.json"), "utf8")) as Manifest;
  const files = filesToPack(dir, manifest);
  refusePrivateKeys(dir, files);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new HostError("usage", `--out ${outDir}: cannot create that folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a folder you can write`);
  }
  const file = resolve(outDir, `${manifest.id}-${manifest.version}.tgz`);
  // Written beside and renamed into place: a pack that exists is a whole pack.
  const partial = `${file}.${process.pid}.partial`;
  await tar.c(
    {
      gzip: true,
      file: partial,
      cwd: dir,
      prefix: "package",
      portable: true,
      noDirRecurse: true,
      mtime: FIXED_TIME,
      // Modes as git keeps them (0644, or 0755 when executable), whatever the umask was.
      filter: (_path, stat) => {
        if (stat.mode !== undefined) stat.mode = (stat.mode & 0o100 ? 0o755 : 0o644) | (stat.mode & ~0o777);
        return true;
      },
    },
    files.map((f) => f.path),
  );
  renameSync(partial, file);
  const sha256 = createHash("sha256").update(readFileSync(file)).digest("hex");
  return { file, id: manifest.id, version: manifest.version, sha256, files };
}

/** Writes `<pack>.sig` beside a pack: its detached signature by `key` (written beside, then renamed). */
export function signPackFile(pack: { file: string; id: string; version: string; sha256: string }, key: KeyObject): { file: string; keyId: string } {
  const signature = signPack(key, pack.sha256, pack.id, pack.version);
  const file = `${pack.file}.sig`;
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  writeFileSync(tmp, JSON.stringify(signature, null, 2) + "\n", { mode: 0o644, flag: "wx" });
  renameSync(tmp, file);
  return { file, keyId: signature.key_id };
}

/** Removes `<pack>.sig` when it signs other bytes than the pack now holds (an unsigned rebuild). */
export function dropStaleSignature(pack: { file: string; sha256: string }): string | undefined {
  const file = `${pack.file}.sig`;
  if (!existsSync(file)) return undefined;
  const parsed = parseSignature(readCapped(file, MAX_SIGNATURE_BYTES) ?? "");
  if (parsed.ok && parsed.signature.digest === `sha256:${pack.sha256}`) return undefined;
  rmSync(file, { force: true });
  return file;
}

/** A private key in the folder would ship with every pack: refused, whatever its name (`keys new --out ./key` has none to match). */
function refusePrivateKeys(dir: string, files: PackEntry[]): void {
  for (const f of files) {
    if (f.bytes > 64 * 1024) continue;
    if (/-----BEGIN (?:[A-Z0-9]+ )?PRIVATE KEY-----/.test(readFileSync(join(dir, ...f.path.split("/")), "latin1"))) {
      throw new HostError("usage", `${f.path} is a private key and would be shipped inside the pack; keep keys outside the module folder (or list the file in .wardenignore)`, {
        details: { file: f.path },
      });
    }
  }
}
