//! Schema migrations: the files in `migrations/pos/`, embedded in the binary
//! and applied in order. They are append-only: a released migration is never
//! edited; a change is a new file. `PRAGMA user_version` records how many have
//! been applied.

use rusqlite::Connection;

use crate::{Result, StoreError};

/// Every migration, in order. Version N is the N-th entry.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../../migrations/pos/0001_init.sql"),
    ),
    (
        "0002_report_indexes",
        include_str!("../../../migrations/pos/0002_report_indexes.sql"),
    ),
    (
        "0003_sync_state",
        include_str!("../../../migrations/pos/0003_sync_state.sql"),
    ),
    (
        "0004_receipts_per_device",
        include_str!("../../../migrations/pos/0004_receipts_per_device.sql"),
    ),
    (
        "0005_device_prefs",
        include_str!("../../../migrations/pos/0005_device_prefs.sql"),
    ),
    (
        "0006_transfers",
        include_str!("../../../migrations/pos/0006_transfers.sql"),
    ),
];

/// The schema version this build writes.
pub fn latest_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// Brings the database up to [`latest_version`]. Each migration runs in its own
/// transaction together with its version bump, so a crash mid-upgrade leaves
/// the database at the previous version, never half-way.
pub fn migrate(conn: &mut Connection) -> Result<u32> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > latest_version() {
        return Err(StoreError::Invalid(format!(
            "this database was written by a newer WHIZ POS (schema {current}, this app knows {}); update the app",
            latest_version()
        )));
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as u32 + 1;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)
            .map_err(|source| StoreError::Migration { version, source })?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(latest_version())
}
