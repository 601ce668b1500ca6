// Module entries (.ts or .js with relative imports) become one script for the isolate, built by
// esbuild and cached by content hash. An import that resolves outside the module folder, or of any
// package, is refused: a sandboxed module brings all of its code with it.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import * as esbuild from "esbuild";
import { HostError } from "../errors.js";
import { hashFolder } from "../lifecycle/files.js";
import { CACHE_DIR, ROOT } from "../paths.js";

export interface Bundle {
  code: string;
  hash: string;
}

const memory = new Map<string, Bundle>();

function inside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/** The entry must still resolve inside its folder (a link swapped in after validation is refused). */
function assertEntryInside(entryFile: string, dir: string): void {
  let real: string;
  try {
    real = realpathSync(entryFile);
  } catch {
    throw new HostError("manifest_invalid", `${entryFile}: the entry file is gone; fix module.json's "entry"`);
  }
  if (!inside(realpathSync(dir), real)) throw new HostError("manifest_invalid", `${entryFile}: the entry resolves outside the module folder`);
}

export async function bundleForIsolate(entryFile: string, dir: string): Promise<Bundle> {
  assertEntryInside(entryFile, dir);
  const files = hashFolder(dir);
  const hash = createHash("sha256").update(`isolate\n${esbuild.version}\n${relative(dir, entryFile)}\n`).update(JSON.stringify(files)).digest("hex");
  const hit = memory.get(hash);
  if (hit) return hit;
  const cacheFile = join(CACHE_DIR, "bundles", `${hash}.js`);
  if (existsSync(cacheFile)) {
    const b = { code: readFileSync(cacheFile, "utf8"), hash };
    memory.set(hash, b);
    return b;
  }
  const realDir = realpathSync(dir);
  let result: esbuild.BuildResult;
  try {
    result = await esbuild.build({
      entryPoints: [entryFile],
      bundle: true,
      write: false,
      format: "iife",
      globalName: "__wardenModule",
      platform: "neutral",
      target: "es2022",
      logLevel: "silent",
      charset: "utf8",
      plugins: [
        {
          name: "warden-confine",
          setup(build) {
            build.onResolve({ filter: /.*/ }, (args) => {
              if (args.kind === "entry-point") return undefined;
              const where = args.importer ? `${relative(dir, args.importer)}` : "entry";
              if (!args.path.startsWith(".") && !isAbsolute(args.path)) {
                return { errors: [{ text: `${where}: imports '${args.path}' at run time; a sandboxed module may import only files in its own folder (use \`import type\` for warden/sdk)` }] };
              }
              const target = resolve(args.resolveDir, args.path);
              let real = target;
              for (const candidate of [target, `${target}.ts`, `${target}.js`, `${target}.mjs`, join(target, "index.ts"), join(target, "index.js")]) {
                if (existsSync(candidate)) {
                  real = realpathSync(candidate);
                  break;
                }
              }
              if (!inside(realDir, real)) return { errors: [{ text: `${where}: imports '${args.path}', which is outside the module folder` }] };
              return undefined;
            });
          },
        },
      ],
    });
  } catch (e) {
    const errors = (e as { errors?: esbuild.Message[] }).errors ?? [];
    const text = errors.map((m) => `${m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : ""}${m.text}`).join("; ") || (e as Error).message;
    throw new HostError("manifest_invalid", `cannot bundle ${relative(process.cwd(), entryFile) || entryFile}: ${text}`, {
      details: { problems: errors.map((m) => ({ path: m.location ? `${m.location.file}:${m.location.line}` : "", message: m.text })) },
    });
  }
  const code = result.outputFiles![0]!.text;
  mkdirSync(dirname(cacheFile), { recursive: true });
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  writeFileSync(tmp, code);
  renameSync(tmp, cacheFile);
  const b = { code, hash };
  memory.set(hash, b);
  return b;
}

/**
 * A trusted system module's entry as one ESM file for node (packages stay external), so the host
 * needs no TypeScript loader at run time. Cached by the content of the module folder and the SDK.
 */
export async function bundleForNode(entryFile: string, dir: string): Promise<string> {
  assertEntryInside(entryFile, dir);
  const files = { ...hashFolder(dir), ...Object.fromEntries(Object.entries(hashFolder(join(ROOT, "sdk"))).map(([k, v]) => [`sdk/${k}`, v])) };
  const hash = createHash("sha256").update(`node\n${esbuild.version}\n${entryFile}\n`).update(JSON.stringify(files)).digest("hex");
  return buildForNodeOnce(entryFile, join(CACHE_DIR, "system", `${basenameOf(dir)}-${hash.slice(0, 24)}.mjs`));
}

/** Bundles an entry for node into `file` unless it is there already (written atomically). */
async function buildForNodeOnce(entry: string, file: string): Promise<string> {
  if (existsSync(file)) return file;
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await esbuild.build({ entryPoints: [entry], bundle: true, outfile: tmp, format: "esm", platform: "node", target: "node20", packages: "external", logLevel: "silent" });
  renameSync(tmp, file);
  return file;
}

function basenameOf(dir: string): string {
  return dir.split(/[\\/]/).filter(Boolean).pop() ?? "module";
}

/** The sandbox process entry, bundled for plain node (the host may itself run under vitest or tsx). */
export async function workerScript(): Promise<string> {
  // From ROOT, not import.meta.url: this code may itself run from a bundle in the cache.
  const entry = join(ROOT, "core", "sandbox", "worker-main.ts");
  const sources = ["worker-main.ts", "module-isolate.ts", "prelude.ts", "messages.ts"].map((f) => readFileSync(join(dirname(entry), f), "utf8"));
  const hash = createHash("sha256").update(esbuild.version).update(sources.join("\0")).digest("hex").slice(0, 32);
  return buildForNodeOnce(entry, join(CACHE_DIR, "worker", `worker-${hash}.mjs`));
}
