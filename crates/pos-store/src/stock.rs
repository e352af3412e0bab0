//! Stock as movements: restock, adjustments, stocktakes, and the levels and
//! low-stock list they add up to. Never an overwritten number (see
//! `pos_domain::stock`). Levels are per branch.

use rusqlite::params;
use sync_protocol::StockMovementRecord;

use crate::{Result, Tx};

/// Writes one movement row (the `stock_levels` trigger adds it to the level).
/// Queues nothing: the caller queues the op that carries it — a
/// `StockMoved` op, or the `SaleRecorded` op for a sale's movements.
pub(crate) fn insert_movement(tx: &Tx<'_>, m: &StockMovementRecord) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO stock_movements (id, product_id, branch_id, device_id, kind, quantity_milli,
                                      sale_id, user_id, note, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        m.id.to_string(),
        m.product_id.to_string(),
        m.branch_id.to_string(),
        m.device_id.to_string(),
        m.kind.as_str(),
        m.quantity.milli(),
        m.sale_id.map(|s| s.to_string()),
        m.user_id.map(|u| u.to_string()),
        m.note,
        m.created_at.as_millis(),
    ])?;
    Ok(())
}
