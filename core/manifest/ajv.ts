// One ajv instance for every schema the host compiles from manifests (command input/output,
// module config). Strict mode turns typos like "requird" into compile errors at load time.
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

// ajv-formats is CommonJS with a `default` export; Node's ESM interop wraps it once more.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

export function newAjv(options: { useDefaults?: boolean } = {}): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, useDefaults: options.useDefaults ?? false });
  addFormats(ajv);
  return ajv;
}

const commandAjv = newAjv({ useDefaults: true });

/** Compile a schema from a manifest; throws ajv's error for an invalid schema. */
export function compileCommandSchema(schema: object): ValidateFunction {
  return commandAjv.compile(schema);
}
