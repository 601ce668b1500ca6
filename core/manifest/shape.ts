// The JSON Schema check of module.json (manifests/module.schema.json, compiled once), with ajv's
// errors turned into readable problems and a note of which fields failed, so the semantic checks
// can still run on the rest and one report lists everything.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ErrorObject } from "ajv";
import { MANIFESTS_DIR } from "../base/paths.js";
import { newAjv } from "./ajv.js";
import { describeAjvError, type ManifestProblem } from "./problems.js";

const schema = JSON.parse(readFileSync(join(MANIFESTS_DIR, "module.schema.json"), "utf8"));
// verbose: errors carry their parent schema, so an unknown key can be answered with the allowed ones.
const validateShape = newAjv({ verbose: true }).compile(schema);

export interface ShapeResult {
  problems: ManifestProblem[];
  /** Top-level fields whose value as a whole failed (or that are missing): skip their checks. */
  failed: Set<string>;
  /** Per field, the entries (a command name, a capability index, a dependency id) that failed. */
  failedEntries: Map<string, Set<string>>;
}

export function checkShape(raw: object): ShapeResult {
  const result: ShapeResult = { problems: [], failed: new Set(), failedEntries: new Map() };
  if (validateShape(raw)) return result;
  const errors = collapseAnyOf(validateShape.errors ?? []);
  for (const e of errors) {
    // propertyNames reports once per bad name with the inner keyword, then again generically.
    if (e.keyword === "propertyNames") continue;
    result.problems.push({ path: e.instancePath, message: explain(e) });
  }
  for (const e of validateShape.errors ?? []) {
    const [field, entry] = e.instancePath.split("/").slice(1).map(unescape);
    if (field === undefined) {
      if (e.keyword === "required") result.failed.add(String(e.params.missingProperty));
    } else if (entry === undefined) {
      result.failed.add(field);
    } else {
      const set = result.failedEntries.get(field) ?? new Set<string>();
      set.add(entry);
      result.failedEntries.set(field, set);
    }
  }
  return result;
}

const ID_RULE = "must be 2-40 characters: a lowercase letter, then lowercase letters, digits or '-'";
/** The schema's patterns, in words (keyed by the failing schema location). */
const PATTERN_WORDS: Record<string, string> = {
  "#/properties/id/pattern": ID_RULE,
  "#/properties/dependencies/propertyNames/pattern": ID_RULE,
  "#/properties/commands/propertyNames/pattern": "must be 1-40 characters: a lowercase letter, then letters, digits or '-'",
  "#/properties/commands/additionalProperties/properties/permission/pattern":
    "must start with a lowercase letter or digit and go on with letters, digits, '_', '.' or '-' (e.g. hello.greet); no wildcards",
};

function explain(e: ErrorObject): string {
  const words = e.keyword === "pattern" ? PATTERN_WORDS[e.schemaPath] : undefined;
  if (words === undefined) return describeAjvError(e);
  const value = e.propertyName ?? e.data;
  return `${typeof value === "string" ? `'${value.slice(0, 80)}' ` : ""}${words}`;
}

/**
 * anyOf reports every branch's errors plus its own. When every branch failed on the type, say
 * "must be string or object" once; otherwise keep the errors of the branch(es) whose type matched,
 * which say what was wrong with the value (e.g. an object capability without "name").
 */
function collapseAnyOf(errors: ErrorObject[]): ErrorObject[] {
  let out = errors;
  for (const any of errors.filter((e) => e.keyword === "anyOf")) {
    const prefix = `${any.schemaPath}/`;
    const branch = out.filter((e) => e.schemaPath.startsWith(prefix) && e.instancePath.startsWith(any.instancePath));
    const typeOnly = branch.every((e) => e.keyword === "type" && e.instancePath === any.instancePath);
    out = out.filter((e) => e !== any && (!branch.includes(e) || (!typeOnly && !(e.keyword === "type" && e.instancePath === any.instancePath))));
    if (typeOnly) {
      const types = [...new Set(branch.flatMap((e) => [e.params.type as string | string[]].flat()))];
      out.push({ ...any, keyword: "type", params: { type: types }, message: `must be ${types.join(" or ")}` });
    }
  }
  return out;
}

function unescape(segment: string): string {
  return segment.replace(/~1/g, "/").replace(/~0/g, "~");
}
