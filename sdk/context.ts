// The ModuleContext: the only door a module has to the host. Every method here is backed by one
// capability in core/capabilities/catalogue.ts; calling a method whose capability was not granted
// throws a CapabilityError (code `capability_denied`). The same type is implemented in-process for
// system modules and by the sandbox prelude over the bridge for user modules, so every method that
// reaches the host returns a Promise.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Who is calling a command. Modules see a copy; they cannot forge one. */
export type Caller =
  | { kind: "operator" }
  /**
   * A token over REST. `operator`: the operator it belongs to (absent: a service account's token);
   * the call may do only what both its scopes and the operator's roles allow.
   */
  | { kind: "token"; tokenId: string; name?: string; scopes: string[]; operator?: string; bind?: string[] }
  /**
   * An operator console session (cookie), with the scopes it was opened with, and whose it is.
   * `bind` (both): the CIDRs it may be used from; what it derives (a token, a login URL) is bound too.
   */
  | { kind: "session"; sessionId: string; scopes: string[]; operator?: string; bind?: string[] }
  /**
   * A module invoking a command. `onBehalfOf`: the outside callers (tokens, console sessions) whose
   * calls it was handling; the call may do only what the module and each of them may (authority
   * never grows through a module). Absent: the module acts alone (activation, events, timers).
   */
  | { kind: "module"; moduleId: string; onBehalfOf?: OutsideCaller[] };

/** A caller from outside the host's modules, on whose behalf a module can act. */
export type OutsideCaller = Extract<Caller, { kind: "token" } | { kind: "session" }>;

export interface CallInfo {
  /** The full command name, `<module>.<command>`. */
  command: string;
  caller: Caller;
}

// The input defaults to `any` so a handler may name its input's type where it destructures it
// (`async ({ name }: { name: string }) => ...`): the host validated it against the command's schema.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above: bivariant input, checked at run time by the schema
export type CommandHandler<I = any, O = unknown> = (input: I, call: CallInfo) => O | Promise<O>;

/**
 * Each command's input and output types, by name: what `warden module types` writes from
 * module.json's schemas (module-types.ts), so a handler that disagrees with its schema does not compile.
 */
export type CommandTypes = { [name: string]: { input: unknown; output: unknown } };
/** Commands with no generated types: any name, the input as the handler names it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as CommandHandler's input
export type UntypedCommands = { [name: string]: { input: any; output: unknown } };

export interface CommandsApi<C extends CommandTypes = UntypedCommands> {
  /** Bind a handler to a command declared in module.json. Needs `commands.register`. */
  register<K extends keyof C & string>(name: K, handler: CommandHandler<C[K]["input"], C[K]["output"]>): void;
  /** Call another module's command as this module. Needs `commands.invoke` (scoped by `commands`). */
  invoke<O = unknown>(command: string, input?: Record<string, unknown>): Promise<O>;
  /** Dispatch for an external caller (the REST surface). Needs `commands.dispatch` (elevated). */
  dispatch<O = unknown>(call: { command: string; input: unknown; caller: Caller }): Promise<O>;
  /** Every declared command with its schemas. Needs `commands.dispatch`. */
  catalogue(): Promise<CommandInfo[]>;
}

export interface CommandInfo {
  /** `<module>.<command>` */
  command: string;
  module: string;
  /** Who owns it: a system module, a user module, or the host itself (module.*, config.*, audit.*). */
  kind: "system" | "user" | "host";
  name: string;
  description: string;
  input: Record<string, unknown>;
  output?: Record<string, unknown>;
  args: string[];
  permission: string;
  readOnly: boolean;
  /** `warden <module>` with no command runs this one. */
  cliDefault?: boolean;
  /** Destructive: what it does; surfaces ask before running it (CLI: --yes). */
  confirm?: string;
}

export interface StorageApi {
  /** Needs `storage.read`. Keys are private to the module. */
  get<T extends JsonValue = JsonValue>(key: string): Promise<T | undefined>;
  /** Needs `storage.read`. Keys with the given prefix, sorted (at most `limit`, default 1000, max 100000). */
  list(prefix?: string, limit?: number): Promise<string[]>;
  /** Needs `storage.write`. The value must be JSON; the write is durable once this resolves. */
  set(key: string, value: JsonValue): Promise<void>;
  /** Needs `storage.write`. Resolves to whether the key existed. */
  delete(key: string): Promise<boolean>;
}

export interface CacheSetOptions {
  /** Time to live in milliseconds; omitted means the cache's default. */
  ttlMs?: number;
  tags?: string[];
}

export interface CacheApi {
  /** Needs `cache.use`. Entries are namespaced per module. */
  get<T extends JsonValue = JsonValue>(key: string): Promise<T | undefined>;
  set(key: string, value: JsonValue, options?: CacheSetOptions): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** Remove this module's entries carrying the tag. */
  invalidateTag(tag: string): Promise<number>;
}

/**
 * A module's settings, name -> value, as its manifest's `config` declares them. A module that names
 * its own `Settings` type (`ModuleContext<Settings>`) gets each setting typed and a misspelt name
 * refused by the compiler; without one, any name compiles and a name no schema declares is refused
 * at run time (config_invalid).
 */
export type SettingsShape = { [name: string]: JsonValue };

export interface ConfigApi<S extends object = SettingsShape> {
  /** Needs `config.read`. This module's settings (defaults from its manifest's config schema). */
  get(): Promise<S>;
  /**
   * Needs `config.read`. One of this module's settings by name (untyped contexts also take another
   * owner's `<owner>.<name>` when config.read lists it). A name no schema declares: config_invalid.
   */
  get<K extends keyof S & string>(key: K): Promise<S[K]>;
  /**
   * Needs `config.manage` (elevated). Any key, validated against the owning module's schema, stored
   * and audited in one transaction. A system module may pass the `CallInfo` of the call it serves,
   * so the audit event names that caller (as `audit.record` does).
   */
  set(key: string, value: JsonValue, call?: CallInfo): Promise<void>;
  /**
   * Needs `config.read`. Calls `apply` with this module's settings now, and again after any of them
   * changes (through any path, on any host of a fleet); calls never overlap. Resolves, after the
   * first `apply`, to a function that stops watching.
   */
  watch(apply: (settings: S) => unknown): Promise<() => void>;
}

/** What ctx.config's calls carry across to the host (its table's shape; settings untyped there). */
export interface ConfigCalls {
  get(key?: string): Promise<JsonValue>;
  set(key: string, value: JsonValue, call?: CallInfo): Promise<void>;
}

export interface EventsApi {
  /**
   * Needs `events.subscribe`. Resolves, once the host has accepted the pattern, to a function that
   * unsubscribes; rejects with capability_denied for a pattern outside the grant.
   */
  on(event: string, handler: (payload: JsonValue, event: string) => void): Promise<() => void>;
  /** Needs `events.emit`. A module may emit its own `<id>.*` events; others only when listed (approved). */
  emit(event: string, payload?: JsonValue): Promise<void>;
}

export interface LogApi {
  /** Needs `log.write`. Fire and forget; data is redacted and size-capped by the host. */
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export interface AuditApi {
  /** Needs `audit.read`. The last `n` events, oldest first. */
  tail(n?: number): Promise<JsonValue[]>;
  /** Needs `audit.read`. */
  verify(): Promise<JsonValue>;
  /**
   * Needs `audit.write`. Appends to the tamper-evident chain; fails closed. The actor is the host's
   * record, never taken from `data`: the module itself, or (for system modules) the caller of the
   * command call whose `CallInfo` is passed, when the host recognises it as one it issued.
   */
  record(action: string, target?: string, data?: Record<string, unknown>, call?: CallInfo): Promise<void>;
}

export interface HomeApi {
  /** Needs `home.write` (elevated). Writes <home>/<name> with mode 0600; resolves to its path. */
  writeSecretFile(name: string, content: string): Promise<string>;
}

export interface NetApi {
  /**
   * Needs `net.fetch` with `hosts` listing where it may go. Redirects are returned, not followed;
   * bodies are text (1 MiB out, 4 MiB in); a name resolving to an internal address is refused.
   */
  fetch(url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; headers: Record<string, string>; body: string }>;
}

export interface ModulesApi {
  /** Needs `modules.manage`. */
  list(): Promise<JsonValue[]>;
  inspect(id: string): Promise<JsonValue>;
  /** Approves exactly the manifest (or staged upgrade) with this hash; a stale hash is refused (approval_stale). */
  approve(id: string, hash: string): Promise<void>;
  enable(id: string): Promise<void>;
  disable(id: string): Promise<void>;
}

export interface SecretsApi {
  /** Needs `secrets.read`. The module's own secret, set by an operator (`warden secrets set`); undefined if unset. */
  get(name: string): Promise<string | undefined>;
}

/**
 * A provider's commands, reached through the capability the provider declares for them
 * (`ctx.security.lockdown({ seconds: 60 })` runs the command `security.lockdown` as this module,
 * with the same permission check, input validation and audit as any other caller).
 */
export type ManageApi = Readonly<Record<string, (input?: Record<string, JsonValue>) => Promise<JsonValue>>>;

/**
 * Services between system modules, by name: empty here, filled in by `sdk/system/services.ts` for
 * the trusted modules that import it (a user module has no services).
 */
export interface ServiceMap {}
/** Services the host offers system modules (a fleet's Redis and lock, the access log): filled in likewise. */
export interface HostServiceMap {}

export interface ServicesApi {
  /** Offer an in-process service to modules that depend on this one. System modules only. */
  provide<K extends keyof ServiceMap>(name: K, service: ServiceMap[K]): void;
  /** Use a service of a module listed in this module's dependencies. System modules only. */
  use<K extends keyof ServiceMap>(name: K): ServiceMap[K];
  /** A service the host itself offers when it is configured (`backend:redis` in a fleet), or undefined. System modules only. */
  host<K extends keyof HostServiceMap>(name: K): HostServiceMap[K] | undefined;
}

export interface ModuleInfo {
  id: string;
  version: string;
  kind: "system" | "user";
  /** The module's folder: system modules only (files they serve, such as the console's page). */
  dir?: string;
}

export interface ModuleContext<S extends object = SettingsShape, C extends CommandTypes = UntypedCommands> {
  readonly module: ModuleInfo;
  readonly commands: CommandsApi<C>;
  readonly storage: StorageApi;
  readonly cache: CacheApi;
  /** Needs `cache.manage`: the cache module's commands (status, clear, purge, enable, disable). */
  readonly cacheAdmin: ManageApi;
  readonly config: ConfigApi<S>;
  readonly events: EventsApi;
  readonly log: LogApi;
  readonly audit: AuditApi;
  readonly modules: ModulesApi;
  readonly home: HomeApi;
  readonly net: NetApi;
  readonly secrets: SecretsApi;
  /** Needs `security.manage`: the security module's commands. */
  readonly security: ManageApi;
  /** Needs `auth.manage`: the auth module's commands. */
  readonly auth: ManageApi;
  readonly services: ServicesApi;
}

export interface ModuleDefinition<S extends object = SettingsShape, C extends CommandTypes = UntypedCommands> {
  activate(ctx: ModuleContext<S, C>): void | Promise<void>;
  deactivate?(): void | Promise<void>;
}
