// The shape of module.json after validation (see manifests/module.schema.json).

export type JsonSchema = Record<string, unknown>;

export type CapabilityRequest = string | ({ name: string } & Record<string, unknown>);

export interface CommandManifest {
  description: string;
  input: JsonSchema;
  output?: JsonSchema;
  /** Positional CLI argument names, in order; each must be a property of `input`. */
  args?: string[];
  /** Permission a caller's scopes must match; defaults to `<module>.<command>`. */
  permission?: string;
  /** Safe to call with GET on REST (no side effects). */
  readOnly?: boolean;
  /** `warden <module>` with no command runs this one. */
  cliDefault?: boolean;
  /**
   * A destructive command: what it does, in a few words ("turn security enforcement off"). The CLI
   * asks on a terminal and needs --yes otherwise; the console asks before it runs.
   */
  confirm?: string;
}

export type Provision = { service: string; namespace?: never } | { namespace: string; service?: never };

export interface Manifest {
  id: string;
  version: string;
  host: string;
  description: string;
  kind?: "system" | "user";
  entry: string;
  /** What `warden module pack` packs besides module.json (files, folders, gitignore-style patterns). */
  files?: string[];
  /** `lazy` (default): activated on first use; `startup`: when the host starts. */
  activation?: "lazy" | "startup";
  capabilities?: CapabilityRequest[];
  dependencies?: Record<string, string>;
  limits?: { memoryMb?: number; timeoutMs?: number };
  commands?: Record<string, CommandManifest>;
  /**
   * System modules only: what this module provides behind a capability. `service`: the in-process
   * service (ctx.services.provide) that implements the capability's context methods; `namespace`:
   * the context namespace under which holders of the capability call this module's commands whose
   * permission is that capability (`ctx.<namespace>.<command>(input)`).
   */
  provides?: Record<string, Provision>;
  /** JSON Schema (type object) of this module's settings, with defaults. */
  config?: JsonSchema;
  /**
   * The permission a caller needs to change this module's settings, by every path (`config set`,
   * the module's own commands, another module's ctx.config.set). Default `config.set`.
   */
  configPermission?: string;
}
