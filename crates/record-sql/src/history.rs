//! A customer's sales and credit ledger, newest first, read the same way on
//! both sides: by the Back Office for `GET /api/customers/{id}/history` (every
//! branch's records) and by the till when it cannot ask (the records it
//! has). Both have the same `sales`, `payments`, `customer_ledger`,
//! `customer_aliases`, `branches` and `devices` tables.
//!
//! The customer's records are those recorded under its id or under any id
//! merged into it. Every row says whether it is of `this_branch`. Lists are
//! capped, with a flag saying older rows exist. [`aliases`] lists the ids
//! merged into the customer (the till's whole answer about merges; the
//! Back Office reads its own record of merges).

use pos_domain::{BranchId, CustomerId, PaymentMethod};
use rusqlite::{Connection, Row, params};
use sync_protocol::history::{
    HistoryBranch, HistoryLedgerEntry, HistoryMerge, HistorySale, MAX_HISTORY_LEDGER,
    MAX_HISTORY_SALES,
};
use sync_protocol::{LedgerKind, SaleKind};

use crate::read::{money, parsed, parsed_opt, ts};

/// The ids whose records count for customer `?1`: itself and every id
/// merged into it.
const IDS: &str =
    "SELECT ?1 UNION ALL SELECT alias_id FROM customer_aliases WHERE customer_id = ?1";

/// The customer's sales (up to [`MAX_HISTORY_SALES`]) and whether there are
/// older ones. `customer` should be the kept id (not an alias).
pub fn sales(
    conn: &Connection,
    customer: CustomerId,
    this_branch: BranchId,
) -> rusqlite::Result<(Vec<HistorySale>, bool)> {
    let sql = format!(
        "SELECT s.id, s.receipt_no, s.kind, s.branch_id, b.code, b.name, d.code, s.created_at,
                s.business_day, s.total_minor, s.currency,
                (SELECT COALESCE(SUM(p.amount_minor), 0) FROM payments p
                 WHERE p.sale_id = s.id AND p.method = 'credit'),
                s.branch_id = ?2
         FROM sales s
         LEFT JOIN branches b ON b.id = s.branch_id
         LEFT JOIN devices d ON d.id = s.device_id
         WHERE s.customer_id IN ({IDS})
         ORDER BY s.created_at DESC, s.rowid DESC
         LIMIT ?3"
    );
    newest(
        conn,
        &sql,
        (customer, this_branch),
        MAX_HISTORY_SALES,
        |r| {
            let currency = parsed(r, 10)?;
            Ok(HistorySale {
                id: parsed(r, 0)?,
                receipt_no: r.get(1)?,
                kind: enum_col(r, 2, SaleKind::parse)?,
                branch: branch_of(r, 3)?,
                device_code: r.get(6)?,
                created_at: ts(r, 7)?,
                business_day: r.get(8)?,
                total: money(r, 9, currency)?,
                on_credit: money(r, 11, currency)?,
                this_branch: r.get(12)?,
            })
        },
    )
}

/// The customer's ledger entries (up to [`MAX_HISTORY_LEDGER`]) and whether
/// there are older ones. `customer` should be the kept id (not an alias).
pub fn ledger(
    conn: &Connection,
    customer: CustomerId,
    this_branch: BranchId,
) -> rusqlite::Result<(Vec<HistoryLedgerEntry>, bool)> {
    let sql = format!(
        "SELECT l.id, l.kind, l.amount_minor, l.currency, l.method, l.reference,
                l.branch_id, b.code, b.name, l.created_at, l.sale_id, l.branch_id = ?2
         FROM customer_ledger l
         LEFT JOIN branches b ON b.id = l.branch_id
         WHERE l.customer_id IN ({IDS})
         ORDER BY l.created_at DESC, l.rowid DESC
         LIMIT ?3"
    );
    newest(
        conn,
        &sql,
        (customer, this_branch),
        MAX_HISTORY_LEDGER,
        |r| {
            let currency = parsed(r, 3)?;
            Ok(HistoryLedgerEntry {
                id: parsed(r, 0)?,
                kind: enum_col(r, 1, LedgerKind::parse)?,
                amount: money(r, 2, currency)?,
                method: match r.get::<_, Option<String>>(4)? {
                    None => None,
                    Some(_) => Some(enum_col(r, 4, PaymentMethod::parse)?),
                },
                reference: r.get(5)?,
                branch: branch_of(r, 6)?,
                created_at: ts(r, 9)?,
                sale_id: parsed_opt(r, 10)?,
                this_branch: r.get(11)?,
            })
        },
    )
}

/// The newest rows of history query `sql` (?1 the customer, ?2 the
/// asking branch, ?3 the limit), at most `max`, and whether there are more.
fn newest<T>(
    conn: &Connection,
    sql: &str,
    (customer, this_branch): (CustomerId, BranchId),
    max: u32,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<(Vec<T>, bool)> {
    let rows = conn
        .prepare_cached(sql)?
        .query_map(
            params![customer.to_string(), this_branch.to_string(), max + 1],
            map,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(capped(rows, max))
}

/// The ids merged into `customer` that this database knows
/// (`customer_aliases`), oldest record first, each with its own name and
/// phone. Only the aliases: when and why they were merged, and merges an
/// owner undid, are the Back Office's to tell (its `customer_merges`), so
/// those fields are `None` here.
pub fn aliases(conn: &Connection, customer: CustomerId) -> rusqlite::Result<Vec<HistoryMerge>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.alias_id, c.name, c.phone FROM customer_aliases a
         JOIN customers c ON c.id = a.alias_id
         WHERE a.customer_id = ?1
         ORDER BY c.created_at, c.rowid",
    )?;
    let rows = stmt.query_map([customer.to_string()], |r| {
        Ok(HistoryMerge {
            alias_id: parsed(r, 0)?,
            name: r.get(1)?,
            phone: r.get(2)?,
            merged_at: None,
            reason: None,
            alias_branch: None,
            customer_branch: None,
            undone_at: None,
        })
    })?;
    rows.collect()
}

/// The branch in columns `i` (id), `i + 1` (code), `i + 2` (name); a branch
/// the database does not have shows with empty code and name.
fn branch_of(r: &Row<'_>, i: usize) -> rusqlite::Result<HistoryBranch> {
    Ok(HistoryBranch {
        id: parsed(r, i)?,
        code: r.get::<_, Option<String>>(i + 1)?.unwrap_or_default(),
        name: r.get::<_, Option<String>>(i + 2)?.unwrap_or_default(),
    })
}

/// A text column read through one of the protocol's `parse` functions.
fn enum_col<T>(r: &Row<'_>, i: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let text: String = r.get(i)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown value '{text}'").into(),
        )
    })
}

/// Keeps the first `limit` rows, saying whether there were more.
fn capped<T>(mut rows: Vec<T>, limit: u32) -> (Vec<T>, bool) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}
