//! Dashboard writes go through the sync rules: each is an [`OpBody`] applied
//! with [`crate::apply::apply_op`], the function a device's pushed op goes
//! through. So a dashboard change is merged per field by its clock, stock
//! changes are movements, deletes are tombstones, and the change lands in
//! the feed every till pulls, in the same transaction.
//!
//! The clock of a dashboard write is the server's time, moved past the clock
//! of the record being changed ([`hlc_for`]): what the person saw on the page
//! is older than what they save, even if a till's clock runs a little ahead.

use pos_domain::{BranchId, DeviceId, Hlc, HlcClock, Timestamp};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sync_protocol::OpBody;
use uuid::Uuid;

use super::page::WebError;
use super::session::WebUser;
use crate::apply::{ApplyError, OpContext, apply_op};
use crate::db::{SERVER_NODE, server_hlc};

/// The device id dashboard writes carry (in stock movements, expenses and
/// the change feed's `origin`): the nil UUID, "the Back Office itself".
pub const DASHBOARD_DEVICE: DeviceId = DeviceId::BACK_OFFICE;

/// The branch given to writes of shared records (products, users, settings…),
/// which no branch check looks at.
const NO_BRANCH: BranchId = BranchId::from_uuid(Uuid::nil());

/// A clock for a dashboard write: now, moved past `seen` (the clock of the
/// record it changes).
pub fn hlc_after(now: Timestamp, seen: Option<Hlc>) -> Hlc {
    let mut clock = HlcClock::resume(SERVER_NODE, server_hlc(now));
    match seen {
        Some(seen) => clock.observe(seen, now),
        None => clock.tick(now),
    }
}

/// The clock of record `id` in `table` (`products`, `categories`, `users`,
/// `customers`, `expenses`), if it exists.
pub fn record_hlc(
    conn: &Connection,
    table: &'static str,
    id: &str,
) -> rusqlite::Result<Option<Hlc>> {
    let text: Option<String> = conn
        .prepare_cached(&format!("SELECT hlc FROM {table} WHERE id = ?1"))?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(text.and_then(|t| t.parse().ok()))
}

/// The newest clock among the business settings and tax rates.
pub fn settings_hlc(conn: &Connection) -> rusqlite::Result<Option<Hlc>> {
    let text: Option<String> = conn.query_row(
        "SELECT MAX(hlc) FROM (SELECT hlc FROM business_settings UNION ALL SELECT hlc FROM tax_rates)",
        [],
        |r| r.get(0),
    )?;
    Ok(text.and_then(|t| t.parse().ok()))
}

/// The clock for a dashboard write of `body`: now, moved past the clock of
/// the record it changes ([`seen_hlc`]).
pub fn hlc_for(conn: &Connection, now: Timestamp, body: &OpBody) -> rusqlite::Result<Hlc> {
    Ok(hlc_after(now, seen_hlc(conn, body)?))
}

/// One dashboard change: what it is, for which branch (`None` for shared
/// records), and the audit line that names who made it.
#[derive(Debug)]
pub struct Write<'a> {
    pub body: OpBody,
    pub branch: Option<BranchId>,
    pub hlc: Hlc,
    /// A verb for the audit log: `product.price`, `stock.restock`, …
    pub action: &'a str,
    /// A few words for the audit log (never secrets).
    pub detail: String,
}

/// Applies `writes` in one transaction, with an audit row each, as
/// `user`: all or nothing. A write the sync rules refuse is bad input (the
/// reason says why) and nothing is changed.
pub fn apply(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    writes: &[Write<'_>],
) -> Result<(), WebError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for w in writes {
        let ctx = OpContext {
            device: DASHBOARD_DEVICE,
            branch: w.branch.unwrap_or(NO_BRANCH),
            hlc: w.hlc,
            created_at: now,
            now,
        };
        match apply_op(&tx, &ctx, &w.body) {
            Ok(()) => {}
            Err(ApplyError::Reject { reason, .. }) => return Err(WebError::BadInput(reason)),
            Err(ApplyError::Db(e)) => return Err(WebError::internal(&e)),
        }
        audit(
            &tx,
            now,
            user,
            w.action,
            w.body.kind(),
            &w.body.entity_id(),
            &w.detail,
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The clock of the record `body` changes: its row's in its table, the
/// newest of the settings and tax rates for those, none for a record that is
/// only ever added (a sale, a stock movement, a ledger entry).
pub fn seen_hlc(conn: &Connection, body: &OpBody) -> rusqlite::Result<Option<Hlc>> {
    let table = match body {
        OpBody::ProductChanged(_) | OpBody::ProductDeleted(_) => "products",
        OpBody::CategoryChanged(_) | OpBody::CategoryDeleted(_) => "categories",
        OpBody::CustomerChanged(_) | OpBody::CustomerDeleted(_) => "customers",
        OpBody::UserChanged(_) | OpBody::UserDeleted(_) => "users",
        OpBody::ExpenseChanged(_) | OpBody::ExpenseDeleted(_) => "expenses",
        OpBody::SettingsChanged(_) | OpBody::TaxRateChanged(_) => return settings_hlc(conn),
        OpBody::SaleRecorded(_)
        | OpBody::StockMoved(_)
        | OpBody::LedgerEntryAdded(_)
        | OpBody::TransferSent(_)
        | OpBody::TransferReceived(_) => {
            return Ok(None);
        }
    };
    record_hlc(conn, table, &body.entity_id())
}

/// Applies one change to a record every branch shares (a product, till
/// user, customer, the settings…) with the clock [`hlc_for`] gives it:
/// [`apply`] of one [`Write`].
pub fn apply_one(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    body: OpBody,
    action: &str,
    detail: String,
) -> Result<(), WebError> {
    apply_for(conn, now, user, None, body, action, detail)
}

/// [`apply_one`] for a record that belongs to `branch` (a stock transfer is
/// sent by its sending branch and received by its receiving one): the op
/// is applied as if a device of that branch had pushed it, so the branch
/// checks of [`apply_op`] hold for the dashboard too.
pub fn apply_for(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    branch: Option<BranchId>,
    body: OpBody,
    action: &str,
    detail: String,
) -> Result<(), WebError> {
    let hlc = hlc_for(conn, now, &body)?;
    let change = Write {
        body,
        branch,
        hlc,
        action,
        detail,
    };
    apply(conn, now, user, &[change])
}

/// The names of the fields a patch sets, in order, from `(name, is set)`
/// pairs: for the audit line and the notice of an edit.
pub fn changed_fields(fields: &[(&'static str, bool)]) -> Vec<&'static str> {
    fields
        .iter()
        .filter_map(|&(name, set)| set.then_some(name))
        .collect()
}

/// Records who did what, for changes that are not ops (device keys,
/// branches, accounts).
pub fn audit(
    conn: &Connection,
    now: Timestamp,
    user: &WebUser,
    action: &str,
    entity: &str,
    entity_id: &str,
    detail: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO web_audit (at, user_id, action, entity, entity_id, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        now.as_millis(),
        user.id,
        action,
        entity,
        entity_id,
        detail
    ])?;
    Ok(())
}
