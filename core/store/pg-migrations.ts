// Versioned schema migrations for the PostgreSQL store. Append only: a shipped migration never
// changes. warden_schema records how many have run; whichever host starts first applies them,
// under an advisory lock, so hosts starting together never race.
//
// Text columns that are compared by range (storage keys) use the C collation, so prefix listing
// orders by code point exactly as on SQLite. Times are ISO-8601 text, as on SQLite.

export const PG_MIGRATIONS: readonly string[] = [
  // 1: everything the embedded store holds at its version 5, plus file blobs and the change counter
  `
  CREATE TABLE config (
    key        TEXT COLLATE "C" PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE modules (
    id             TEXT COLLATE "C" PRIMARY KEY,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    grants         TEXT,
    approved_hash  TEXT,
    revoked        TEXT NOT NULL DEFAULT '[]',
    installed_path TEXT,
    files          TEXT,
    staged         TEXT,
    updated_at     TEXT NOT NULL
  );
  CREATE TABLE storage (
    module TEXT COLLATE "C" NOT NULL,
    key    TEXT COLLATE "C" NOT NULL,
    value  TEXT NOT NULL,
    bytes  INTEGER NOT NULL,
    PRIMARY KEY (module, key)
  );
  CREATE TABLE storage_usage (
    module TEXT COLLATE "C" PRIMARY KEY,
    bytes  BIGINT NOT NULL
  );
  CREATE TABLE audit (
    seq       BIGINT PRIMARY KEY,
    time      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT,
    data      TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
  );
  CREATE TABLE manifest_index (
    dir    TEXT COLLATE "C" PRIMARY KEY,
    stamp  TEXT NOT NULL,
    loaded TEXT NOT NULL
  );
  CREATE TABLE secrets (
    module     TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    sealed     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (module, name)
  );
  -- Installed module files by sha256, so every host can materialise what one host installed.
  CREATE TABLE blobs (
    hash    TEXT PRIMARY KEY,
    content BYTEA NOT NULL
  );
  -- Bumped (and NOTIFY warden_changes sent) in the transaction of every config or module-record
  -- change; hosts poll it too, so a missed notification cannot leave one stale.
  CREATE TABLE fleet_state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    counter BIGINT NOT NULL
  );
  INSERT INTO fleet_state (id, counter) VALUES (1, 0);
  `,
  // 2: a module id is also a folder name on every host: the database refuses any other
  `
  ALTER TABLE modules ADD CONSTRAINT modules_id_is_module_id CHECK (id ~ '^[a-z][a-z0-9-]{1,39}$');
  `,
  // 3: where installed files came from (pack, signature, publisher), the record's fleet seal, and
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
  // 4: other sealed documents by name (the operators and their roles)
  `
  CREATE TABLE documents (
    name       TEXT PRIMARY KEY,
    doc        TEXT NOT NULL,
    seal       TEXT,
    updated_at TEXT NOT NULL
  );
  `,
];
