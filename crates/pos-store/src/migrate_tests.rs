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
