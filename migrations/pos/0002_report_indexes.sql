-- WHIZ POS local database, version 2: indexes for reports.
--
-- The day-closing summary finds the payments credit customers made during a
-- business day by time; without this index it would read the whole ledger.
CREATE INDEX customer_ledger_kind_created ON customer_ledger(kind, created_at);
