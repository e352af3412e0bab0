//! Shared fixtures for this crate's unit tests.

use std::sync::Arc;

use pos_domain::{Currency, ManualClock, Money, Name, Pin, Sku, TaxCode, Timestamp};

use crate::catalog::{NewProduct, Product};
use crate::{Actor, Store};

/// 2026-03-02 09:00 in Nairobi (06:00 UTC).
pub const T0: Timestamp = Timestamp::from_millis(1_772_431_200_000);

pub struct Kit {
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub owner: Actor,
}

/// A fresh in-memory till with an owner (PIN 1234).
pub fn kit() -> Kit {
    let clock = Arc::new(ManualClock::new(T0));
    let mut store = Store::open_in_memory(clock.clone()).expect("open");
    let owner = store
        .create_first_owner(
            Name::parse("name", "Wanjiru").unwrap(),
            &Pin::parse("1234").unwrap(),
        )
        .expect("owner");
    Kit {
        store,
        clock,
        owner,
    }
}

pub fn kes(minor: i64) -> Money {
    Money::from_minor(minor, Currency::KES).unwrap()
}

pub fn new_product(name: &str, price_minor: i64) -> NewProduct {
    NewProduct {
        name: Name::parse("name", name).unwrap(),
        sku: Some(Sku::parse(&name.replace(' ', "-")).unwrap()),
        barcode: None,
        category_id: None,
        price: kes(price_minor),
        tax_code: TaxCode::parse("VAT16").unwrap(),
        image: None,
        track_stock: true,
        low_stock: None,
    }
}

impl Kit {
    pub fn product(&mut self, name: &str, price_minor: i64) -> Product {
        self.store
            .create_product(&self.owner, new_product(name, price_minor))
            .expect("product")
    }

    /// Counts rows of a table (for "nothing changed" assertions).
    pub fn count(&self, table: &str) -> i64 {
        self.store
            .conn()
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    /// Row counts of every table a write can touch, to assert a refused write
    /// changed nothing.
    pub fn snapshot(&self) -> Vec<(String, i64)> {
        [
            "products",
            "categories",
            "users",
            "login_attempts",
            "sales",
            "sale_lines",
            "payments",
            "stock_movements",
            "stock_levels",
            "customers",
            "customer_ledger",
            "expenses",
            "outbox",
            "business_settings",
            "tax_rates",
        ]
        .iter()
        .map(|t| (t.to_string(), self.count(t)))
        .collect()
    }

    /// Every row of `table`, in key order, as text: for "nothing changed"
    /// assertions on writes that edit rows rather than add them.
    pub fn rows(&self, table: &str) -> Vec<String> {
        let conn = self.store.conn();
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
            .unwrap();
        let n = stmt.column_count();
        stmt.query_map([], |r| {
            (0..n)
                .map(|i| {
                    r.get::<_, rusqlite::types::Value>(i)
                        .map(|v| format!("{v:?}"))
                })
                .collect::<rusqlite::Result<Vec<_>>>()
                .map(|cols| cols.join(" | "))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }
}
