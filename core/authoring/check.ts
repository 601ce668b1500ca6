// `warden module check <dir>`: the manifest, the bundle and the types, with every problem pointing
// at a file (and line, where there is one).
import { existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { HostError } from "../base/errors.js";
import { readManifest } from "../manifest/index.js";
import { ROOT } from "../base/paths.js";
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
  if (/\.m?ts$/.test(loaded.entryFile)) problems.push(...(await typeCheck(loaded.entryFile, loaded.dir)));
  return { ok: problems.length === 0, id: loaded.manifest.id, problems, ...(bundleBytes !== undefined ? { bundle_bytes: bundleBytes } : {}) };
}

async function typeCheck(entry: string, dir: string): Promise<CheckProblem[]> {
  let ts: typeof import("typescript");
  try {
    ts = (await import("typescript")).default;
  } catch {
    return [{ stage: "types", code: "typecheck_failed", file: entry, message: "TypeScript is not installed here; types were not checked (npm install -D typescript)" }];
  }
  const program = ts.createProgram([entry], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2023.d.ts"],
    types: [],
    skipLibCheck: true,
    baseUrl: dirname(entry),
    paths: { "warden/sdk": [join(ROOT, "sdk/index.ts")], "warden/sdk/testing": [join(ROOT, "core/authoring/testing.ts")] },
  });
  return (
    ts
      .getPreEmitDiagnostics(program)
      // The module's own files; the SDK's are Warden's business.
      .filter((d) => !d.file || !relative(dir, d.file.fileName).startsWith(".."))
      .map((d) => {
        const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
        if (!d.file || d.start === undefined) return { stage: "types" as const, code: "typecheck_failed" as const, file: entry, message };
        const { line } = d.file.getLineAndCharacterOfPosition(d.start);
        return { stage: "types" as const, code: "typecheck_failed" as const, file: d.file.fileName, line: line + 1, message };
      })
  );
}

export function assertDir(dir: string): void {
  if (!existsSync(join(dir, "module.json"))) throw new HostError("usage", `${dir} has no module.json; give a module folder`);
}
