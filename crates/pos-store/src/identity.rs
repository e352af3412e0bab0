//! Which branch and device this till is.
//!
//! A fresh till invents a provisional identity (branch `MAIN`, till `T1`) so
//! it can sell with no Back Office at all. When it is connected, its API key
//! says which device and branch it really is, and the till adopts that
//! identity: receipts, stock movements and expenses from then on carry the
//! real ids, so the Back Office accepts them as this branch's.
//!
//! Adopting is only possible while the till holds no branch-scoped records
//! (sales, stock movements, ledger entries, expenses) under its provisional
//! identity; remapping those is not supported yet and is refused with a clear
//! error, changing nothing. Shared records (products, users, settings,
//! customers) carry no branch and are kept.

use pos_domain::{BranchId, DeviceId, TimeZone};
use rusqlite::params;

use crate::{Identity, Result, Store, StoreError};

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

impl Store {
    /// Becomes the device and branch the Back Office registered. Idempotent;
    /// refused (nothing changed) when the till is already another registered
    /// device or holds branch-scoped records under its provisional identity.
    pub fn adopt_identity(&mut self, reg: &RegisteredIdentity) -> Result<()> {
        let current = self.identity().clone();
        if current.device_id == reg.device_id && current.branch_id == reg.branch_id {
            return Ok(());
        }
        let old_branch = current.branch_id.to_string();
        let old_device = current.device_id.to_string();
        self.write(|tx| {
            let registered: Option<i64> =
                tx.query_row("SELECT registered_at FROM device_identity WHERE singleton = 1", [], |r| r.get(0))?;
            if registered.is_some() {
                return Err(StoreError::Invalid(format!(
                    "this till is already registered as {}-{}; use that device's key, or set the till up afresh",
                    current.branch_code, current.device_code
                )));
            }
            let scoped: i64 = tx.query_row(
                "SELECT (SELECT COUNT(*) FROM sales) + (SELECT COUNT(*) FROM stock_movements)
                      + (SELECT COUNT(*) FROM customer_ledger) + (SELECT COUNT(*) FROM expenses)",
                [],
                |r| r.get(0),
            )?;
            if scoped > 0 {
                return Err(StoreError::Invalid(format!(
                    "this till already has {scoped} sales, stock or expense records of its own; \
                     connecting a till that has traded offline to a Back Office is not supported yet — \
                     keep it standalone, or set up a new till for this key"
                )));
            }
            let hlc = tx.tick().to_string();
            tx.execute(
                "INSERT INTO branches (id, code, name, time_zone, hlc) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET code = excluded.code, name = excluded.name,
                     time_zone = excluded.time_zone",
                params![reg.branch_id.to_string(), reg.branch_code, reg.branch_name, reg.time_zone.name(), hlc],
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
            tx.execute(
                "UPDATE device_identity SET device_id = ?1, branch_id = ?2, registered_at = ?3 WHERE singleton = 1",
                params![reg.device_id.to_string(), reg.branch_id.to_string(), tx.now().as_millis()],
            )?;
            // The provisional rows are referenced by nothing now.
            tx.execute("DELETE FROM devices WHERE id = ?1", [&old_device])?;
            if old_branch != reg.branch_id.to_string() {
                tx.execute("DELETE FROM branches WHERE id = ?1", [&old_branch])?;
            }
            Ok(())
        })?;
        self.set_identity(Identity {
            device_id: reg.device_id,
            device_code: reg.device_code.clone(),
            branch_id: reg.branch_id,
            branch_code: reg.branch_code.clone(),
            time_zone: reg.time_zone,
        });
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::kit;

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

    #[test]
    fn a_fresh_till_takes_the_identity_of_its_key() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let soda = kit.product("Soda", 50_00);
        assert!(!kit.store.is_registered().unwrap());
        let reg = registration("WESTL", "T2");
        kit.store.adopt_identity(&reg).unwrap();
        assert!(kit.store.is_registered().unwrap());
        assert_eq!(kit.store.identity().branch_id, reg.branch_id);
        kit.store.adopt_identity(&reg).unwrap(); // idempotent

        // Sales from now on carry the registered ids and receipt prefix.
        let sale = kit
            .store
            .checkout(
                &owner,
                &crate::sales::Checkout {
                    sale_id: pos_domain::SaleId::new(),
                    lines: vec![crate::sales::CheckoutLine {
                        product_id: soda.id,
                        quantity: pos_domain::Quantity::units(1),
                        discount: pos_domain::Discount::None,
                    }],
                    discount: pos_domain::Discount::None,
                    tenders: vec![pos_domain::Tender::Cash {
                        tendered: crate::testkit::kes(50_00),
                    }],
                    customer_id: None,
                },
            )
            .unwrap();
        assert_eq!(sale.receipt_no, "WESTL-T2-000001");
        assert_eq!(
            (sale.branch_id, sale.device_id),
            (reg.branch_id, reg.device_id)
        );
        // The shared records made before registration are still there and queued.
        assert_eq!(kit.store.product(soda.id).unwrap().name, "Soda");
        assert!(kit.store.outbox_stats().unwrap().pending >= 3);

        // Another key for a registered till is refused.
        let before = kit.snapshot();
        let err = kit
            .store
            .adopt_identity(&registration("CBD", "T1"))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(ref m) if m.contains("already registered")),
            "{err}"
        );
        assert_eq!(kit.snapshot(), before);
    }

    #[test]
    fn a_till_that_traded_offline_is_not_silently_remapped() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let p = kit.product("Bread", 60_00);
        kit.store
            .restock(&owner, p.id, pos_domain::Quantity::units(5), None)
            .unwrap();
        let before = kit.snapshot();
        let provisional = kit.store.identity().clone();
        let err = kit
            .store
            .adopt_identity(&registration("WESTL", "T2"))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(ref m) if m.contains("not supported yet")),
            "{err}"
        );
        assert_eq!(kit.snapshot(), before);
        assert_eq!(kit.store.identity(), &provisional);
    }
}
