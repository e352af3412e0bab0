//! `GET /api/customers/{id}/history`: a customer's sales and credit account
//! at every branch, for any branch's device to **read** (DESIGN.md
//! invariant 7: other branches can look up a customer's history read-only).
//!
//! - Customers are shared, so any device's key may ask about any customer.
//! - The id is alias-resolved ([`canonical_customer`]): an id merged into
//!   another customer answers the customer it was merged into, with the
//!   sales and ledger entries recorded under either id.
//! - Every row says whether it is from the requesting device's branch
//!   (`this_branch`); the others are another branch's and a till shows them
//!   read-only. Nothing can be changed through this endpoint: it only reads,
//!   and sales and ledger entries are append-only anyway.
//! - An unknown id is 404 `not_found`; a malformed one 400.
//!
//! Lists are newest first and capped ([`MAX_HISTORY_SALES`],
//! [`MAX_HISTORY_LEDGER`]), with `*_truncated` saying older rows exist.

use axum::Json;
use axum::extract::{Path, State};
use pos_domain::{CustomerId, PaymentMethod, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::history::{
    CustomerHistory, HistoryBranch, HistoryCustomer, HistoryLedgerEntry, HistorySale,
    MAX_HISTORY_LEDGER, MAX_HISTORY_SALES,
};
use sync_protocol::{LedgerKind, SaleKind};

use crate::apply::{col, col_money, col_opt};
use crate::auth::AuthDevice;
use crate::customer_merge::{canonical_customer, customer_balance};
use crate::error::ApiError;
use crate::state::AppState;

/// The ids whose records count for customer `?1`: itself and every id
/// merged into it.
const IDS: &str =
    "SELECT ?1 UNION ALL SELECT alias_id FROM customer_aliases WHERE customer_id = ?1";

/// `GET /api/customers/{id}/history`.
pub async fn history(
    device: AuthDevice,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CustomerHistory>, ApiError> {
    let requested: CustomerId = id.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "'{id}' is not a customer id; use the customer's UUID as the till knows it"
        ))
    })?;
    let answer = state
        .db(move |conn, clock| read(conn, &device, requested, clock.now()))
        .await?;
    Ok(Json(answer))
}

/// The history of `requested` as `device` sees it.
pub fn read(
    conn: &Connection,
    device: &AuthDevice,
    requested: CustomerId,
    now: Timestamp,
) -> Result<CustomerHistory, ApiError> {
    let id = canonical_customer(conn, requested)?;
    let customer = conn
        .prepare_cached("SELECT name, phone, deleted_at IS NOT NULL FROM customers WHERE id = ?1")?
        .query_row([id.to_string()], |r| {
            Ok(HistoryCustomer {
                id,
                requested_id: requested,
                name: r.get(0)?,
                phone: r.get(1)?,
                deleted: r.get(2)?,
            })
        })
        .optional()?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "the Back Office has no customer {requested}; it may not have been synced yet"
            ))
        })?;
    let balance = customer_balance(conn, id).map_err(|e| ApiError::internal(&e))?;
    let branch = device.branch_id.to_string();
    let (sales, sales_truncated) = sales(conn, id, &branch)?;
    let (ledger, ledger_truncated) = ledger(conn, id, &branch)?;
    Ok(CustomerHistory {
        customer,
        balance,
        sales,
        sales_truncated,
        ledger,
        ledger_truncated,
        server_time: now,
    })
}

fn branch_of(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<HistoryBranch> {
    Ok(HistoryBranch {
        id: col(r, i)?,
        code: r.get::<_, Option<String>>(i + 1)?.unwrap_or_default(),
        name: r.get::<_, Option<String>>(i + 2)?.unwrap_or_default(),
    })
}

/// Keeps the first `limit` rows, saying whether there were more.
fn capped<T>(mut rows: Vec<T>, limit: u32) -> (Vec<T>, bool) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

fn sales(
    conn: &Connection,
    id: CustomerId,
    branch: &str,
) -> Result<(Vec<HistorySale>, bool), ApiError> {
    let mut stmt = conn.prepare_cached(&format!(
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
    ))?;
    let rows = stmt
        .query_map(
            params![id.to_string(), branch, MAX_HISTORY_SALES + 1],
            |r| {
                let currency = col(r, 10)?;
                Ok(HistorySale {
                    id: col(r, 0)?,
                    receipt_no: r.get(1)?,
                    kind: enum_col(r, 2, SaleKind::parse)?,
                    branch: branch_of(r, 3)?,
                    device_code: r.get(6)?,
                    created_at: Timestamp::from_millis(r.get(7)?),
                    business_day: r.get(8)?,
                    total: col_money(r, 9, currency)?,
                    on_credit: col_money(r, 11, currency)?,
                    this_branch: r.get(12)?,
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(capped(rows, MAX_HISTORY_SALES))
}

fn ledger(
    conn: &Connection,
    id: CustomerId,
    branch: &str,
) -> Result<(Vec<HistoryLedgerEntry>, bool), ApiError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT l.id, l.kind, l.amount_minor, l.currency, l.method, l.reference,
                l.branch_id, b.code, b.name, l.created_at, l.sale_id, l.branch_id = ?2
         FROM customer_ledger l
         LEFT JOIN branches b ON b.id = l.branch_id
         WHERE l.customer_id IN ({IDS})
         ORDER BY l.created_at DESC, l.rowid DESC
         LIMIT ?3"
    ))?;
    let rows = stmt
        .query_map(
            params![id.to_string(), branch, MAX_HISTORY_LEDGER + 1],
            |r| {
                let currency = col(r, 3)?;
                Ok(HistoryLedgerEntry {
                    id: col(r, 0)?,
                    kind: enum_col(r, 1, LedgerKind::parse)?,
                    amount: col_money(r, 2, currency)?,
                    method: match r.get::<_, Option<String>>(4)? {
                        None => None,
                        Some(_) => Some(enum_col(r, 4, PaymentMethod::parse)?),
                    },
                    reference: r.get(5)?,
                    branch: branch_of(r, 6)?,
                    created_at: Timestamp::from_millis(r.get(9)?),
                    sale_id: col_opt(r, 10)?,
                    this_branch: r.get(11)?,
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(capped(rows, MAX_HISTORY_LEDGER))
}

/// A text column read through one of the protocol's `parse` functions.
fn enum_col<T>(
    r: &rusqlite::Row<'_>,
    i: usize,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = r.get(i)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown value '{text}'").into(),
        )
    })
}
