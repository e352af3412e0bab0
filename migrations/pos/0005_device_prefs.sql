-- WHIZ POS local database, version 5: device-local preferences and discarded
-- quarantined ops.
--
-- `device_prefs` holds settings of this machine only (how soon the screen
-- locks, …): never queued, never synced, unlike `business_settings`. One row
-- per key; the value is text the app parses.
--
-- A quarantined op (rejected for good by the Back Office) may be discarded by
-- a manager. It stays in the outbox, marked with when and by whom, so the
-- record of what the till did is never lost; a discarded op is never sent
-- again, not retried, and no longer listed as quarantined.

CREATE TABLE device_prefs (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);

ALTER TABLE outbox ADD COLUMN discarded_at INTEGER;
ALTER TABLE outbox ADD COLUMN discarded_by TEXT;

-- The catalog list before any filter (every live product by name, a page at a
-- time): with this index SQLite reads the first page in order and stops,
-- instead of sorting every product. Its WHERE matches the query's.
CREATE INDEX IF NOT EXISTS products_live_name ON products(name, id) WHERE deleted_at IS NULL;
