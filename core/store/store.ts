// The store: one asynchronous interface with two backends, the embedded SQLite home (the default)
// and PostgreSQL for a fleet. The repositories are declared once in their synchronous, row-level
// form (what SQLite implements directly); the Store hands out their asynchronous form, which every
// backend implements and every caller uses. One contract suite runs against both backends.

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
  /** Where the installed files came from: the pack, its signature and publisher as verified at install. */
  provenance: Provenance | null;
  /**
   * In a store shared by a fleet: the record's seal (./../supply/seal.ts) made by the host that
   * wrote it, which every host verifies before acting on the record. Null in a home's own store.
   */
  seal: string | null;
  updatedAt: string;
}

/** How an installed module's content was verified (core/supply/provenance.ts decides it). */
export interface Provenance {
  /** sha256 of the pack installed (the kill switch names packs by it); null for a folder. */
  pack: string | null;
  /** verified: signed by a key the trust policy trusts for this id; anything else installed with a warning. */
  status: "verified" | "unsigned" | "untrusted" | "invalid" | "not_allowed";
  publisher: { name: string; keyId: string } | null;
  /** The detached signature as it was read (when it was well formed). */
  signature: import("../supply/signature.js").PackSignature | null;
  /** Why it is not verified, in words. */
  reason?: string;
}

export interface StagedUpgrade {
  dir: string;
  version: string;
  hash: string;
  files: Record<string, string>;
  added: string[];
  removed: string[];
  provenance?: Provenance | null;
}

/** Validated manifests by module folder and a stamp of module.json (mtime, size, inode). */
export interface SyncManifestIndexRepo {
  all(): Map<string, { stamp: string; loaded: string }>;
  put(dir: string, stamp: string, loaded: string): void;
}

export interface SyncConfigRepo {
  get(key: string): unknown | undefined;
  set(key: string, value: unknown): void;
  delete(key: string): boolean;
  all(): Record<string, unknown>;
}

export interface SyncModuleRepo {
  get(id: string): ModuleRecord | undefined;
  put(record: ModuleRecord): void;
  delete(id: string): boolean;
  all(): ModuleRecord[];
}

export interface SyncStorageRepo {
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

export interface SyncAuditRepo {
  /**
   * Inside a transaction, before reading the last row: holds the chain for this transaction, so
   * concurrent appenders (other hosts on one PostgreSQL) produce one contiguous chain. SQLite's
   * BEGIN IMMEDIATE already serialises writers; there it does nothing.
   */
  lockChain(): void;
  append(row: AuditRow): void;
  last(): AuditRow | undefined;
  /** Rows in seq order, from `fromSeq` (inclusive). */
  range(fromSeq: number, limit: number): AuditRow[];
  tail(n: number): AuditRow[];
  count(): number;
}

/** Sealed (encrypted) module secrets; the store never sees a plaintext. */
export interface SyncSecretRepo {
  get(moduleId: string, name: string): string | undefined;
  put(moduleId: string, name: string, sealed: string): void;
  delete(moduleId: string, name: string): boolean;
  list(moduleId?: string): Array<{ module: string; name: string; updatedAt: string }>;
}

/** Installed module files by their sha256, so every host of a fleet can materialise them. */
export interface SyncBlobRepo {
  put(hash: string, content: Buffer): void;
  get(hash: string): Buffer | undefined;
  /** Which of these hashes are stored. */
  have(hashes: string[]): string[];
  /** Removes every blob not in `keep`; returns how many went. */
  prune(keep: string[]): number;
}

/** The fleet's trust policy (publisher keys, blocked packs) as one sealed document. */
export interface SyncTrustPolicyRepo {
  get(): { doc: string; seal: string | null } | undefined;
  put(doc: string, seal: string | null): void;
}

/** Other sealed documents of the fleet, by name (`operators`). */
export interface SyncDocumentRepo {
  get(name: string): { doc: string; seal: string | null } | undefined;
  put(name: string, doc: string, seal: string | null): void;
}

/** A repository's methods, each answering with a promise. */
export type Async<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : T[K] };

export type ManifestIndexRepo = Async<SyncManifestIndexRepo>;
export type ConfigRepo = Async<SyncConfigRepo>;
export type ModuleRepo = Async<SyncModuleRepo>;
export type StorageRepo = Async<SyncStorageRepo>;
export type AuditRepo = Async<SyncAuditRepo>;
export type SecretRepo = Async<SyncSecretRepo>;
export type BlobRepo = Async<SyncBlobRepo>;
export type TrustPolicyRepo = Async<SyncTrustPolicyRepo>;
export type DocumentRepo = Async<SyncDocumentRepo>;

/** Every repository, as seen outside a transaction or inside one. */
export interface Repos {
  readonly config: ConfigRepo;
  readonly modules: ModuleRepo;
  readonly storage: StorageRepo;
  readonly audit: AuditRepo;
  readonly manifestIndex: ManifestIndexRepo;
  readonly secrets: SecretRepo;
  readonly blobs: BlobRepo;
  readonly trustPolicy: TrustPolicyRepo;
  readonly documents: DocumentRepo;
  /**
   * Inside a transaction of a store that keeps a file beside it (the SQLite home's audit.head):
   * `fn` runs once the transaction has ended, with whether it committed, before another starts.
   */
  onEnd?(fn: (committed: boolean) => void): void;
}

/**
 * How a shared store tells its hosts that config or module records changed (another host wrote
 * them): a counter bumped in the same transaction as the change, and a push notification.
 */
export interface ChangeFeed {
  counter(): Promise<number>;
  /** Calls `onChange` on each notification, and `onLost` when the listening connection drops. */
  listen(onChange: () => void, onLost: (e: unknown) => void): Promise<{ close(): Promise<void> }>;
}

export interface Store extends Repos {
  readonly backend: "sqlite" | "postgres";
  /** Where the store is, for status lines: a path, or a URL with any password replaced. */
  readonly location: string;
  /** Resolves when the store answers a trivial query; store_unavailable otherwise. */
  ping(): Promise<void>;
  /** Present when other hosts share this store. */
  readonly changes?: ChangeFeed;
  /**
   * Present when other hosts share this store: runs fn while holding a fleet-wide lock of that
   * name (one host at a time), for check-then-act steps such as issuing the first bootstrap token.
   */
  exclusive?<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Runs fn atomically: everything it does through `tx` commits together (durably) or not at all.
   * Calls on the store itself while a transaction runs wait for it, never join it.
   */
  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
