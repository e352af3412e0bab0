-- WHIZ POS Back Office database, version 6: a record of every customer merge
-- (the same person added at two branches, `customer_merge`), so a
-- customer's history shows what was merged into it and an owner can undo a
-- merge from the dashboard. Conventions as in 0001_core.sql. Server only:
-- devices learn merges and their undoing through the change feed
-- (`customer_alias`, `customer_unaliased`).

-- The first change of a customer names the device that created it (its
-- branch is "the branch that created" the record). Partial: only customer
-- changes pay for it.
CREATE INDEX changes_customer ON changes(entity_id, seq) WHERE entity = 'customer';

-- One row per merge of `alias_id` into `customer_id`. When a customer that
-- already has aliases is merged into another, each of its aliases is
-- re-pointed: its row is marked `superseded_at` and a new row names the new
-- customer, with `via_id` the customer it had been merged into. An alias in
-- `customer_aliases` has exactly one current row (neither superseded nor
-- undone). Undoing (an owner, from the dashboard) sets `undone_at` and
-- `undone_by`; rows are never deleted.
CREATE TABLE customer_merges (
    id                  INTEGER PRIMARY KEY,
    alias_id            TEXT NOT NULL REFERENCES customers(id),
    customer_id         TEXT NOT NULL REFERENCES customers(id),
    merged_at           INTEGER NOT NULL,
    reason              TEXT NOT NULL,          -- e.g. 'same phone +254712345678'
    via_id              TEXT REFERENCES customers(id),
    alias_branch_id     TEXT,                   -- the branch that created each record;
    customer_branch_id  TEXT,                   -- NULL: the dashboard, or not known
    superseded_at       INTEGER,
    undone_at           INTEGER,
    undone_by           TEXT REFERENCES web_users(id),
    CHECK (undone_by IS NULL OR undone_at IS NOT NULL)
);

CREATE INDEX customer_merges_customer ON customer_merges(customer_id, id);
CREATE INDEX customer_merges_alias ON customer_merges(alias_id, id);
CREATE UNIQUE INDEX customer_merges_current ON customer_merges(alias_id)
    WHERE superseded_at IS NULL AND undone_at IS NULL;

-- Merges made before this version: one row per alias, as it points now.
-- When it was merged is not known; the alias's tombstone time is the merge's.
INSERT INTO customer_merges (alias_id, customer_id, merged_at, reason, alias_branch_id,
                             customer_branch_id)
SELECT a.alias_id,
       a.customer_id,
       COALESCE(c.deleted_at, k.created_at),
       CASE WHEN c.phone IS NULL THEN 'same phone' ELSE 'same phone ' || c.phone END,
       (SELECT d.branch_id FROM devices d WHERE d.id =
           (SELECT ch.origin FROM changes ch
            WHERE ch.entity = 'customer' AND ch.entity_id = a.alias_id
            ORDER BY ch.seq LIMIT 1)),
       (SELECT d.branch_id FROM devices d WHERE d.id =
           (SELECT ch.origin FROM changes ch
            WHERE ch.entity = 'customer' AND ch.entity_id = a.customer_id
            ORDER BY ch.seq LIMIT 1))
FROM customer_aliases a
JOIN customers c ON c.id = a.alias_id
JOIN customers k ON k.id = a.customer_id
ORDER BY c.deleted_at, c.rowid;
