//! A customer's history as this till knows it, for when the Back Office
//! cannot be asked (DESIGN.md invariant 7: other branches' history is
//! read-only, fetched from the Back Office when online).
//!
//! What the till has: the sales of its own branch with the customer (sales
//! belong to their branch, so another branch's sales are not here) and every
//! ledger entry it has pulled (ledger entries of all branches are shared, so
//! the balance counts every branch). It has the same shape as the Back
//! Office's answer ([`CustomerHistory`]), with `this_branch` relative to this
//! till's branch. Only reads.

use pos_domain::{CustomerId, PaymentMethod, Timestamp};
use rusqlite::{OptionalExtension, params};
use sync_protocol::history::{
    CustomerHistory, HistoryBranch, HistoryCustomer, HistoryLedgerEntry, HistorySale,
    MAX_HISTORY_LEDGER, MAX_HISTORY_SALES,
};
use sync_protocol::{LedgerKind, SaleKind};

use crate::sql::{col_enum, col_money, col_parse, col_parse_opt};
use crate::{Result, Store};

/// The ids whose records count for customer `?1`: itself and every id
/// merged into it.
const IDS: &str =
    "SELECT ?1 UNION ALL SELECT alias_id FROM customer_aliases WHERE customer_id = ?1";

fn branch_of(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<HistoryBranch> {
    Ok(HistoryBranch {
        id: col_parse(r, i)?,
        code: r.get::<_, Option<String>>(i + 1)?.unwrap_or_default(),
        name: r.get::<_, Option<String>>(i + 2)?.unwrap_or_default(),
    })
}

fn capped<T>(mut rows: Vec<T>, limit: u32) -> (Vec<T>, bool) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

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
        let identity = self.identity();
        let branch = identity.branch_id.to_string();
        let device = identity.device_id.to_string();
        let device_code = identity.device_code.clone();

        let mut stmt = conn.prepare_cached(&format!(
            "SELECT s.id, s.receipt_no, s.kind, s.branch_id, b.code, b.name, s.device_id,
                    s.created_at, s.business_day, s.total_minor, s.currency,
                    (SELECT COALESCE(SUM(p.amount_minor), 0) FROM payments p
                     WHERE p.sale_id = s.id AND p.method = 'credit'),
                    s.branch_id = ?2
             FROM sales s LEFT JOIN branches b ON b.id = s.branch_id
             WHERE s.customer_id IN ({IDS})
             ORDER BY s.created_at DESC, s.rowid DESC
             LIMIT ?3"
        ))?;
        let sales = stmt
            .query_map(
                params![kept.to_string(), branch, MAX_HISTORY_SALES + 1],
                |r| {
                    let currency = col_parse(r, 10)?;
                    let recorded_by: String = r.get(6)?;
                    Ok(HistorySale {
                        id: col_parse(r, 0)?,
                        receipt_no: r.get(1)?,
                        kind: col_enum(r, 2, SaleKind::parse)?,
                        branch: branch_of(r, 3)?,
                        device_code: (recorded_by == device).then(|| device_code.clone()),
                        created_at: Timestamp::from_millis(r.get(7)?),
                        business_day: r.get(8)?,
                        total: col_money(r, 9, currency)?,
                        on_credit: col_money(r, 11, currency)?,
                        this_branch: r.get(12)?,
                    })
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let (sales, sales_truncated) = capped(sales, MAX_HISTORY_SALES);

        let mut stmt = conn.prepare_cached(&format!(
            "SELECT l.id, l.kind, l.amount_minor, l.currency, l.method, l.reference,
                    l.branch_id, b.code, b.name, l.created_at, l.sale_id, l.branch_id = ?2
             FROM customer_ledger l LEFT JOIN branches b ON b.id = l.branch_id
             WHERE l.customer_id IN ({IDS})
             ORDER BY l.created_at DESC, l.rowid DESC
             LIMIT ?3"
        ))?;
        let ledger = stmt
            .query_map(
                params![kept.to_string(), branch, MAX_HISTORY_LEDGER + 1],
                |r| {
                    let currency = col_parse(r, 3)?;
                    Ok(HistoryLedgerEntry {
                        id: col_parse(r, 0)?,
                        kind: col_enum(r, 1, LedgerKind::parse)?,
                        amount: col_money(r, 2, currency)?,
                        method: match r.get::<_, Option<String>>(4)? {
                            None => None,
                            Some(_) => Some(col_enum(r, 4, PaymentMethod::parse)?),
                        },
                        reference: r.get(5)?,
                        branch: branch_of(r, 6)?,
                        created_at: Timestamp::from_millis(r.get(9)?),
                        sale_id: col_parse_opt(r, 10)?,
                        this_branch: r.get(11)?,
                    })
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let (ledger, ledger_truncated) = capped(ledger, MAX_HISTORY_LEDGER);

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
            server_time: now,
        })
    }
}
