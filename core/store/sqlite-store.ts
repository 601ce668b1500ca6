// The embedded default store: SQLite in WAL mode with synchronous=FULL, so a write that returned
// has been fsynced and survives a crash of the process (and of the machine).
import Database from "better-sqlite3";
import { chmodSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { HostError } from "../base/errors.js";
import { MIGRATIONS } from "./migrations.js";
import { moduleColumns, moduleFromRow, type ModuleRow } from "./rows.js";
import type {
  Async, AuditRow, ModuleRecord, Repos, Store, SyncAuditRepo, SyncBlobRepo, SyncConfigRepo, SyncManifestIndexRepo, SyncModuleRepo, SyncSecretRepo, SyncStorageRepo,
} from "./store.js";

type DB = Database.Database;

export function openSqliteStore(file: string): Store {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  // Tokens' hashes, grants and module data live here: owner-only, like the home itself.
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      chmodSync(f, 0o600);
    } catch {
      // -wal/-shm appear with the first write; SQLite gives them the main file's mode.
    }
  }
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  return new SqliteStore(db, file);
}

/** One lock for the connection: a transaction holds it across its awaits; lone calls wait for it. */
class Lock {
  #tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.then(() => {}, () => {});
    return result;
  }
}

/** A sync repository as an async one; `lock` serialises it with transactions (undefined inside one). */
function asAsync<T extends object>(repo: T, lock: Lock | undefined): Async<T> {
  const out: Record<string, unknown> = {};
  let proto: object | null = repo;
  const names = new Set<string>();
  while (proto && proto !== Object.prototype) {
    for (const n of Object.getOwnPropertyNames(proto)) if (n !== "constructor" && typeof (repo as Record<string, unknown>)[n] === "function") names.add(n);
    proto = Object.getPrototypeOf(proto);
  }
  for (const n of names) {
    const fn = (repo as Record<string, (...a: unknown[]) => unknown>)[n]!.bind(repo);
    out[n] = lock ? (...args: unknown[]) => lock.run(async () => fn(...args)) : async (...args: unknown[]) => fn(...args);
  }
  return out as Async<T>;
}

function migrate(db: DB): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new HostError(
      "internal",
      `system.brain is at schema version ${current} but this host knows only ${MIGRATIONS.length}; upgrade Warden`,
    );
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

const now = () => new Date().toISOString();

class SqliteManifestIndex implements SyncManifestIndexRepo {
  #all; #put;
  constructor(db: DB) {
    this.#all = db.prepare<[], { dir: string; stamp: string; loaded: string }>("SELECT dir, stamp, loaded FROM manifest_index");
    this.#put = db.prepare("INSERT INTO manifest_index (dir, stamp, loaded) VALUES (?, ?, ?) ON CONFLICT(dir) DO UPDATE SET stamp = excluded.stamp, loaded = excluded.loaded");
  }
  all(): Map<string, { stamp: string; loaded: string }> {
    return new Map(this.#all.all().map((r) => [r.dir, { stamp: r.stamp, loaded: r.loaded }]));
  }
  put(dir: string, stamp: string, loaded: string): void {
    this.#put.run(dir, stamp, loaded);
  }
}

/**
 * better-sqlite3 is synchronous; this store is not, so that callers are the same for every
 * backend. A transaction is BEGIN IMMEDIATE ... COMMIT around an async function, holding the
 * connection's lock: every other call waits rather than slipping into it.
 */
class SqliteStore implements Store {
  readonly backend = "sqlite" as const;
  readonly location: string;
  readonly config;
  readonly modules;
  readonly storage;
  readonly audit;
  readonly manifestIndex;
  readonly secrets;
  readonly blobs;
  readonly #db: DB;
  readonly #lock = new Lock();
  readonly #inside: Repos;

  constructor(db: DB, file: string) {
    this.#db = db;
    this.location = file;
    const sync = {
      config: new SqliteConfig(db),
      modules: new SqliteModules(db),
      storage: new SqliteStorage(db),
      audit: new SqliteAudit(db),
      manifestIndex: new SqliteManifestIndex(db),
      secrets: new SqliteSecrets(db),
      blobs: new SqliteBlobs(db),
    };
    this.config = asAsync(sync.config, this.#lock);
    this.modules = asAsync(sync.modules, this.#lock);
    this.storage = asAsync(sync.storage, this.#lock);
    this.audit = asAsync(sync.audit, this.#lock);
    this.manifestIndex = asAsync(sync.manifestIndex, this.#lock);
    this.secrets = asAsync(sync.secrets, this.#lock);
    this.blobs = asAsync(sync.blobs, this.#lock);
    this.#inside = {
      config: asAsync(sync.config, undefined),
      modules: asAsync(sync.modules, undefined),
      storage: asAsync(sync.storage, undefined),
      audit: asAsync(sync.audit, undefined),
      manifestIndex: asAsync(sync.manifestIndex, undefined),
      secrets: asAsync(sync.secrets, undefined),
      blobs: asAsync(sync.blobs, undefined),
    };
  }

  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T> {
    return this.#lock.run(async () => {
      const ended: Array<(committed: boolean) => void> = [];
      const end = (committed: boolean) => {
        for (const f of ended) f(committed);
      };
      this.#db.exec("BEGIN IMMEDIATE");
      let out: T;
      try {
        out = await fn({ ...this.#inside, onEnd: (f) => void ended.push(f) });
        this.#db.exec("COMMIT");
      } catch (e) {
        if (this.#db.inTransaction) this.#db.exec("ROLLBACK");
        end(false);
        throw e;
      }
      end(true);
      return out;
    });
  }

  async ping(): Promise<void> {
    this.#db.prepare("SELECT 1").get();
  }

  async close(): Promise<void> {
    await this.#lock.run(async () => {
      if (this.#db.open) this.#db.close();
    });
  }
}

class SqliteBlobs implements SyncBlobRepo {
  readonly #db: DB;
  #put; #get; #has; #all; #del;
  constructor(db: DB) {
    this.#db = db;
    this.#put = db.prepare("INSERT INTO blobs (hash, content) VALUES (?, ?) ON CONFLICT(hash) DO NOTHING");
    this.#get = db.prepare<[string], { content: Buffer }>("SELECT content FROM blobs WHERE hash = ?");
    this.#has = db.prepare<[string], { hash: string }>("SELECT hash FROM blobs WHERE hash = ?");
    this.#all = db.prepare<[], { hash: string }>("SELECT hash FROM blobs");
    this.#del = db.prepare("DELETE FROM blobs WHERE hash = ?");
  }
  put(hash: string, content: Buffer): void {
    this.#put.run(hash, content);
  }
  get(hash: string): Buffer | undefined {
    return this.#get.get(hash)?.content;
  }
  have(hashes: string[]): string[] {
    return hashes.filter((h) => this.#has.get(h) !== undefined);
  }
  prune(keep: string[]): number {
    const kept = new Set(keep);
    return this.#db.transaction(() => {
      let n = 0;
      for (const { hash } of this.#all.all()) if (!kept.has(hash)) n += this.#del.run(hash).changes;
      return n;
    }).immediate();
  }
}

class SqliteSecrets implements SyncSecretRepo {
  #get; #put; #del; #all; #of;
  constructor(db: DB) {
    this.#get = db.prepare<[string, string], { sealed: string }>("SELECT sealed FROM secrets WHERE module = ? AND name = ?");
    this.#put = db.prepare("INSERT INTO secrets (module, name, sealed, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(module, name) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at");
    this.#del = db.prepare("DELETE FROM secrets WHERE module = ? AND name = ?");
    this.#all = db.prepare<[], { module: string; name: string; updated_at: string }>("SELECT module, name, updated_at FROM secrets ORDER BY module, name");
    this.#of = db.prepare<[string], { module: string; name: string; updated_at: string }>("SELECT module, name, updated_at FROM secrets WHERE module = ? ORDER BY name");
  }
  get(moduleId: string, name: string): string | undefined {
    return this.#get.get(moduleId, name)?.sealed;
  }
  put(moduleId: string, name: string, sealed: string): void {
    this.#put.run(moduleId, name, sealed, now());
  }
  delete(moduleId: string, name: string): boolean {
    return this.#del.run(moduleId, name).changes > 0;
  }
  list(moduleId?: string): Array<{ module: string; name: string; updatedAt: string }> {
    const rows = moduleId === undefined ? this.#all.all() : this.#of.all(moduleId);
    return rows.map((r) => ({ module: r.module, name: r.name, updatedAt: r.updated_at }));
  }
}

class SqliteConfig implements SyncConfigRepo {
  #get; #set; #del; #all;
  constructor(db: DB) {
    this.#get = db.prepare<[string], { value: string }>("SELECT value FROM config WHERE key = ?");
    this.#set = db.prepare("INSERT INTO config (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at");
    this.#del = db.prepare("DELETE FROM config WHERE key = ?");
    this.#all = db.prepare<[], { key: string; value: string }>("SELECT key, value FROM config ORDER BY key");
  }
  get(key: string): unknown {
    const row = this.#get.get(key);
    return row ? JSON.parse(row.value) : undefined;
  }
  set(key: string, value: unknown): void {
    this.#set.run(key, JSON.stringify(value), now());
  }
  delete(key: string): boolean {
    return this.#del.run(key).changes > 0;
  }
  all(): Record<string, unknown> {
    const out: Record<string, unknown> = Object.create(null);
    for (const row of this.#all.all()) out[row.key] = JSON.parse(row.value);
    return out;
  }
}

class SqliteModules implements SyncModuleRepo {
  #get; #put; #del; #all;
  constructor(db: DB) {
    this.#get = db.prepare<[string], ModuleRow>("SELECT * FROM modules WHERE id = ?");
    this.#put = db.prepare(`INSERT INTO modules (id, disabled, grants, approved_hash, revoked, installed_path, files, staged, updated_at)
      VALUES (@id, @disabled, @grants, @approved_hash, @revoked, @installed_path, @files, @staged, @updated_at)
      ON CONFLICT(id) DO UPDATE SET disabled = excluded.disabled, grants = excluded.grants,
        approved_hash = excluded.approved_hash, revoked = excluded.revoked,
        installed_path = excluded.installed_path, files = excluded.files, staged = excluded.staged, updated_at = excluded.updated_at`);
    this.#del = db.prepare("DELETE FROM modules WHERE id = ?");
    this.#all = db.prepare<[], ModuleRow>("SELECT * FROM modules ORDER BY id");
  }
  get(id: string): ModuleRecord | undefined {
    const row = this.#get.get(id);
    return row ? moduleFromRow(row) : undefined;
  }
  put(r: ModuleRecord): void {
    this.#put.run({ ...moduleColumns(r), id: r.id, disabled: r.disabled ? 1 : 0, approved_hash: r.approvedHash, installed_path: r.installedPath, updated_at: now() });
  }
  delete(id: string): boolean {
    return this.#del.run(id).changes > 0;
  }
  all(): ModuleRecord[] {
    return this.#all.all().map(moduleFromRow);
  }
}

class SqliteStorage implements SyncStorageRepo {
  readonly #db: DB;
  #get; #old; #put; #del; #list; #usage; #setUsage; #purge; #purgeUsage;
  constructor(db: DB) {
    this.#db = db;
    this.#get = db.prepare<[string, string], { value: string }>("SELECT value FROM storage WHERE module = ? AND key = ?");
    this.#old = db.prepare<[string, string], { bytes: number }>("SELECT bytes FROM storage WHERE module = ? AND key = ?");
    this.#put = db.prepare("INSERT INTO storage (module, key, value, bytes) VALUES (?, ?, ?, ?) ON CONFLICT(module, key) DO UPDATE SET value = excluded.value, bytes = excluded.bytes");
    this.#del = db.prepare("DELETE FROM storage WHERE module = ? AND key = ?");
    // The range bound makes prefix listing exact for any key string (no LIKE wildcards to escape).
    this.#list = db.prepare<[string, string, string, number], { key: string }>("SELECT key FROM storage WHERE module = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?");
    this.#usage = db.prepare<[string], { bytes: number }>("SELECT bytes FROM storage_usage WHERE module = ?");
    this.#setUsage = db.prepare("INSERT INTO storage_usage (module, bytes) VALUES (?, ?) ON CONFLICT(module) DO UPDATE SET bytes = excluded.bytes");
    this.#purge = db.prepare("DELETE FROM storage WHERE module = ?");
    this.#purgeUsage = db.prepare("DELETE FROM storage_usage WHERE module = ?");
  }
  get(moduleId: string, key: string): string | undefined {
    return this.#get.get(moduleId, key)?.value;
  }
  set(moduleId: string, key: string, json: string, maxBytes: number): number {
    return this.#db.transaction(() => {
      const bytes = Buffer.byteLength(key) + Buffer.byteLength(json);
      const old = this.#old.get(moduleId, key)?.bytes ?? 0;
      const total = this.usage(moduleId) - old + bytes;
      if (total > maxBytes) {
        throw new HostError(
          "quota_exceeded",
          `module '${moduleId}' storage quota exceeded: ${total} bytes requested, ${maxBytes} allowed`,
          { details: { requested: total, allowed: maxBytes } },
        );
      }
      this.#put.run(moduleId, key, json, bytes);
      this.#setUsage.run(moduleId, total);
      return total;
    }).immediate();
  }
  delete(moduleId: string, key: string): boolean {
    return this.#db.transaction(() => {
      const old = this.#old.get(moduleId, key)?.bytes;
      if (old === undefined) return false;
      this.#del.run(moduleId, key);
      this.#setUsage.run(moduleId, Math.max(0, this.usage(moduleId) - old));
      return true;
    }).immediate();
  }
  list(moduleId: string, prefix: string, limit: number): string[] {
    return this.#list.all(moduleId, prefix, prefix + "\u{10FFFF}", limit).map((r) => r.key);
  }
  usage(moduleId: string): number {
    return this.#usage.get(moduleId)?.bytes ?? 0;
  }
  purge(moduleId: string): number {
    return this.#db.transaction(() => {
      const n = this.#purge.run(moduleId).changes;
      this.#purgeUsage.run(moduleId);
      return n;
    }).immediate();
  }
}

interface AuditDbRow { seq: number; time: string; actor: string; action: string; target: string | null; data: string; prev_hash: string; hash: string }

class SqliteAudit implements SyncAuditRepo {
  #append; #last; #range; #tail; #count;
  constructor(db: DB) {
    this.#append = db.prepare("INSERT INTO audit (seq, time, actor, action, target, data, prev_hash, hash) VALUES (@seq, @time, @actor, @action, @target, @data, @prevHash, @hash)");
    this.#last = db.prepare<[], AuditDbRow>("SELECT * FROM audit ORDER BY seq DESC LIMIT 1");
    this.#range = db.prepare<[number, number], AuditDbRow>("SELECT * FROM audit WHERE seq >= ? ORDER BY seq LIMIT ?");
    this.#tail = db.prepare<[number], AuditDbRow>("SELECT * FROM (SELECT * FROM audit ORDER BY seq DESC LIMIT ?) ORDER BY seq");
    this.#count = db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM audit");
  }
  lockChain(): void {
    // BEGIN IMMEDIATE holds the only write lock already.
  }
  append(row: AuditRow): void {
    this.#append.run(row);
  }
  last(): AuditRow | undefined {
    const r = this.#last.get();
    return r ? auditFromRow(r) : undefined;
  }
  range(fromSeq: number, limit: number): AuditRow[] {
    return this.#range.all(fromSeq, limit).map(auditFromRow);
  }
  tail(n: number): AuditRow[] {
    return this.#tail.all(n).map(auditFromRow);
  }
  count(): number {
    return this.#count.get()!.n;
  }
}

function auditFromRow(r: AuditDbRow): AuditRow {
  return { seq: r.seq, time: r.time, actor: r.actor, action: r.action, target: r.target, data: r.data, prevHash: r.prev_hash, hash: r.hash };
}
