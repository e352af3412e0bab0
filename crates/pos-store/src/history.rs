//! A customer's history as this till knows it, for when the Back Office
//! cannot be asked (DESIGN.md invariant 7: other branches' history is
//! read-only, fetched from the Back Office when online).
//!
//! What the till has: the sales of its own branch with the customer (sales
//! belong to their branch, so another branch's sales are not here) and every
//! ledger entry it has pulled (ledger entries of all branches are shared, so
//! the balance counts every branch). It has the same shape as the Back
//! Office's answer ([`CustomerHistory`]), with `this_branch` relative to this
//! till's branch. Only reads; the rows are read by [`record_sql::history`],
//! as the Back Office reads them. `merges` lists the ids merged into the
//! customer that this till has pulled, without a time or reason.

use pos_domain::{CustomerId, Timestamp};
use rusqlite::OptionalExtension;
use sync_protocol::history::{CustomerHistory, HistoryCustomer};

use crate::{Result, Store};

impl Store {
    /// Customer `id`'s history from this till's own records, as of `now`.
    /// An id merged into another customer answers that customer.
    pub fn customer_history(&self, id: CustomerId, now: Timestamp) -> Result<CustomerHistory> {
        let conn = self.conn();
        let merged: Option<String> = conn
            .prepare_cached("SELECT customer_id FROM customer_aliases WHERE alias_id = ?1")?
            .query_row([id.to_string()], |r| r.get(0))
            .optional()?;
        let kept: CustomerId = match merged {
            Some(text) => text.parse().unwrap_or(id),
            None => id,
        };
        let c = self.customer(kept)?;
        let branch = self.identity().branch_id;
        let (sales, sales_truncated) = record_sql::history::sales(conn, kept, branch)?;
        let (ledger, ledger_truncated) = record_sql::history::ledger(conn, kept, branch)?;
        // The aliases this till has pulled, without when or why (the Back
        // Office's answer has those, and the merges an owner undid).
        let merges = record_sql::history::aliases(conn, kept)?;

        Ok(CustomerHistory {
            customer: HistoryCustomer {
                id: kept,
                requested_id: id,
                name: c.name,
                phone: c.phone.map(|p| p.to_string()),
                deleted: c.deleted_at.is_some(),
            },
            balance: c.balance,
            sales,
            sales_truncated,
            ledger,
            ledger_truncated,
            merges,
            server_time: now,
        })
    }
}
