//! The migrations apply to a fresh database and give the schema we expect.

use rusqlite::Connection;

use crate::migrate::{MIGRATIONS, latest_version, migrate};

#[test]
fn all_migrations_apply_to_a_fresh_database() {
    let mut conn = Connection::open_in_memory().unwrap();
    assert_eq!(migrate(&mut conn).unwrap(), latest_version());
    let v: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v as usize, MIGRATIONS.len());
    let fk: Vec<(String, i64)> = conn
        .prepare("PRAGMA foreign_key_check")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(fk.is_empty());
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    for table in [
        "sales",
        "sale_lines",
        "payments",
        "stock_movements",
        "customer_ledger",
        "outbox",
        "products_fts",
    ] {
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "{table} missing");
    }
}

#[test]
fn migrating_twice_is_a_no_op() {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn).unwrap();
    migrate(&mut conn).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM tax_rates", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
}

#[test]
fn a_newer_database_is_refused() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.pragma_update(None, "user_version", latest_version() + 1)
        .unwrap();
    let err = migrate(&mut conn).unwrap_err();
    assert!(err.to_string().contains("newer WHIZ POS"), "{err}");
}

#[test]
fn append_only_tables_refuse_updates_and_deletes() {
    let mut kit = crate::testkit::kit();
    let p = kit.product("Soda", 5000);
    let conn = kit.store.conn();
    conn.execute(
        "INSERT INTO stock_movements (id, product_id, branch_id, device_id, kind, quantity_milli, created_at)
         SELECT 'm1', ?1, branch_id, device_id, 'restock', 1000, 0 FROM device_identity",
        [p.id.to_string()],
    )
    .unwrap();
    assert!(
        conn.execute("UPDATE stock_movements SET quantity_milli = 5", [])
            .is_err()
    );
    assert!(conn.execute("DELETE FROM stock_movements", []).is_err());
    let level: i64 = conn
        .query_row("SELECT quantity_milli FROM stock_levels", [], |r| r.get(0))
        .unwrap();
    assert_eq!(level, 1000);
}

#[test]
fn receipts_become_unique_per_device_and_sales_survive_the_rebuild() {
    // A version-3 till with a sale, its line, payment and movement, and a void.
    let mut conn = Connection::open_in_memory().unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    for (i, (_, sql)) in MIGRATIONS.iter().enumerate().take(3) {
        let tx = conn.transaction().unwrap();
        tx.execute_batch(sql).unwrap();
        tx.pragma_update(None, "user_version", i + 1).unwrap();
        tx.commit().unwrap();
    }
    conn.execute_batch(
        "INSERT INTO branches (id, code, name, hlc) VALUES ('b', 'MAIN', 'Main', 'h');
         INSERT INTO users (id, name, role, pin_hash, created_at, hlc) VALUES ('u', 'U', 'owner', 'x', 0, 'h');
         INSERT INTO products (id, name, price_minor, currency, tax_code, created_at, hlc)
             VALUES ('p', 'Soda', 5000, 'KES', 'VAT16', 0, 'h');
         INSERT INTO sales (id, receipt_no, kind, branch_id, device_id, cashier_id, currency, tax_mode,
                 subtotal_minor, discount_minor, tax_minor, total_minor, created_at, business_day)
             VALUES ('s1', 'MAIN-T1-000001', 'sale', 'b', 'd1', 'u', 'KES', 'inclusive', 5000, 0, 690, 5000, 1, '2026-03-02');
         INSERT INTO sales (id, receipt_no, kind, original_sale_id, branch_id, device_id, cashier_id, currency,
                 tax_mode, subtotal_minor, discount_minor, tax_minor, total_minor, created_at, business_day)
             VALUES ('s2', 'MAIN-T1-000002', 'void', 's1', 'b', 'd1', 'u', 'KES', 'inclusive', -5000, 0, -690, -5000, 2, '2026-03-02');
         INSERT INTO sale_lines VALUES ('s1', 1, NULL, 'p', 'Soda', NULL, 5000, 1000, 5000, 0, 5000, 'VAT16', 1600, 690, 5000);
         INSERT INTO payments (id, sale_id, method, amount_minor) VALUES ('pay', 's1', 'cash', 5000);
         INSERT INTO stock_movements (id, product_id, branch_id, device_id, kind, quantity_milli, sale_id, created_at)
             VALUES ('m', 'p', 'b', 'd1', 'sale', -1000, 's1', 1);",
    )
    .unwrap();
    let before: Vec<String> = conn
        .prepare("SELECT id || receipt_no || kind || IFNULL(original_sale_id, '-') FROM sales ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();

    assert_eq!(migrate(&mut conn).unwrap(), latest_version());
    let after: Vec<String> = conn
        .prepare("SELECT id || receipt_no || kind || IFNULL(original_sale_id, '-') FROM sales ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(after, before);
    let fk: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(fk, 0);
    let insert = "INSERT INTO sales (id, receipt_no, kind, branch_id, device_id, cashier_id, currency,
            tax_mode, subtotal_minor, discount_minor, tax_minor, total_minor, created_at, business_day)
        VALUES (?1, 'MAIN-T1-000001', 'sale', 'b', ?2, 'u', 'KES', 'inclusive', 0, 0, 0, 0, 3, '2026-03-02')";
    // Another device's MAIN-T1-000001 is welcome; the same device's twice is not.
    conn.execute(insert, ["s3", "d2"]).unwrap();
    assert!(conn.execute(insert, ["s4", "d2"]).is_err());
    // The guards, indexes and foreign keys are back.
    assert!(conn.execute("UPDATE sales SET reason = 'x'", []).is_err());
    assert!(
        conn.execute("DELETE FROM sales WHERE id = 's3'", [])
            .is_err()
    );
    assert!(
        conn.execute(
            "INSERT INTO payments (id, sale_id, method, amount_minor) VALUES ('x', 'nope', 'cash', 1)",
            []
        )
        .is_err()
    );
    let void_twice = "INSERT INTO sales (id, receipt_no, kind, original_sale_id, branch_id, device_id,
            cashier_id, currency, tax_mode, subtotal_minor, discount_minor, tax_minor, total_minor,
            created_at, business_day)
        VALUES ('s5', 'MAIN-T1-000009', 'void', 's1', 'b', 'd1', 'u', 'KES', 'inclusive', 0, 0, 0, 0, 4, '2026-03-02')";
    assert!(conn.execute(void_twice, []).is_err(), "one void per sale");
    let indexes: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sales'
             AND name IN ('sales_day', 'sales_created', 'sales_original', 'sales_one_void',
                          'sales_customer', 'sales_receipt')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 6);
}

#[test]
fn version_5_adds_device_prefs_and_discarded_ops() {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn).unwrap();
    let prefs: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'device_prefs'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(prefs, 1);
    let cols: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('outbox') WHERE name LIKE 'discarded%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(cols, ["discarded_at", "discarded_by"]);
}
