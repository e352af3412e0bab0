//! The till's local store: SQLite, written first, always.
//!
//! Every user action is one immediate transaction that writes the change *and*
//! the outbox operation describing it ([`Tx::enqueue`]), so there is never a
//! sale without its op nor an op without its sale. Services are methods on
//! [`Store`], one module per family of tables:
//!
//! - [`sales`]: checkout, void, refund, receipts.
//! - [`catalog`]: products and categories, barcode/SKU lookup, search, grid.
//! - [`stock`]: restock, adjustments, stocktake, levels, low stock.
//! - [`transfers`]: stock sent to and received from other branches.
//! - [`customers`]: credit customers and their ledger.
//! - [`users`]: till users, PIN login with lockout.
//! - [`expenses`]: petty cash.
//! - [`settings`]: business settings and tax rates.
//! - [`identity`]: which branch and device this till is; adopting the Back Office's.
//! - [`reports`]: sales by day, payment method, cashier and product; the
//!   day-closing summary.
//! - [`outbox`]: what the sync engine reads and acknowledges.
//! - [`prefs`]: preferences of this machine only (never synced).
//! - [`replica`]: what the sync engine pulls in: applying the Back Office's
//!   changes, the pull cursor and the sync bookkeeping.
//!
//! Schema: `migrations/pos/*.sql`, embedded and applied by [`migrate`].

pub mod catalog;
pub mod customers;
mod db;
mod error;
pub mod expenses;
pub mod full_sync;
pub mod history;
pub mod identity;
pub mod migrate;
pub mod outbox;
pub mod prefs;
pub mod receipt;
pub mod replica;
pub mod reports;
pub mod sales;
pub mod settings;
mod sql;
pub mod stock;
pub mod transfers;
pub mod users;

#[cfg(test)]
mod migrate_tests;
#[cfg(test)]
mod testkit;

pub use db::{Durability, Identity, Store, Tx};
pub use error::{Result, StoreError};

use pos_domain::{Permission, Role, UserId};

/// Who is doing something: a signed-in user. Obtained from [`Store::login`];
/// every service that changes data takes one and checks its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub name: String,
    pub role: Role,
}

impl Actor {
    /// Refuses unless this user's role holds `permission`.
    pub fn require(&self, permission: Permission, action: &'static str) -> Result<()> {
        if self.role.can(permission) {
            Ok(())
        } else {
            let needed = [Role::Cashier, Role::Manager, Role::Owner]
                .into_iter()
                .find(|r| r.can(permission))
                .unwrap_or(Role::Owner);
            Err(StoreError::Forbidden { action, needed })
        }
    }
}
