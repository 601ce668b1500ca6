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
import type { BlobRepo, ChangeFeed, ConfigRepo, ManifestIndexRepo, ModuleRepo, Repos, SecretRepo, StorageRepo, Store, AuditRepo, TrustPolicyRepo, DocumentRepo } from "./store.js";
import { CHANNEL, makeRepos, type Queryable } from "./postgres-repos.js";
import { redactUrl, redactUrlsIn } from "./url.js";

const MIGRATION_LOCK = 0x77617264; // "ward": one key for the migration lock, across the database

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
  readonly trustPolicy: TrustPolicyRepo;
  readonly documents: DocumentRepo;
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
    this.trustPolicy = repos.trustPolicy;
    this.documents = repos.documents;
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
