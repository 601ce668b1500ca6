// Manifest validation: the JSON Schema (compiled once) for shape, then the semantic checks.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ErrorObject, ValidateFunction } from "ajv";
import type { Manifest } from "../../sdk/manifest.js";
import { MANIFESTS_DIR } from "../paths.js";
import { newAjv } from "./ajv.js";
import { checkCapabilities, checkCommands, checkConfig, checkEntry, checkId, checkKind, checkVersions, describeAjvError } from "./checks.js";
import { manifestError, type ManifestProblem } from "./problems.js";
import { decodeUtf8, parseManifestText, readManifestBytes } from "./read.js";

export interface LoadedManifest {
  manifest: Manifest;
  file: string;
  dir: string;
  entryFile: string;
  hash: string;
}

export interface ManifestOptions {
  /** True only for folders directly under the repo's modules/. */
  allowSystem: boolean;
}

const schema = JSON.parse(readFileSync(join(MANIFESTS_DIR, "module.schema.json"), "utf8"));
const validateShape: ValidateFunction = newAjv().compile(schema);

export function validateManifest(raw: unknown, file: string, dir: string, opts: ManifestOptions): { manifest: Manifest; entryFile: string } {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw manifestError(file, [{ path: "", message: "must be a JSON object" }]);
  if (!validateShape(raw)) {
    const problems: ManifestProblem[] = (validateShape.errors ?? [])
      // anyOf reports each branch; the branch errors already say what was wrong.
      .filter((e: ErrorObject) => e.keyword !== "anyOf")
      .map((e: ErrorObject) => ({ path: e.instancePath, message: describeAjvError(e) }));
    throw manifestError(file, problems);
  }
  const manifest = structuredClone(raw) as Manifest;
  manifest.kind ??= "user";
  const problems: ManifestProblem[] = [];
  checkId(manifest, problems);
  checkVersions(manifest, problems);
  checkKind(manifest, opts.allowSystem, problems);
  const entryFile = checkEntry(manifest, dir, problems);
  checkCapabilities(manifest, problems);
  checkCommands(manifest, problems);
  checkConfig(manifest, problems);
  if (problems.length || !entryFile) throw manifestError(file, problems);
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
