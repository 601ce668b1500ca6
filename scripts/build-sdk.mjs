// The SDK as a package (`npm pack` in sdk/, and the host's build): its TypeScript compiled to
// JavaScript with declarations in sdk/dist, beside the manifest's JSON Schema for editors. Only
// what the public entries reach is compiled (sdk/system/ is the host's, not the package's).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
  // The manifest's schema for editors: the host's, with the capability names as an enum.
  const schema = JSON.parse(readFileSync(join(ROOT, "manifests", "module.schema.json"), "utf8"));
  const names = JSON.parse(readFileSync(join(ROOT, "manifests", "capability-names.json"), "utf8"));
  const [asString, asObject] = schema.properties.capabilities.items.anyOf;
  asString.enum = names;
  asObject.properties.name.enum = names;
  writeFileSync(join(out, "module.schema.json"), JSON.stringify(schema, null, 2) + "\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildSdk();
  process.stderr.write(`built ${join(SDK, "dist")}\n`);
}
