-- WHIZ POS Back Office database, version 2: the business's data, mirrored
-- from the till schema (migrations/pos/0001_init.sql) and merged from every
-- device's ops. Conventions as in 0001_core.sql.
--
-- Mutable records carry `hlc` (the clock of their latest change) and
-- `field_hlc`, a JSON object mapping each field (including `deleted_at`) to
-- the clock that last wrote it: last writer wins per field. A field missing
-- from the map was never written explicitly and loses to any write.
--
-- Differences from the till, on purpose:
--   * no UNIQUE on receipt numbers, SKUs, barcodes, phones or M-Pesa codes:
--     two offline tills may both use one, and the server must never refuse a
--     sale for it (duplicates are for people to sort out, not to lose data);
--   * no full-text index (the dashboard's search comes later).

-- Business settings: one row per setting, each with its own clock.
CREATE TABLE business_settings (
    key    TEXT PRIMARY KEY CHECK (key IN (
               'store_name', 'address', 'phone', 'tax_pin', 'receipt_header',
               'receipt_footer', 'currency', 'time_zone', 'tax_mode')),
    value  TEXT NOT NULL,
    hlc    TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO business_settings (key, value, hlc) VALUES
    ('store_name',     'My Shop',          '0000000000000-00000000-0000000000000000'),
    ('address',        '',                 '0000000000000-00000000-0000000000000000'),
    ('phone',          '',                 '0000000000000-00000000-0000000000000000'),
    ('tax_pin',        '',                 '0000000000000-00000000-0000000000000000'),
    ('receipt_header', '',                 '0000000000000-00000000-0000000000000000'),
    ('receipt_footer', 'Thank you!',       '0000000000000-00000000-0000000000000000'),
    ('currency',       'KES',              '0000000000000-00000000-0000000000000000'),
    ('time_zone',      'Africa/Nairobi',   '0000000000000-00000000-0000000000000000'),
    ('tax_mode',       'inclusive',        '0000000000000-00000000-0000000000000000');

-- A tax rate travels whole (TaxRateRecord): last writer wins on the record.
CREATE TABLE tax_rates (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    basis_points  INTEGER NOT NULL CHECK (basis_points BETWEEN 0 AND 10000),
    hlc           TEXT NOT NULL,
    deleted_at    INTEGER
);

INSERT INTO tax_rates (code, name, basis_points, hlc) VALUES
    ('VAT16',  'VAT 16%',    1600, '0000000000000-00000000-0000000000000000'),
    ('ZERO',   'Zero-rated', 0,    '0000000000000-00000000-0000000000000000'),
    ('EXEMPT', 'Exempt',     0,    '0000000000000-00000000-0000000000000000');

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('cashier', 'manager', 'owner')),
    pin_hash    TEXT NOT NULL,           -- argon2 PHC string; never a PIN
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at  INTEGER NOT NULL,
    hlc         TEXT NOT NULL,
    field_hlc   TEXT NOT NULL DEFAULT '{}',
    deleted_at  INTEGER
);

CREATE TABLE categories (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    sort_order  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    hlc         TEXT NOT NULL,
    field_hlc   TEXT NOT NULL DEFAULT '{}',
    deleted_at  INTEGER
);

CREATE TABLE products (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    sku              TEXT,
    barcode          TEXT,
    category_id      TEXT REFERENCES categories(id),
    price_minor      INTEGER NOT NULL CHECK (price_minor >= 0),
    currency         TEXT NOT NULL,
    tax_code         TEXT NOT NULL,
    image            TEXT,
    track_stock      INTEGER NOT NULL DEFAULT 1 CHECK (track_stock IN (0, 1)),
    low_stock_milli  INTEGER,
    created_at       INTEGER NOT NULL,
    hlc              TEXT NOT NULL,
    field_hlc        TEXT NOT NULL DEFAULT '{}',
    deleted_at       INTEGER
);

CREATE INDEX products_sku ON products(sku) WHERE sku IS NOT NULL;
CREATE INDEX products_barcode ON products(barcode) WHERE barcode IS NOT NULL;

CREATE TABLE customers (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    phone               TEXT,            -- E.164, normalized
    email               TEXT,
    credit_limit_minor  INTEGER NOT NULL DEFAULT 0 CHECK (credit_limit_minor >= 0),
    currency            TEXT NOT NULL,
    notes               TEXT,
    created_at          INTEGER NOT NULL,
    hlc                 TEXT NOT NULL,
    field_hlc           TEXT NOT NULL DEFAULT '{}',
    deleted_at          INTEGER
);

CREATE INDEX customers_phone ON customers(phone) WHERE phone IS NOT NULL;

-- Ids of customers merged into another (same person created at two branches).
CREATE TABLE customer_aliases (
    alias_id     TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL REFERENCES customers(id)
) WITHOUT ROWID;

-- Sales (append-only) -------------------------------------------------------

CREATE TABLE sales (
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
    received_at       INTEGER NOT NULL,  -- when the server applied it
    CHECK ((kind = 'sale') = (original_sale_id IS NULL)),
    CHECK (CASE kind WHEN 'sale' THEN total_minor >= 0 ELSE total_minor <= 0 END)
);

CREATE INDEX sales_branch_day ON sales(branch_id, business_day, kind);
CREATE INDEX sales_receipt ON sales(receipt_no);
CREATE INDEX sales_original ON sales(original_sale_id) WHERE original_sale_id IS NOT NULL;
CREATE INDEX sales_customer ON sales(customer_id) WHERE customer_id IS NOT NULL;

CREATE TABLE sale_lines (
    sale_id           TEXT NOT NULL REFERENCES sales(id),
    line_no           INTEGER NOT NULL CHECK (line_no >= 1),
    original_line_no  INTEGER,
    product_id        TEXT NOT NULL REFERENCES products(id),
    name              TEXT NOT NULL,
    sku               TEXT,
    unit_price_minor  INTEGER NOT NULL,
    quantity_milli    INTEGER NOT NULL CHECK (quantity_milli <> 0),
    gross_minor       INTEGER NOT NULL,
    discount_minor    INTEGER NOT NULL,
    net_minor         INTEGER NOT NULL,
    tax_code          TEXT NOT NULL,
    tax_basis_points  INTEGER NOT NULL,
    tax_minor         INTEGER NOT NULL,
    total_minor       INTEGER NOT NULL,
    PRIMARY KEY (sale_id, line_no)
) WITHOUT ROWID;

CREATE TABLE payments (
    id              TEXT PRIMARY KEY,
    sale_id         TEXT NOT NULL REFERENCES sales(id),
    method          TEXT NOT NULL CHECK (method IN ('cash', 'mpesa', 'card', 'credit')),
    amount_minor    INTEGER NOT NULL,
    tendered_minor  INTEGER,
    change_minor    INTEGER,
    reference       TEXT,
    customer_id     TEXT REFERENCES customers(id),
    CHECK (method <> 'credit' OR customer_id IS NOT NULL),
    CHECK (method <> 'mpesa' OR reference IS NOT NULL)
);

CREATE INDEX payments_sale ON payments(sale_id);
CREATE INDEX payments_reference ON payments(reference) WHERE reference IS NOT NULL;

-- Stock (append-only movements; levels are their sums) -----------------------

CREATE TABLE stock_movements (
    id              TEXT PRIMARY KEY,
    product_id      TEXT NOT NULL REFERENCES products(id),
    branch_id       TEXT NOT NULL REFERENCES branches(id),
    device_id       TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN (
                        'sale', 'return', 'restock', 'adjustment', 'stocktake',
                        'transfer_out', 'transfer_in')),
    quantity_milli  INTEGER NOT NULL CHECK (quantity_milli <> 0),
    sale_id         TEXT REFERENCES sales(id),
    user_id         TEXT,
    note            TEXT,
    created_at      INTEGER NOT NULL
);

CREATE INDEX stock_movements_product ON stock_movements(product_id, branch_id, created_at);
CREATE INDEX stock_movements_sale ON stock_movements(sale_id) WHERE sale_id IS NOT NULL;

-- SUM(quantity_milli) per product and branch, kept by the trigger below in
-- the same transaction as the movement. May go negative (flagged, allowed).
CREATE TABLE stock_levels (
    product_id      TEXT NOT NULL REFERENCES products(id),
    branch_id       TEXT NOT NULL,
    quantity_milli  INTEGER NOT NULL,
    PRIMARY KEY (product_id, branch_id)
) WITHOUT ROWID;

CREATE TRIGGER stock_movements_level AFTER INSERT ON stock_movements BEGIN
    INSERT INTO stock_levels (product_id, branch_id, quantity_milli)
    VALUES (new.product_id, new.branch_id, new.quantity_milli)
    ON CONFLICT (product_id, branch_id)
    DO UPDATE SET quantity_milli = quantity_milli + excluded.quantity_milli;
END;

-- Credit ledger (append-only; balance = sum) ---------------------------------

CREATE TABLE customer_ledger (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers(id),
    branch_id     TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('credit_sale', 'payment', 'refund', 'adjustment')),
    amount_minor  INTEGER NOT NULL CHECK (amount_minor <> 0),
    currency      TEXT NOT NULL,
    sale_id       TEXT REFERENCES sales(id),
    method        TEXT CHECK (method IS NULL OR method IN ('cash', 'mpesa', 'card')),
    reference     TEXT,
    user_id       TEXT,
    note          TEXT,
    created_at    INTEGER NOT NULL
);

CREATE INDEX customer_ledger_customer ON customer_ledger(customer_id, created_at);

-- Expenses (petty cash; mutable, branch-scoped) ------------------------------

CREATE TABLE expenses (
    id            TEXT PRIMARY KEY,
    branch_id     TEXT NOT NULL REFERENCES branches(id),
    device_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id),
    category      TEXT NOT NULL,
    description   TEXT NOT NULL,
    amount_minor  INTEGER NOT NULL CHECK (amount_minor > 0),
    currency      TEXT NOT NULL,
    paid_with     TEXT NOT NULL CHECK (paid_with IN ('cash', 'mpesa', 'card', 'bank')),
    reference     TEXT,
    spent_at      INTEGER NOT NULL,
    business_day  TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    hlc           TEXT NOT NULL,
    field_hlc     TEXT NOT NULL DEFAULT '{}',
    deleted_at    INTEGER
);

CREATE INDEX expenses_branch_day ON expenses(branch_id, business_day);

-- Append-only guards --------------------------------------------------------

CREATE TRIGGER sales_no_update BEFORE UPDATE ON sales BEGIN
    SELECT RAISE(ABORT, 'sales are append-only: record a void or refund instead');
END;
CREATE TRIGGER sales_no_delete BEFORE DELETE ON sales BEGIN
    SELECT RAISE(ABORT, 'sales are append-only: record a void or refund instead');
END;
CREATE TRIGGER sale_lines_no_update BEFORE UPDATE ON sale_lines BEGIN
    SELECT RAISE(ABORT, 'sale lines are append-only');
END;
CREATE TRIGGER sale_lines_no_delete BEFORE DELETE ON sale_lines BEGIN
    SELECT RAISE(ABORT, 'sale lines are append-only');
END;
CREATE TRIGGER payments_no_update BEFORE UPDATE ON payments BEGIN
    SELECT RAISE(ABORT, 'payments are append-only');
END;
CREATE TRIGGER payments_no_delete BEFORE DELETE ON payments BEGIN
    SELECT RAISE(ABORT, 'payments are append-only');
END;
CREATE TRIGGER stock_movements_no_update BEFORE UPDATE ON stock_movements BEGIN
    SELECT RAISE(ABORT, 'stock movements are append-only: record an adjustment instead');
END;
CREATE TRIGGER stock_movements_no_delete BEFORE DELETE ON stock_movements BEGIN
    SELECT RAISE(ABORT, 'stock movements are append-only: record an adjustment instead');
END;
CREATE TRIGGER customer_ledger_no_update BEFORE UPDATE ON customer_ledger BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only: record an adjustment instead');
END;
CREATE TRIGGER customer_ledger_no_delete BEFORE DELETE ON customer_ledger BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only: record an adjustment instead');
END;
