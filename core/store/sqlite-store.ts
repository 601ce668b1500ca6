// The embedded default store: SQLite in WAL mode with synchronous=FULL, so a write that returned
// has been fsynced and survives a crash of the process (and of the machine).
import Database from "better-sqlite3";
import { chmodSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { HostError } from "../base/errors.js";
import { MIGRATIONS } from "./migrations.js";
import { SqliteManifestIndex, SqliteBlobs, SqliteSecrets, SqliteConfig, SqliteModules, SqliteStorage, SqliteAudit, SqliteTrustPolicy, SqliteDocuments } from "./sqlite-repos.js";
import type { Async, Repos, Store } from "./store.js";

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
    this.#tail = result.then(
      () => {},
      () => {},
    );
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
    throw new HostError("internal", `system.brain is at schema version ${current} but this host knows only ${MIGRATIONS.length}; upgrade Warden`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

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
  readonly trustPolicy;
  readonly documents;
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
      trustPolicy: new SqliteTrustPolicy(db),
      documents: new SqliteDocuments(db),
    };
    this.config = asAsync(sync.config, this.#lock);
    this.modules = asAsync(sync.modules, this.#lock);
    this.storage = asAsync(sync.storage, this.#lock);
    this.audit = asAsync(sync.audit, this.#lock);
    this.manifestIndex = asAsync(sync.manifestIndex, this.#lock);
    this.secrets = asAsync(sync.secrets, this.#lock);
    this.blobs = asAsync(sync.blobs, this.#lock);
    this.trustPolicy = asAsync(sync.trustPolicy, this.#lock);
    this.documents = asAsync(sync.documents, this.#lock);
    this.#inside = {
      config: asAsync(sync.config, undefined),
      modules: asAsync(sync.modules, undefined),
      storage: asAsync(sync.storage, undefined),
      audit: asAsync(sync.audit, undefined),
      manifestIndex: asAsync(sync.manifestIndex, undefined),
      secrets: asAsync(sync.secrets, undefined),
      blobs: asAsync(sync.blobs, undefined),
      trustPolicy: asAsync(sync.trustPolicy, undefined),
      documents: asAsync(sync.documents, undefined),
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
