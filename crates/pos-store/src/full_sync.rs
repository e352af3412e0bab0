//! What Full Cloud Synchronization uploads: this till's records as whole
//! states, and its manifest (id and content digest of each record, sorted by
//! id) that the Back Office compares with its own for the preview.
//!
//! Everything here only reads. The records are the till's current values —
//! including those of ops still queued — so the upload is "the Back Office
//! should look like this till" (DESIGN.md invariant 8). Stand-alone stock
//! movements and ledger entries are those not part of a sale or a transfer;
//! a sale, a transfer and a receipt carry their own. The till uploads the
//! transfers its branch sent and the receipts of those it received.

use pos_domain::{Currency, Quantity, SaleId, Timestamp};
use record_sql::{read, transfers};
use rusqlite::OptionalExtension;
use rusqlite::{Connection, Row};
use sync_protocol::{
    EntityKind, FullRecord, LedgerEntryRecord, LedgerKind, ManifestEntry, SETTINGS_ID,
    StockMovementRecord, TaxRateRecord,
};

use crate::sales::load_sale;
use crate::sql::{col_enum, col_money, col_parse, col_parse_opt};
use crate::{Result, Store, StoreError};

impl Store {
    /// This till's records of `entity` as manifest entries, sorted by id.
    pub fn full_sync_manifest(&self, entity: EntityKind) -> Result<Vec<ManifestEntry>> {
        let conn = self.conn();
        let here = self.identity().branch_id.to_string();
        let mut entries: Vec<ManifestEntry> = match entity {
            EntityKind::Sale => ids(conn, "SELECT id FROM sales ORDER BY id", ())?,
            // A transfer's movements travel with it.
            EntityKind::StockMovement => ids(
                conn,
                "SELECT id FROM stock_movements WHERE sale_id IS NULL
                   AND kind NOT IN ('transfer_out', 'transfer_in') ORDER BY id",
                (),
            )?,
            EntityKind::LedgerEntry => ids(
                conn,
                "SELECT id FROM customer_ledger WHERE sale_id IS NULL ORDER BY id",
                (),
            )?,
            // A till uploads what its branch wrote: the transfers it sent
            // and the receipts of those it received (the sender uploads the
            // transfer itself).
            EntityKind::Transfer => ids(
                conn,
                "SELECT id FROM transfers WHERE from_branch_id = ?1 ORDER BY id",
                [&here],
            )?,
            EntityKind::TransferReceipt => ids(
                conn,
                "SELECT id FROM transfer_receipts WHERE branch_id = ?1 ORDER BY id",
                [&here],
            )?,
            _ => load(conn, entity, None)?
                .iter()
                .map(FullRecord::manifest_entry)
                .collect(),
        };
        // Byte order, the same on both sides (SQLite's BINARY collation).
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(entries)
    }

    /// The whole records of `entity` with these ids (ids this till does not
    /// have are left out).
    pub fn full_sync_records(&self, entity: EntityKind, ids: &[String]) -> Result<Vec<FullRecord>> {
        let conn = self.conn();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let parse = |what: &str| StoreError::Invalid(format!("'{id}' is not a {what} id"));
            if entity == EntityKind::Sale {
                let sale_id: SaleId = id.parse().map_err(|_| parse("sale"))?;
                if let Some(sale) = load_sale(conn, sale_id)? {
                    out.push(FullRecord::Sale(sale));
                }
            } else if entity == EntityKind::Transfer {
                let id = id.parse().map_err(|_| parse("transfer"))?;
                out.extend(transfers::sent_record(conn, id)?.map(FullRecord::Transfer));
            } else if entity == EntityKind::TransferReceipt {
                let id = id.parse().map_err(|_| parse("transfer receipt"))?;
                out.extend(transfers::received_record(conn, id)?.map(FullRecord::TransferReceipt));
            } else {
                out.extend(load(conn, entity, Some(id))?);
            }
        }
        Ok(out)
    }

    /// The highest device sequence whose op the Back Office has answered, as
    /// far as this till knows: everything before the oldest op still
    /// pending. (Quarantined ops were answered: rejected.)
    pub fn acknowledged_seq(&self) -> Result<u64> {
        let (next, oldest_pending): (i64, Option<i64>) = self.conn().query_row(
            "SELECT (SELECT next_op_seq FROM device_identity WHERE singleton = 1),
                    (SELECT MIN(seq) FROM outbox WHERE quarantined_at IS NULL)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let first_unanswered = oldest_pending.unwrap_or(next);
        Ok(first_unanswered.saturating_sub(1).max(0) as u64)
    }
}

fn ids(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<Vec<ManifestEntry>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(args, |r| {
        Ok(ManifestEntry {
            id: r.get(0)?,
            digest: String::new(),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Loads every record of `entity` (or the one with `id`). Mutable records are
/// read by the same readers as the Back Office's (`record_sql::read`), so
/// equal values give equal digests.
fn load(conn: &Connection, entity: EntityKind, id: Option<&str>) -> Result<Vec<FullRecord>> {
    fn shared<T>(
        conn: &Connection,
        reader: &read::Reader<T>,
        id: Option<&str>,
        wrap: fn(T) -> FullRecord,
    ) -> Result<Vec<FullRecord>> {
        let states = match id {
            Some(id) => read::by_id(conn, reader, id)
                .optional()?
                .into_iter()
                .collect(),
            None => read::all(conn, reader)?,
        };
        Ok(states.into_iter().map(wrap).collect())
    }
    let (select, key, map): (&str, &str, RowMap) = match entity {
        EntityKind::Settings => {
            return Ok(if id.is_none_or(|id| id == SETTINGS_ID) {
                vec![FullRecord::Settings(read::settings(conn)?)]
            } else {
                Vec::new()
            });
        }
        EntityKind::Category => return shared(conn, &read::CATEGORY, id, FullRecord::Category),
        EntityKind::Product => return shared(conn, &read::PRODUCT, id, FullRecord::Product),
        EntityKind::User => return shared(conn, &read::USER, id, FullRecord::User),
        EntityKind::Customer => return shared(conn, &read::CUSTOMER, id, FullRecord::Customer),
        EntityKind::Expense => return shared(conn, &read::EXPENSE, id, FullRecord::Expense),
        EntityKind::TaxRate => (
            "SELECT code, name, basis_points, deleted_at FROM tax_rates",
            "code",
            tax_rate,
        ),
        EntityKind::StockMovement => (
            "SELECT id, product_id, branch_id, device_id, kind, quantity_milli, user_id, note,
                    created_at
             FROM stock_movements WHERE sale_id IS NULL
               AND kind NOT IN ('transfer_out', 'transfer_in')",
            "id",
            movement,
        ),
        EntityKind::LedgerEntry => (
            "SELECT id, customer_id, branch_id, device_id, kind, amount_minor, currency, method,
                    reference, user_id, note, created_at
             FROM customer_ledger WHERE sale_id IS NULL",
            "id",
            ledger_entry,
        ),
        EntityKind::Sale | EntityKind::Transfer | EntityKind::TransferReceipt => {
            return Err(StoreError::Invalid(format!(
                "{} records are not loaded row by row",
                entity.as_str()
            )));
        }
    };
    let joiner = if select.contains(" WHERE ") {
        "AND"
    } else {
        "WHERE"
    };
    let records = match id {
        Some(id) => {
            let sql = format!("{select} {joiner} {key} = ?1");
            let mut stmt = conn.prepare_cached(&sql)?;
            stmt.query_map([id], map)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        }
        None => {
            let sql = format!("{select} ORDER BY {key}");
            let mut stmt = conn.prepare(&sql)?;
            stmt.query_map([], map)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        }
    };
    Ok(records)
}

type RowMap = fn(&Row<'_>) -> rusqlite::Result<FullRecord>;

fn ts(r: &Row<'_>, i: usize) -> rusqlite::Result<Timestamp> {
    Ok(Timestamp::from_millis(r.get(i)?))
}

fn tax_rate(r: &Row<'_>) -> rusqlite::Result<FullRecord> {
    Ok(FullRecord::TaxRate(TaxRateRecord {
        code: col_parse(r, 0)?,
        name: r.get(1)?,
        basis_points: r.get(2)?,
        deleted: r.get::<_, Option<i64>>(3)?.is_some(),
    }))
}

fn movement(r: &Row<'_>) -> rusqlite::Result<FullRecord> {
    Ok(FullRecord::StockMovement(StockMovementRecord {
        id: col_parse(r, 0)?,
        product_id: col_parse(r, 1)?,
        branch_id: col_parse(r, 2)?,
        device_id: col_parse(r, 3)?,
        kind: col_enum(r, 4, pos_domain::MovementKind::parse)?,
        quantity: Quantity::from_milli(r.get(5)?),
        sale_id: None,
        user_id: col_parse_opt(r, 6)?,
        note: r.get(7)?,
        created_at: ts(r, 8)?,
    }))
}

fn ledger_entry(r: &Row<'_>) -> rusqlite::Result<FullRecord> {
    let currency: Currency = col_parse(r, 6)?;
    let method: Option<String> = r.get(7)?;
    Ok(FullRecord::LedgerEntry(LedgerEntryRecord {
        id: col_parse(r, 0)?,
        customer_id: col_parse(r, 1)?,
        branch_id: col_parse(r, 2)?,
        device_id: col_parse(r, 3)?,
        kind: col_enum(r, 4, LedgerKind::parse)?,
        amount: col_money(r, 5, currency)?,
        sale_id: None,
        method: method.as_deref().and_then(pos_domain::PaymentMethod::parse),
        reference: r.get(8)?,
        user_id: col_parse_opt(r, 9)?,
        note: r.get(10)?,
        created_at: ts(r, 11)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sales::{Checkout, CheckoutLine};
    use crate::testkit::{kes, kit};
    use pos_domain::{Discount, Tender};
    use sync_protocol::{OpBody, digest};

    #[test]
    fn records_read_back_exactly_what_the_ops_carried() {
        let mut k = kit();
        let soda = k.product("Soda 500ml", 80_00);
        let bread = k.product("Bread", 65_00);
        let owner = k.owner.clone();
        k.store
            .restock(&owner, soda.id, Quantity::units(24), Some("crate".into()))
            .unwrap();
        let cashier = k.cashier();
        let sale = k
            .store
            .checkout(
                &cashier,
                &Checkout {
                    sale_id: SaleId::new(),
                    lines: vec![CheckoutLine {
                        product_id: soda.id,
                        quantity: Quantity::units(2),
                        discount: Discount::None,
                    }],
                    discount: Discount::None,
                    tenders: vec![Tender::Cash {
                        tendered: kes(200_00),
                    }],
                    customer_id: None,
                },
            )
            .unwrap();

        // Every sale and stand-alone movement the outbox carried reads back
        // whole and equal.
        let mut checked = 0;
        for op in k.ops() {
            match op {
                OpBody::SaleRecorded(s) => {
                    let back = k
                        .store
                        .full_sync_records(EntityKind::Sale, &[s.id.to_string()])
                        .unwrap();
                    assert_eq!(back, vec![FullRecord::Sale(s)]);
                    checked += 1;
                }
                OpBody::StockMoved(m) => {
                    let back = k
                        .store
                        .full_sync_records(EntityKind::StockMovement, &[m.id.to_string()])
                        .unwrap();
                    assert_eq!(back, vec![FullRecord::StockMovement(m)]);
                    checked += 1;
                }
                _ => {}
            }
        }
        assert_eq!(checked, 2);

        // Sales list by id; the sale's own movement is not stand-alone.
        let sales = k.store.full_sync_manifest(EntityKind::Sale).unwrap();
        assert_eq!(sales.len(), 1);
        assert_eq!(sales[0].id, sale.id.to_string());
        assert_eq!(
            k.store
                .full_sync_manifest(EntityKind::StockMovement)
                .unwrap()
                .len(),
            1
        );

        // Products: sorted by id, each digest that of its record, values
        // those of the catalog.
        let products = k.store.full_sync_manifest(EntityKind::Product).unwrap();
        let mut ids = vec![soda.id.to_string(), bread.id.to_string()];
        ids.sort();
        assert_eq!(
            products.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
            ids
        );
        let records = k
            .store
            .full_sync_records(EntityKind::Product, &ids)
            .unwrap();
        for (entry, record) in products.iter().zip(&records) {
            assert_eq!(entry.digest, digest(record));
            let FullRecord::Product(p) = record else {
                panic!("{record:?}")
            };
            let live = k.store.product(p.id).unwrap();
            assert_eq!((p.name.as_str(), p.price), (live.name.as_str(), live.price));
        }
        // A price change changes the digest.
        let before = products
            .iter()
            .find(|e| e.id == soda.id.to_string())
            .unwrap();
        let change = crate::catalog::ProductUpdate {
            price: Some(kes(85_00)),
            ..Default::default()
        };
        k.store.update_product(&owner, soda.id, change).unwrap();
        let after = k.store.full_sync_manifest(EntityKind::Product).unwrap();
        let after = after.iter().find(|e| e.id == soda.id.to_string()).unwrap();
        assert_ne!(after.digest, before.digest);

        // Settings and tax rates are there from the first day.
        let settings = k.store.full_sync_manifest(EntityKind::Settings).unwrap();
        assert_eq!(settings.len(), 1);
        assert_eq!(settings[0].id, SETTINGS_ID);
        let rates = k.store.full_sync_manifest(EntityKind::TaxRate).unwrap();
        assert_eq!(
            rates.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["EXEMPT", "VAT16", "ZERO"]
        );
        // Unknown ids are left out.
        assert!(
            k.store
                .full_sync_records(EntityKind::Product, &["nope".into()])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn the_acknowledged_sequence_ends_before_the_oldest_unanswered_op() {
        let mut k = kit();
        for i in 0..4 {
            k.product(&format!("Item {i}"), 10_00);
        }
        let pending = k.store.outbox_pending(100).unwrap();
        let seqs: Vec<u64> = pending.iter().map(|e| e.op.device_seq).collect();
        // The owner's creation and the four products.
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
        assert_eq!(k.store.acknowledged_seq().unwrap(), seqs[0] - 1);
        let first_two: Vec<_> = pending[..2].iter().map(|e| e.op.op_id).collect();
        k.store.outbox_acknowledge(&first_two).unwrap();
        assert_eq!(k.store.acknowledged_seq().unwrap(), seqs[1]);
        // A rejected op was answered too.
        k.store
            .outbox_quarantine(pending[2].op.op_id, "bad")
            .unwrap();
        assert_eq!(k.store.acknowledged_seq().unwrap(), seqs[2]);
        let rest: Vec<_> = pending[3..].iter().map(|e| e.op.op_id).collect();
        k.store.outbox_acknowledge(&rest).unwrap();
        assert_eq!(k.store.acknowledged_seq().unwrap(), 5);
    }
}
