// Versioned schema migrations for system.brain. Append only: a shipped migration never changes.
// PRAGMA user_version records how many have run.

export const MIGRATIONS: readonly string[] = [
  // 1: config, module records, per-module storage
  `
  CREATE TABLE config (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE modules (
    id             TEXT PRIMARY KEY,
    disabled       INTEGER NOT NULL DEFAULT 0,
    grants         TEXT,
    approved_hash  TEXT,
    revoked        TEXT NOT NULL DEFAULT '[]',
    installed_path TEXT,
    files          TEXT,
    updated_at     TEXT NOT NULL
  );
  CREATE TABLE storage (
    module TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    bytes  INTEGER NOT NULL,
    PRIMARY KEY (module, key)
  ) WITHOUT ROWID;
  CREATE TABLE storage_usage (
    module TEXT PRIMARY KEY,
    bytes  INTEGER NOT NULL
  );
  `,
  // 2: the audit chain
  `
  CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    time      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT,
    data      TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
  );
  `,
  // 3: staged upgrades awaiting approval; manifests already validated (host start stays flat)
  `
  ALTER TABLE modules ADD COLUMN staged TEXT;
  CREATE TABLE manifest_cache (
    key        TEXT PRIMARY KEY,
    checked_at TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 4: validated manifests by folder and file stamp, so host start does not re-validate (or even
  // re-read) an unchanged module.json; replaces the hash-keyed cache of 3.
  `
  DROP TABLE manifest_cache;
  CREATE TABLE manifest_index (
    dir    TEXT PRIMARY KEY,
    stamp  TEXT NOT NULL,
    loaded TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 5: operator-set module secrets, encrypted (AES-256-GCM) with a key kept outside this file
  `
  CREATE TABLE secrets (
    module     TEXT NOT NULL,
    name       TEXT NOT NULL,
    sealed     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (module, name)
  ) WITHOUT ROWID;
  `,
  // 6: installed module files by sha256 (filled when the store is shared by a fleet; the same
  // schema everywhere keeps one contract for both backends)
  `
  CREATE TABLE blobs (
    hash    TEXT PRIMARY KEY,
    content BLOB NOT NULL
  ) WITHOUT ROWID;
  `,
  // 7: where installed files came from (pack, signature, publisher), the record's fleet seal, and
  // the trust policy (publisher keys and blocked packs) as one sealed document
  `
  ALTER TABLE modules ADD COLUMN provenance TEXT;
  ALTER TABLE modules ADD COLUMN seal TEXT;
  CREATE TABLE trust_policy (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    doc        TEXT NOT NULL,
    seal       TEXT,
    updated_at TEXT NOT NULL
  );
  `,
  // 8: other sealed documents by name (the operators and their roles)
  `
  CREATE TABLE documents (
    name       TEXT PRIMARY KEY,
    doc        TEXT NOT NULL,
    seal       TEXT,
    updated_at TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
];
