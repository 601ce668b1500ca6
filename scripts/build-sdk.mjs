// The SDK as a package (`npm pack` in sdk/, and the host's build): its TypeScript compiled to
// JavaScript with declarations in sdk/dist, beside the manifest's JSON Schema for editors. Only
// what the public entries reach is compiled (sdk/system/ is the host's, not the package's).
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SDK = join(ROOT, "sdk");

export async function buildSdk() {
  const ts = (await import("typescript")).default;
  const out = join(SDK, "dist");
  rmSync(out, { recursive: true, force: true });
  const program = ts.createProgram([join(SDK, "index.ts"), join(SDK, "testing.ts")], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2023.d.ts", "lib.dom.d.ts"],
    types: [],
    strict: true,
    declaration: true,
    rootDir: SDK,
    outDir: out,
    skipLibCheck: true,
  });
  const result = program.emit();
  const problems = ts.getPreEmitDiagnostics(program).concat(result.diagnostics);
  if (problems.length > 0 || result.emitSkipped) {
    throw new Error(`the SDK does not compile:\n${ts.formatDiagnostics(problems, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => "\n" })}`);
  }
  mkdirSync(out, { recursive: true });
  copyFileSync(join(ROOT, "manifests", "module.schema.json"), join(out, "module.schema.json"));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildSdk();
  process.stdout.write(`built ${join(SDK, "dist")}\n`);
}
