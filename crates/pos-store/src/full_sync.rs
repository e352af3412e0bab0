//! What Full Cloud Synchronization uploads: this till's records as whole
//! states, and its manifest (id and content digest of each record, sorted by
//! id) that the Back Office compares with its own for the preview.
//!
//! Everything here only reads. The records are the till's current values —
//! including those of ops still queued — so the upload is "the Back Office
//! should look like this till" (DESIGN.md invariant 8). Stand-alone stock
//! movements and ledger entries are those not part of a sale; a sale carries
//! its own.

use pos_domain::{Currency, Hlc, Name, Quantity, SaleId, Timestamp};
use rusqlite::{Connection, Row};
use sync_protocol::{
    CategoryState, CustomerState, EntityKind, ExpensePaidWith, ExpenseState, FullRecord,
    LedgerEntryRecord, LedgerKind, ManifestEntry, ProductState, SETTINGS_ID, SettingsState,
    StockMovementRecord, TaxRateRecord, UserState,
};

use crate::sales::load_sale;
use crate::sql::{col_enum, col_money, col_parse, col_parse_opt};
use crate::{Result, Store, StoreError};

impl Store {
    /// This till's records of `entity` as manifest entries, sorted by id.
    pub fn full_sync_manifest(&self, entity: EntityKind) -> Result<Vec<ManifestEntry>> {
        let conn = self.conn();
        let mut entries: Vec<ManifestEntry> = match entity {
            EntityKind::Sale => ids(conn, "SELECT id FROM sales ORDER BY id")?,
            EntityKind::StockMovement => ids(
                conn,
                "SELECT id FROM stock_movements WHERE sale_id IS NULL ORDER BY id",
            )?,
            EntityKind::LedgerEntry => ids(
                conn,
                "SELECT id FROM customer_ledger WHERE sale_id IS NULL ORDER BY id",
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
            if entity == EntityKind::Sale {
                let sale_id: SaleId = id
                    .parse()
                    .map_err(|_| StoreError::Invalid(format!("'{id}' is not a sale id")))?;
                if let Some(sale) = load_sale(conn, sale_id)? {
                    out.push(FullRecord::Sale(sale));
                }
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

fn ids(conn: &Connection, sql: &str) -> Result<Vec<ManifestEntry>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| {
        Ok(ManifestEntry {
            id: r.get(0)?,
            digest: String::new(),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Loads every record of `entity` (or the one with `id`).
fn load(conn: &Connection, entity: EntityKind, id: Option<&str>) -> Result<Vec<FullRecord>> {
    if entity == EntityKind::Settings {
        return Ok(if id.is_none_or(|id| id == SETTINGS_ID) {
            vec![FullRecord::Settings(settings_state(conn)?)]
        } else {
            Vec::new()
        });
    }
    let (select, key, map): (&str, &str, RowMap) = match entity {
        EntityKind::TaxRate => (
            "SELECT code, name, basis_points, deleted_at FROM tax_rates",
            "code",
            tax_rate,
        ),
        EntityKind::Category => (
            "SELECT id, name, sort_order, hlc, deleted_at FROM categories",
            "id",
            category,
        ),
        EntityKind::Product => (
            "SELECT id, name, sku, barcode, category_id, price_minor, currency, tax_code, image,
                    track_stock, low_stock_milli, created_at, hlc, deleted_at
             FROM products",
            "id",
            product,
        ),
        EntityKind::User => (
            "SELECT id, name, role, pin_hash, active, created_at, hlc, deleted_at FROM users",
            "id",
            user,
        ),
        EntityKind::Customer => (
            "SELECT id, name, phone, email, credit_limit_minor, currency, notes, created_at, hlc,
                    deleted_at
             FROM customers",
            "id",
            customer,
        ),
        EntityKind::Expense => (
            "SELECT id, branch_id, device_id, user_id, category, description, amount_minor,
                    currency, paid_with, reference, spent_at, business_day, created_at, hlc,
                    deleted_at
             FROM expenses",
            "id",
            expense,
        ),
        EntityKind::StockMovement => (
            "SELECT id, product_id, branch_id, device_id, kind, quantity_milli, user_id, note,
                    created_at
             FROM stock_movements WHERE sale_id IS NULL",
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
        EntityKind::Settings | EntityKind::Sale => {
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

fn name(r: &Row<'_>, i: usize) -> rusqlite::Result<Name> {
    Name::try_from(r.get::<_, String>(i)?).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn ts(r: &Row<'_>, i: usize) -> rusqlite::Result<Timestamp> {
    Ok(Timestamp::from_millis(r.get(i)?))
}

fn ts_opt(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<Timestamp>> {
    Ok(r.get::<_, Option<i64>>(i)?.map(Timestamp::from_millis))
}

fn tax_rate(r: &Row<'_>) -> rusqlite::Result<FullRecord> {
    Ok(FullRecord::TaxRate(TaxRateRecord {
        code: col_parse(r, 0)?,
        name: r.get(1)?,
        basis_points: r.get(2)?,
        deleted: r.get::<_, Option<i64>>(3)?.is_some(),
    }))
}

fn category(r: &Row<'_>) -> rusqlite::Result<FullRecord> {
    Ok(FullRecord::Category(CategoryState {
        id: col_parse(r, 0)?,
        name: name(r, 1)?,
        sort_order: r.get(2)?,
        hlc: col_parse(r, 3)?,
        deleted_at: ts_opt(r, 4)?,
    }))
}

fn product(r: &Row<'_>) -> rusqlite::Result<FullRecord> {
    let currency: Currency = col_parse(r, 6)?;
    Ok(FullRecord::Product(ProductState {
        id: col_parse(r, 0)?,
        name: name(r, 1)?,
        sku: col_parse_opt(r, 2)?,
        barcode: col_parse_opt(r, 3)?,
        category_id: col_parse_opt(r, 4)?,
        price: col_money(r, 5, currency)?,
        tax_code: col_parse(r, 7)?,
        image: r.get(8)?,
        track_stock: r.get(9)?,
        low_stock: r.get::<_, Option<i64>>(10)?.map(Quantity::from_milli),
        created_at: ts(r, 11)?,
        hlc: col_parse(r, 12)?,
        deleted_at: ts_opt(r, 13)?,
    }))
}

fn user(r: &Row<'_>) -> rusqlite::Result<FullRecord> {
    Ok(FullRecord::User(UserState {
        id: col_parse(r, 0)?,
        name: name(r, 1)?,
        role: col_parse(r, 2)?,
        pin_hash: r.get(3)?,
        active: r.get(4)?,
        created_at: ts(r, 5)?,
        hlc: col_parse(r, 6)?,
        deleted_at: ts_opt(r, 7)?,
    }))
}

fn customer(r: &Row<'_>) -> rusqlite::Result<FullRecord> {
    let currency: Currency = col_parse(r, 5)?;
    Ok(FullRecord::Customer(CustomerState {
        id: col_parse(r, 0)?,
        name: name(r, 1)?,
        phone: col_parse_opt(r, 2)?,
        email: r.get(3)?,
        credit_limit: col_money(r, 4, currency)?,
        notes: r.get(6)?,
        created_at: ts(r, 7)?,
        hlc: col_parse(r, 8)?,
        deleted_at: ts_opt(r, 9)?,
    }))
}

fn expense(r: &Row<'_>) -> rusqlite::Result<FullRecord> {
    let currency: Currency = col_parse(r, 7)?;
    Ok(FullRecord::Expense(ExpenseState {
        id: col_parse(r, 0)?,
        branch_id: col_parse(r, 1)?,
        device_id: col_parse(r, 2)?,
        user_id: col_parse(r, 3)?,
        category: name(r, 4)?,
        description: r.get(5)?,
        amount: col_money(r, 6, currency)?,
        paid_with: col_enum(r, 8, ExpensePaidWith::parse)?,
        reference: r.get(9)?,
        spent_at: ts(r, 10)?,
        business_day: r.get(11)?,
        created_at: ts(r, 12)?,
        hlc: col_parse(r, 13)?,
        deleted_at: ts_opt(r, 14)?,
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

fn settings_state(conn: &Connection) -> Result<SettingsState> {
    let mut stmt = conn.prepare_cached("SELECT key, value, hlc FROM business_settings")?;
    let mut rows = stmt.query([])?;
    let mut values = std::collections::BTreeMap::new();
    let mut hlc = Hlc::ZERO;
    while let Some(r) = rows.next()? {
        let key: String = r.get(0)?;
        values.insert(key, r.get::<_, String>(1)?);
        hlc = hlc.max(col_parse(r, 2)?);
    }
    let get = |k: &str| values.get(k).cloned().unwrap_or_default();
    let parse = |k: &str| -> Result<String> {
        values
            .get(k)
            .cloned()
            .ok_or_else(|| StoreError::Corrupt(format!("the setting '{k}' is missing")))
    };
    let bad = |k: &str, e: String| StoreError::Corrupt(format!("the setting '{k}': {e}"));
    Ok(SettingsState {
        store_name: get("store_name"),
        address: get("address"),
        phone: get("phone"),
        tax_pin: get("tax_pin"),
        receipt_header: get("receipt_header"),
        receipt_footer: get("receipt_footer"),
        currency: parse("currency")?
            .parse()
            .map_err(|e: pos_domain::DomainError| bad("currency", e.to_string()))?,
        time_zone: parse("time_zone")?
            .parse()
            .map_err(|e: pos_domain::DomainError| bad("time_zone", e.to_string()))?,
        tax_mode: parse("tax_mode")?
            .parse()
            .map_err(|e: pos_domain::DomainError| bad("tax_mode", e.to_string()))?,
        hlc,
    })
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
