// Reading and validating module.json. See docs/design.md "A module" and manifests/module.schema.json.
export { compileCommandSchema } from "./ajv.js";
export { RESERVED_IDS } from "./checks.js";
export type { ManifestProblem } from "./problems.js";
export { MAX_MANIFEST_BYTES, parseManifestText } from "./read.js";
export { readManifest, validateManifest, type LoadedManifest, type ManifestOptions } from "./validate.js";
