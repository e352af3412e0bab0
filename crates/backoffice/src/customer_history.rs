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
//! The rows are read by [`record_sql::history`], as the till reads its own:
//! newest first and capped, with `*_truncated` saying older rows exist.
//! `merges` lists the records merged into the customer (`customer_merges`,
//! [`merges_into`]): when, why, which branch created each record, and
//! whether an owner undid the merge.

use axum::Json;
use axum::extract::{Path, State};
use pos_domain::{CustomerId, Timestamp};
use record_sql::history;
use rusqlite::{Connection, OptionalExtension};
use sync_protocol::history::{CustomerHistory, HistoryBranch, HistoryCustomer, HistoryMerge};

use crate::auth::AuthDevice;
use crate::customer_merge::{MergeBranch, canonical_customer, customer_balance, merges_into};
use crate::error::ApiError;
use crate::state::AppState;

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
    let (sales, sales_truncated) = history::sales(conn, id, device.branch_id)?;
    let (ledger, ledger_truncated) = history::ledger(conn, id, device.branch_id)?;
    let branch = |b: MergeBranch| HistoryBranch {
        id: b.id,
        code: b.code,
        name: b.name,
    };
    let merges = merges_into(conn, id)?
        .into_iter()
        .map(|m| HistoryMerge {
            alias_id: m.alias,
            name: m.alias_name,
            phone: m.alias_phone,
            merged_at: Some(m.merged_at),
            reason: Some(m.reason),
            alias_branch: m.alias_branch.map(branch),
            customer_branch: m.customer_branch.map(branch),
            undone_at: m.undone_at,
        })
        .collect();
    Ok(CustomerHistory {
        customer,
        balance,
        sales,
        sales_truncated,
        ledger,
        ledger_truncated,
        merges,
        server_time: now,
    })
}
