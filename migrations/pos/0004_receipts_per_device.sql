-- WHIZ POS local database, version 4: receipt numbers are unique per device.
--
-- A receipt number (`BRANCH-TILL-000123`) is gapless per till and needs no
-- network, so it is unique only together with the device that printed it.
-- Tills that traded before they were connected to a Back Office all printed
-- `MAIN-T1-…` (the provisional identity; see pos-store/src/identity.rs), and
-- they keep those numbers after adopting their registered identity, because a
-- customer holds that paper. Version 1 made `receipt_no` UNIQUE on its own,
-- so a till pulling a sibling's `MAIN-T1-000001` had to hold it aside (and the
-- sale's stock movements with it). The Back Office never made receipt
-- numbers unique (migrations/backoffice/0002_data.sql); the till now keeps
-- them unique per device, as the server reads them.
--
-- SQLite cannot drop a column constraint, so `sales` is rebuilt: its rows are
-- copied aside, the table dropped and created again with
-- UNIQUE (device_id, receipt_no), the rows put back, and its indexes and
-- append-only triggers created again. This runs in the migration's one
-- transaction with foreign keys enforced: the rows that refer to sales
-- (lines, payments, movements, ledger entries, voids and refunds) are briefly
-- without their sale, so the check is deferred to the commit, by which time
-- every sale is back.

PRAGMA defer_foreign_keys = ON;

CREATE TEMP TABLE sales_v3 AS SELECT * FROM main.sales;

DROP TABLE main.sales;

CREATE TABLE main.sales (
    id                TEXT PRIMARY KEY,
    receipt_no        TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('sale', 'void', 'refund')),
    original_sale_id  TEXT REFERENCES sales(id),
    branch_id         TEXT NOT NULL REFERENCES branches(id),
    device_id         TEXT NOT NULL,
    cashier_id        TEXT NOT NULL REFERENCES users(id),
    customer_id       TEXT REFERENCES customers(id),
    currency          TEXT NOT NULL,
    tax_mode          TEXT NOT NULL CHECK (tax_mode IN ('inclusive', 'exclusive')),
    subtotal_minor    INTEGER NOT NULL,
    discount_minor    INTEGER NOT NULL,
    tax_minor         INTEGER NOT NULL,
    total_minor       INTEGER NOT NULL,
    change_minor      INTEGER NOT NULL DEFAULT 0,
    reason            TEXT,
    created_at        INTEGER NOT NULL,
    business_day      TEXT NOT NULL,
    UNIQUE (device_id, receipt_no),
    CHECK ((kind = 'sale') = (original_sale_id IS NULL)),
    CHECK (CASE kind WHEN 'sale' THEN total_minor >= 0 ELSE total_minor <= 0 END)
);

-- Originals before their voids and refunds, as they were written.
INSERT INTO main.sales SELECT * FROM temp.sales_v3 ORDER BY rowid;

DROP TABLE temp.sales_v3;

CREATE INDEX sales_day ON sales(business_day, kind);
CREATE INDEX sales_created ON sales(created_at);
CREATE INDEX sales_original ON sales(original_sale_id) WHERE original_sale_id IS NOT NULL;
CREATE UNIQUE INDEX sales_one_void ON sales(original_sale_id) WHERE kind = 'void';
CREATE INDEX sales_customer ON sales(customer_id) WHERE customer_id IS NOT NULL;
-- Receipt look-ups by number alone (reprint, refund by receipt).
CREATE INDEX sales_receipt ON sales(receipt_no);

CREATE TRIGGER sales_no_update BEFORE UPDATE ON sales BEGIN
    SELECT RAISE(ABORT, 'sales are append-only: record a void or refund instead');
END;
CREATE TRIGGER sales_no_delete BEFORE DELETE ON sales BEGIN
    SELECT RAISE(ABORT, 'sales are append-only: record a void or refund instead');
END;
