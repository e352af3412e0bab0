//! Reading stock transfers back with their state, the same on both sides
//! (the till's list and the Back Office's): a transfer with no receipt is
//! `sent`; received, it is `received` when every line arrived as sent, else
//! `received_with_discrepancy`, line by line.

use pos_domain::{BranchId, DeviceId, ProductId, Quantity, Timestamp, TransferId, UserId};
use rusqlite::{Connection, OptionalExtension, Row, params};

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

/// The transfers from or to `branch` (every transfer when `None`), newest
/// first, at most `limit`.
pub fn transfers(
    conn: &Connection,
    branch: Option<BranchId>,
    limit: u32,
) -> rusqlite::Result<Vec<TransferView>> {
    let heads = conn
        .prepare_cached(&format!(
            "{SELECT} WHERE ?1 IS NULL OR t.from_branch_id = ?1 OR t.to_branch_id = ?1
             ORDER BY t.sent_at DESC, t.id DESC LIMIT ?2"
        ))?
        .query_map(params![branch.map(|b| b.to_string()), limit], head)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    heads.into_iter().map(|h| with_lines(conn, h)).collect()
}
