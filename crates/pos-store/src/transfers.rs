//! Stock transfers between branches (DESIGN.md invariants 6 and 7: stock is
//! movements, and belongs to its branch).
//!
//! A transfer is **sent** at the sending branch ([`Store::send_transfer`]):
//! the goods leave at once, as one `transfer_out` movement per line (stock
//! may go negative), and a `TransferSent` op is queued in the same
//! transaction. It is **received** once at the receiving branch
//! ([`Store::receive_transfer`]) with the quantities counted there: one
//! `transfer_in` movement per line that arrived, and a `TransferReceived`
//! op. A line received in another quantity than sent is a **discrepancy**,
//! flagged at both ends ([`TransferState::ReceivedWithDiscrepancy`]); the
//! stock at each end is what really moved (A −10, B +9), so the difference is
//! visible and nothing is silently evened out.
//!
//! The Back Office records each transfer and its receipt for **both**
//! branches' tills; each copy carries the movements of its own branch only.
//! [`apply_pulled_sent`] and [`apply_pulled_received`] are the replica's side:
//! a till of the receiving branch learns of a transfer to receive, and the
//! sending branch's tills learn it was received. Both records are
//! append-only (tables in `migrations/pos/0006_transfers.sql`, rows written
//! by `record-sql`, read back with their state by
//! `record_sql::transfers`, the same reader as the Back Office's).

use pos_domain::{
    BranchId, MovementId, MovementKind, Permission, ProductId, Quantity, TransferId,
    TransferReceiptId,
};
use rusqlite::Connection;
use sync_protocol::{
    OpBody, StockMovementRecord, TransferLine, TransferReceivedLine, TransferReceivedRecord,
    TransferSentRecord,
};

pub use record_sql::transfers::{
    TransferLineView, TransferReceiptView, TransferState, TransferView as Transfer,
};

use crate::replica::Applied;
use crate::stock::{MAX_ROWS, check_bound, insert_movement, live_product, optional_text};
use crate::{Actor, Result, Store, StoreError, Tx};

/// The most lines one transfer may have.
pub const MAX_TRANSFER_LINES: usize = 500;

/// Which transfers [`Store::transfers`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferFilter {
    /// Every transfer from or to this branch.
    All,
    /// Transfers to this branch not received yet: what to receive.
    ToReceive,
    /// Transfers from this branch not received yet.
    InTransit,
}

impl Store {
    /// Sends `lines` (product, positive quantity; each product once) from
    /// this branch to `to_branch`, a branch this till knows (pulled from the
    /// Back Office) other than its own. The stock leaves now (negative stock
    /// is allowed). Managers and owners only. Returns the transfer.
    pub fn send_transfer(
        &mut self,
        actor: &Actor,
        to_branch: BranchId,
        lines: &[(ProductId, Quantity)],
        note: Option<String>,
    ) -> Result<Transfer> {
        actor.require(Permission::ManageCatalog, "send stock to another branch")?;
        if lines.is_empty() {
            return Err(StoreError::Invalid(
                "the transfer has no lines; add at least one product to send".into(),
            ));
        }
        if lines.len() > MAX_TRANSFER_LINES {
            return Err(StoreError::Invalid(format!(
                "a transfer has at most {MAX_TRANSFER_LINES} lines; split it in two"
            )));
        }
        for (i, (product, quantity)) in lines.iter().enumerate() {
            let line = i + 1;
            if *quantity <= Quantity::ZERO {
                return Err(StoreError::Invalid(format!(
                    "line {line}: send a quantity above zero (got {quantity})"
                )));
            }
            check_bound(*quantity, "transfer")?;
            if let Some(first) = lines[..i].iter().position(|(p, _)| p == product) {
                return Err(StoreError::Invalid(format!(
                    "line {line} sends the same product as line {}; send each product once",
                    first + 1
                )));
            }
        }
        let note = optional_text("note", note.as_deref())?;
        let id = self.write(|tx| {
            let from = tx.identity().branch_id;
            if to_branch == from {
                return Err(StoreError::Invalid(
                    "a transfer goes to another branch; pick the branch receiving the stock".into(),
                ));
            }
            let known: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM branches WHERE id = ?1 AND deleted_at IS NULL)",
                [to_branch.to_string()],
                |r| r.get(0),
            )?;
            if !known {
                return Err(StoreError::NotFound {
                    what: "branch",
                    id: to_branch.to_string(),
                });
            }
            let (device, now) = (tx.identity().device_id, tx.now());
            let mut record = TransferSentRecord {
                id: TransferId::new(),
                from_branch: from,
                to_branch,
                device_id: device,
                lines: Vec::with_capacity(lines.len()),
                note: note.clone(),
                sent_by: actor.user_id,
                sent_at: now,
                movements: Vec::with_capacity(lines.len()),
            };
            for &(product, quantity) in lines {
                let p = live_product(tx, product)?;
                p.stock
                    .checked_add(quantity.negated())
                    .ok_or_else(|| too_far(&p.name))?;
                record.lines.push(TransferLine {
                    product_id: product,
                    quantity,
                });
                record.movements.push(StockMovementRecord {
                    id: MovementId::new(),
                    product_id: product,
                    branch_id: from,
                    device_id: device,
                    kind: MovementKind::TransferOut,
                    quantity: quantity.negated(),
                    sale_id: None,
                    user_id: Some(actor.user_id),
                    note: note.clone(),
                    created_at: now,
                });
            }
            record_sql::insert_transfer_sent(tx, &record)?;
            for m in &record.movements {
                insert_movement(tx, m)?;
            }
            let id = record.id;
            tx.enqueue(OpBody::TransferSent(record))?;
            Ok(id)
        })?;
        self.transfer(id)
    }

    /// Receives transfer `id` at this branch, its destination, once:
    /// `received` holds the quantity counted for each line, in the
    /// transfer's line order (zero for a line that did not arrive). What
    /// arrived enters this branch's stock now; a line received in another
    /// quantity than sent is flagged as a discrepancy. Managers and owners
    /// only. Returns the transfer with its state.
    pub fn receive_transfer(
        &mut self,
        actor: &Actor,
        id: TransferId,
        received: &[Quantity],
        note: Option<String>,
    ) -> Result<Transfer> {
        actor.require(
            Permission::ManageCatalog,
            "receive stock from another branch",
        )?;
        let note = optional_text("note", note.as_deref())?;
        for (i, q) in received.iter().enumerate() {
            if q.is_negative() {
                return Err(StoreError::Invalid(format!(
                    "line {}: a received quantity is zero or more (got {q})",
                    i + 1
                )));
            }
            check_bound(*q, "transfer")?;
        }
        self.write(|tx| {
            let transfer = record_sql::transfers::transfer(tx, id)?.ok_or_else(|| {
                StoreError::NotFound {
                    what: "transfer",
                    id: id.to_string(),
                }
            })?;
            let here = tx.identity().branch_id;
            if transfer.to_branch != here {
                return Err(StoreError::Invalid(format!(
                    "transfer {id} goes to another branch; only the branch receiving it can record its receipt"
                )));
            }
            if transfer.receipt.is_some() {
                return Err(StoreError::Invalid(format!(
                    "transfer {id} has been received already; record a stock adjustment to correct it"
                )));
            }
            if received.len() != transfer.lines.len() {
                return Err(StoreError::Invalid(format!(
                    "the transfer has {} lines but {} quantities were given; enter one per line (0 for what did not arrive)",
                    transfer.lines.len(),
                    received.len()
                )));
            }
            let (device, now) = (tx.identity().device_id, tx.now());
            let mut record = TransferReceivedRecord {
                id: TransferReceiptId::new(),
                transfer_id: id,
                branch_id: here,
                device_id: device,
                lines: Vec::with_capacity(received.len()),
                note: note.clone(),
                received_by: actor.user_id,
                received_at: now,
                movements: Vec::new(),
            };
            for (line, &quantity) in transfer.lines.iter().zip(received) {
                record.lines.push(TransferReceivedLine {
                    product_id: line.product_id,
                    quantity_received: quantity,
                });
                if quantity == Quantity::ZERO {
                    continue;
                }
                record.movements.push(StockMovementRecord {
                    id: MovementId::new(),
                    product_id: line.product_id,
                    branch_id: here,
                    device_id: device,
                    kind: MovementKind::TransferIn,
                    quantity,
                    sale_id: None,
                    user_id: Some(actor.user_id),
                    note: note.clone(),
                    created_at: now,
                });
            }
            record_sql::insert_transfer_received(tx, &record)?;
            for m in &record.movements {
                insert_movement(tx, m)?;
            }
            tx.enqueue(OpBody::TransferReceived(record))?;
            Ok(())
        })?;
        self.transfer(id)
    }

    /// One transfer from or to this branch (or any this till holds).
    pub fn transfer(&self, id: TransferId) -> Result<Transfer> {
        record_sql::transfers::transfer(self.conn(), id)?.ok_or_else(|| StoreError::NotFound {
            what: "transfer",
            id: id.to_string(),
        })
    }

    /// Transfers from or to this branch, newest first, at most `limit`
    /// (capped at [`MAX_ROWS`]); see [`TransferFilter`].
    pub fn transfers(&self, filter: TransferFilter, limit: u32) -> Result<Vec<Transfer>> {
        use record_sql::transfers::{Side, StateFilter, list};
        let here = self.identity().branch_id;
        let (side, state) = match filter {
            TransferFilter::All => (Side::Either(here), StateFilter::Any),
            TransferFilter::ToReceive => (Side::To(here), StateFilter::Open),
            TransferFilter::InTransit => (Side::From(here), StateFilter::Open),
        };
        Ok(list(self.conn(), side, state, limit.min(MAX_ROWS))?)
    }
}

fn too_far(name: &str) -> StoreError {
    StoreError::Invalid(format!(
        "the stock of '{name}' would go beyond what the till can count; check the quantity"
    ))
}

fn exists(conn: &Connection, table: &str, id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?1)"
        ))?
        .query_row([id], |r| r.get(0))?)
}

/// Inserts whichever of `movements` this till does not have yet; returns
/// whether it wrote any.
fn insert_missing(tx: &Tx<'_>, movements: &[StockMovementRecord]) -> Result<bool> {
    let mut wrote = false;
    for m in movements {
        if !exists(tx, "stock_movements", &m.id.to_string())? {
            insert_movement(tx, m)?;
            wrote = true;
        }
    }
    Ok(wrote)
}

/// A pulled transfer: inserted once by id, with whichever of its movements
/// (this branch's copy carries them) are not here yet.
pub(crate) fn apply_pulled_sent(tx: &Tx<'_>, t: &TransferSentRecord) -> Result<Applied> {
    let mut wrote = false;
    if !exists(tx, "transfers", &t.id.to_string())? {
        record_sql::insert_transfer_sent(tx, t)?;
        wrote = true;
    }
    wrote |= insert_missing(tx, &t.movements)?;
    Ok(if wrote {
        Applied::Written
    } else {
        Applied::AlreadyPresent
    })
}

/// A pulled receipt: inserted once by id. Its transfer must be here (a
/// receipt pulled first is held until the transfer arrives); a receipt of a
/// transfer this till received itself under another id (two tills of the
/// branch both received it offline: the server kept the first) is refused
/// by the one-receipt rule and held, and the other till's op is quarantined.
pub(crate) fn apply_pulled_received(tx: &Tx<'_>, r: &TransferReceivedRecord) -> Result<Applied> {
    let mut wrote = false;
    if !exists(tx, "transfer_receipts", &r.id.to_string())? {
        record_sql::insert_transfer_received(tx, r)?;
        wrote = true;
    }
    wrote |= insert_missing(tx, &r.movements)?;
    Ok(if wrote {
        Applied::Written
    } else {
        Applied::AlreadyPresent
    })
}

#[cfg(test)]
mod tests {
    use pos_domain::{DeviceId, Hlc, Role, TimeZone};
    use record_sql::read;
    use sync_protocol::{BranchState, ChangeBody, Epoch};
    use uuid::Uuid;

    use super::*;
    use crate::identity::RegisteredIdentity;
    use crate::testkit::{Kit, T0, kit};

    const EPOCH: Epoch = Epoch(Uuid::from_u128(0x0193_b1c2_0000_7000_8000_0000_0000_0002));

    fn units(n: i64) -> Quantity {
        Quantity::units(n)
    }

    fn branch(id: BranchId, code: &str) -> ChangeBody {
        ChangeBody::Branch(BranchState {
            id,
            code: code.into(),
            name: format!("{code} branch"),
            time_zone: TimeZone::NAIROBI,
            hlc: Hlc::new(T0.as_millis() as u64, 0, 1),
            deleted_at: None,
        })
    }

    /// A till registered as a device of `branch`.
    fn till(branch: BranchId, code: &str) -> Kit {
        let mut k = kit();
        k.store
            .adopt_identity(&RegisteredIdentity {
                device_id: DeviceId::new(),
                device_code: "T1".into(),
                device_name: "Till 1".into(),
                branch_id: branch,
                branch_code: code.into(),
                branch_name: format!("{code} branch"),
                time_zone: TimeZone::NAIROBI,
            })
            .unwrap();
        k
    }

    /// Applies `bodies` as the next pulled page.
    fn pull(k: &mut Kit, bodies: Vec<ChangeBody>) -> crate::replica::ApplyStats {
        let first = k.store.sync_cursor().unwrap().map_or(1, |c| c.seq + 1);
        k.store
            .apply_pulled(&crate::testkit::page(EPOCH, first, bodies))
            .unwrap()
    }

    fn level(k: &Kit, product: ProductId) -> Quantity {
        k.store.stock_level(product).unwrap()
    }

    /// Two tills of two branches that know each other and a product (20 at A).
    fn two_branches() -> (Kit, Kit, ProductId) {
        let (a_branch, b_branch) = (BranchId::new(), BranchId::new());
        let mut a = till(a_branch, "WEST");
        let mut b = till(b_branch, "CBD");
        let soda = a.product("Soda", 80_00).id;
        let owner = a.owner.clone();
        a.store.restock(&owner, soda, units(20), None).unwrap();
        let state = read::by_id(a.store.conn(), &read::PRODUCT, &soda.to_string()).unwrap();
        pull(&mut a, vec![branch(b_branch, "CBD")]);
        pull(
            &mut b,
            vec![branch(a_branch, "WEST"), ChangeBody::Product(state)],
        );
        (a, b, soda)
    }

    fn queued(k: &Kit) -> OpBody {
        k.last_op()
    }

    #[test]
    fn ten_sent_nine_received_leaves_a_minus_ten_b_plus_nine_and_a_discrepancy() {
        let (mut a, mut b, soda) = two_branches();
        let (a_owner, b_owner) = (a.owner.clone(), b.owner.clone());
        let b_branch = b.store.identity().branch_id;

        let sent = a
            .store
            .send_transfer(
                &a_owner,
                b_branch,
                &[(soda, units(10))],
                Some("top-up".into()),
            )
            .unwrap();
        assert_eq!(sent.state(), TransferState::Sent);
        assert_eq!(level(&a, soda), units(10), "20 − 10");
        let OpBody::TransferSent(op) = queued(&a) else {
            panic!("expected a transfer_sent op")
        };
        assert_eq!(op.id, sent.id);
        assert_eq!(op.movements.len(), 1);
        assert_eq!(op.movements[0].kind, MovementKind::TransferOut);
        assert_eq!(op.movements[0].quantity, units(-10));
        assert_eq!(
            a.store.transfers(TransferFilter::InTransit, 10).unwrap(),
            vec![sent.clone()]
        );

        // B pulls the transfer (its copy carries no movements of A's).
        let copy = TransferSentRecord {
            movements: vec![],
            ..op.clone()
        };
        pull(&mut b, vec![ChangeBody::TransferSent(copy)]);
        assert_eq!(level(&b, soda), Quantity::ZERO);
        let to_receive = b.store.transfers(TransferFilter::ToReceive, 10).unwrap();
        assert_eq!(to_receive.len(), 1);
        assert_eq!(to_receive[0].id, sent.id);

        // Only the destination receives, once, with sane quantities.
        let err = a.refused(|k| {
            let o = k.owner.clone();
            k.store.receive_transfer(&o, sent.id, &[units(10)], None)
        });
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        for bad in [vec![units(-1)], vec![], vec![units(5), units(5)]] {
            b.refused(|k| {
                let o = k.owner.clone();
                k.store.receive_transfer(&o, sent.id, &bad, None)
            });
        }

        let received = b
            .store
            .receive_transfer(&b_owner, sent.id, &[units(9)], Some("one broken".into()))
            .unwrap();
        assert_eq!(received.state(), TransferState::ReceivedWithDiscrepancy);
        assert_eq!(received.lines[0].sent, units(10));
        assert_eq!(received.lines[0].received, Some(units(9)));
        assert!(received.lines[0].is_discrepancy());
        assert_eq!(level(&b, soda), units(9), "B +9");
        let OpBody::TransferReceived(receipt) = queued(&b) else {
            panic!("expected a transfer_received op")
        };
        assert_eq!(receipt.movements.len(), 1);
        assert_eq!(receipt.movements[0].kind, MovementKind::TransferIn);
        assert_eq!(receipt.movements[0].quantity, units(9));
        let err = b.refused(|k| {
            let o = k.owner.clone();
            k.store.receive_transfer(&o, sent.id, &[units(1)], None)
        });
        assert!(err.to_string().contains("received already"), "{err}");

        // A pulls its own transfer back (a no-op) and B's receipt, without
        // B's movement: A sees the discrepancy, its stock stays 10.
        let stats = pull(
            &mut a,
            vec![
                ChangeBody::TransferSent(op),
                ChangeBody::TransferReceived(TransferReceivedRecord {
                    movements: vec![],
                    ..receipt.clone()
                }),
            ],
        );
        assert_eq!((stats.already_present, stats.written), (1, 1));
        assert_eq!(level(&a, soda), units(10));
        let at_a = a.store.transfer(sent.id).unwrap();
        assert_eq!(at_a.state(), TransferState::ReceivedWithDiscrepancy);
        assert!(
            a.store
                .transfers(TransferFilter::InTransit, 10)
                .unwrap()
                .is_empty()
        );
        // B's own receipt coming back changes nothing.
        let stats = pull(&mut b, vec![ChangeBody::TransferReceived(receipt)]);
        assert_eq!(stats.already_present, 1);
        assert_eq!(level(&b, soda), units(9));
    }

    #[test]
    fn sending_is_for_managers_to_a_known_other_branch_and_refusals_change_nothing() {
        let (mut a, b, soda) = two_branches();
        let b_branch = b.store.identity().branch_id;
        let a_branch = a.store.identity().branch_id;
        let cashier = a.cashier();
        let err = a.refused(|k| {
            k.store
                .send_transfer(&cashier, b_branch, &[(soda, units(1))], None)
        });
        assert!(matches!(err, StoreError::Forbidden { .. }), "{err}");
        let manager = a.manager();
        assert_eq!(manager.role, Role::Manager);
        for (to, lines) in [
            (a_branch, vec![(soda, units(1))]),
            (BranchId::new(), vec![(soda, units(1))]),
            (b_branch, vec![]),
            (b_branch, vec![(soda, Quantity::ZERO)]),
            (b_branch, vec![(soda, units(-2))]),
            (b_branch, vec![(soda, units(1)), (soda, units(2))]),
            (b_branch, vec![(ProductId::new(), units(1))]),
            (b_branch, vec![(soda, units(2_000_000))]),
        ] {
            a.refused(|k| k.store.send_transfer(&manager, to, &lines, None));
        }
        // Negative stock is allowed: 20 at A, 25 sent.
        let t = a
            .store
            .send_transfer(&manager, b_branch, &[(soda, units(25))], None)
            .unwrap();
        assert_eq!(level(&a, soda), units(-5));
        assert_eq!(t.sent_by, manager.user_id);
    }

    #[test]
    fn a_receipt_pulled_before_its_transfer_waits_for_it() {
        let (mut a, mut b, soda) = two_branches();
        let (a_owner, b_owner) = (a.owner.clone(), b.owner.clone());
        let b_branch = b.store.identity().branch_id;
        let sent = a
            .store
            .send_transfer(&a_owner, b_branch, &[(soda, units(3))], None)
            .unwrap();
        let OpBody::TransferSent(op) = queued(&a) else {
            panic!()
        };
        pull(&mut b, vec![ChangeBody::TransferSent(op.clone())]);
        let received = b
            .store
            .receive_transfer(&b_owner, sent.id, &[units(3)], None)
            .unwrap();
        assert_eq!(received.state(), TransferState::Received);
        let OpBody::TransferReceived(receipt) = queued(&b) else {
            panic!()
        };

        // A second till of branch A that has not pulled the transfer yet.
        let mut a2 = till(a.store.identity().branch_id, "WEST");
        let state = read::by_id(a.store.conn(), &read::PRODUCT, &soda.to_string()).unwrap();
        pull(&mut a2, vec![ChangeBody::Product(state)]);
        let stats = pull(
            &mut a2,
            vec![ChangeBody::TransferReceived(TransferReceivedRecord {
                movements: vec![],
                ..receipt
            })],
        );
        assert_eq!(stats.held, 1);
        let stats = pull(&mut a2, vec![ChangeBody::TransferSent(op)]);
        assert_eq!(stats.released, 1);
        assert_eq!(
            a2.store.transfer(sent.id).unwrap().state(),
            TransferState::Received
        );
        assert_eq!(
            level(&a2, soda),
            units(-3),
            "the pulled transfer_out counts"
        );
    }
}
