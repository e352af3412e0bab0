//! Which branch and device this till is.
//!
//! A fresh till invents a provisional identity (branch `MAIN`, till `T1`,
//! random ids) so it can sell with no Back Office at all. When it is
//! connected, its API key says which device and branch it really is, and the
//! till adopts that identity ([`Store::adopt_identity`], called by the sync
//! engine before its first push): receipts, stock movements and expenses from
//! then on carry the real ids, so the Back Office accepts them as this
//! branch's.
//!
//! # Remapping what the till did before it was connected
//!
//! A shop may sell for days before it sets up its Back Office. Everything the
//! till recorded meanwhile carries the provisional branch and device ids, and
//! none of it has reached a server (a till pushes nothing before it has
//! adopted its key's identity). Adopting therefore **remaps** those records,
//! in the one immediate transaction that also switches the identity, so it is
//! all or nothing: an error or a crash half-way leaves the provisional
//! identity and every record exactly as they were.
//!
//! - `sales` (branch and device), `stock_movements`, `customer_ledger` and
//!   `expenses` (branch and device), `stock_levels` (branch: the provisional
//!   branch's levels are merged into the registered branch's, so a level stays
//!   the sum of its movements) are rewritten to the registered ids.
//! - The ops still in the outbox (pending or quarantined: all of them, as
//!   nothing was pushed yet) are parsed into [`sync_protocol::OpBody`], their
//!   `branch_id` / `device_id` fields (a sale's, its movements' and its ledger
//!   entry's; a movement's; a ledger entry's; an expense patch's) changed and
//!   the body serialized again — never a textual replace. Their `op_id`,
//!   `device_seq` (gapless from 1: the server expects seq 1 first from a new
//!   device key) and clock stay as they are.
//! - **Append-only guards.** Sales, stock movements and ledger entries have
//!   triggers that refuse every UPDATE. The remap drops the three UPDATE
//!   triggers, rewrites the rows and creates the triggers again from the exact
//!   SQL `sqlite_master` held, all inside the same transaction. SQLite DDL is
//!   transactional, so if anything fails (or the process dies) before the
//!   commit, the rollback brings the triggers back with the rows; no other
//!   connection ever sees the table unguarded (the till has one writer and
//!   readers see only committed states). A flag table the triggers consult
//!   would have worked too, but would put a hole in the guard for every later
//!   write; this way the guards are untouched outside this one transaction,
//!   and the remap checks they are all back before it commits. DELETE
//!   triggers and the sale lines and payments (which carry no branch or
//!   device) are not touched at all.
//! - **Receipt numbers already printed do not change** (a customer holds that
//!   paper: `MAIN-T1-000001` stays `MAIN-T1-000001`). Receipts printed after
//!   adoption carry the registered codes (`Tx::next_receipt_no` reads the
//!   identity); the till's counter continues, so the first one may read
//!   `WESTL-T2-000004`. Can an old provisional number collide? Yes: every
//!   till that traded offline printed `MAIN-T1-…`, and a Back Office branch
//!   named "Main" gives its first till the codes `MAIN-T1` too. So a receipt
//!   number is unique only together with the device that printed it, on both
//!   sides: the Back Office never made receipt numbers unique
//!   (`migrations/backoffice/0002_data.sql`) and keeps both sales, each with
//!   its device; the till keeps them unique per device
//!   (`migrations/pos/0004_receipts_per_device.sql`), so a sibling till of
//!   the branch takes in the other's `MAIN-T1-000001` beside its own instead
//!   of holding it aside, and looking a number up finds this till's own sale
//!   first (`Store::sale_by_receipt`). No sale is refused, merged or dropped
//!   for its number; a person tells the two apart by the device each is
//!   recorded with, and on the paper by its time, cashier and items.
//! - **Clocks are not rewritten.** Ops and mutable records stamped before
//!   adoption carry the provisional node (`Hlc::node_of` the provisional
//!   device id) in their HLC. The node only breaks ties between equal wall
//!   time and counter, and the provisional id is as unique as any UUIDv7, so
//!   ordering stays total and correct; the till's clock resumes from its last
//!   reading with the new node, so it never goes backwards.
//! - **Currency.** The key's answer (`GET /api/device`) does not carry the
//!   business currency, and the till does not know the Back Office's before
//!   its first pull, so adoption does not compare currencies. The till's own
//!   `settings_changed` op is pushed before its sales; a sale the server
//!   refuses for its currency is quarantined with the reason on the Sync
//!   Status page, never dropped.
//!
//! Adopting is refused, changing nothing, when the till is already registered
//! as another device. Shared records (products, users, settings, customers)
//! carry no branch and are kept as they are.

use pos_domain::{BranchId, DeviceId, TimeZone};
use rusqlite::{OptionalExtension, params};
use sync_protocol::OpBody;

use crate::sql::json;
use crate::{Identity, Result, Store, StoreError, Tx};

/// The append-only UPDATE guards on tables whose rows carry a branch or
/// device id: dropped and recreated inside the remap's transaction.
const UPDATE_GUARDS: [&str; 3] = [
    "sales_no_update",
    "stock_movements_no_update",
    "customer_ledger_no_update",
];

/// Tables whose rows carry this till's branch and device ids.
const SCOPED: [&str; 4] = ["sales", "stock_movements", "customer_ledger", "expenses"];

/// What adopting an identity rewrote (for the log and the tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Remapped {
    /// Rows of sales, stock movements, ledger entries and expenses.
    pub records: u64,
    /// Stock level rows moved to the registered branch.
    pub stock_levels: u64,
    /// Outbox ops whose body changed.
    pub ops: u64,
}

/// The identity the Back Office gives this till (from its API key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredIdentity {
    pub device_id: DeviceId,
    pub device_code: String,
    pub device_name: String,
    pub branch_id: BranchId,
    pub branch_code: String,
    pub branch_name: String,
    pub time_zone: TimeZone,
}

/// The provisional ids and the registered ones.
#[derive(Debug, Clone, Copy)]
struct Remap {
    from_branch: BranchId,
    from_device: DeviceId,
    to_branch: BranchId,
    to_device: DeviceId,
}

impl Store {
    /// Becomes the device and branch the Back Office registered, remapping
    /// every record and queued op made under the provisional identity (see
    /// the module docs), in one transaction. Idempotent: adopting the identity
    /// the till already has does nothing. Refused, changing nothing, when the
    /// till is already registered as another device.
    pub fn adopt_identity(&mut self, reg: &RegisteredIdentity) -> Result<Remapped> {
        let current = self.identity().clone();
        if current.device_id == reg.device_id && current.branch_id == reg.branch_id {
            return Ok(Remapped::default());
        }
        let remap = Remap {
            from_branch: current.branch_id,
            from_device: current.device_id,
            to_branch: reg.branch_id,
            to_device: reg.device_id,
        };
        let done = self.write(|tx| {
            let registered: Option<i64> = tx.query_row(
                "SELECT registered_at FROM device_identity WHERE singleton = 1",
                [],
                |r| r.get(0),
            )?;
            if registered.is_some() {
                return Err(StoreError::Invalid(format!(
                    "this till is already registered as {}-{}; use that device's key, or set the till up afresh",
                    current.branch_code, current.device_code
                )));
            }
            let hlc = tx.tick().to_string();
            // The registered branch and device first: the remapped rows refer to them.
            tx.execute(
                "INSERT INTO branches (id, code, name, time_zone, hlc) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET code = excluded.code, name = excluded.name,
                     time_zone = excluded.time_zone",
                params![
                    reg.branch_id.to_string(),
                    reg.branch_code,
                    reg.branch_name,
                    reg.time_zone.name(),
                    hlc
                ],
            )?;
            tx.execute(
                "INSERT INTO devices (id, branch_id, code, name, kind, hlc) VALUES (?1, ?2, ?3, ?4, 'desktop', ?5)
                 ON CONFLICT (id) DO UPDATE SET branch_id = excluded.branch_id, code = excluded.code,
                     name = excluded.name",
                params![
                    reg.device_id.to_string(),
                    reg.branch_id.to_string(),
                    reg.device_code,
                    reg.device_name,
                    hlc
                ],
            )?;
            let done = remap_records(tx, remap)?;
            tx.execute(
                "UPDATE device_identity SET device_id = ?1, branch_id = ?2, registered_at = ?3 WHERE singleton = 1",
                params![reg.device_id.to_string(), reg.branch_id.to_string(), tx.now().as_millis()],
            )?;
            // The provisional rows are referenced by nothing now.
            tx.execute("DELETE FROM devices WHERE id = ?1", [remap.from_device.to_string()])?;
            if remap.from_branch != remap.to_branch {
                tx.execute("DELETE FROM branches WHERE id = ?1", [remap.from_branch.to_string()])?;
            }
            Ok(done)
        })?;
        if done != Remapped::default() {
            tracing::info!(
                records = done.records,
                stock_levels = done.stock_levels,
                ops = done.ops,
                branch = %reg.branch_code,
                device = %reg.device_code,
                "remapped the records made before this till was connected"
            );
        }
        self.set_identity(Identity {
            device_id: reg.device_id,
            device_code: reg.device_code.clone(),
            branch_id: reg.branch_id,
            branch_code: reg.branch_code.clone(),
            time_zone: reg.time_zone,
        });
        Ok(done)
    }

    /// Whether this till has adopted an identity from a Back Office.
    pub fn is_registered(&self) -> Result<bool> {
        let at: Option<i64> = self.conn().query_row(
            "SELECT registered_at FROM device_identity WHERE singleton = 1",
            [],
            |r| r.get(0),
        )?;
        Ok(at.is_some())
    }
}

/// Rewrites the provisional branch and device ids to the registered ones in
/// every branch-scoped table and every queued op, inside `tx`.
fn remap_records(tx: &Tx<'_>, m: Remap) -> Result<Remapped> {
    let (fb, fd) = (m.from_branch.to_string(), m.from_device.to_string());
    let (tb, td) = (m.to_branch.to_string(), m.to_device.to_string());
    let mut done = Remapped::default();

    // Step past the append-only UPDATE guards: keep their exact SQL, drop
    // them, and create them again before anything else can run (same tx).
    let mut guards = Vec::with_capacity(UPDATE_GUARDS.len());
    for name in UPDATE_GUARDS {
        let sql: Option<String> = tx
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        let sql = sql.ok_or_else(|| {
            StoreError::Corrupt(format!("the append-only guard {name} is missing"))
        })?;
        guards.push((name, sql));
    }
    for (name, _) in &guards {
        tx.execute_batch(&format!("DROP TRIGGER {name}"))?;
    }
    for table in SCOPED {
        done.records += tx.execute(
            &format!(
                "UPDATE {table}
                 SET branch_id = CASE branch_id WHEN ?1 THEN ?2 ELSE branch_id END,
                     device_id = CASE device_id WHEN ?3 THEN ?4 ELSE device_id END
                 WHERE branch_id = ?1 OR device_id = ?3"
            ),
            params![fb, tb, fd, td],
        )? as u64;
    }
    for (_, sql) in &guards {
        tx.execute_batch(sql)?;
    }

    // Stock levels are a cache of the movements' sums per product and
    // branch: move the provisional branch's into the registered branch's
    // (adding, should the registered branch have a level already).
    done.stock_levels = tx.execute(
        "INSERT INTO stock_levels (product_id, branch_id, quantity_milli)
         SELECT product_id, ?2, quantity_milli FROM stock_levels WHERE branch_id = ?1
         ON CONFLICT (product_id, branch_id)
         DO UPDATE SET quantity_milli = quantity_milli + excluded.quantity_milli",
        params![fb, tb],
    )? as u64;
    tx.execute("DELETE FROM stock_levels WHERE branch_id = ?1", [&fb])?;

    // The queued ops: parsed, changed, serialized again.
    let queued: Vec<(i64, String)> = {
        let mut stmt = tx.prepare("SELECT seq, payload FROM outbox ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (seq, payload) in queued {
        let mut body: OpBody = serde_json::from_str(&payload)
            .map_err(|e| StoreError::Corrupt(format!("outbox op {seq}: {e}")))?;
        if remap_body(&mut body, m) {
            tx.execute(
                "UPDATE outbox SET payload = ?1 WHERE seq = ?2",
                params![json(&body)?, seq],
            )?;
            done.ops += 1;
        }
    }

    // Nothing may be left behind, and the guards must all be back.
    for table in SCOPED {
        let left: i64 = tx.query_row(
            &format!("SELECT COUNT(*) FROM {table} WHERE branch_id = ?1 OR device_id = ?2"),
            params![fb, fd],
            |r| r.get(0),
        )?;
        if left > 0 {
            return Err(StoreError::Corrupt(format!(
                "{left} {table} rows still carry the provisional identity after remapping"
            )));
        }
    }
    let guarded: i64 = tx.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (?1, ?2, ?3)",
        params![UPDATE_GUARDS[0], UPDATE_GUARDS[1], UPDATE_GUARDS[2]],
        |r| r.get(0),
    )?;
    if guarded != UPDATE_GUARDS.len() as i64 {
        return Err(StoreError::Corrupt(
            "an append-only guard did not come back after remapping".into(),
        ));
    }
    Ok(done)
}

/// Changes the provisional ids in one op body to the registered ones.
/// Returns whether anything changed.
fn remap_body(body: &mut OpBody, m: Remap) -> bool {
    fn ids(branch: &mut BranchId, device: &mut DeviceId, m: Remap) -> bool {
        let mut changed = false;
        if *branch == m.from_branch {
            *branch = m.to_branch;
            changed = true;
        }
        if *device == m.from_device {
            *device = m.to_device;
            changed = true;
        }
        changed
    }
    match body {
        OpBody::SaleRecorded(s) => {
            let mut changed = ids(&mut s.branch_id, &mut s.device_id, m);
            for mv in &mut s.movements {
                changed |= ids(&mut mv.branch_id, &mut mv.device_id, m);
            }
            if let Some(e) = &mut s.ledger_entry {
                changed |= ids(&mut e.branch_id, &mut e.device_id, m);
            }
            changed
        }
        OpBody::StockMoved(mv) => ids(&mut mv.branch_id, &mut mv.device_id, m),
        OpBody::LedgerEntryAdded(e) => ids(&mut e.branch_id, &mut e.device_id, m),
        OpBody::ExpenseChanged(p) => {
            let mut changed = false;
            if p.branch_id == Some(m.from_branch) {
                p.branch_id = Some(m.to_branch);
                changed = true;
            }
            if p.device_id == Some(m.from_device) {
                p.device_id = Some(m.to_device);
                changed = true;
            }
            changed
        }
        // A provisional till knows no other branch (it has never pulled), so
        // it cannot have sent or received a transfer; remapped all the same.
        OpBody::TransferSent(t) => {
            let mut changed = ids(&mut t.from_branch, &mut t.device_id, m);
            for mv in &mut t.movements {
                changed |= ids(&mut mv.branch_id, &mut mv.device_id, m);
            }
            changed
        }
        OpBody::TransferReceived(r) => {
            let mut changed = ids(&mut r.branch_id, &mut r.device_id, m);
            for mv in &mut r.movements {
                changed |= ids(&mut mv.branch_id, &mut mv.device_id, m);
            }
            changed
        }
        // Shared records and tombstones carry no branch or device.
        OpBody::ProductChanged(_)
        | OpBody::ProductDeleted(_)
        | OpBody::CategoryChanged(_)
        | OpBody::CategoryDeleted(_)
        | OpBody::CustomerChanged(_)
        | OpBody::CustomerDeleted(_)
        | OpBody::UserChanged(_)
        | OpBody::UserDeleted(_)
        | OpBody::ExpenseDeleted(_)
        | OpBody::SettingsChanged(_)
        | OpBody::TaxRateChanged(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expenses::{ExpensePaidWith, NewExpense};
    use crate::sales::{Checkout, CheckoutLine};
    use crate::testkit::{Kit, kes, kit};
    use pos_domain::{CustomerId, Discount, Name, PaymentMethod, Quantity, SaleId, Tender};

    fn registration(branch: &str, till: &str) -> RegisteredIdentity {
        RegisteredIdentity {
            device_id: DeviceId::new(),
            device_code: till.into(),
            device_name: format!("Till {till}"),
            branch_id: BranchId::new(),
            branch_code: branch.into(),
            branch_name: format!("{branch} branch"),
            time_zone: TimeZone::NAIROBI,
        }
    }

    fn sell(
        kit: &mut Kit,
        product: pos_domain::ProductId,
        tender: Tender,
    ) -> sync_protocol::SaleRecord {
        let owner = kit.owner.clone();
        let customer_id = match &tender {
            Tender::Credit { customer, .. } => Some(*customer),
            _ => None,
        };
        kit.store
            .checkout(
                &owner,
                &Checkout {
                    sale_id: SaleId::new(),
                    lines: vec![CheckoutLine {
                        product_id: product,
                        quantity: Quantity::units(1),
                        discount: Discount::None,
                    }],
                    discount: Discount::None,
                    tenders: vec![tender],
                    customer_id,
                },
            )
            .unwrap()
    }

    /// Every table a remap touches or must not touch, row by row.
    const ALL: [&str; 13] = [
        "branches",
        "devices",
        "device_identity",
        "sales",
        "sale_lines",
        "payments",
        "stock_movements",
        "stock_levels",
        "customers",
        "customer_ledger",
        "expenses",
        "outbox",
        "products",
    ];

    fn triggers(kit: &Kit) -> Vec<String> {
        kit.rows("(SELECT name, sql FROM sqlite_master WHERE type = 'trigger')")
    }

    fn scalar(kit: &Kit, sql: &str) -> i64 {
        kit.store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// A provisional till that sold (cash and credit), restocked, spent petty
    /// cash and took a customer payment before it was ever connected.
    fn traded_offline() -> (Kit, CustomerId) {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let bread = kit.product("Bread", 60_00);
        let milk = kit.product("Milk", 55_00);
        kit.store
            .restock(&owner, bread.id, Quantity::units(10), None)
            .unwrap();
        kit.store
            .restock(&owner, milk.id, Quantity::units(4), None)
            .unwrap();
        let amina = kit.customer("Amina", 1_000_00);
        let cash = sell(
            &mut kit,
            bread.id,
            Tender::Cash {
                tendered: kes(100_00),
            },
        );
        assert_eq!(cash.receipt_no, "MAIN-T1-000001");
        let credit = sell(
            &mut kit,
            milk.id,
            Tender::Credit {
                amount: kes(55_00),
                customer: amina,
            },
        );
        assert_eq!(credit.receipt_no, "MAIN-T1-000002");
        kit.store
            .record_expense(
                &owner,
                NewExpense {
                    category: Name::parse("category", "Transport").unwrap(),
                    description: "Boda to the market".into(),
                    amount: kes(200_00),
                    paid_with: ExpensePaidWith::Cash,
                    reference: None,
                    spent_at: None,
                },
            )
            .unwrap();
        kit.store
            .record_customer_payment(&owner, amina, kes(20_00), PaymentMethod::Cash, None)
            .unwrap();
        (kit, amina)
    }

    #[test]
    fn a_fresh_till_takes_the_identity_of_its_key() {
        let mut kit = kit();
        let soda = kit.product("Soda", 50_00);
        assert!(!kit.store.is_registered().unwrap());
        let reg = registration("WESTL", "T2");
        assert_eq!(kit.store.adopt_identity(&reg).unwrap(), Remapped::default());
        assert!(kit.store.is_registered().unwrap());
        assert_eq!(kit.store.identity().branch_id, reg.branch_id);
        kit.store.adopt_identity(&reg).unwrap(); // idempotent

        // Sales from now on carry the registered ids and receipt prefix.
        let sale = sell(
            &mut kit,
            soda.id,
            Tender::Cash {
                tendered: kes(50_00),
            },
        );
        assert_eq!(sale.receipt_no, "WESTL-T2-000001");
        assert_eq!(
            (sale.branch_id, sale.device_id),
            (reg.branch_id, reg.device_id)
        );
        // The shared records made before registration are still there and queued.
        assert_eq!(kit.store.product(soda.id).unwrap().name, "Soda");
        assert!(kit.store.outbox_stats().unwrap().pending >= 3);

        // Another key for a registered till is refused.
        let err = kit.refused(|k| k.store.adopt_identity(&registration("CBD", "T1")));
        assert!(
            matches!(err, StoreError::Invalid(ref m) if m.contains("already registered")),
            "{err}"
        );
    }

    #[test]
    fn a_till_that_traded_offline_is_remapped_whole_when_connected() {
        let (mut kit, amina) = traded_offline();
        let provisional = kit.store.identity().clone();
        let (pb, pd) = (
            provisional.branch_id.to_string(),
            provisional.device_id.to_string(),
        );
        let counts = kit.snapshot();
        let sums = |kit: &Kit| {
            [
                "SELECT SUM(total_minor) FROM sales",
                "SELECT SUM(quantity_milli) FROM stock_movements",
                "SELECT SUM(quantity_milli) FROM stock_levels",
                "SELECT SUM(amount_minor) FROM customer_ledger",
                "SELECT SUM(amount_minor) FROM expenses",
            ]
            .map(|q| scalar(kit, q))
        };
        let sums_before = sums(&kit);
        let receipts = kit.rows("(SELECT id, receipt_no FROM sales)");
        let envelopes =
            kit.rows("(SELECT seq, op_id, kind, entity_id, hlc, created_at FROM outbox)");
        let guards = triggers(&kit);
        let balance = kit.store.customer(amina).unwrap().balance;
        assert_eq!(balance, kes(35_00));
        let ops_before = kit.ops();

        let reg = registration("WESTL", "T2");
        let done = kit.store.adopt_identity(&reg).unwrap();
        // 2 sales + 4 movements + 2 ledger entries + 1 expense; 2 levels;
        // 2 sales + 2 restocks + 1 payment + 1 expense ops.
        assert_eq!(
            done,
            Remapped {
                records: 9,
                stock_levels: 2,
                ops: 6
            }
        );
        assert!(kit.store.is_registered().unwrap());
        assert_eq!(kit.store.identity().branch_id, reg.branch_id);
        assert_eq!(kit.store.identity().device_code, "T2");

        // Every row now carries the registered ids; nothing the provisional ones.
        let (rb, rd) = (reg.branch_id.to_string(), reg.device_id.to_string());
        for table in SCOPED {
            let total = kit.count(table);
            assert!(total > 0, "{table}");
            let registered = scalar(
                &kit,
                &format!(
                    "SELECT COUNT(*) FROM {table} WHERE branch_id = '{rb}' AND device_id = '{rd}'"
                ),
            );
            assert_eq!(registered, total, "{table}");
        }
        assert_eq!(
            scalar(
                &kit,
                &format!("SELECT COUNT(*) FROM stock_levels WHERE branch_id <> '{rb}'")
            ),
            0
        );
        for table in ALL {
            for row in kit.rows(table) {
                assert!(!row.contains(&pb) && !row.contains(&pd), "{table}: {row}");
            }
        }
        // ... and so does every queued op, parsed.
        for op in kit.ops() {
            let ids: Vec<(BranchId, DeviceId)> = match &op {
                OpBody::SaleRecorded(s) => std::iter::once((s.branch_id, s.device_id))
                    .chain(s.movements.iter().map(|m| (m.branch_id, m.device_id)))
                    .chain(s.ledger_entry.iter().map(|e| (e.branch_id, e.device_id)))
                    .collect(),
                OpBody::StockMoved(m) => vec![(m.branch_id, m.device_id)],
                OpBody::LedgerEntryAdded(e) => vec![(e.branch_id, e.device_id)],
                OpBody::ExpenseChanged(p) => vec![(p.branch_id.unwrap(), p.device_id.unwrap())],
                _ => vec![],
            };
            for pair in ids {
                assert_eq!(pair, (reg.branch_id, reg.device_id), "{op:?}");
            }
        }
        // Only the ids changed in the ops; their ids, order and clocks stay.
        assert_eq!(
            kit.rows("(SELECT seq, op_id, kind, entity_id, hlc, created_at FROM outbox)"),
            envelopes
        );
        let mut expected = ops_before;
        for body in &mut expected {
            remap_body(
                body,
                Remap {
                    from_branch: provisional.branch_id,
                    from_device: provisional.device_id,
                    to_branch: reg.branch_id,
                    to_device: reg.device_id,
                },
            );
        }
        assert_eq!(kit.ops(), expected);

        // Counts, sums, receipts and balances are unchanged.
        assert_eq!(kit.snapshot(), counts);
        assert_eq!(sums(&kit), sums_before);
        assert_eq!(kit.rows("(SELECT id, receipt_no FROM sales)"), receipts);
        assert_eq!(kit.store.customer(amina).unwrap().balance, balance);
        assert_eq!(
            scalar(
                &kit,
                &format!(
                    "SELECT SUM(amount_minor) FROM customer_ledger WHERE customer_id = '{amina}'"
                )
            ),
            balance.minor()
        );
        // Every level is the sum of its branch's movements, and no movement
        // is without its level.
        assert_eq!(
            scalar(
                &kit,
                "SELECT COUNT(*) FROM stock_levels l WHERE l.quantity_milli <>
                   (SELECT SUM(m.quantity_milli) FROM stock_movements m
                    WHERE m.product_id = l.product_id AND m.branch_id = l.branch_id)"
            ),
            0
        );
        assert_eq!(
            scalar(
                &kit,
                "SELECT COUNT(*) FROM (SELECT DISTINCT product_id, branch_id FROM stock_movements)"
            ),
            kit.count("stock_levels")
        );
        // The till shows the same stock under its new branch.
        let bread = kit.store.search_products("Bread", 1).unwrap().remove(0);
        assert_eq!(bread.stock, Quantity::units(9));

        // The append-only guards are back, word for word, and still refuse.
        assert_eq!(triggers(&kit), guards);
        for sql in [
            "UPDATE sales SET reason = 'x'",
            "DELETE FROM sales",
            "UPDATE stock_movements SET note = 'x'",
            "DELETE FROM stock_movements",
            "UPDATE customer_ledger SET note = 'x'",
            "DELETE FROM customer_ledger",
            "UPDATE payments SET reference = 'x'",
            "UPDATE sale_lines SET name = 'x'",
        ] {
            let err = kit.store.conn().execute(sql, []).unwrap_err();
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }

        // Adopting again is a no-op.
        let rows = kit.contents(&ALL);
        assert_eq!(kit.store.adopt_identity(&reg).unwrap(), Remapped::default());
        assert_eq!(kit.contents(&ALL), rows);

        // Receipts from now on carry the registered codes; the counter goes on.
        let soda = kit.product("Soda", 50_00);
        let next = sell(
            &mut kit,
            soda.id,
            Tender::Cash {
                tendered: kes(50_00),
            },
        );
        assert_eq!(next.receipt_no, "WESTL-T2-000003");
        assert_eq!(
            (next.branch_id, next.device_id),
            (reg.branch_id, reg.device_id)
        );

        // A key of another device is still refused, and changes nothing.
        let rows = kit.contents(&ALL);
        let err = kit.refused(|k| k.store.adopt_identity(&registration("CBD", "T1")));
        assert!(
            matches!(err, StoreError::Invalid(ref m) if m.contains("already registered")),
            "{err}"
        );
        assert_eq!(kit.contents(&ALL), rows);
        assert_eq!(triggers(&kit), guards);
    }

    #[test]
    fn a_remap_that_fails_half_way_leaves_the_provisional_till_as_it_was() {
        let (mut kit, _) = traded_offline();
        // The last queued op cannot be read: the remap fails after it has
        // dropped the guards and rewritten every table.
        kit.store
            .conn()
            .execute(
                "UPDATE outbox SET payload = '{\"type\": \"mystery\"}' WHERE seq = (SELECT MAX(seq) FROM outbox)",
                [],
            )
            .unwrap();
        let provisional = kit.store.identity().clone();
        let rows = kit.contents(&ALL);
        let guards = triggers(&kit);
        let err = kit.refused(|k| k.store.adopt_identity(&registration("WESTL", "T2")));
        assert!(
            matches!(err, StoreError::Corrupt(ref m) if m.contains("outbox op")),
            "{err}"
        );
        assert_eq!(kit.contents(&ALL), rows);
        assert_eq!(triggers(&kit), guards);
        assert_eq!(kit.store.identity(), &provisional);
        assert!(!kit.store.is_registered().unwrap());
        let err = kit
            .store
            .conn()
            .execute("UPDATE sales SET reason = 'x'", [])
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }
}
