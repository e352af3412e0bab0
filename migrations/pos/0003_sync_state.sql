-- WHIZ POS local database, version 3: the replica side of sync.
--
-- `sync_state` is one row: where the next pull resumes, when this till last
-- pushed and pulled, the last error and the clock skew, for the sync engine
-- and the Sync Status page. The Back Office URL is kept here (it is this
-- till's own setting, never synced); the API key is never stored in SQLite:
-- it lives in the OS keyring.
CREATE TABLE sync_state (
    singleton         INTEGER PRIMARY KEY CHECK (singleton = 1),
    backoffice_url    TEXT,             -- e.g. https://backoffice.example.co.ke
    cursor            TEXT,             -- EPOCH.SEQ of the last pulled page; NULL: pull from the beginning
    epoch             TEXT,             -- the Back Office epoch the cursor belongs to
    last_push_at      INTEGER,          -- last push round that left nothing undelivered
    last_pull_at      INTEGER,          -- last pull round that reached the end of the feed
    last_error        TEXT,
    last_error_at     INTEGER,
    clock_skew_ms     INTEGER,          -- this till's clock minus the Back Office's (positive: ahead)
    skew_measured_at  INTEGER,
    server_version    TEXT
);

INSERT INTO sync_state (singleton) VALUES (1);

-- Pulled changes this till could not apply because a local constraint
-- refused them (a product whose category has not arrived, a phone number a
-- local customer still holds). They do not block the feed: they wait here
-- with the reason, are retried after every pulled page, and are shown on the
-- Sync Status page. A later change to the same record replaces them.
CREATE TABLE sync_held_changes (
    seq        INTEGER PRIMARY KEY,     -- the Back Office's change sequence
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    body       TEXT NOT NULL,           -- JSON: sync_protocol::ChangeBody
    reason     TEXT NOT NULL,
    held_at    INTEGER NOT NULL
);

CREATE INDEX sync_held_changes_entity ON sync_held_changes(entity, entity_id);
