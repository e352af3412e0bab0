-- WHIZ POS Back Office database, version 3: Full Cloud Synchronization
-- (POST /api/sync/full, DESIGN.md invariant 8). Conventions as in 0001_core.sql.

-- A run of Full Cloud Synchronization, chosen by one device. Another device
-- presenting the same session id is refused (409).
CREATE TABLE full_sync_sessions (
    session           TEXT PRIMARY KEY,
    device_id         TEXT NOT NULL REFERENCES devices(id),
    started_at        INTEGER NOT NULL,
    finished_at       INTEGER,
    acknowledged_seq  INTEGER             -- what the finish step said
);

-- Every apply chunk the server has answered, under its idempotency key
-- (session, chunk), in the same transaction as its effects: a retried chunk
-- is answered from `answer` (an ApplyAnswer as JSON) and changes nothing.
-- `request_hash` (SHA-256 of the chunk as received) tells a retry from a
-- different chunk reusing the key.
CREATE TABLE full_sync_chunks (
    session       TEXT NOT NULL REFERENCES full_sync_sessions(session),
    chunk         INTEGER NOT NULL CHECK (chunk >= 1),
    device_id     TEXT NOT NULL REFERENCES devices(id),
    mode          TEXT NOT NULL CHECK (mode IN ('overwrite', 'restore')),
    request_hash  TEXT NOT NULL,
    answer        TEXT NOT NULL,
    applied_at    INTEGER NOT NULL,
    PRIMARY KEY (session, chunk)
) WITHOUT ROWID;

-- States a mutable record had before Full Cloud Synchronization overwrote or
-- removed it (or before `whiz-backoffice versions restore` replaced it):
-- `state` is a sync_protocol::ChangeBody as JSON. `id` is the version id the
-- CLI restores by. `replaced_by` is the device whose run replaced it (NULL:
-- the CLI).
CREATE TABLE record_versions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    entity       TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    state        TEXT NOT NULL,
    replaced_at  INTEGER NOT NULL,
    replaced_by  TEXT REFERENCES devices(id),
    reason       TEXT NOT NULL CHECK (reason IN (
                     'full_sync_overwrite', 'full_sync_remove', 'version_restore')),
    session      TEXT
);

CREATE INDEX record_versions_record ON record_versions(entity, entity_id, id);

-- The sync log learns the steps of Full Cloud Synchronization and keeps a
-- line of detail (per-entity counts). SQLite cannot change a CHECK in place,
-- so the table is rebuilt with its rows.
CREATE TABLE sync_log_new (
    id           INTEGER PRIMARY KEY,
    device_id    TEXT NOT NULL REFERENCES devices(id),
    direction    TEXT NOT NULL CHECK (direction IN (
                     'push', 'pull', 'full', 'full_preview', 'full_apply', 'full_finish')),
    items        INTEGER NOT NULL DEFAULT 0,
    applied      INTEGER NOT NULL DEFAULT 0,
    duplicates   INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0,
    duration_ms  INTEGER NOT NULL,
    result       TEXT NOT NULL CHECK (result IN ('ok', 'error')),
    error        TEXT,
    at           INTEGER NOT NULL,
    detail       TEXT
);

INSERT INTO sync_log_new (id, device_id, direction, items, applied, duplicates, rejected,
                          duration_ms, result, error, at)
SELECT id, device_id, direction, items, applied, duplicates, rejected, duration_ms, result, error, at
FROM sync_log;

DROP TABLE sync_log;
ALTER TABLE sync_log_new RENAME TO sync_log;
CREATE INDEX sync_log_device ON sync_log(device_id, at);
