//! Reading stock transfers back with their state, the same on both sides
//! (the till's list and the Back Office's): a transfer with no receipt is
//! `sent`; received, it is `received` when every line arrived as sent, else
//! `received_with_discrepancy`, line by line.

use pos_domain::{
    BranchId, DeviceId, MovementKind, ProductId, Quantity, Timestamp, TransferId,
    TransferReceiptId, UserId,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use sync_protocol::{
    StockMovementRecord, TransferLine, TransferReceivedLine, TransferReceivedRecord,
    TransferSentRecord,
};

use crate::read::parse_text;

/// Where a transfer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferState {
    /// Stock left the sending branch; awaiting receipt.
    Sent,
    /// Received, every line as sent.
    Received,
    /// Received, and at least one line arrived in another quantity.
    ReceivedWithDiscrepancy,
}

impl TransferState {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferState::Sent => "sent",
            TransferState::Received => "received",
            TransferState::ReceivedWithDiscrepancy => "received_with_discrepancy",
        }
    }
}

/// One line: what was sent and, once received, what arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferLineView {
    pub line_no: u32,
    pub product_id: ProductId,
    pub sent: Quantity,
    pub received: Option<Quantity>,
}

impl TransferLineView {
    /// Received, and not as sent.
    pub fn is_discrepancy(&self) -> bool {
        self.received.is_some_and(|r| r != self.sent)
    }
}

/// The receipt of a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferReceiptView {
    pub device_id: DeviceId,
    pub received_by: UserId,
    pub received_at: Timestamp,
    pub note: Option<String>,
}

/// A transfer with its lines and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferView {
    pub id: TransferId,
    pub from_branch: BranchId,
    pub to_branch: BranchId,
    pub device_id: DeviceId,
    pub note: Option<String>,
    pub sent_by: UserId,
    pub sent_at: Timestamp,
    pub receipt: Option<TransferReceiptView>,
    pub lines: Vec<TransferLineView>,
}

impl TransferView {
    pub fn state(&self) -> TransferState {
        if self.receipt.is_none() {
            TransferState::Sent
        } else if self.lines.iter().any(TransferLineView::is_discrepancy) {
            TransferState::ReceivedWithDiscrepancy
        } else {
            TransferState::Received
        }
    }
}

const SELECT: &str =
    "SELECT t.id, t.from_branch_id, t.to_branch_id, t.device_id, t.note, t.sent_by,
                             t.sent_at, r.id, r.device_id, r.received_by, r.received_at, r.note
                      FROM transfers t LEFT JOIN transfer_receipts r ON r.transfer_id = t.id";

fn head(r: &Row<'_>) -> rusqlite::Result<(TransferView, Option<String>)> {
    let text = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    let receipt_id: Option<String> = r.get(7)?;
    let receipt = match &receipt_id {
        Some(_) => Some(TransferReceiptView {
            device_id: parse_text(8, &text(8)?)?,
            received_by: parse_text(9, &text(9)?)?,
            received_at: Timestamp::from_millis(r.get(10)?),
            note: r.get(11)?,
        }),
        None => None,
    };
    Ok((
        TransferView {
            id: parse_text(0, &text(0)?)?,
            from_branch: parse_text(1, &text(1)?)?,
            to_branch: parse_text(2, &text(2)?)?,
            device_id: parse_text(3, &text(3)?)?,
            note: r.get(4)?,
            sent_by: parse_text(5, &text(5)?)?,
            sent_at: Timestamp::from_millis(r.get(6)?),
            receipt,
            lines: Vec::new(),
        },
        receipt_id,
    ))
}

fn with_lines(
    conn: &Connection,
    (mut t, receipt_id): (TransferView, Option<String>),
) -> rusqlite::Result<TransferView> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.line_no, l.product_id, l.quantity_milli, rl.quantity_milli
         FROM transfer_lines l
         LEFT JOIN transfer_receipt_lines rl ON rl.receipt_id = ?2 AND rl.line_no = l.line_no
         WHERE l.transfer_id = ?1 ORDER BY l.line_no",
    )?;
    t.lines = stmt
        .query_map(params![t.id.to_string(), receipt_id], |r| {
            let sent: i64 = r.get(2)?;
            let received: Option<i64> = r.get(3)?;
            Ok(TransferLineView {
                line_no: r.get(0)?,
                product_id: parse_text(1, &r.get::<_, String>(1)?)?,
                sent: Quantity::from_milli(sent),
                received: received.map(Quantity::from_milli),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(t)
}

/// One transfer, or `None`.
pub fn transfer(conn: &Connection, id: TransferId) -> rusqlite::Result<Option<TransferView>> {
    let head = conn
        .prepare_cached(&format!("{SELECT} WHERE t.id = ?1"))?
        .query_row([id.to_string()], head)
        .optional()?;
    head.map(|h| with_lines(conn, h)).transpose()
}

/// Whose transfers a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Every branch's (the Back Office).
    Any,
    /// From or to this branch.
    Either(BranchId),
    /// Sent by this branch.
    From(BranchId),
    /// Sent to this branch.
    To(BranchId),
}

/// Which states a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    Any,
    /// Sent, not received yet.
    Open,
    /// In exactly this state.
    Is(TransferState),
}

/// The transfers on `side` in `state`, newest first, at most `limit`. The
/// filters are in the SQL, before the limit, so an old transfer still in
/// transit is listed however many came after it; a branch's transfers are
/// found through the `transfers_from` / `transfers_to` indexes, and lines are
/// read only for the rows returned.
pub fn list(
    conn: &Connection,
    side: Side,
    state: StateFilter,
    limit: u32,
) -> rusqlite::Result<Vec<TransferView>> {
    let (side_sql, branch) = match side {
        Side::Any => ("1", None),
        Side::Either(b) => (
            "t.id IN (SELECT id FROM transfers WHERE from_branch_id = ?1
                      UNION ALL SELECT id FROM transfers WHERE to_branch_id = ?1)",
            Some(b),
        ),
        Side::From(b) => ("t.from_branch_id = ?1", Some(b)),
        Side::To(b) => ("t.to_branch_id = ?1", Some(b)),
    };
    // A line differs when its receipt line is missing or of another quantity.
    const DIFFERS: &str = "EXISTS (SELECT 1 FROM transfer_lines l
                   LEFT JOIN transfer_receipt_lines rl ON rl.receipt_id = r.id AND rl.line_no = l.line_no
                   WHERE l.transfer_id = t.id AND (rl.quantity_milli IS NULL OR rl.quantity_milli <> l.quantity_milli))";
    let state_sql = match state {
        StateFilter::Any => "1".to_string(),
        StateFilter::Open | StateFilter::Is(TransferState::Sent) => "r.id IS NULL".to_string(),
        StateFilter::Is(TransferState::Received) => format!("r.id IS NOT NULL AND NOT {DIFFERS}"),
        StateFilter::Is(TransferState::ReceivedWithDiscrepancy) => {
            format!("r.id IS NOT NULL AND {DIFFERS}")
        }
    };
    let heads = conn
        .prepare_cached(&format!(
            "{SELECT} WHERE ({side_sql}) AND ({state_sql})
             ORDER BY t.sent_at DESC, t.id DESC LIMIT ?2"
        ))?
        .query_map(params![branch.map(|b| b.to_string()), limit], head)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    heads.into_iter().map(|h| with_lines(conn, h)).collect()
}

/// The transfers from or to `branch` (every transfer when `None`), newest
/// first, at most `limit`.
pub fn transfers(
    conn: &Connection,
    branch: Option<BranchId>,
    limit: u32,
) -> rusqlite::Result<Vec<TransferView>> {
    let side = branch.map_or(Side::Any, Side::Either);
    list(conn, side, StateFilter::Any, limit)
}

/// A transfer as its `transfer_sent` op carried it, for Full Cloud
/// Synchronization: the head, the lines and the `transfer_out` movements.
/// Movements carry no transfer id; the ones of a transfer are those its
/// sender wrote in the same transaction: of the sending branch and device,
/// at `sent_at`, one per line's product (each product is on one line). A
/// line whose movement is not here is left without one, and the Back Office
/// refuses the record, saying which line: nothing is guessed.
pub fn sent_record(
    conn: &Connection,
    id: TransferId,
) -> rusqlite::Result<Option<TransferSentRecord>> {
    let Some(t) = transfer(conn, id)? else {
        return Ok(None);
    };
    let mut record = TransferSentRecord {
        id: t.id,
        from_branch: t.from_branch,
        to_branch: t.to_branch,
        device_id: t.device_id,
        lines: Vec::with_capacity(t.lines.len()),
        note: t.note.clone(),
        sent_by: t.sent_by,
        sent_at: t.sent_at,
        movements: Vec::with_capacity(t.lines.len()),
    };
    for l in &t.lines {
        record.lines.push(TransferLine {
            product_id: l.product_id,
            quantity: l.sent,
        });
        let at = (t.from_branch, t.device_id, t.sent_at);
        record.movements.extend(movement_of(
            conn,
            MovementKind::TransferOut,
            at,
            l.product_id,
        )?);
    }
    Ok(Some(record))
}

/// A receipt as its `transfer_received` op carried it (see [`sent_record`]):
/// its lines in the transfer's order and a `transfer_in` movement for each
/// line that arrived.
pub fn received_record(
    conn: &Connection,
    id: TransferReceiptId,
) -> rusqlite::Result<Option<TransferReceivedRecord>> {
    let transfer_id: Option<String> = conn
        .prepare_cached("SELECT transfer_id FROM transfer_receipts WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    let Some(transfer_id) = transfer_id else {
        return Ok(None);
    };
    let Some(t) = transfer(conn, parse_text(0, &transfer_id)?)? else {
        return Ok(None);
    };
    let Some(receipt) = &t.receipt else {
        return Ok(None);
    };
    let mut record = TransferReceivedRecord {
        id,
        transfer_id: t.id,
        branch_id: t.to_branch,
        device_id: receipt.device_id,
        lines: Vec::with_capacity(t.lines.len()),
        note: receipt.note.clone(),
        received_by: receipt.received_by,
        received_at: receipt.received_at,
        movements: Vec::new(),
    };
    for l in &t.lines {
        let quantity_received = l.received.unwrap_or(Quantity::ZERO);
        record.lines.push(TransferReceivedLine {
            product_id: l.product_id,
            quantity_received,
        });
        if quantity_received != Quantity::ZERO {
            let at = (t.to_branch, receipt.device_id, receipt.received_at);
            record.movements.extend(movement_of(
                conn,
                MovementKind::TransferIn,
                at,
                l.product_id,
            )?);
        }
    }
    Ok(Some(record))
}

/// The `kind` movement of `product` written by `device` of `branch` at `at`.
fn movement_of(
    conn: &Connection,
    kind: MovementKind,
    (branch, device, at): (BranchId, DeviceId, Timestamp),
    product: ProductId,
) -> rusqlite::Result<Option<StockMovementRecord>> {
    conn.prepare_cached(
        "SELECT id, quantity_milli, user_id, note FROM stock_movements
         WHERE kind = ?1 AND branch_id = ?2 AND device_id = ?3 AND created_at = ?4
           AND product_id = ?5 AND sale_id IS NULL
         ORDER BY id LIMIT 1",
    )?
    .query_row(
        params![
            kind.as_str(),
            branch.to_string(),
            device.to_string(),
            at.as_millis(),
            product.to_string()
        ],
        |r| {
            let user: Option<String> = r.get(2)?;
            Ok(StockMovementRecord {
                id: parse_text(0, &r.get::<_, String>(0)?)?,
                product_id: product,
                branch_id: branch,
                device_id: device,
                kind,
                quantity: Quantity::from_milli(r.get(1)?),
                sale_id: None,
                user_id: user.map(|u| parse_text(2, &u)).transpose()?,
                note: r.get(3)?,
                created_at: at,
            })
        },
    )
    .optional()
}
