// The SQLite store's repositories, one class each over the database (statements prepared once).
// They are synchronous; the store hands them out as async ones (and inside a transaction as they are).
import type Database from "better-sqlite3";
import { HostError } from "../base/errors.js";
import { moduleColumns, moduleFromRow, type ModuleRow } from "./rows.js";
import type {
  AuditRow,
  ModuleRecord,
  SyncAuditRepo,
  SyncBlobRepo,
  SyncConfigRepo,
  SyncManifestIndexRepo,
  SyncModuleRepo,
  SyncSecretRepo,
  SyncStorageRepo,
  SyncTrustPolicyRepo,
  SyncDocumentRepo,
} from "./store.js";

type DB = Database.Database;

const now = () => new Date().toISOString();

export class SqliteManifestIndex implements SyncManifestIndexRepo {
  #all;
  #put;
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
export class SqliteBlobs implements SyncBlobRepo {
  readonly #db: DB;
  #put;
  #get;
  #has;
  #all;
  #del;
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
    return this.#db
      .transaction(() => {
        let n = 0;
        for (const { hash } of this.#all.all()) if (!kept.has(hash)) n += this.#del.run(hash).changes;
        return n;
      })
      .immediate();
  }
}

export class SqliteSecrets implements SyncSecretRepo {
  #get;
  #put;
  #del;
  #all;
  #of;
  constructor(db: DB) {
    this.#get = db.prepare<[string, string], { sealed: string }>("SELECT sealed FROM secrets WHERE module = ? AND name = ?");
    this.#put = db.prepare(
      "INSERT INTO secrets (module, name, sealed, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(module, name) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
    );
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

export class SqliteConfig implements SyncConfigRepo {
  #get;
  #set;
  #del;
  #all;
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

export class SqliteModules implements SyncModuleRepo {
  #get;
  #put;
  #del;
  #all;
  constructor(db: DB) {
    this.#get = db.prepare<[string], ModuleRow>("SELECT * FROM modules WHERE id = ?");
    this.#put = db.prepare(`INSERT INTO modules (id, disabled, grants, approved_hash, revoked, installed_path, files, staged, provenance, seal, updated_at)
      VALUES (@id, @disabled, @grants, @approved_hash, @revoked, @installed_path, @files, @staged, @provenance, @seal, @updated_at)
      ON CONFLICT(id) DO UPDATE SET disabled = excluded.disabled, grants = excluded.grants,
        approved_hash = excluded.approved_hash, revoked = excluded.revoked,
        installed_path = excluded.installed_path, files = excluded.files, staged = excluded.staged,
        provenance = excluded.provenance, seal = excluded.seal, updated_at = excluded.updated_at`);
    this.#del = db.prepare("DELETE FROM modules WHERE id = ?");
    this.#all = db.prepare<[], ModuleRow>("SELECT * FROM modules ORDER BY id");
  }
  get(id: string): ModuleRecord | undefined {
    const row = this.#get.get(id);
    return row ? moduleFromRow(row) : undefined;
  }
  put(r: ModuleRecord): void {
    this.#put.run({ ...moduleColumns(r), id: r.id, disabled: r.disabled ? 1 : 0, approved_hash: r.approvedHash, installed_path: r.installedPath, seal: r.seal, updated_at: now() });
  }
  delete(id: string): boolean {
    return this.#del.run(id).changes > 0;
  }
  all(): ModuleRecord[] {
    return this.#all.all().map(moduleFromRow);
  }
}

export class SqliteStorage implements SyncStorageRepo {
  readonly #db: DB;
  #get;
  #old;
  #put;
  #del;
  #list;
  #usage;
  #setUsage;
  #purge;
  #purgeUsage;
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
    return this.#db
      .transaction(() => {
        const bytes = Buffer.byteLength(key) + Buffer.byteLength(json);
        const old = this.#old.get(moduleId, key)?.bytes ?? 0;
        const total = this.usage(moduleId) - old + bytes;
        if (total > maxBytes) {
          throw new HostError("quota_exceeded", `module '${moduleId}' storage quota exceeded: ${total} bytes requested, ${maxBytes} allowed`, { details: { requested: total, allowed: maxBytes } });
        }
        this.#put.run(moduleId, key, json, bytes);
        this.#setUsage.run(moduleId, total);
        return total;
      })
      .immediate();
  }
  delete(moduleId: string, key: string): boolean {
    return this.#db
      .transaction(() => {
        const old = this.#old.get(moduleId, key)?.bytes;
        if (old === undefined) return false;
        this.#del.run(moduleId, key);
        this.#setUsage.run(moduleId, Math.max(0, this.usage(moduleId) - old));
        return true;
      })
      .immediate();
  }
  list(moduleId: string, prefix: string, limit: number): string[] {
    return this.#list.all(moduleId, prefix, prefix + "\u{10FFFF}", limit).map((r) => r.key);
  }
  usage(moduleId: string): number {
    return this.#usage.get(moduleId)?.bytes ?? 0;
  }
  purge(moduleId: string): number {
    return this.#db
      .transaction(() => {
        const n = this.#purge.run(moduleId).changes;
        this.#purgeUsage.run(moduleId);
        return n;
      })
      .immediate();
  }
}

interface AuditDbRow {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target: string | null;
  data: string;
  prev_hash: string;
  hash: string;
}

export class SqliteAudit implements SyncAuditRepo {
  #append;
  #last;
  #range;
  #tail;
  #count;
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

export class SqliteTrustPolicy implements SyncTrustPolicyRepo {
  #get;
  #put;
  constructor(db: DB) {
    this.#get = db.prepare<[], { doc: string; seal: string | null }>("SELECT doc, seal FROM trust_policy WHERE id = 1");
    this.#put = db.prepare(
      "INSERT INTO trust_policy (id, doc, seal, updated_at) VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc, seal = excluded.seal, updated_at = excluded.updated_at",
    );
  }
  get(): { doc: string; seal: string | null } | undefined {
    return this.#get.get();
  }
  put(doc: string, seal: string | null): void {
    this.#put.run(doc, seal, now());
  }
}

export class SqliteDocuments implements SyncDocumentRepo {
  #get;
  #put;
  constructor(db: DB) {
    this.#get = db.prepare<[string], { doc: string; seal: string | null }>("SELECT doc, seal FROM documents WHERE name = ?");
    this.#put = db.prepare(
      "INSERT INTO documents (name, doc, seal, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET doc = excluded.doc, seal = excluded.seal, updated_at = excluded.updated_at",
    );
  }
  get(name: string): { doc: string; seal: string | null } | undefined {
    return this.#get.get(name);
  }
  put(name: string, doc: string, seal: string | null): void {
    this.#put.run(name, doc, seal, now());
  }
}
