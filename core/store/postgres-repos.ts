// The fleet store's repositories: one function per repository, each over a query interface (the
// pool, or a transaction's client) and `atomic`, which runs several statements as one. Changes
// other hosts must learn of bump fleet_state.counter and NOTIFY in the same transaction.
import type pg from "pg";
import { HostError } from "../base/errors.js";
import { moduleColumns, moduleFromRow, type ModuleRow } from "./rows.js";
import type { AuditRepo, AuditRow, BlobRepo, ConfigRepo, ManifestIndexRepo, ModuleRepo, Repos, SecretRepo, StorageRepo, TrustPolicyRepo, DocumentRepo } from "./store.js";

export const CHANNEL = "warden_changes";
const AUDIT_LOCK = 0x61756474; // "audt": appends to the chain, one transaction at a time

/** A connection or the pool: what a repository runs its statements on. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export type Atomic = <T>(fn: (q: Queryable) => Promise<T>) => Promise<T>;

/** The repositories over `q`; `atomic` runs several statements as one (a transaction, or the one already open). */

const now = () => new Date().toISOString();

/** The repositories over `q`; `atomic` runs several statements as one (a transaction, or the one already open). */
export function makeRepos(q: Queryable, atomic: Atomic): Repos {
  return {
    config: configRepo(q, atomic),
    modules: modulesRepo(q, atomic),
    storage: storageRepo(q, atomic),
    audit: auditRepo(q),
    manifestIndex: manifestIndexRepo(q),
    secrets: secretsRepo(q),
    blobs: blobsRepo(q),
    trustPolicy: trustPolicyRepo(q, atomic),
    documents: documentRepo(q, atomic),
  };
}

const changed = (tx: Queryable, what: string) =>
  tx.query(`WITH c AS (UPDATE fleet_state SET counter = counter + 1 WHERE id = 1 RETURNING counter) SELECT pg_notify('${CHANNEL}', c.counter || ':' || $1::text) FROM c`, [what]);

const usageOf = async (tx: Queryable, moduleId: string, lock: boolean): Promise<number> => {
  if (lock) {
    // The usage row is the module's quota lock: writers of one module take turns on it, so the
    // check and the write are one atomic step across every host.
    await tx.query("INSERT INTO storage_usage (module, bytes) VALUES ($1, 0) ON CONFLICT (module) DO NOTHING", [moduleId]);
    return Number((await tx.query<{ bytes: string }>("SELECT bytes FROM storage_usage WHERE module = $1 FOR UPDATE", [moduleId])).rows[0]?.bytes ?? 0);
  }
  return Number((await tx.query<{ bytes: string }>("SELECT bytes FROM storage_usage WHERE module = $1", [moduleId])).rows[0]?.bytes ?? 0);
};

function configRepo(q: Queryable, atomic: Atomic): ConfigRepo {
  return {
    async get(key) {
      const r = await q.query<{ value: string }>("SELECT value FROM config WHERE key = $1", [key]);
      return r.rows[0] ? JSON.parse(r.rows[0].value) : undefined;
    },
    set: (key, value) =>
      atomic(async (tx) => {
        await tx.query("INSERT INTO config (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at", [
          key,
          JSON.stringify(value),
          now(),
        ]);
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
}

function modulesRepo(q: Queryable, atomic: Atomic): ModuleRepo {
  return {
    async get(id) {
      const r = await q.query<ModuleRow>("SELECT * FROM modules WHERE id = $1", [id]);
      return r.rows[0] ? moduleFromRow(r.rows[0]) : undefined;
    },
    put: (r) =>
      atomic(async (tx) => {
        const c = moduleColumns(r);
        await tx.query(
          `INSERT INTO modules (id, disabled, grants, approved_hash, revoked, installed_path, files, staged, provenance, seal, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (id) DO UPDATE SET disabled = excluded.disabled, grants = excluded.grants, approved_hash = excluded.approved_hash,
           revoked = excluded.revoked, installed_path = excluded.installed_path, files = excluded.files, staged = excluded.staged,
           provenance = excluded.provenance, seal = excluded.seal, updated_at = excluded.updated_at`,
          [r.id, r.disabled, c.grants, r.approvedHash, c.revoked, r.installedPath, c.files, c.staged, c.provenance, r.seal, now()],
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
}

function storageRepo(q: Queryable, atomic: Atomic): StorageRepo {
  return {
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
        await tx.query("INSERT INTO storage (module, key, value, bytes) VALUES ($1, $2, $3, $4) ON CONFLICT (module, key) DO UPDATE SET value = excluded.value, bytes = excluded.bytes", [
          moduleId,
          key,
          json,
          bytes,
        ]);
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
}

function auditRepo(q: Queryable): AuditRepo {
  return {
    async lockChain() {
      await q.query("SELECT pg_advisory_xact_lock($1)", [AUDIT_LOCK]);
    },
    async append(row) {
      await q.query("INSERT INTO audit (seq, time, actor, action, target, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", [
        row.seq,
        row.time,
        row.actor,
        row.action,
        row.target,
        row.data,
        row.prevHash,
        row.hash,
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
}

function manifestIndexRepo(q: Queryable): ManifestIndexRepo {
  return {
    async all() {
      return new Map((await q.query<{ dir: string; stamp: string; loaded: string }>("SELECT dir, stamp, loaded FROM manifest_index")).rows.map((r) => [r.dir, { stamp: r.stamp, loaded: r.loaded }]));
    },
    async put(dir, stamp, loaded) {
      await q.query("INSERT INTO manifest_index (dir, stamp, loaded) VALUES ($1, $2, $3) ON CONFLICT (dir) DO UPDATE SET stamp = excluded.stamp, loaded = excluded.loaded", [dir, stamp, loaded]);
    },
  };
}

function secretsRepo(q: Queryable): SecretRepo {
  return {
    async get(moduleId, name) {
      return (await q.query<{ sealed: string }>("SELECT sealed FROM secrets WHERE module = $1 AND name = $2", [moduleId, name])).rows[0]?.sealed;
    },
    async put(moduleId, name, sealed) {
      await q.query(
        "INSERT INTO secrets (module, name, sealed, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (module, name) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
        [moduleId, name, sealed, now()],
      );
    },
    async delete(moduleId, name) {
      return ((await q.query("DELETE FROM secrets WHERE module = $1 AND name = $2", [moduleId, name])).rowCount ?? 0) > 0;
    },
    async list(moduleId) {
      const r =
        moduleId === undefined
          ? await q.query<{ module: string; name: string; updated_at: string }>("SELECT module, name, updated_at FROM secrets ORDER BY module, name")
          : await q.query<{ module: string; name: string; updated_at: string }>("SELECT module, name, updated_at FROM secrets WHERE module = $1 ORDER BY name", [moduleId]);
      return r.rows.map((x) => ({ module: x.module, name: x.name, updatedAt: x.updated_at }));
    },
  };
}

function blobsRepo(q: Queryable): BlobRepo {
  return {
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
}

interface AuditDbRow {
  seq: string;
  time: string;
  actor: string;
  action: string;
  target: string | null;
  data: string;
  prev_hash: string;
  hash: string;
}

function auditFromRow(r: AuditDbRow): AuditRow {
  return { seq: Number(r.seq), time: r.time, actor: r.actor, action: r.action, target: r.target, data: r.data, prevHash: r.prev_hash, hash: r.hash };
}

function trustPolicyRepo(q: Queryable, atomic: Atomic): TrustPolicyRepo {
  return {
    async get() {
      return (await q.query<{ doc: string; seal: string | null }>("SELECT doc, seal FROM trust_policy WHERE id = 1")).rows[0];
    },
    put: (doc, seal) =>
      atomic(async (tx) => {
        await tx.query(
          "INSERT INTO trust_policy (id, doc, seal, updated_at) VALUES (1, $1, $2, $3) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, seal = excluded.seal, updated_at = excluded.updated_at",
          [doc, seal, now()],
        );
        await changed(tx, "trust-policy");
      }),
  };
}

function documentRepo(q: Queryable, atomic: Atomic): DocumentRepo {
  return {
    async get(name) {
      return (await q.query<{ doc: string; seal: string | null }>("SELECT doc, seal FROM documents WHERE name = $1", [name])).rows[0];
    },
    put: (name, doc, seal) =>
      atomic(async (tx) => {
        await tx.query(
          "INSERT INTO documents (name, doc, seal, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET doc = excluded.doc, seal = excluded.seal, updated_at = excluded.updated_at",
          [name, doc, seal, now()],
        );
        await changed(tx, `document:${name}`);
      }),
  };
}
