// One ajv instance for every schema the host compiles from manifests (command input/output,
// module config). Strict mode turns typos like "requird" into compile errors at load time.
import { Ajv, type ValidateFunction } from "ajv";
import { createRequire } from "node:module";
import { RE2JS } from "re2js";

// ajv-formats is CommonJS whose module.exports is the plugin; required as such, it needs no
// interop guess (an ESM default import of it is typed one way and shaped another).
const addFormats: typeof import("ajv-formats").default = createRequire(import.meta.url)("ajv-formats");

/**
 * `pattern` and `patternProperties` from manifests run on RE2 (re2js, linear time), never on V8's
 * backtracking engine: a module's schema cannot make one input stall the host's event loop.
 * A pattern RE2 cannot express (lookaround, backreferences) fails to compile, so `module check`
 * and install report it.
 */
function linearRegExp(pattern: string): { test(s: string): boolean; toString(): string } {
  const re = RE2JS.compile(toRe2Syntax(pattern));
  // ajv caches compiled patterns by their toString(): it must name the pattern.
  return { test: (s: string) => re.matcher(s).find(), toString: () => `re2:${pattern}` };
}
linearRegExp.code = "linearRegExp";

/** ECMAScript's `\uXXXX` and `\u{X...}` escapes as RE2 writes them (`\x{XXXX}`); an escaped backslash stays. */
export function toRe2Syntax(pattern: string): string {
  return pattern.replace(/(\\*)\\u(?:\{([0-9a-fA-F]{1,6})\}|([0-9a-fA-F]{4}))/g, (all, slashes: string, braced?: string, four?: string) =>
    slashes.length % 2 === 1 ? all : `${slashes}\\x{${braced ?? four}}`,
  );
}

export function newAjv(options: { useDefaults?: boolean; verbose?: boolean } = {}): Ajv {
  const ajv = new Ajv({
    code: { regExp: linearRegExp as never },
    // Config schemas may compare fields ({"minimum": {"$data": "1/header_timeout_ms"}}).
    $data: true,
    allErrors: true,
    strict: true,
    strictRequired: false,
    allowUnionTypes: true,
    useDefaults: options.useDefaults ?? false,
    verbose: options.verbose ?? false,
  });
  addFormats(ajv);
  return ajv;
}

const commandAjv = newAjv({ useDefaults: true });

/**
 * Compile a schema from a manifest; throws an Error saying what is wrong with an invalid schema.
 * Callers keep the returned function: the schema is dropped from the shared instance right away,
 * so re-reading manifests (reload, upgrade, `module check`) does not grow ajv's cache. Schemas
 * may not carry `$id`: ids register globally in the shared instance, so a second read of the same
 * manifest (or another module using the same id) would collide, and one module's schema could
 * `$ref` another's.
 */
export function compileCommandSchema(schema: object): ValidateFunction {
  const idAt = findSchemaId(schema, "");
  if (idAt !== undefined) {
    throw new Error(`"$id" is not allowed in module schemas (at ${idAt || "/"}); use local references like "#/definitions/name"`);
  }
  const key = JSON.stringify(schema);
  const known = compiled.get(key);
  if (known) return known;
  let validate: ValidateFunction;
  try {
    validate = commandAjv.compile(schema);
  } finally {
    // Safe: without a $id this only forgets the cache entry for this very object.
    commandAjv.removeSchema(schema);
  }
  if (compiled.size >= MAX_COMPILED) {
    const oldest = compiled.keys().next();
    if (!oldest.done) compiled.delete(oldest.value);
  }
  compiled.set(key, validate);
  return validate;
}

/**
 * Compiled validators by schema text. Modules mostly repeat a few schemas: one function per
 * distinct schema keeps the call path's code hot (500 modules had 1500 copies of one validator),
 * and the check at load compiles what the first call then reuses. A validator holds no state
 * between calls but its `errors`, read right after the call that set them. Bounded: the oldest
 * goes first.
 */
const compiled = new Map<string, ValidateFunction>();
const MAX_COMPILED = 4096;

/** Keywords whose values are data, not subschemas: a "$id" inside them is just a value. */
const DATA_KEYWORDS = new Set(["default", "const", "enum", "examples"]);
/** Keywords whose values map names to subschemas: their keys are names, not keywords. */
const NAME_MAPS = new Set(["properties", "patternProperties", "definitions", "$defs", "dependencies", "dependentSchemas"]);

/** JSON pointer of the first string-valued `$id` in a schema (a property named "$id" has a schema value). */
function findSchemaId(node: unknown, path: string, namesMap = false): string | undefined {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const found = findSchemaId(node[i], `${path}/${i}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (!node || typeof node !== "object") return undefined;
  for (const [k, v] of Object.entries(node)) {
    const p = `${path}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`;
    if (!namesMap && k === "$id" && typeof v === "string") return p;
    if (!namesMap && DATA_KEYWORDS.has(k)) continue;
    const found = findSchemaId(v, p, !namesMap && NAME_MAPS.has(k));
    if (found !== undefined) return found;
  }
  return undefined;
}
