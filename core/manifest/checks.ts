// Semantic checks of a manifest, one small function per rule, each adding problems with the JSON
// path and what was expected (the Fastify pluginUtils shape). validate.ts runs a check only on
// fields that passed the JSON Schema, so a check may trust the types the schema promises.
import { realpathSync, statSync } from "node:fs";
import { extname, isAbsolute, normalize, relative, resolve, sep } from "node:path";
import type { ValidateFunction } from "ajv";
import semver from "semver";
import type { CapabilityRequest, Manifest } from "../../sdk/manifest.js";
import { CAPABILITIES } from "../hostapi/catalogue.js";
import { compileCommandSchema, newAjv } from "./ajv.js";
import { describeAjvError, pointer, type ManifestProblem } from "./problems.js";

export const RESERVED_IDS: ReadonlySet<string> = new Set([
  "module",
  "config",
  "audit",
  "host",
  "sandbox",
  "storage",
  "warden",
  "status",
  "serve",
  "dev",
  "help",
  "version",
  "events",
  "log",
  "commands",
  "services",
  "secrets",
  "net",
  "home",
  "modules",
  "console",
  "metrics",
  "trust",
  "keys",
  "operator",
  "role",
  "login",
  "logout",
  "approval",
]);

const ENTRY_EXTENSIONS = new Set([".ts", ".js", ".mjs", ".mts"]);
type Problems = ManifestProblem[];

/** Reserved names that the host's own system modules (folders under the repository's modules/) take. */
const SYSTEM_MODULE_IDS: ReadonlySet<string> = new Set(["console"]);

export function checkId(m: Manifest, allowSystem: boolean, out: Problems): void {
  if (RESERVED_IDS.has(m.id) && !(allowSystem && m.kind === "system" && SYSTEM_MODULE_IDS.has(m.id))) out.push({ path: "/id", message: `'${m.id}' is reserved for the host; choose another id` });
}

/** Exactly a semantic version: "v1.0.0" or " 1.0.0" would pass semver.valid but not compare as text. */
export function checkVersion(m: Manifest, out: Problems): void {
  const clean = semver.valid(m.version);
  if (clean === null) out.push({ path: "/version", message: `'${m.version}' is not a semantic version like 1.2.0` });
  else if (clean !== m.version) out.push({ path: "/version", message: `'${m.version}' must be written exactly as '${clean}'` });
}

/** semver reads "" as "*": an empty range is refused here rather than silently matching every host. */
export function checkHostRange(m: Manifest, out: Problems): void {
  if (m.host.trim() === "") out.push({ path: "/host", message: 'must not be empty; write "*" to accept any host version' });
  else if (semver.validRange(m.host) === null) out.push({ path: "/host", message: `'${m.host}' is not a semver range like ^0.1.0` });
}

export function checkDependencies(m: Manifest, skip: ReadonlySet<string>, out: Problems): void {
  for (const [dep, range] of Object.entries(m.dependencies ?? {})) {
    if (skip.has(dep)) continue;
    const p = pointer("dependencies", dep);
    if (dep === m.id) out.push({ path: p, message: "a module cannot depend on itself" });
    if (range.trim() === "" || semver.validRange(range) === null) out.push({ path: p, message: `'${range}' is not a semver range like ^1.0.0` });
  }
}

export function checkKind(m: Manifest, allowSystem: boolean, out: Problems): void {
  if (m.kind === "system" && !allowSystem) {
    out.push({ path: "/kind", message: 'only modules bundled under Warden\'s modules/ may be system modules; use "user"' });
  }
}

/** Returns the realpath of the entry when it is safely inside the folder. */
export function checkEntry(m: Manifest, dir: string, out: Problems): string | undefined {
  const fail = (message: string): undefined => {
    out.push({ path: "/entry", message });
    return undefined;
  };
  if (isAbsolute(m.entry) || /^[a-zA-Z]:/.test(m.entry) || m.entry.startsWith("\\")) return fail("must be a relative path inside the module folder");
  if (m.entry.includes("\0")) return fail("must not contain NUL characters");
  const rel = normalize(m.entry);
  if (rel.split(/[\\/]/).includes("..")) return fail(`'${m.entry}' escapes the module folder`);
  if (!ENTRY_EXTENSIONS.has(extname(rel))) return fail(`'${m.entry}' must end in .ts, .js, .mjs or .mts`);
  const abs = resolve(dir, rel);
  const st = statSync(abs, { throwIfNoEntry: false });
  if (!st) return fail(`'${m.entry}' does not exist in the module folder`);
  if (!st.isFile()) return fail(`'${m.entry}' is not a regular file`);
  let real: string;
  let realDir: string;
  try {
    real = realpathSync(abs);
    realDir = realpathSync(dir);
  } catch (e) {
    return fail(`'${m.entry}' cannot be resolved: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!isInside(realDir, real)) return fail(`'${m.entry}' resolves (through a link) outside the module folder`);
  // The bundler picks its loader from the real file's extension, so that one must qualify too.
  if (!ENTRY_EXTENSIONS.has(extname(real))) return fail(`'${m.entry}' links to '${relative(realDir, real)}', which must end in .ts, .js, .mjs or .mts`);
  return real;
}

function isInside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

const paramValidators = new Map<string, ValidateFunction>();
const paramAjv = newAjv({ verbose: true });

function paramValidator(name: string, schema: object): ValidateFunction {
  let validate = paramValidators.get(name);
  if (!validate) {
    validate = paramAjv.compile(schema);
    paramValidators.set(name, validate);
  }
  return validate;
}

export function checkCapabilities(m: Manifest, skip: ReadonlySet<string>, out: Problems): void {
  const seen = new Set<string>();
  (m.capabilities ?? []).forEach((c: CapabilityRequest, i) => {
    if (skip.has(String(i))) return;
    const p = `/capabilities/${i}`;
    const name = typeof c === "string" ? c : c.name;
    const def = CAPABILITIES.get(name);
    if (!def) {
      out.push({ path: p, message: `unknown capability "${name}"; known: ${[...CAPABILITIES.keys()].join(", ")}` });
      return;
    }
    if (seen.has(name)) out.push({ path: p, message: `capability "${name}" is listed twice; list it once (with all its parameters)` });
    if (def.systemOnly && m.kind !== "system") out.push({ path: p, message: `capability "${name}" is for system modules only; a user module acts as itself (commands.invoke, its own storage)` });
    seen.add(name);
    const params = typeof c === "string" ? {} : Object.fromEntries(Object.entries(c).filter(([k]) => k !== "name"));
    const validate = paramValidator(name, def.params);
    if (!validate(params)) {
      for (const e of validate.errors ?? []) {
        out.push({ path: `${p}${e.instancePath}`, message: `${name} parameters: ${describeAjvError(e)}` });
      }
    }
  });
}

export function checkCommands(m: Manifest, skip: ReadonlySet<string>, out: Problems): void {
  for (const [name, cmd] of Object.entries(m.commands ?? {})) {
    if (skip.has(name)) continue;
    const p = pointer("commands", name);
    for (const part of ["input", "output"] as const) {
      const schema = cmd[part];
      if (schema === undefined) continue;
      // Output may be any JSON (a list, a string); input is always an object of named fields.
      if (part === "input" && schema.type !== "object") {
        out.push({ path: `${p}/input`, message: 'must be a JSON Schema with "type": "object"' });
        continue;
      }
      try {
        compileCommandSchema(schema);
      } catch (e) {
        out.push({ path: `${p}/${part}`, message: `is not a valid JSON Schema: ${(e as Error).message}` });
      }
    }
    // A command's permission is named under its own module: a manifest cannot borrow another
    // module's permission (or a wildcard) and so widen what a scope like `notes.*` reaches.
    if (cmd.permission !== undefined && !cmd.permission.startsWith(`${m.id}.`)) {
      out.push({ path: `${p}/permission`, message: `'${cmd.permission}' must be '${m.id}.${name}' or another name under '${m.id}.'` });
    }
    const props = cmd.input?.properties;
    (cmd.args ?? []).forEach((arg, i) => {
      if (!props || typeof props !== "object" || !Object.prototype.hasOwnProperty.call(props, arg)) {
        out.push({ path: `${p}/args/${i}`, message: `'${arg}' is not a property of the command's input schema` });
      }
    });
  }
}

/** `provides` is for system modules, names catalogued capabilities, and one context namespace each. */
export function checkProvides(m: Manifest, out: Problems): void {
  if (m.provides === undefined) return;
  if (m.kind !== "system") out.push({ path: "/provides", message: "only system modules may provide capabilities" });
  for (const [capability, p] of Object.entries(m.provides)) {
    const at = pointer("provides", capability);
    if (!CAPABILITIES.has(capability)) out.push({ path: at, message: `unknown capability "${capability}"` });
    if (p.namespace !== undefined && RESERVED_IDS.has(p.namespace)) out.push({ path: `${at}/namespace`, message: `'${p.namespace}' is a host namespace` });
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
    for (const e of validate.errors ?? []) {
      // A value at /a/b is described by the schema at /properties/a/properties/b.
      const at = e.instancePath
        .split("/")
        .slice(1)
        .map((seg) => `/properties/${seg}`)
        .join("");
      out.push({ path: `${p}${at}`, message: `the defaults do not satisfy the schema: ${describeAjvError(e)}` });
    }
  }
}
