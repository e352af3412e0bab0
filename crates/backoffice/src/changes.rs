//! The change feed: every state change devices must learn about is appended
//! here, in the same transaction as the change itself, and pulled in `seq`
//! order. `seq` is assigned at insert; SQLite has one writer at a time, so seq
//! order is commit order.

use pos_domain::{BranchId, DeviceId, Timestamp};
use rusqlite::{Connection, params};
use sync_protocol::{Change, ChangeBody};

/// Appends a change. `branch`: `None` for records every branch shares, or the
/// branch whose devices alone should pull it. `origin`: the device whose op
/// caused it (it still pulls it; applying its own state back is harmless).
pub fn record_change(
    conn: &Connection,
    body: &ChangeBody,
    branch: Option<BranchId>,
    origin: Option<DeviceId>,
    now: Timestamp,
) -> rusqlite::Result<u64> {
    let (entity, id) = describe(body);
    let json = serde_json::to_string(body)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    conn.prepare_cached(
        "INSERT INTO changes (entity, entity_id, branch_id, origin, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        entity,
        id,
        branch.map(|b| b.to_string()),
        origin.map(|d| d.to_string()),
        json,
        now.as_millis()
    ])?;
    Ok(conn.last_insert_rowid() as u64)
}

/// Up to `limit` changes after `after` that a device of `branch` may see.
pub fn changes_after(
    conn: &Connection,
    branch: BranchId,
    after: u64,
    limit: u32,
) -> rusqlite::Result<Vec<Change>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, body FROM changes
         WHERE seq > ?1 AND (branch_id IS NULL OR branch_id = ?2)
         ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![after as i64, branch.to_string(), limit], |r| {
        let seq: i64 = r.get(0)?;
        let body: String = r.get(1)?;
        let body: ChangeBody = serde_json::from_str(&body).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
        })?;
        Ok(Change {
            seq: seq as u64,
            body,
        })
    })?;
    rows.collect()
}

/// Like [`changes_after`], with each body as the JSON text it is stored as
/// (written by [`record_change`] from a `ChangeBody`): a pull page is sent
/// without parsing and re-serializing every change.
pub fn changes_after_json(
    conn: &Connection,
    branch: BranchId,
    after: u64,
    limit: u32,
) -> rusqlite::Result<Vec<(u64, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, body FROM changes
         WHERE seq > ?1 AND (branch_id IS NULL OR branch_id = ?2)
         ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![after as i64, branch.to_string(), limit], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
    })?;
    rows.collect()
}

/// The entity name and id of a change, for the `changes` columns.
fn describe(body: &ChangeBody) -> (&'static str, String) {
    match body {
        ChangeBody::Branch(b) => ("branch", b.id.to_string()),
        ChangeBody::Product(p) => ("product", p.id.to_string()),
        ChangeBody::Category(c) => ("category", c.id.to_string()),
        ChangeBody::Customer(c) => ("customer", c.id.to_string()),
        ChangeBody::CustomerAlias { alias, .. } => ("customer_alias", alias.to_string()),
        // The same entity as the alias it undoes: a held alias change is
        // superseded by its undoing.
        ChangeBody::CustomerUnaliased { alias } => ("customer_alias", alias.to_string()),
        ChangeBody::User(u) => ("user", u.id.to_string()),
        ChangeBody::Settings(_) => ("settings", "settings".to_string()),
        ChangeBody::TaxRate(t) => ("tax_rate", t.code.to_string()),
        ChangeBody::Expense(e) => ("expense", e.id.to_string()),
        ChangeBody::StockMoved(m) => ("stock_movement", m.id.to_string()),
        ChangeBody::LedgerEntry(e) => ("ledger_entry", e.id.to_string()),
        ChangeBody::Sale(s) => ("sale", s.id.to_string()),
        ChangeBody::TransferSent(t) => ("transfer", t.id.to_string()),
        ChangeBody::TransferReceived(r) => ("transfer_receipt", r.id.to_string()),
    }
}
