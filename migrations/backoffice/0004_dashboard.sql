-- WHIZ POS Back Office database, version 4: the web dashboard's own tables.
-- Conventions as in 0001_core.sql. Nothing here is synced to devices.

-- Owners and managers who sign in to the dashboard (`whiz-backoffice user
-- add`). Only an argon2 hash of the password is kept. There is no default
-- account: a fresh install has none until the owner makes one.
CREATE TABLE web_users (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'manager')),
    password_hash  TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    disabled_at    INTEGER
);

CREATE UNIQUE INDEX web_users_username ON web_users(username COLLATE NOCASE);

-- A signed-in browser. The cookie holds a random token; only its SHA-256 is
-- kept, with the session's CSRF token (sent back in every form).
CREATE TABLE web_sessions (
    token_hash    TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES web_users(id),
    csrf          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);

CREATE INDEX web_sessions_user ON web_sessions(user_id);

-- Failed sign-ins, for rate limiting by account and by address. Kept on disk
-- so a restart does not reset a guessing attack's count.
CREATE TABLE web_login_failures (
    id        INTEGER PRIMARY KEY,
    username  TEXT NOT NULL,
    address   TEXT NOT NULL,
    at        INTEGER NOT NULL
);

CREATE INDEX web_login_failures_user ON web_login_failures(username COLLATE NOCASE, at);
CREATE INDEX web_login_failures_address ON web_login_failures(address, at);

-- Who changed what from the dashboard (the change feed says what changed;
-- this says which person did it).
CREATE TABLE web_audit (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    user_id    TEXT NOT NULL REFERENCES web_users(id),
    action     TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT ''
);

CREATE INDEX web_audit_at ON web_audit(at);
