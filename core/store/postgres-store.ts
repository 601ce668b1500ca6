// The fleet store: PostgreSQL through a node-postgres Pool. Every host of a fleet opens the same
// database; migrations run once, under an advisory lock, by whichever host starts first. A commit
// returned means PostgreSQL made it durable (synchronous_commit, the server default), so a write is
// acknowledged only once it would survive the host's kill -9 and the server's restart.
//
// Changes other hosts must learn of (config, module records) bump fleet_state.counter and send
// NOTIFY warden_changes in their own transaction: the notification is delivered only if the change
// commits, and the counter lets a host that missed one catch up.
import pg from "pg";
import { HostError } from "../base/errors.js";
import { PG_MIGRATIONS } from "./pg-migrations.js";
import type { AuditRow, BlobRepo, ChangeFeed, ConfigRepo, ManifestIndexRepo, ModuleRepo, Repos, SecretRepo, StorageRepo, Store, AuditRepo } from "./store.js";
import { moduleColumns, moduleFromRow, type ModuleRow } from "./rows.js";
import { redactUrl, redactUrlsIn } from "./url.js";

const MIGRATION_LOCK = 0x77617264; // "ward": one key for the migration lock, across the database
const AUDIT_LOCK = 0x61756474; // "audt": appends to the chain, one transaction at a time
const CHANNEL = "warden_changes";

/** A connection or the pool: what a repository runs its statements on. */
interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface PostgresOptions {
  /** Connections in the pool (default 10). */
  max?: number;
  /** Told when an idle connection breaks (the server restarted); the pool replaces it. */
  onIdleError?: (e: Error) => void;
}

export async function openPostgresStore(url: string, o: PostgresOptions = {}): Promise<Store> {
  const location = redactUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: o.max ?? 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    application_name: "warden",
  });
  // Without a listener, an idle client's error (the server restarting) would crash the process.
  pool.on("error", (e) => o.onIdleError?.(e));
  try {
    await migrate(pool, location);
  } catch (e) {
    await pool.end().catch(() => {});
    throw unavailable(location, e);
  }
  return new PostgresStore(pool, url, location);
}

async function migrate(pool: pg.Pool, location: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      await client.query("CREATE TABLE IF NOT EXISTS warden_schema (version INTEGER NOT NULL)");
      const row = (await client.query<{ version: number }>("SELECT version FROM warden_schema")).rows[0];
      if (!row) await client.query("INSERT INTO warden_schema (version) VALUES (0)");
      const current = row?.version ?? 0;
      if (current > PG_MIGRATIONS.length) {
        throw new HostError("store_unavailable", `the store at ${location} is at schema version ${current} but this host knows only ${PG_MIGRATIONS.length}; upgrade Warden on this host`);
      }
      for (let v = current; v < PG_MIGRATIONS.length; v++) {
        await client.query("BEGIN");
        try {
          await client.query(PG_MIGRATIONS[v]!);
          await client.query("UPDATE warden_schema SET version = $1", [v + 1]);
          await client.query("COMMIT");
        } catch (e) {
          await client.query("ROLLBACK").catch(() => {});
          throw e;
        }
      }
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
    }
  } finally {
    client.release();
  }
}

/** PostgreSQL's "cannot reach the server" family: connection refused or lost, server shutting down. */
function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === "string" && (/^(08|57P0)/.test(code) || ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH"].includes(code))) return true;
  const message = String((e as Error)?.message ?? "");
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message);
}

function unavailable(location: string, e: unknown, unsure = false): Error {
  if (e instanceof HostError) return e;
  const why = (e as Error)?.message ?? String(e);
  return new HostError(
    "store_unavailable",
    `the store at ${location} cannot be reached (${redactUrlsIn(why)})` +
      (unsure ? "; the change may or may not have been committed: read it back before retrying" : "; nothing was changed: retry once PostgreSQL is back"),
    { cause: e, retryAfter: 2 },
  );
}

const now = () => new Date().toISOString();

class PostgresStore implements Store {
  readonly backend = "postgres" as const;
  readonly location: string;
  readonly changes: ChangeFeed;
  readonly config: ConfigRepo;
  readonly modules: ModuleRepo;
  readonly storage: StorageRepo;
  readonly audit: AuditRepo;
  readonly manifestIndex: ManifestIndexRepo;
  readonly secrets: SecretRepo;
  readonly blobs: BlobRepo;
  readonly #pool: pg.Pool;
  #closed = false;

  constructor(pool: pg.Pool, url: string, location: string) {
    this.#pool = pool;
    this.location = location;
    const repos = makeRepos(this.#guarded(pool), (fn) => this.#atomic(fn));
    this.config = repos.config;
    this.modules = repos.modules;
    this.storage = repos.storage;
    this.audit = repos.audit;
    this.manifestIndex = repos.manifestIndex;
    this.secrets = repos.secrets;
    this.blobs = repos.blobs;
    this.changes = {
      counter: async () => Number((await this.#guarded(pool).query<{ counter: string }>("SELECT counter FROM fleet_state WHERE id = 1")).rows[0]?.counter ?? 0),
      listen: (onChange, onLost) => listen(url, location, onChange, onLost),
    };
  }

  /** Statements on the pool, their connection failures as store_unavailable. */
  #guarded(q: Queryable): Queryable {
    const location = this.location;
    return {
      async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]) {
        try {
          return await q.query<R>(text, values);
        } catch (e) {
          throw isConnectionError(e) ? unavailable(location, e) : e;
        }
      },
    };
  }

  /**
   * One pooled connection for fn. A checked-out client reports a dropped connection as an 'error'
   * event as well as by failing its query (without a listener that event would end the process);
   * a connection that failed, or that fn marks broken, is destroyed rather than handed on.
   */
  async #withClient<T>(fn: (client: pg.PoolClient, markBroken: (e: Error) => void) => Promise<T>): Promise<T> {
    if (this.#closed) throw new HostError("store_unavailable", `the store at ${this.location} is closed`);
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (e) {
      throw unavailable(this.location, e);
    }
    let broken: Error | undefined;
    const markBroken = (e: Error) => void (broken = e);
    client.on("error", markBroken);
    try {
      return await fn(client, markBroken);
    } finally {
      client.off("error", markBroken);
      client.release(broken);
    }
  }

  /** A transaction of its own on one pooled connection. */
  #atomic<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.#withClient(async (client, markBroken) => {
      try {
        await client.query("BEGIN");
      } catch (e) {
        markBroken(e as Error);
        throw unavailable(this.location, e);
      }
      let out: T;
      try {
        out = await fn(this.#guarded(client));
      } catch (e) {
        await client.query("ROLLBACK").catch((r) => markBroken(r as Error));
        if (e instanceof HostError && e.code === "store_unavailable") markBroken(e);
        throw e;
      }
      try {
        await client.query("COMMIT");
      } catch (e) {
        markBroken(e as Error);
        // The COMMIT may have reached the server before the connection went: unknown outcome.
        throw isConnectionError(e) ? unavailable(this.location, e, true) : e;
      }
      return out;
    });
  }

  async ping(): Promise<void> {
    await this.#guarded(this.#pool).query("SELECT 1");
  }

  /** A session advisory lock on a connection of the pool, held while fn runs. */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.#withClient(async (client, markBroken) => {
      await this.#guarded(client).query("SELECT pg_advisory_lock(hashtext($1))", [`warden:${name}`]);
      try {
        return await fn();
      } finally {
        // A connection that lost its lock state is destroyed rather than reused.
        await client.query("SELECT pg_advisory_unlock(hashtext($1))", [`warden:${name}`]).catch((e) => markBroken(e as Error));
      }
    });
  }

  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T> {
    return this.#atomic((q) => fn(makeRepos(q, (inner) => inner(q))));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}

/**
 * LISTEN on a connection of its own (a pooled one would be handed to others). A lost connection
 * is reported; the caller reconnects, and its counter poll covers the gap.
 */
async function listen(url: string, location: string, onChange: () => void, onLost: (e: unknown) => void): Promise<{ close(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url, application_name: "warden-listen", connectionTimeoutMillis: 5000 });
  let closing = false;
  client.on("notification", (n) => {
    if (n.channel === CHANNEL) onChange();
  });
  client.on("error", (e) => {
    if (!closing) onLost(e);
  });
  client.on("end", () => {
    if (!closing) onLost(new Error("the listening connection ended"));
  });
  try {
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
  } catch (e) {
    closing = true;
    await client.end().catch(() => {});
    throw unavailable(location, e);
  }
  return {
    close: async () => {
      closing = true;
      await client.end().catch(() => {});
    },
  };
}

type Atomic = <T>(fn: (q: Queryable) => Promise<T>) => Promise<T>;

/** The repositories over `q`; `atomic` runs several statements as one (a transaction, or the one already open). */
function makeRepos(q: Queryable, atomic: Atomic): Repos {
  const changed = (tx: Queryable, what: string) =>
    tx.query(`WITH c AS (UPDATE fleet_state SET counter = counter + 1 WHERE id = 1 RETURNING counter) SELECT pg_notify('${CHANNEL}', c.counter || ':' || $1::text) FROM c`, [what]);

  const config: ConfigRepo = {
    async get(key) {
      const r = await q.query<{ value: string }>("SELECT value FROM config WHERE key = $1", [key]);
      return r.rows[0] ? JSON.parse(r.rows[0].value) : undefined;
    },
    set: (key, value) =>
      atomic(async (tx) => {
        await tx.query("INSERT INTO config (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at", [key, JSON.stringify(value), now()]);
        await changed(tx, `config:${key}`);
      }),
    delete: (key) =>
      atomic(async (tx) => {
        const n = (await tx.query("DELETE FROM config WHERE key = $1", [key])).rowCount ?? 0;
        if (n > 0) await changed(tx, `config:${key}`);
        return n > 0;
      }),
    async all() {
      const out: Record<string, unknown> = Object.create(null);
      for (const row of (await q.query<{ key: string; value: string }>("SELECT key, value FROM config ORDER BY key")).rows) out[row.key] = JSON.parse(row.value);
      return out;
    },
  };

  const modules: ModuleRepo = {
    async get(id) {
      const r = await q.query<ModuleRow>("SELECT * FROM modules WHERE id = $1", [id]);
      return r.rows[0] ? moduleFromRow(r.rows[0]) : undefined;
    },
    put: (r) =>
      atomic(async (tx) => {
        const c = moduleColumns(r);
        await tx.query(
          `INSERT INTO modules (id, disabled, grants, approved_hash, revoked, installed_path, files, staged, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (id) DO UPDATE SET disabled = excluded.disabled, grants = excluded.grants, approved_hash = excluded.approved_hash,
             revoked = excluded.revoked, installed_path = excluded.installed_path, files = excluded.files, staged = excluded.staged, updated_at = excluded.updated_at`,
          [r.id, r.disabled, c.grants, r.approvedHash, c.revoked, r.installedPath, c.files, c.staged, now()],
        );
        await changed(tx, `module:${r.id}`);
      }),
    delete: (id) =>
      atomic(async (tx) => {
        const n = (await tx.query("DELETE FROM modules WHERE id = $1", [id])).rowCount ?? 0;
        if (n > 0) await changed(tx, `module:${id}`);
        return n > 0;
      }),
    async all() {
      return (await q.query<ModuleRow>("SELECT * FROM modules ORDER BY id")).rows.map(moduleFromRow);
    },
  };

  const usageOf = async (tx: Queryable, moduleId: string, lock: boolean): Promise<number> => {
    if (lock) {
      // The usage row is the module's quota lock: writers of one module take turns on it, so the
      // check and the write are one atomic step across every host.
      await tx.query("INSERT INTO storage_usage (module, bytes) VALUES ($1, 0) ON CONFLICT (module) DO NOTHING", [moduleId]);
      return Number((await tx.query<{ bytes: string }>("SELECT bytes FROM storage_usage WHERE module = $1 FOR UPDATE", [moduleId])).rows[0]?.bytes ?? 0);
    }
    return Number((await tx.query<{ bytes: string }>("SELECT bytes FROM storage_usage WHERE module = $1", [moduleId])).rows[0]?.bytes ?? 0);
  };

  const storage: StorageRepo = {
    async get(moduleId, key) {
      return (await q.query<{ value: string }>("SELECT value FROM storage WHERE module = $1 AND key = $2", [moduleId, key])).rows[0]?.value;
    },
    set: (moduleId, key, json, maxBytes) =>
      atomic(async (tx) => {
        const total0 = await usageOf(tx, moduleId, true);
        const bytes = Buffer.byteLength(key) + Buffer.byteLength(json);
        const old = (await tx.query<{ bytes: number }>("SELECT bytes FROM storage WHERE module = $1 AND key = $2", [moduleId, key])).rows[0]?.bytes ?? 0;
        const total = total0 - old + bytes;
        if (total > maxBytes) {
          throw new HostError("quota_exceeded", `module '${moduleId}' storage quota exceeded: ${total} bytes requested, ${maxBytes} allowed`, { details: { requested: total, allowed: maxBytes } });
        }
        await tx.query("INSERT INTO storage (module, key, value, bytes) VALUES ($1, $2, $3, $4) ON CONFLICT (module, key) DO UPDATE SET value = excluded.value, bytes = excluded.bytes", [moduleId, key, json, bytes]);
        await tx.query("UPDATE storage_usage SET bytes = $2 WHERE module = $1", [moduleId, total]);
        return total;
      }),
    delete: (moduleId, key) =>
      atomic(async (tx) => {
        const total = await usageOf(tx, moduleId, true);
        const old = (await tx.query<{ bytes: number }>("DELETE FROM storage WHERE module = $1 AND key = $2 RETURNING bytes", [moduleId, key])).rows[0]?.bytes;
        if (old === undefined) return false;
        await tx.query("UPDATE storage_usage SET bytes = $2 WHERE module = $1", [moduleId, Math.max(0, total - old)]);
        return true;
      }),
    async list(moduleId, prefix, limit) {
      const r = await q.query<{ key: string }>("SELECT key FROM storage WHERE module = $1 AND key >= $2 AND key < $3 ORDER BY key LIMIT $4", [moduleId, prefix, prefix + "\u{10FFFF}", limit]);
      return r.rows.map((x) => x.key);
    },
    usage: (moduleId) => usageOf(q, moduleId, false),
    purge: (moduleId) =>
      atomic(async (tx) => {
        const n = (await tx.query("DELETE FROM storage WHERE module = $1", [moduleId])).rowCount ?? 0;
        await tx.query("DELETE FROM storage_usage WHERE module = $1", [moduleId]);
        return n;
      }),
  };

  const audit: AuditRepo = {
    async lockChain() {
      await q.query("SELECT pg_advisory_xact_lock($1)", [AUDIT_LOCK]);
    },
    async append(row) {
      await q.query("INSERT INTO audit (seq, time, actor, action, target, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", [
        row.seq, row.time, row.actor, row.action, row.target, row.data, row.prevHash, row.hash,
      ]);
    },
    async last() {
      const r = (await q.query<AuditDbRow>("SELECT * FROM audit ORDER BY seq DESC LIMIT 1")).rows[0];
      return r ? auditFromRow(r) : undefined;
    },
    async range(fromSeq, limit) {
      return (await q.query<AuditDbRow>("SELECT * FROM audit WHERE seq >= $1 ORDER BY seq LIMIT $2", [fromSeq, limit])).rows.map(auditFromRow);
    },
    async tail(n) {
      return (await q.query<AuditDbRow>("SELECT * FROM (SELECT * FROM audit ORDER BY seq DESC LIMIT $1) t ORDER BY seq", [n])).rows.map(auditFromRow);
    },
    async count() {
      return Number((await q.query<{ n: string }>("SELECT COUNT(*) AS n FROM audit")).rows[0]!.n);
    },
  };

  const manifestIndex: ManifestIndexRepo = {
    async all() {
      return new Map((await q.query<{ dir: string; stamp: string; loaded: string }>("SELECT dir, stamp, loaded FROM manifest_index")).rows.map((r) => [r.dir, { stamp: r.stamp, loaded: r.loaded }]));
    },
    async put(dir, stamp, loaded) {
      await q.query("INSERT INTO manifest_index (dir, stamp, loaded) VALUES ($1, $2, $3) ON CONFLICT (dir) DO UPDATE SET stamp = excluded.stamp, loaded = excluded.loaded", [dir, stamp, loaded]);
    },
  };

  const secrets: SecretRepo = {
    async get(moduleId, name) {
      return (await q.query<{ sealed: string }>("SELECT sealed FROM secrets WHERE module = $1 AND name = $2", [moduleId, name])).rows[0]?.sealed;
    },
    async put(moduleId, name, sealed) {
      await q.query("INSERT INTO secrets (module, name, sealed, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (module, name) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at", [moduleId, name, sealed, now()]);
    },
    async delete(moduleId, name) {
      return ((await q.query("DELETE FROM secrets WHERE module = $1 AND name = $2", [moduleId, name])).rowCount ?? 0) > 0;
    },
    async list(moduleId) {
      const r = moduleId === undefined
        ? await q.query<{ module: string; name: string; updated_at: string }>("SELECT module, name, updated_at FROM secrets ORDER BY module, name")
        : await q.query<{ module: string; name: string; updated_at: string }>("SELECT module, name, updated_at FROM secrets WHERE module = $1 ORDER BY name", [moduleId]);
      return r.rows.map((x) => ({ module: x.module, name: x.name, updatedAt: x.updated_at }));
    },
  };

  const blobs: BlobRepo = {
    async put(hash, content) {
      await q.query("INSERT INTO blobs (hash, content) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING", [hash, content]);
    },
    async get(hash) {
      return (await q.query<{ content: Buffer }>("SELECT content FROM blobs WHERE hash = $1", [hash])).rows[0]?.content;
    },
    async have(hashes) {
      if (hashes.length === 0) return [];
      const found = new Set((await q.query<{ hash: string }>("SELECT hash FROM blobs WHERE hash = ANY($1::text[])", [hashes])).rows.map((r) => r.hash));
      return hashes.filter((h) => found.has(h));
    },
    async prune(keep) {
      return (await q.query("DELETE FROM blobs WHERE NOT (hash = ANY($1::text[]))", [keep])).rowCount ?? 0;
    },
  };

  return { config, modules, storage, audit, manifestIndex, secrets, blobs };
}

interface AuditDbRow { seq: string; time: string; actor: string; action: string; target: string | null; data: string; prev_hash: string; hash: string }

function auditFromRow(r: AuditDbRow): AuditRow {
  return { seq: Number(r.seq), time: r.time, actor: r.actor, action: r.action, target: r.target, data: r.data, prevHash: r.prev_hash, hash: r.hash };
}
