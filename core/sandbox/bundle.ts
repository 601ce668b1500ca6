// A module entry (.ts or .js with relative imports) becomes one script, built by esbuild and cached
// by content hash.
//
//   "isolate": for a sandboxed module. An IIFE that leaves the module's exports on
//              globalThis.__wardenModule (the prelude takes them and deletes the global). Only files
//              inside the module folder may be imported: no packages, no node builtins, nothing
//              above the folder, except `@warden/sdk` (the host's copy: pure code). `import type`
//              is erased by esbuild and never resolved.
//   "node":    for a trusted system module loaded in-process. ESM for node, packages external; a
//              relative import may leave the folder only into the repository's sdk/.
//
// Cache: the output lives at CACHE_DIR/bundles/<sha256 of format + every input's contents>.{js,mjs}.
// Beside it, per entry, a record of what the build read: the hash of every file in the module
// folder (so an added file that would change how an import resolves is seen too), and of each
// input outside it (the sdk, a package's files). A hit re-hashes those and never runs esbuild.
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import * as esbuild from "esbuild";
import { HostError } from "../base/errors.js";
import { CACHE_DIR, ROOT, SDK_DIR, SDK_ENTRY } from "../base/paths.js";

export type BundleFormat = "isolate" | "node";

export interface BundleResult {
  /** The bundled script. */
  code: string;
  /** Where the bundle is cached (node imports it from there). */
  file: string;
  /** sha256 of the format and every input's contents; names the cached file. */
  hash: string;
}

/** The global an isolate bundle assigns the module's exports to. */
export const ISOLATE_EXPORTS_GLOBAL = "__wardenModule";

const BUNDLES_DIR = join(CACHE_DIR, "bundles");
/** A module folder is small; a folder past these is refused rather than hashed on every load. */
const MAX_FOLDER_FILES = 5000;
const MAX_FOLDER_BYTES = 64 * 1024 * 1024;

interface InputRecord {
  /** sha256 over every file in the module folder (paths and contents). */
  folder: string;
  /** Inputs the folder digest does not cover (sdk files, node_modules): absolute path -> sha256. */
  outside: Record<string, string>;
  hash: string;
}

/** Per entry, this process's last answer: a hit costs the folder re-hash only. */
const memory = new Map<string, { record: InputRecord; code: string; file: string }>();

export async function bundleModule(entryFile: string, dir: string, format: BundleFormat): Promise<BundleResult> {
  assertPrivateCache();
  const realDir = realpathOrRefuse(dir, `${dir}: the module folder is gone`);
  const realEntry = realpathOrRefuse(entryFile, `${entryFile}: the entry file is gone; fix module.json's "entry"`);
  if (!inside(realDir, realEntry)) throw new HostError("manifest_invalid", `${entryFile}: the entry resolves outside the module folder`);

  const entryKey = sha256(`${format}\n${esbuild.version}\n${realDir}\n${realEntry}`);
  const recordFile = join(BUNDLES_DIR, `${entryKey}.inputs.json`);
  const ext = format === "isolate" ? "js" : "mjs";
  const folder = hashFolderFiles(realDir);

  const known = memory.get(entryKey);
  if (known && known.record.folder === folder && outsideUnchanged(known.record.outside) && existsSync(known.file)) {
    return { code: known.code, file: known.file, hash: known.record.hash };
  }
  const onDisk = readRecord(recordFile);
  if (onDisk && onDisk.folder === folder && outsideUnchanged(onDisk.outside)) {
    const file = join(BUNDLES_DIR, `${onDisk.hash}.${ext}`);
    const code = readIfExists(file);
    if (code !== undefined) {
      memory.set(entryKey, { record: onDisk, code, file });
      return { code, file, hash: onDisk.hash };
    }
  }

  const { code, inputs } = await build(realEntry, realDir, format);
  const contents = createHash("sha256").update(`${format}\n${esbuild.version}\n`);
  const outside: Record<string, string> = {};
  for (const input of inputs.sort()) {
    const h = sha256(readFileSync(input));
    contents.update(`${relativeLabel(realDir, input)}\0${h}\n`);
    if (!coveredByFolderDigest(realDir, input)) outside[input] = h;
  }
  const hash = contents.digest("hex");
  const file = join(BUNDLES_DIR, `${hash}.${ext}`);
  const record: InputRecord = { folder, outside, hash };
  // Named by its contents and written only by rename: a file already there holds this very code
  // (another entry, an earlier run), so it is not read back or written again.
  if (!existsSync(file)) writeAtomically(file, code);
  writeAtomically(recordFile, JSON.stringify(record));
  memory.set(entryKey, { record, code, file });
  return { code, file, hash };
}

async function build(entry: string, dir: string, format: BundleFormat): Promise<{ code: string; inputs: string[] }> {
  const common = {
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    logLevel: "silent",
    charset: "utf8",
    absWorkingDir: dir,
    plugins: [confine(dir, format)],
  } satisfies esbuild.BuildOptions;
  let result: esbuild.BuildResult<typeof common>;
  try {
    result =
      format === "isolate"
        ? await esbuild.build({ ...common, format: "iife", globalName: ISOLATE_EXPORTS_GLOBAL, platform: "neutral", target: "es2022" })
        : await esbuild.build({ ...common, format: "esm", platform: "node", target: "node20", packages: "external" });
  } catch (e) {
    throw bundleError(entry, dir, e);
  }
  const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(dir, p));
  return { code: result.outputFiles[0]!.text, inputs };
}

/**
 * The import rules, checked on every import esbuild resolves: a module's own files may import
 * only files inside its folder (plus, for "node", the repository's sdk/ and packages).
 */
function confine(dir: string, format: BundleFormat): esbuild.Plugin {
  return {
    name: "warden-confine",
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind === "entry-point" || args.pluginData === "warden-confine") return undefined;
        const importer = args.importer;
        const fromModule = importer === "" || inside(dir, importer);
        const bare = !args.path.startsWith(".") && !isAbsolute(args.path);
        // The SDK's own few values (defineModule, the error catalogue) are pure code: every module
        // gets the host's copy, so a pack needs no node_modules and runs the SDK its host ships.
        if (args.path === "@warden/sdk") return { path: SDK_ENTRY };
        if (bare) {
          if (format === "node") return { path: args.path, external: true };
          return refuse(
            `imports '${args.path}' at run time; a sandboxed module may import only files in its own folder (node builtins and packages are not available in the sandbox; @warden/sdk is the one package it may import)`,
          );
        }
        // Refused by where it points before whether it exists: "cannot resolve ../x" would hide the rule.
        const lexical = resolve(args.resolveDir, args.path);
        const withinSdk = inside(SDK_DIR, importer) && inside(SDK_DIR, lexical);
        if (format === "isolate" && !inside(dir, lexical) && !withinSdk) {
          return refuse(`imports '${args.path}', which points outside the module folder; a sandboxed module may import only files in its own folder`);
        }
        const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer, pluginData: "warden-confine" });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        const target = realpathIfExists(resolved.path);
        if (inside(dir, target) || (withinSdk && inside(SDK_DIR, target))) return resolved;
        if (format === "node" && (inside(SDK_DIR, target) || (!fromModule && inside(ROOT, target)))) return resolved;
        return refuse(
          format === "node"
            ? `imports '${args.path}', which resolves to ${target} outside the module folder; a module may import its own files, packages and the repository's sdk/ only`
            : `imports '${args.path}', which resolves to ${target} outside the module folder; a sandboxed module may import only files in its own folder`,
        );
      });
    },
  };
}

function refuse(text: string): esbuild.OnResolveResult {
  return { errors: [{ text }] };
}

function bundleError(entry: string, dir: string, e: unknown): HostError {
  const errors = (e as { errors?: esbuild.Message[] }).errors ?? [];
  const where = (m: esbuild.Message) => (m.location ? `${relativeLabel(dir, resolve(dir, m.location.file))}:${m.location.line}` : "");
  const text = errors.map((m) => `${where(m) ? `${where(m)}: ` : ""}${m.text}`).join("; ") || String((e as Error)?.message ?? e);
  return new HostError("bundle_failed", `cannot bundle ${relativeLabel(dir, entry)}: ${text}`, {
    details: { problems: errors.map((m) => ({ path: where(m), message: m.text })) },
  });
}

/** Folders the tree digest skips; an input inside one is tracked file by file instead. */
const SKIPPED = new Set(["node_modules", ".git"]);

function coveredByFolderDigest(dir: string, file: string): boolean {
  return (
    inside(dir, file) &&
    !relative(dir, file)
      .split(sep)
      .some((part) => SKIPPED.has(part))
  );
}

/** One digest over the folder's file tree: names, link targets and contents. */
function hashFolderFiles(dir: string): string {
  const h = createHash("sha256");
  let files = 0;
  let bytes = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const rel = relative(dir, p).split(sep).join("/");
      const st = lstatSync(p);
      if (st.isSymbolicLink()) h.update(`L ${rel}\0${readlinkSync(p)}\n`);
      else if (st.isDirectory()) {
        if (SKIPPED.has(name)) continue;
        h.update(`D ${rel}\n`);
        walk(p);
      } else if (st.isFile()) {
        files++;
        bytes += st.size;
        if (files > MAX_FOLDER_FILES || bytes > MAX_FOLDER_BYTES) {
          throw new HostError("manifest_invalid", `${dir}: a module folder may hold at most ${MAX_FOLDER_FILES} files and ${MAX_FOLDER_BYTES} bytes`);
        }
        h.update(`F ${rel}\0${sha256(readFileSync(p))}\n`);
      }
    }
  };
  walk(dir);
  return h.digest("hex");
}

function outsideUnchanged(outside: Record<string, string>): boolean {
  for (const [file, h] of Object.entries(outside)) {
    let now: string;
    try {
      now = sha256(readFileSync(file));
    } catch {
      return false;
    }
    if (now !== h) return false;
  }
  return true;
}

function readRecord(file: string): InputRecord | undefined {
  const text = readIfExists(file);
  if (text === undefined) return undefined;
  try {
    const r = JSON.parse(text) as InputRecord;
    return typeof r.folder === "string" && typeof r.hash === "string" && r.outside && typeof r.outside === "object" ? r : undefined;
  } catch {
    return undefined;
  }
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function writeAtomically(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** `file` is `dir` or lies beneath it. */
export function inside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

function realpathOrRefuse(p: string, message: string): string {
  try {
    return realpathSync(p);
  } catch {
    throw new HostError("manifest_invalid", message);
  }
}

function realpathIfExists(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** A path as people read it in messages: relative to the module folder when inside it. */
function relativeLabel(dir: string, file: string): string {
  return inside(dir, file) ? relative(dir, file).split(sep).join("/") : file;
}

let cacheChecked = false;

/**
 * The cache holds code the host runs (and the sandbox processes' V8 code cache beside it), so it
 * must be this user's alone: made 0700, and refused when someone else owns it or others may write
 * it (a folder planted in advance, or a WARDEN_CACHE_DIR pointed somewhere shared).
 */
function assertPrivateCache(): void {
  if (cacheChecked) return;
  mkdirSync(CACHE_DIR, { recursive: true, mode: 0o700 });
  const st = lstatSync(CACHE_DIR);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) {
    throw new HostError(
      "integrity_failed",
      `${CACHE_DIR} holds the bundles this host runs but is ${st.isDirectory() ? "not this user's alone (another owner, or writable by others)" : "not a folder"}; remove it or set WARDEN_CACHE_DIR to a folder only you can write`,
    );
  }
  cacheChecked = true;
}
