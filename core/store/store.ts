// The store is an interface so that a shared backend (PostgreSQL, Redis) can replace the embedded
// SQLite one later. Every method is synchronous because the embedded backend is; a network backend
// will wrap this in an async adapter at the same seams.

export interface ModuleRecord {
  id: string;
  /** Operator intent that survives restarts; runtime states (active, failed) are not stored. */
  disabled: boolean;
  /** Capabilities an operator approved, as declared in the manifest at approval time. */
  grants: unknown[] | null;
  /** sha256 of the manifest the grants are pinned to. */
  approvedHash: string | null;
  /** Capabilities withdrawn at runtime by `module revoke`. */
  revoked: string[];
  /** Where an installed module lives and the hashes of its files (module install). */
  installedPath: string | null;
  files: Record<string, string> | null;
  /** An upgrade waiting for approval because it adds capabilities. */
  staged: StagedUpgrade | null;
  updatedAt: string;
}

export interface StagedUpgrade {
  dir: string;
  version: string;
  hash: string;
  files: Record<string, string>;
  added: string[];
  removed: string[];
}

/** Validated manifests by module folder and a stamp of module.json (mtime, size, inode). */
export interface ManifestIndexRepo {
  all(): Map<string, { stamp: string; loaded: string }>;
  put(dir: string, stamp: string, loaded: string): void;
}

export interface ConfigRepo {
  get(key: string): unknown | undefined;
  set(key: string, value: unknown): void;
  delete(key: string): boolean;
  all(): Record<string, unknown>;
}

export interface ModuleRepo {
  get(id: string): ModuleRecord | undefined;
  put(record: ModuleRecord): void;
  delete(id: string): boolean;
  all(): ModuleRecord[];
}

export interface StorageRepo {
  /** Raw JSON text of the value, or undefined. */
  get(moduleId: string, key: string): string | undefined;
  /** Sets the value and returns the module's total bytes afterwards. Refuses (throws) over `maxBytes`. */
  set(moduleId: string, key: string, json: string, maxBytes: number): number;
  delete(moduleId: string, key: string): boolean;
  list(moduleId: string, prefix: string, limit: number): string[];
  usage(moduleId: string): number;
  purge(moduleId: string): number;
}

export interface AuditRow {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target: string | null;
  data: string;
  prevHash: string;
  hash: string;
}

export interface AuditRepo {
  append(row: AuditRow): void;
  last(): AuditRow | undefined;
  /** Rows in seq order, from `fromSeq` (inclusive). */
  range(fromSeq: number, limit: number): AuditRow[];
  tail(n: number): AuditRow[];
  count(): number;
}

/** Sealed (encrypted) module secrets; the store never sees a plaintext. */
export interface SecretRepo {
  get(moduleId: string, name: string): string | undefined;
  put(moduleId: string, name: string, sealed: string): void;
  delete(moduleId: string, name: string): boolean;
  list(moduleId?: string): Array<{ module: string; name: string; updatedAt: string }>;
}

export interface Store {
  readonly config: ConfigRepo;
  readonly modules: ModuleRepo;
  readonly storage: StorageRepo;
  readonly audit: AuditRepo;
  readonly manifestIndex: ManifestIndexRepo;
  readonly secrets: SecretRepo;
  /** Runs fn atomically; nested calls join the outer transaction. */
  transaction<T>(fn: () => T): T;
  close(): void;
}
