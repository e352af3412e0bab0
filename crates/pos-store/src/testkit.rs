//! Shared fixtures for this crate's unit tests.

use std::sync::Arc;

use pos_domain::{Currency, ManualClock, Money, Name, Pin, Role, Sku, TaxCode, Timestamp, UserId};
use sync_protocol::{Change, ChangeBody, Cursor, Epoch, OpBody, PullResponse};

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

/// A signed-in user with `role` who is not in the users table (enough for
/// permission checks and for the `user_id` of records).
pub fn actor(role: pos_domain::Role) -> Actor {
    Actor {
        user_id: pos_domain::UserId::new(),
        name: format!("Test {role}"),
        role,
    }
}

/// Tables whose rows a refused catalog or stock write must leave as they were.
const WATCHED: [&str; 6] = [
    "products",
    "categories",
    "stock_movements",
    "stock_levels",
    "outbox",
    "device_identity",
];

impl Kit {
    /// Every row of `tables` as text, to assert a refused write changed no
    /// value (row counts alone miss an update).
    pub fn contents(&self, tables: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for table in tables {
            let mut stmt = self
                .store
                .conn()
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
                .unwrap();
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..n)
                        .map(|i| r.get::<_, rusqlite::types::Value>(i))
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .unwrap();
            for row in rows {
                out.push(format!("{table}: {:?}", row.unwrap()));
            }
        }
        out
    }

    /// Runs `f`, which must be refused, and asserts that it changed nothing
    /// (row counts and the rows of the catalog, stock and outbox tables).
    /// Returns the error so the caller can check its variant.
    pub fn refused<T: std::fmt::Debug>(
        &mut self,
        f: impl FnOnce(&mut Kit) -> crate::Result<T>,
    ) -> crate::StoreError {
        let before = self.snapshot();
        let rows = self.contents(&WATCHED);
        let err = match f(self) {
            Ok(v) => panic!("expected a refusal, got Ok({v:?})"),
            Err(e) => e,
        };
        assert_eq!(self.snapshot(), before, "row counts changed by: {err}");
        assert_eq!(self.contents(&WATCHED), rows, "rows changed by: {err}");
        err
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

    /// A user with `role` to act as in tests. Their PIN hash is a placeholder,
    /// so they cannot log in (hashing a real PIN is slow).
    pub fn user(&mut self, name: &str, role: Role) -> Actor {
        let name = Name::parse("name", name).unwrap();
        self.store
            .write(|tx| {
                crate::users::insert_user(tx, UserId::new(), &name, role, "test-only".into())
            })
            .expect("user")
    }

    pub fn cashier(&mut self) -> Actor {
        self.user("Otieno", Role::Cashier)
    }

    pub fn manager(&mut self) -> Actor {
        self.user("Akinyi", Role::Manager)
    }

    /// The bodies of the ops waiting in the outbox, oldest first.
    pub fn ops(&self) -> Vec<OpBody> {
        self.store
            .outbox_pending(10_000)
            .unwrap()
            .into_iter()
            .map(|e| e.op.body)
            .collect()
    }

    /// The newest op in the outbox.
    pub fn last_op(&self) -> OpBody {
        self.ops().pop().expect("an op in the outbox")
    }
}

impl Kit {
    /// A credit customer with `limit_minor`, written straight to the table.
    pub fn customer(&mut self, name: &str, limit_minor: i64) -> pos_domain::CustomerId {
        let id = pos_domain::CustomerId::new();
        self.store
            .conn()
            .execute(
                "INSERT INTO customers (id, name, credit_limit_minor, currency, created_at, hlc)
                 VALUES (?1, ?2, ?3, 'KES', 0, '0000000000000-00000000-0000000000000000')",
                rusqlite::params![id.to_string(), name, limit_minor],
            )
            .unwrap();
        id
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

/// A pulled page of `bodies` numbered from `first`, ending the feed.
pub fn page(epoch: Epoch, first: u64, bodies: Vec<ChangeBody>) -> PullResponse {
    let n = bodies.len() as u64;
    PullResponse {
        epoch,
        changes: bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| Change {
                seq: first + i as u64,
                body,
            })
            .collect(),
        next_cursor: Cursor {
            epoch,
            seq: first + n.max(1) - 1,
        },
        has_more: false,
    }
}
