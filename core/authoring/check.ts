// `warden module check <dir>`: the manifest, the bundle and the types, with every problem pointing
// at a file (and line, where there is one).
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { HostError } from "../base/errors.js";
import { readManifest } from "../manifest/index.js";
import { FROM_SOURCE, SDK_DIR } from "../base/paths.js";
import { MODULE_TYPES_FILE, writeModuleTypes } from "./module-types.js";
import { authorTool, installedIn } from "./tools.js";
import { bundleForIsolate } from "../sandbox/bundler.js";

export interface CheckProblem {
  stage: "manifest" | "bundle" | "types";
  /** The code a host would answer with: manifest_invalid, bundle_failed or typecheck_failed. */
  code: "manifest_invalid" | "bundle_failed" | "typecheck_failed";
  file: string;
  line?: number;
  message: string;
}

export interface CheckReport {
  ok: boolean;
  id?: string;
  problems: CheckProblem[];
  bundle_bytes?: number;
}

export async function checkModule(dir: string): Promise<CheckReport> {
  const problems: CheckProblem[] = [];
  let loaded;
  try {
    loaded = readManifest(dir, { allowSystem: false });
  } catch (e) {
    const err = e as HostError;
    const file = (err.details as { file?: string } | undefined)?.file ?? join(dir, "module.json");
    for (const p of (err.details as { problems?: Array<{ path: string; message: string }> } | undefined)?.problems ?? [{ path: "", message: err.message }]) {
      problems.push({ stage: "manifest", code: "manifest_invalid", file, message: `${p.path || "/"}: ${p.message}` });
    }
    return { ok: false, problems };
  }
  let bundleBytes: number | undefined;
  try {
    bundleBytes = (await bundleForIsolate(loaded.entryFile, loaded.dir)).code.length;
  } catch (e) {
    const err = e as HostError;
    const list = (err.details as { problems?: Array<{ path: string; message: string }> } | undefined)?.problems ?? [];
    const code = err.code === "bundle_failed" ? "bundle_failed" : "manifest_invalid";
    if (list.length === 0) problems.push({ stage: "bundle", code, file: loaded.entryFile, message: err.message });
    for (const p of list) {
      const [file, line] = p.path.split(":");
      problems.push({ stage: "bundle", code, file: file ? join(loaded.dir, file) : loaded.entryFile, ...(line ? { line: Number(line) } : {}), message: p.message });
    }
  }
  if (/\.m?ts$/.test(loaded.entryFile)) {
    // Types generated from the schemas are refreshed first, so a schema change shows up here.
    if (existsSync(join(loaded.dir, MODULE_TYPES_FILE))) writeModuleTypes(loaded.dir, loaded.manifest);
    problems.push(...(await typeCheck(loaded.entryFile, loaded.dir)));
  }
  return { ok: problems.length === 0, id: loaded.manifest.id, problems, ...(bundleBytes !== undefined ? { bundle_bytes: bundleBytes } : {}) };
}

/**
 * TypeScript as the module folder has it (its devDependency, what its editor and `tsc` use), else
 * the host's own when it has one (a checkout), else none: then the problem says what to install.
 */
async function typescriptFor(dir: string): Promise<typeof import("typescript") | undefined> {
  const file = authorTool(dir, "typescript");
  return file ? ((await import(pathToFileURL(file).href)) as { default: typeof import("typescript") }).default : undefined;
}

/** The module's own TypeScript files (its tests too), as `tsc` in the folder would take them. */
function moduleSources(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith(".") || e.name === "node_modules") continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /\.m?ts$/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

async function typeCheck(entry: string, dir: string): Promise<CheckProblem[]> {
  const ts = await typescriptFor(dir);
  if (!ts) return [{ stage: "types", code: "typecheck_failed", file: entry, message: "TypeScript is not installed in the module folder; types were not checked (run npm install there)" }];
  // The SDK as the folder has it; before `npm install`, this host's own copy, so check works at once.
  const paths: Record<string, string[]> = installedIn(dir, "@warden/sdk")
    ? {}
    : { "@warden/sdk": [join(SDK_DIR, FROM_SOURCE ? "index.ts" : "index.d.ts")], "@warden/sdk/testing": [join(SDK_DIR, FROM_SOURCE ? "testing.ts" : "testing.d.ts")] };
  // The tests' vitest likewise: the folder's, else the host's when it has one.
  const vitest = installedIn(dir, "vitest") ? undefined : authorTool(dir, "vitest/package.json");
  if (vitest) paths.vitest = [join(dirname(vitest), "dist", "index.d.ts")];
  const program = ts.createProgram(moduleSources(dir), {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
    skipLibCheck: true,
    paths,
  });
  return (
    ts
      .getPreEmitDiagnostics(program)
      // The module's own files; the SDK's are Warden's business.
      .filter(
        (d) =>
          !d.file ||
          !relative(dir, d.file.fileName)
            .split(/[\\/]/)
            .some((part) => part === ".." || part === "node_modules"),
      )
      .map((d) => {
        let message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
        if (d.code === 2307) message += " (run npm install in the module folder)";
        if (!d.file || d.start === undefined) return { stage: "types" as const, code: "typecheck_failed" as const, file: entry, message };
        const { line } = d.file.getLineAndCharacterOfPosition(d.start);
        return { stage: "types" as const, code: "typecheck_failed" as const, file: d.file.fileName, line: line + 1, message };
      })
  );
}

export function assertDir(dir: string): void {
  if (!existsSync(join(dir, "module.json"))) throw new HostError("usage", `${dir} has no module.json; give a module folder`);
}
