//! The Back Office schema: `migrations/backoffice/*.sql`, embedded and applied
//! in order, each in one transaction with its `user_version` bump. Append-only.

use rusqlite::Connection;

/// Every migration, in order. Version N is the N-th entry.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_core",
        include_str!("../../../migrations/backoffice/0001_core.sql"),
    ),
    (
        "0002_data",
        include_str!("../../../migrations/backoffice/0002_data.sql"),
    ),
    (
        "0003_full_sync",
        include_str!("../../../migrations/backoffice/0003_full_sync.sql"),
    ),
    (
        "0004_dashboard",
        include_str!("../../../migrations/backoffice/0004_dashboard.sql"),
    ),
    (
        "0005_transfers",
        include_str!("../../../migrations/backoffice/0005_transfers.sql"),
    ),
    (
        "0006_customer_merges",
        include_str!("../../../migrations/backoffice/0006_customer_merges.sql"),
    ),
];

/// Brings the database up to the latest version; returns it.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<u32> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, (_name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as u32 + 1)?;
        tx.commit()?;
    }
    Ok(MIGRATIONS.len() as u32)
}
