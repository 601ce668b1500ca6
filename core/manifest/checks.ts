// Semantic checks of a manifest that passed the JSON Schema, one small function per rule, each
// adding problems with the JSON path and what was expected (the Fastify pluginUtils shape).
import { existsSync, realpathSync, statSync } from "node:fs";
import { extname, isAbsolute, normalize, relative, resolve, sep } from "node:path";
import type { ValidateFunction } from "ajv";
import semver from "semver";
import type { Manifest } from "../../sdk/manifest.js";
import { CAPABILITIES } from "../capabilities/catalogue.js";
import { compileCommandSchema, newAjv } from "./ajv.js";
import type { ManifestProblem } from "./problems.js";

export const RESERVED_IDS: ReadonlySet<string> = new Set([
  "module", "config", "audit", "host", "sandbox", "storage", "warden", "status", "serve", "dev", "help", "version", "events", "log", "commands", "services",
]);

const ENTRY_EXTENSIONS = new Set([".ts", ".js", ".mjs", ".mts"]);
type Problems = ManifestProblem[];

export function checkId(m: Manifest, out: Problems): void {
  if (RESERVED_IDS.has(m.id)) out.push({ path: "/id", message: `'${m.id}' is reserved for the host; choose another id` });
}

export function checkVersions(m: Manifest, out: Problems): void {
  if (!semver.valid(m.version)) out.push({ path: "/version", message: `'${m.version}' is not a semantic version like 1.2.0` });
  if (semver.validRange(m.host) === null) out.push({ path: "/host", message: `'${m.host}' is not a semver range like ^0.1.0` });
  for (const [dep, range] of Object.entries(m.dependencies ?? {})) {
    const p = `/dependencies/${dep}`;
    if (dep === m.id) out.push({ path: p, message: "a module cannot depend on itself" });
    if (semver.validRange(range) === null) out.push({ path: p, message: `'${range}' is not a semver range like ^1.0.0` });
  }
}

export function checkKind(m: Manifest, allowSystem: boolean, out: Problems): void {
  if (m.kind === "system" && !allowSystem) {
    out.push({ path: "/kind", message: "only modules bundled under Warden's modules/ may be system modules; use \"user\"" });
  }
}

/** Returns the realpath of the entry when it is safely inside the folder. */
export function checkEntry(m: Manifest, dir: string, out: Problems): string | undefined {
  const p = "/entry";
  if (isAbsolute(m.entry) || /^[a-zA-Z]:/.test(m.entry)) {
    out.push({ path: p, message: "must be a relative path inside the module folder" });
    return undefined;
  }
  const rel = normalize(m.entry);
  if (rel === ".." || rel.startsWith(`..${sep}`) || rel.split(/[\\/]/).includes("..")) {
    out.push({ path: p, message: `'${m.entry}' escapes the module folder` });
    return undefined;
  }
  if (!ENTRY_EXTENSIONS.has(extname(rel))) {
    out.push({ path: p, message: `'${m.entry}' must end in .ts, .js, .mjs or .mts` });
    return undefined;
  }
  const abs = resolve(dir, rel);
  if (!existsSync(abs) || !statSync(abs).isFile()) {
    out.push({ path: p, message: `'${m.entry}' does not exist in the module folder` });
    return undefined;
  }
  const real = realpathSync(abs);
  const realDir = realpathSync(dir);
  const inside = relative(realDir, real);
  if (inside.startsWith("..") || isAbsolute(inside)) {
    out.push({ path: p, message: `'${m.entry}' resolves (through a link) outside the module folder` });
    return undefined;
  }
  return real;
}

const paramValidators = new Map<string, ValidateFunction>();
const paramAjv = newAjv();

export function checkCapabilities(m: Manifest, out: Problems): void {
  const seen = new Set<string>();
  (m.capabilities ?? []).forEach((c, i) => {
    const p = `/capabilities/${i}`;
    const name = typeof c === "string" ? c : c.name;
    const def = CAPABILITIES.get(name);
    if (!def) {
      out.push({ path: p, message: `unknown capability "${name}"; known: ${[...CAPABILITIES.keys()].join(", ")}` });
      return;
    }
    if (seen.has(name)) out.push({ path: p, message: `capability "${name}" is listed twice` });
    seen.add(name);
    const params = typeof c === "string" ? {} : Object.fromEntries(Object.entries(c).filter(([k]) => k !== "name"));
    const validate = paramValidators.get(name) ?? paramAjv.compile(def.params);
    paramValidators.set(name, validate);
    if (!validate(params)) {
      for (const e of validate.errors ?? []) {
        out.push({ path: `${p}${e.instancePath}`, message: `${name} parameters: ${describeAjvError(e)}` });
      }
    }
  });
}

export function checkCommands(m: Manifest, out: Problems): void {
  for (const [name, cmd] of Object.entries(m.commands ?? {})) {
    const p = `/commands/${name}`;
    for (const part of ["input", "output"] as const) {
      const schema = cmd[part];
      if (schema === undefined) continue;
      if (schema.type !== "object" && part === "input") {
        out.push({ path: `${p}/input`, message: 'must be a JSON Schema with "type": "object"' });
        continue;
      }
      try {
        compileCommandSchema(schema);
      } catch (e) {
        out.push({ path: `${p}/${part}`, message: `is not a valid JSON Schema: ${(e as Error).message}` });
      }
    }
    const props = (cmd.input?.properties ?? {}) as Record<string, unknown>;
    (cmd.args ?? []).forEach((arg, i) => {
      if (!Object.prototype.hasOwnProperty.call(props, arg)) {
        out.push({ path: `${p}/args/${i}`, message: `'${arg}' is not a property of the command's input schema` });
      }
    });
  }
}

export function checkConfig(m: Manifest, out: Problems): void {
  if (m.config === undefined) return;
  const p = "/config";
  if (m.config.type !== "object") {
    out.push({ path: p, message: 'must be a JSON Schema with "type": "object"' });
    return;
  }
  let validate: ValidateFunction;
  try {
    validate = compileCommandSchema(m.config);
  } catch (e) {
    out.push({ path: p, message: `is not a valid JSON Schema: ${(e as Error).message}` });
    return;
  }
  const defaults = {};
  if (!validate(defaults)) {
    for (const e of validate.errors ?? []) out.push({ path: `${p}${e.instancePath ? `/properties${e.instancePath}` : ""}`, message: `the defaults do not satisfy the schema: ${describeAjvError(e)}` });
  }
}

export function describeAjvError(e: { keyword: string; message?: string; params: Record<string, unknown> }): string {
  switch (e.keyword) {
    case "additionalProperties":
      return `unknown property '${e.params.additionalProperty}'`;
    case "required":
      return `missing required property '${e.params.missingProperty}'`;
    case "enum":
      return `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return e.message ?? "is invalid";
  }
}
