-- WHIZ POS local database, version 1.
--
-- Conventions (see ARCHITECTURE.md):
--   ids            TEXT UUIDv7, made where the record was created
--   money          INTEGER *_minor (minor units) + currency TEXT; never REAL
--   quantities     INTEGER *_milli (thousandths of a unit)
--   times          INTEGER *_at, milliseconds since the Unix epoch, UTC
--   business_day   TEXT YYYY-MM-DD in the branch's time zone
--   hlc            TEXT hybrid logical clock of the last change (mutable records)
--   deleted_at     soft delete (tombstone); rows are never removed
-- Append-only records (sales, lines, payments, stock movements, ledger) are
-- protected by triggers that refuse UPDATE and DELETE.

-- Branches and devices ------------------------------------------------------

CREATE TABLE branches (
    id          TEXT PRIMARY KEY,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    time_zone   TEXT NOT NULL DEFAULT 'Africa/Nairobi',
    hlc         TEXT NOT NULL,
    deleted_at  INTEGER
);

CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    branch_id   TEXT NOT NULL REFERENCES branches(id),
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('desktop', 'mobile')),
    hlc         TEXT NOT NULL,
    deleted_at  INTEGER
);

-- This till: which device it is, and its counters. Exactly one row.
CREATE TABLE device_identity (
    singleton        INTEGER PRIMARY KEY CHECK (singleton = 1),
    device_id        TEXT NOT NULL REFERENCES devices(id),
    branch_id        TEXT NOT NULL REFERENCES branches(id),
    next_op_seq      INTEGER NOT NULL DEFAULT 1 CHECK (next_op_seq >= 1),
    next_receipt_no  INTEGER NOT NULL DEFAULT 1 CHECK (next_receipt_no >= 1),
    hlc              TEXT NOT NULL,
    registered_at    INTEGER             -- set when the till adopts its Back Office identity
);

-- Business settings ---------------------------------------------------------

-- One row per setting, each with its own clock (last writer wins per field).
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

-- Users ---------------------------------------------------------------------

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('cashier', 'manager', 'owner')),
    pin_hash    TEXT NOT NULL,           -- argon2 PHC string; never a PIN
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at  INTEGER NOT NULL,
    hlc         TEXT NOT NULL,
    deleted_at  INTEGER
);

-- Failed PIN attempts on this till. Local only: never synced.
CREATE TABLE login_attempts (
    user_id       TEXT PRIMARY KEY REFERENCES users(id),
    failures      INTEGER NOT NULL,
    locked_until  INTEGER
) WITHOUT ROWID;

-- Catalog -------------------------------------------------------------------

CREATE TABLE categories (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    sort_order  INTEGER NOT NULL DEFAULT 0,
    hlc         TEXT NOT NULL,
    deleted_at  INTEGER
);

-- `pk` is an explicit rowid so the full-text index keeps pointing at the right
-- rows after VACUUM.
CREATE TABLE products (
    pk               INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
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
    deleted_at       INTEGER
);

CREATE UNIQUE INDEX products_sku ON products(sku) WHERE sku IS NOT NULL AND deleted_at IS NULL;
CREATE UNIQUE INDEX products_barcode ON products(barcode) WHERE barcode IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX products_grid ON products(category_id, name) WHERE deleted_at IS NULL;

CREATE VIRTUAL TABLE products_fts USING fts5(
    name, sku, barcode,
    content = 'products', content_rowid = 'pk',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2 3'
);

-- The full-text index holds live products only, so a search ranks and cuts
-- to the top results inside the index before touching the products table.
CREATE TRIGGER products_fts_insert AFTER INSERT ON products WHEN new.deleted_at IS NULL BEGIN
    INSERT INTO products_fts (rowid, name, sku, barcode) VALUES (new.pk, new.name, new.sku, new.barcode);
END;
CREATE TRIGGER products_fts_delete AFTER DELETE ON products WHEN old.deleted_at IS NULL BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, sku, barcode)
    VALUES ('delete', old.pk, old.name, old.sku, old.barcode);
END;
-- One trigger, so the old entry always leaves before the new one arrives.
CREATE TRIGGER products_fts_update AFTER UPDATE OF name, sku, barcode, deleted_at ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, sku, barcode)
    SELECT 'delete', old.pk, old.name, old.sku, old.barcode WHERE old.deleted_at IS NULL;
    INSERT INTO products_fts (rowid, name, sku, barcode)
    SELECT new.pk, new.name, new.sku, new.barcode WHERE new.deleted_at IS NULL;
END;

-- Credit customers ----------------------------------------------------------

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
    deleted_at          INTEGER
);

CREATE UNIQUE INDEX customers_phone ON customers(phone) WHERE phone IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX customers_name ON customers(name COLLATE NOCASE) WHERE deleted_at IS NULL;

-- Ids of customers merged into another (same person created at two branches).
CREATE TABLE customer_aliases (
    alias_id     TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL REFERENCES customers(id)
) WITHOUT ROWID;

-- Sales (append-only) -------------------------------------------------------

-- A sale, a void or a refund. Voids and refunds point at the original and carry
-- negative amounts; the original is never changed.
CREATE TABLE sales (
    id                TEXT PRIMARY KEY,
    receipt_no        TEXT NOT NULL UNIQUE,
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
    CHECK ((kind = 'sale') = (original_sale_id IS NULL)),
    CHECK (CASE kind WHEN 'sale' THEN total_minor >= 0 ELSE total_minor <= 0 END)
);

CREATE INDEX sales_day ON sales(business_day, kind);
CREATE INDEX sales_created ON sales(created_at);
CREATE INDEX sales_original ON sales(original_sale_id) WHERE original_sale_id IS NOT NULL;
CREATE UNIQUE INDEX sales_one_void ON sales(original_sale_id) WHERE kind = 'void';
CREATE INDEX sales_customer ON sales(customer_id) WHERE customer_id IS NOT NULL;

CREATE TABLE sale_lines (
    sale_id           TEXT NOT NULL REFERENCES sales(id),
    line_no           INTEGER NOT NULL CHECK (line_no >= 1),
    original_line_no  INTEGER,           -- voids and refunds: the line they return
    product_id        TEXT NOT NULL REFERENCES products(id),
    name              TEXT NOT NULL,
    sku               TEXT,
    unit_price_minor  INTEGER NOT NULL,
    quantity_milli    INTEGER NOT NULL CHECK (quantity_milli <> 0),
    gross_minor       INTEGER NOT NULL,
    discount_minor    INTEGER NOT NULL,  -- line discount + share of the cart discount
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
    reference       TEXT,                -- M-Pesa confirmation code, card reference
    customer_id     TEXT REFERENCES customers(id),
    CHECK (method <> 'credit' OR customer_id IS NOT NULL),
    CHECK (method <> 'mpesa' OR reference IS NOT NULL)
);

CREATE INDEX payments_sale ON payments(sale_id);
-- An M-Pesa confirmation code pays for one sale only.
CREATE UNIQUE INDEX payments_mpesa_code ON payments(reference) WHERE method = 'mpesa' AND amount_minor > 0;

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

-- A cache of SUM(quantity_milli) per product and branch, kept by the trigger
-- below in the same transaction as the movement (tests check it equals the sum).
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

-- Positive amounts increase what the customer owes (credit sale); negative
-- amounts reduce it (payment, refund to account).
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

-- Expenses (petty cash) -----------------------------------------------------

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
    deleted_at    INTEGER
);

CREATE INDEX expenses_day ON expenses(business_day) WHERE deleted_at IS NULL;

-- Outbox --------------------------------------------------------------------

-- Operations waiting for the Back Office's acknowledgement. `seq` is this
-- device's gapless operation sequence (from device_identity.next_op_seq),
-- written in the same transaction as the change it describes. A row leaves
-- only when the server has acknowledged it.
CREATE TABLE outbox (
    seq                INTEGER PRIMARY KEY,
    op_id              TEXT NOT NULL UNIQUE,
    kind               TEXT NOT NULL,
    entity_id          TEXT NOT NULL,
    payload            TEXT NOT NULL,    -- JSON: sync_protocol::OpBody
    hlc                TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    last_attempt_at    INTEGER,
    last_error         TEXT,
    quarantined_at     INTEGER,
    quarantine_reason  TEXT
);

CREATE INDEX outbox_entity ON outbox(entity_id);

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
