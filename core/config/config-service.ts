// Settings: `<owner>.<key>` where the owner is the kernel (host, sandbox, storage) or a module whose
// manifest declares a `config` schema. Values live in system.brain; defaults come from the schemas.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ValidateFunction } from "ajv";
import { HostError } from "../base/errors.js";
import { redact } from "../log/redact.js";
import { compileCommandSchema } from "../manifest/index.js";
import { ajvProblems, problemSummary } from "../manifest/problems.js";
import { MANIFESTS_DIR } from "../base/paths.js";
import type { ConfigRepo, Store } from "../store/store.js";
import type { AuditSink } from "../kernel.js";
import type { Authorized } from "../authority/authorize.js";
import type { HostSettingKey, HostSettings } from "./host-settings.js";
import type { SettingSchema } from "./settings-types.js";

type Schema = SettingSchema;

interface Owner {
  schema: Schema;
  /** What a caller needs to change this owner's settings (its manifest's configPermission). */
  permission: string;
  validate?: ValidateFunction;
}

/** The permission for settings whose owner declares none (and for the kernel's own). */
export const DEFAULT_SETTING_PERMISSION = "config.set";

/**
 * Kernel settings that are policy, not tuning: changing them needs the permission of the effect
 * they stand for (turning signatures off is a trust decision, like removing a trusted key).
 */
const KERNEL_OWNER_PERMISSIONS: Record<string, string> = { modules: "modules.trust", roles: "operators.manage", approvals: "operators.manage" };

const KERNEL_SCHEMA: Schema = JSON.parse(readFileSync(join(MANIFESTS_DIR, "host-config.schema.json"), "utf8"));

export interface ConfigEntry {
  key: string;
  value: unknown;
  source: "default" | "set";
  description?: string;
}

export class ConfigService {
  readonly #repo: ConfigRepo;
  /**
   * What the store holds, read once at open and kept in step by every set (and, in a fleet, by
   * reload() when another host changes it): reading a setting stays a map lookup.
   */
  #stored: Record<string, unknown> = {};
  readonly #owners = new Map<string, Owner>();
  /** Values set for this process only (e.g. `--enable-api`); never persisted. */
  readonly #overrides = new Map<string, unknown>();
  readonly #listeners = new Set<(key: string, value: unknown) => void>();
  #writer?: { store: Pick<Store, "transaction">; audit: Pick<AuditSink, "append"> };

  private constructor(repo: ConfigRepo) {
    this.#repo = repo;
    for (const [owner, schema] of Object.entries(KERNEL_SCHEMA.properties as Record<string, Schema>)) {
      this.#owners.set(owner, { schema, permission: KERNEL_OWNER_PERMISSIONS[owner] ?? DEFAULT_SETTING_PERMISSION });
    }
  }

  static async open(repo: ConfigRepo): Promise<ConfigService> {
    const c = new ConfigService(repo);
    await c.reload();
    return c;
  }

  /** Reads every stored value again (another host changed one); listeners hear of what changed. */
  async reload(): Promise<void> {
    const before = this.#stored;
    this.#stored = await this.#repo.all();
    for (const key of new Set([...Object.keys(before), ...Object.keys(this.#stored)])) {
      if (JSON.stringify(before[key]) !== JSON.stringify(this.#stored[key])) for (const l of this.#listeners) l(key, this.#stored[key]);
    }
  }

  /** A module's config schema becomes the owner of `<moduleId>.*`. */
  registerOwner(owner: string, schema: Schema | undefined, permission = DEFAULT_SETTING_PERMISSION): void {
    if (!schema) return;
    this.#owners.set(owner, { schema, permission });
  }

  /** The permission a change of `key` needs, by every path (config_invalid for an unknown key). */
  permissionFor(key: string): string {
    return this.#resolve(key).permission;
  }

  isKernelOwner(owner: string): boolean {
    return Object.prototype.hasOwnProperty.call(KERNEL_SCHEMA.properties, owner);
  }

  onChange(listener: (key: string, value: unknown) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * A value for this process only (a flag, an environment variable), validated like a stored one
   * once its owner is known (module owners register later; their overrides are checked then too).
   */
  override(key: string, value: unknown): void {
    const owner = key.slice(0, key.indexOf("."));
    if (this.#owners.has(owner)) this.#check(key, value);
    this.#overrides.set(key, value);
  }

  #check(key: string, value: unknown): void {
    const { owner, prop } = this.#resolve(key);
    const section = { ...this.section(owner), [prop]: value };
    const validate = this.#validator(this.#resolve(key).ownerEntry);
    if (!validate(section)) {
      const problems = ajvProblems(validate.errors);
      throw new HostError("config_invalid", `config ${key}: ${problemSummary(problems)}`, { details: { key, problems } });
    }
  }

  /** One of the host's own settings, typed by its schema (core/config/host-settings.ts). */
  get<K extends HostSettingKey>(key: K): HostSettings[K] {
    return this.read(key) as HostSettings[K];
  }

  /**
   * Any declared setting (a module's too). A key no schema declares is refused (config_invalid),
   * never answered `undefined`: a misspelt limit would otherwise compare false and limit nothing.
   */
  read(key: string): unknown {
    if (this.#overrides.has(key)) return this.#overrides.get(key);
    const stored = this.#stored[key];
    if (stored !== undefined) return stored;
    return this.#resolve(key).schema.default;
  }

  /** Every setting of one owner, defaults filled in. */
  section(owner: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const props = this.#owners.get(owner)?.schema.properties ?? {};
    for (const prop of Object.keys(props)) out[prop] = this.read(`${owner}.${prop}`);
    return out;
  }

  /** Where setAudited writes: the store the settings live in, and the audit chain. Given once, by the host. */
  useAudit(store: Pick<Store, "transaction">, audit: Pick<AuditSink, "append">): void {
    this.#writer = { store, audit };
  }

  /**
   * The one way a setting changes: validated against its owner's schema, stored and audited in one
   * transaction (neither happens without the other), then read from here on and announced.
   * `raw` strings from the CLI (`fromText`) are parsed as JSON when they parse (`100`, `true`,
   * `["a"]`) and taken as plain strings otherwise. The event's actor is the authorized caller's,
   * or `actor` when a system module names the caller it acts for.
   */
  async setAudited(key: string, raw: unknown, auth: Authorized<"setting.change">, o: { fromText?: boolean; actor?: string } = {}): Promise<unknown> {
    const { schema } = this.#resolve(key);
    // The proof was made for this key (its owner's permission), not for another.
    if (auth.target !== key) throw new HostError("forbidden", `the authorization given is for ${auth.target ?? "no setting"}, not ${key}`);
    const writer = this.#writer;
    if (!writer) throw new HostError("internal", `config ${key}: the host has not opened its audit chain yet, so no setting can change`);
    let value = raw;
    if (o.fromText && typeof raw === "string") {
      try {
        value = JSON.parse(raw);
      } catch {
        value = raw;
      }
      // A JSON-looking value for a string setting stays the text the operator typed.
      if (schema.type === "string" && typeof value !== "string") value = raw;
    }
    this.#check(key, value);
    await writer.store.transaction(async (tx) => {
      await tx.config.set(key, value);
      await writer.audit.append({ actor: o.actor ?? auth.actor, action: "config.set", target: key, data: { value } }, tx);
    });
    this.#adopt(key, value);
    return value;
  }

  /** A value that is now stored: read from now on, and announced. */
  #adopt(key: string, value: unknown): void {
    this.#stored = { ...this.#stored, [key]: value };
    for (const l of this.#listeners) l(key, value);
  }

  /** One setting with its value and source; config_invalid (naming the known keys) if there is none. */
  describe(key: string): ConfigEntry {
    const { owner, prop, schema } = this.#resolve(key);
    return this.#entry(`${owner}.${prop}`, schema);
  }

  list(prefix?: string): ConfigEntry[] {
    const out: ConfigEntry[] = [];
    for (const [owner, { schema }] of [...this.#owners].sort(([a], [b]) => a.localeCompare(b))) {
      for (const [prop, propSchema] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) {
        const key = `${owner}.${prop}`;
        if (prefix && !key.startsWith(prefix)) continue;
        out.push(this.#entry(key, propSchema));
      }
    }
    return out;
  }

  /** One setting as listed: its value (never a secret) and whether it was set. */
  #entry(key: string, schema: Schema): ConfigEntry {
    const entry: ConfigEntry = {
      key,
      // What is shown never carries a secret (a password in a --store or --redis URL).
      value: redact(this.read(key)),
      source: key in this.#stored || this.#overrides.has(key) ? "set" : "default",
    };
    if (typeof schema.description === "string") entry.description = schema.description;
    return entry;
  }

  #resolve(key: string): { owner: string; prop: string; schema: Schema; permission: string; ownerEntry: Owner } {
    const dot = key.indexOf(".");
    if (dot <= 0 || dot === key.length - 1) {
      throw new HostError("config_invalid", `config key '${key}' must look like <owner>.<setting>, e.g. sandbox.maxMemoryMb`);
    }
    const owner = key.slice(0, dot);
    const prop = key.slice(dot + 1);
    const schema = this.#propertySchema(key);
    const ownerEntry = this.#owners.get(owner);
    if (!schema || !ownerEntry) {
      const known = ownerEntry ? Object.keys(ownerEntry.schema.properties ?? {}).map((p) => `${owner}.${p}`) : [...this.#owners.keys()];
      throw new HostError("config_invalid", `unknown config key '${key}'; known ${ownerEntry ? "keys" : "owners"}: ${known.join(", ")}`, {
        details: { key },
      });
    }
    return { owner, prop, schema, permission: ownerEntry.permission, ownerEntry };
  }

  #propertySchema(key: string): Schema | undefined {
    const dot = key.indexOf(".");
    if (dot <= 0) return undefined;
    const owner = this.#owners.get(key.slice(0, dot));
    const prop = key.slice(dot + 1);
    const props = owner?.schema.properties;
    if (!props || !Object.prototype.hasOwnProperty.call(props, prop)) return undefined;
    return props[prop];
  }

  #validator(o: Owner): ValidateFunction {
    o.validate ??= compileCommandSchema(o.schema);
    return o.validate;
  }
}
