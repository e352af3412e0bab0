//! Credit customers and their ledger. A balance is never stored: it is the sum
//! of ledger entries (credit sale +, payment −), so entries made on two tills
//! offline both count.

use pos_domain::{CustomerId, Money};
use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::LedgerEntryRecord;

use crate::sql::col_parse;
use crate::{Result, StoreError, Tx};

/// What a customer owes (positive) in the business currency: the ledger's sum.
pub(crate) fn balance_of(conn: &Connection, customer: CustomerId) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(SUM(amount_minor), 0) FROM customer_ledger WHERE customer_id = ?1",
        )?
        .query_row([customer.to_string()], |r| r.get(0))?)
}

/// Refuses credit of `amount` unless the customer exists, is not deleted, and
/// stays within their limit.
pub(crate) fn check_credit(conn: &Connection, customer: CustomerId, amount: Money) -> Result<()> {
    let row = conn
        .prepare_cached(
            "SELECT name, credit_limit_minor, currency, deleted_at FROM customers WHERE id = ?1",
        )?
        .query_row([customer.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                col_parse::<pos_domain::Currency>(r, 2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })
        .optional()?;
    let Some((name, limit, currency, deleted)) = row else {
        return Err(StoreError::NotFound {
            what: "customer",
            id: customer.to_string(),
        });
    };
    if deleted.is_some() {
        return Err(StoreError::Deleted {
            what: "customer",
            name,
        });
    }
    let owes = balance_of(conn, customer)?;
    let would = owes.saturating_add(amount.minor());
    if would > limit {
        return Err(StoreError::CreditLimitExceeded {
            customer: name,
            limit: Money::from_minor(limit, currency)?,
            owes: Money::from_minor(owes, currency)?,
            requested: amount,
            would_owe: Money::from_minor(would, currency)?,
        });
    }
    Ok(())
}

/// Writes one ledger entry. Queues nothing: the caller queues the op that
/// carries it (`LedgerEntryAdded`, or the sale's `SaleRecorded`).
pub(crate) fn insert_ledger_entry(tx: &Tx<'_>, e: &LedgerEntryRecord) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO customer_ledger (id, customer_id, branch_id, device_id, kind, amount_minor, currency,
                                      sale_id, method, reference, user_id, note, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        e.id.to_string(),
        e.customer_id.to_string(),
        e.branch_id.to_string(),
        e.device_id.to_string(),
        e.kind.as_str(),
        e.amount.minor(),
        e.amount.currency().code(),
        e.sale_id.map(|s| s.to_string()),
        e.method.map(|m| m.as_str()),
        e.reference,
        e.user_id.map(|u| u.to_string()),
        e.note,
        e.created_at.as_millis(),
    ])?;
    Ok(())
}
