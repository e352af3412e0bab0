//! The till (`migrations/pos/`) and the Back Office (`migrations/backoffice/`)
//! keep append-only records in tables of the same shape. This crate is the one
//! place that writes a record's rows, so the two can never drift apart:
//! sale lines, payments, stock movements, credit-ledger entries and stock
//! transfers with their receipts.
//!
//! The sale's own row is not here: the server's `sales` table also records
//! when it received the sale.
//!
//! [`read`] is the other direction for mutable records: one reader of a
//! product's, customer's, … row, so both sides compute the same state (and the
//! same Full Cloud Synchronization digest) from the same values.

pub mod history;
pub mod read;
pub mod transfers;

use rusqlite::{Connection, params};
use sync_protocol::{
    LedgerEntryRecord, SaleRecord, StockMovementRecord, TransferReceivedRecord, TransferSentRecord,
};

/// Writes a sale's lines and payments (not its head row, movements or ledger entry).
pub fn insert_lines_and_payments(conn: &Connection, s: &SaleRecord) -> rusqlite::Result<()> {
    let mut lines = conn.prepare_cached(
        "INSERT INTO sale_lines (sale_id, line_no, original_line_no, product_id, name, sku, unit_price_minor,
                                 quantity_milli, gross_minor, discount_minor, net_minor, tax_code,
                                 tax_basis_points, tax_minor, total_minor)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?;
    for l in &s.lines {
        lines.execute(params![
            s.id.to_string(),
            l.line_no,
            l.original_line_no,
            l.product_id.to_string(),
            l.name,
            l.sku,
            l.unit_price.minor(),
            l.quantity.milli(),
            l.gross.minor(),
            l.discount.minor(),
            l.net.minor(),
            l.tax_code.as_str(),
            l.tax_basis_points,
            l.tax.minor(),
            l.total.minor(),
        ])?;
    }
    let mut pays = conn.prepare_cached(
        "INSERT INTO payments (id, sale_id, method, amount_minor, tendered_minor, change_minor, reference, customer_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for p in &s.payments {
        pays.execute(params![
            p.id.to_string(),
            s.id.to_string(),
            p.method.as_str(),
            p.amount.minor(),
            p.tendered.map(|m| m.minor()),
            p.change.map(|m| m.minor()),
            p.reference,
            p.customer_id.map(|c| c.to_string()),
        ])?;
    }
    Ok(())
}

/// Writes one stock movement (the `stock_levels` trigger adds it to the level).
pub fn insert_movement(conn: &Connection, m: &StockMovementRecord) -> rusqlite::Result<()> {
    conn.prepare_cached(
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

/// Writes one credit-ledger entry.
pub fn insert_ledger_entry(conn: &Connection, e: &LedgerEntryRecord) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO customer_ledger (id, customer_id, branch_id, device_id, kind, amount_minor, currency,
                                      sale_id, method, reference, user_id, note, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        e.id.to_string(),
        e.customer_id.to_string(),
        e.branch_id.to_string(),
        e.device_id.to_string(),
        e.kind.as_str(),
        e.amount.minor(),
        e.amount.currency().code(),
        e.sale_id.map(|s| s.to_string()),
        e.method.map(|m| m.as_str()),
        e.reference,
        e.user_id.map(|u| u.to_string()),
        e.note,
        e.created_at.as_millis(),
    ])?;
    Ok(())
}

/// Writes a sent transfer's head row and lines (not its movements).
pub fn insert_transfer_sent(conn: &Connection, t: &TransferSentRecord) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO transfers (id, from_branch_id, to_branch_id, device_id, note, sent_by, sent_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        t.id.to_string(),
        t.from_branch.to_string(),
        t.to_branch.to_string(),
        t.device_id.to_string(),
        t.note,
        t.sent_by.to_string(),
        t.sent_at.as_millis(),
    ])?;
    let mut lines = conn.prepare_cached(
        "INSERT INTO transfer_lines (transfer_id, line_no, product_id, quantity_milli)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, l) in t.lines.iter().enumerate() {
        lines.execute(params![
            t.id.to_string(),
            i as i64 + 1,
            l.product_id.to_string(),
            l.quantity.milli(),
        ])?;
    }
    Ok(())
}

/// Writes a transfer's receipt and its lines (not its movements). The
/// receipt's line N is the transfer's line N.
pub fn insert_transfer_received(
    conn: &Connection,
    r: &TransferReceivedRecord,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO transfer_receipts (id, transfer_id, branch_id, device_id, note, received_by, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        r.id.to_string(),
        r.transfer_id.to_string(),
        r.branch_id.to_string(),
        r.device_id.to_string(),
        r.note,
        r.received_by.to_string(),
        r.received_at.as_millis(),
    ])?;
    let mut lines = conn.prepare_cached(
        "INSERT INTO transfer_receipt_lines (receipt_id, line_no, product_id, quantity_milli)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, l) in r.lines.iter().enumerate() {
        lines.execute(params![
            r.id.to_string(),
            i as i64 + 1,
            l.product_id.to_string(),
            l.quantity_received.milli(),
        ])?;
    }
    Ok(())
}
