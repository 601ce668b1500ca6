// Manifest validation: the JSON Schema (compiled once) for shape, then the semantic checks on every
// field that has the right shape, so one report lists all the problems.
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import type { Manifest } from "../../sdk/manifest.js";
import { checkCapabilities, checkCommands, checkConfig, checkDependencies, checkEntry, checkHostRange, checkId, checkKind, checkProvides, checkVersion } from "./checks.js";
import { manifestError, type ManifestProblem } from "./problems.js";
import { decodeUtf8, parseManifestText, readManifestBytes } from "./read.js";
import { checkShape } from "./shape.js";

export interface LoadedManifest {
  /** Validated, with kind defaulted to "user" and each command's permission to `<id>.<command>`. */
  manifest: Manifest;
  /** Absolute path of module.json. */
  file: string;
  /** Absolute module folder. */
  dir: string;
  /** Absolute, realpath-resolved entry, proven inside dir. */
  entryFile: string;
  /** sha256 hex of the raw module.json bytes. */
  hash: string;
}

export interface ManifestOptions {
  /** True only for folders directly under the repo's modules/. */
  allowSystem: boolean;
}

const NONE: ReadonlySet<string> = new Set();

export function validateManifest(raw: unknown, file: string, dir: string, opts: ManifestOptions): { manifest: Manifest; entryFile: string } {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw manifestError(file, [{ path: "", message: `must be a JSON object, not ${Array.isArray(raw) ? "an array" : raw === null ? "null" : typeof raw}` }]);
  }
  const shape = checkShape(raw);
  const problems: ManifestProblem[] = [...shape.problems];
  const ok = (field: string) => !shape.failed.has(field);
  const skip = (field: string) => shape.failedEntries.get(field) ?? NONE;

  const manifest = structuredClone(raw) as Manifest;
  manifest.kind ??= "user";
  if (ok("id")) checkId(manifest, opts.allowSystem, problems);
  if (ok("version")) checkVersion(manifest, problems);
  if (ok("host")) checkHostRange(manifest, problems);
  if (ok("dependencies")) checkDependencies(manifest, skip("dependencies"), problems);
  if (ok("kind")) checkKind(manifest, opts.allowSystem, problems);
  const entryFile = ok("entry") ? checkEntry(manifest, dir, problems) : undefined;
  if (ok("capabilities")) checkCapabilities(manifest, skip("capabilities"), problems);
  if (ok("commands")) checkCommands(manifest, skip("commands"), problems);
  if (ok("commands") && Object.values(manifest.commands ?? {}).filter((c) => c.cliDefault).length > 1) {
    problems.push({ path: "/commands", message: "at most one command may be cliDefault (what `warden <module>` alone runs)" });
  }
  if (ok("config")) checkConfig(manifest, problems);
  if (ok("provides") && ok("kind")) checkProvides(manifest, problems);

  if (problems.length) throw manifestError(file, problems);
  if (!entryFile) throw manifestError(file, [{ path: "/entry", message: "could not be resolved" }]); // unreachable: checkEntry reports why
  for (const [name, cmd] of Object.entries(manifest.commands ?? {})) cmd.permission ??= `${manifest.id}.${name}`;
  return { manifest, entryFile };
}

export function readManifest(dir: string, opts: ManifestOptions): LoadedManifest {
  const absDir = resolve(dir);
  const file = join(absDir, "module.json");
  const bytes = readManifestBytes(file);
  const hash = createHash("sha256").update(bytes).digest("hex");
  const raw = parseManifestText(decodeUtf8(bytes, file), file);
  const { manifest, entryFile } = validateManifest(raw, file, absDir, opts);
  return { manifest, file, dir: absDir, entryFile, hash };
}
