// What module authors import: `import type { ModuleContext } from "@warden/sdk"`, and the few
// values: defineModule and the error catalogue.
export type * from "./context.js";
export type * from "./manifest.js";
export type * from "./errors.js";
export { ERROR_CATALOGUE } from "./errors.js";
export { defineModule } from "./define.js";
