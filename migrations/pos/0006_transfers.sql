-- WHIZ POS local database, version 6: stock transfers between branches.
--
-- A transfer is created at the sending branch (`transfer_sent` op; the stock
-- leaves at once as `transfer_out` movements) and received once at the
-- receiving branch (`transfer_received` op; `transfer_in` movements of the
-- quantities counted). Both are append-only records written by `record-sql`
-- into tables of the same shape as the Back Office's; the movements live in
-- `stock_movements` like any other. A till holds the transfers from and to
-- its branch (pulled: the feed records each transfer for both branches), and
-- only its own branch's movements. A transfer's state is derived: no receipt
-- = sent, a receipt whose lines all match = received, else received with a
-- discrepancy (per line, sent vs received).

CREATE TABLE transfers (
    id              TEXT PRIMARY KEY,
    from_branch_id  TEXT NOT NULL,
    to_branch_id    TEXT NOT NULL CHECK (to_branch_id <> from_branch_id),
    device_id       TEXT NOT NULL,
    note            TEXT,
    sent_by         TEXT NOT NULL,
    sent_at         INTEGER NOT NULL
);

CREATE INDEX transfers_from ON transfers(from_branch_id, sent_at);
CREATE INDEX transfers_to ON transfers(to_branch_id, sent_at);

-- Line N of a transfer: one product, a positive quantity.
CREATE TABLE transfer_lines (
    transfer_id     TEXT NOT NULL REFERENCES transfers(id),
    line_no         INTEGER NOT NULL CHECK (line_no > 0),
    product_id      TEXT NOT NULL REFERENCES products(id),
    quantity_milli  INTEGER NOT NULL CHECK (quantity_milli > 0),
    PRIMARY KEY (transfer_id, line_no)
) WITHOUT ROWID;

-- A transfer is received once (UNIQUE transfer_id), at its destination.
CREATE TABLE transfer_receipts (
    id              TEXT PRIMARY KEY,
    transfer_id     TEXT NOT NULL UNIQUE REFERENCES transfers(id),
    branch_id       TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    note            TEXT,
    received_by     TEXT NOT NULL,
    received_at     INTEGER NOT NULL
);

-- Line N of a receipt is line N of its transfer; zero or more received.
CREATE TABLE transfer_receipt_lines (
    receipt_id      TEXT NOT NULL REFERENCES transfer_receipts(id),
    line_no         INTEGER NOT NULL CHECK (line_no > 0),
    product_id      TEXT NOT NULL REFERENCES products(id),
    quantity_milli  INTEGER NOT NULL CHECK (quantity_milli >= 0),
    PRIMARY KEY (receipt_id, line_no)
) WITHOUT ROWID;

CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers BEGIN
    SELECT RAISE(ABORT, 'transfers are append-only: receive it, or send a transfer back');
END;
CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers BEGIN
    SELECT RAISE(ABORT, 'transfers are append-only: receive it, or send a transfer back');
END;
CREATE TRIGGER transfer_lines_no_update BEFORE UPDATE ON transfer_lines BEGIN
    SELECT RAISE(ABORT, 'transfer lines are append-only');
END;
CREATE TRIGGER transfer_lines_no_delete BEFORE DELETE ON transfer_lines BEGIN
    SELECT RAISE(ABORT, 'transfer lines are append-only');
END;
CREATE TRIGGER transfer_receipts_no_update BEFORE UPDATE ON transfer_receipts BEGIN
    SELECT RAISE(ABORT, 'transfer receipts are append-only: record an adjustment instead');
END;
CREATE TRIGGER transfer_receipts_no_delete BEFORE DELETE ON transfer_receipts BEGIN
    SELECT RAISE(ABORT, 'transfer receipts are append-only: record an adjustment instead');
END;
CREATE TRIGGER transfer_receipt_lines_no_update BEFORE UPDATE ON transfer_receipt_lines BEGIN
    SELECT RAISE(ABORT, 'transfer receipt lines are append-only');
END;
CREATE TRIGGER transfer_receipt_lines_no_delete BEFORE DELETE ON transfer_receipt_lines BEGIN
    SELECT RAISE(ABORT, 'transfer receipt lines are append-only');
END;
