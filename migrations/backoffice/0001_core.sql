-- WHIZ POS Back Office database, version 1: the sync hub's own tables.
-- Conventions as in migrations/pos/: TEXT UUIDv7 ids, *_minor money,
-- *_milli quantities, *_at milliseconds UTC, hlc TEXT.

-- Which database lineage this is. A restore from backup sets a new epoch, so
-- clients holding cursors from before re-bootstrap instead of trusting them.
CREATE TABLE meta (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    epoch       TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE branches (
    id          TEXT PRIMARY KEY,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    time_zone   TEXT NOT NULL DEFAULT 'Africa/Nairobi',
    created_at  INTEGER NOT NULL,
    hlc         TEXT NOT NULL,
    deleted_at  INTEGER
);

CREATE UNIQUE INDEX branches_code ON branches(code) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX branches_name ON branches(name COLLATE NOCASE) WHERE deleted_at IS NULL;

-- A till or mobile device and its API key. Only a SHA-256 hash of the key is
-- stored; `key_prefix` (the first characters) lets a person tell keys apart.
CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    branch_id      TEXT NOT NULL REFERENCES branches(id),
    code           TEXT NOT NULL,            -- e.g. T1: receipt numbers carry it
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('desktop', 'mobile')),
    key_hash       TEXT NOT NULL UNIQUE,
    key_prefix     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    last_seen_at   INTEGER,
    last_push_at   INTEGER,                  -- last successful push
    last_pull_at   INTEGER,                  -- last successful pull
    last_seq       INTEGER NOT NULL DEFAULT 0 -- highest device_seq accounted for
);

CREATE UNIQUE INDEX devices_code ON devices(branch_id, code) WHERE revoked_at IS NULL;

-- Every op the server has answered for good. The UNIQUE constraints make a
-- replay a duplicate, decided in the same transaction as the op's effects.
CREATE TABLE applied_ops (
    op_id        TEXT PRIMARY KEY,
    device_id    TEXT NOT NULL REFERENCES devices(id),
    device_seq   INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('applied', 'rejected')),
    reject_code  TEXT,
    reason       TEXT,
    hlc          TEXT NOT NULL,
    clock_skew_ms INTEGER NOT NULL DEFAULT 0, -- how far ahead the op's clock ran (clamped)
    applied_at   INTEGER NOT NULL,
    UNIQUE (device_id, device_seq)
);

CREATE INDEX applied_ops_rejected ON applied_ops(applied_at) WHERE outcome = 'rejected';

-- The change feed devices pull, in commit order. `branch_id` NULL: shared by
-- every branch; otherwise only that branch's devices pull it. `body` is a
-- sync_protocol::ChangeBody as JSON: the state the change left the record in.
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    branch_id   TEXT,
    origin      TEXT,                       -- device that caused it, if any
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE INDEX changes_branch ON changes(branch_id, seq);

-- One row per sync request, for the dashboard's sync log.
CREATE TABLE sync_log (
    id           INTEGER PRIMARY KEY,
    device_id    TEXT NOT NULL REFERENCES devices(id),
    direction    TEXT NOT NULL CHECK (direction IN ('push', 'pull', 'full')),
    items        INTEGER NOT NULL DEFAULT 0,
    applied      INTEGER NOT NULL DEFAULT 0,
    duplicates   INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0,
    duration_ms  INTEGER NOT NULL,
    result       TEXT NOT NULL CHECK (result IN ('ok', 'error')),
    error        TEXT,
    at           INTEGER NOT NULL
);

CREATE INDEX sync_log_device ON sync_log(device_id, at);
