//! Applying one pushed op to the server's tables, and recording the changes
//! other devices will pull.
//!
//! The conflict rules (DESIGN.md invariant 6):
//! - **Append-only facts** (sales with their lines, payments, movements and
//!   ledger entry; stock movements; ledger entries) are inserted once, keyed
//!   by their ids: a second op carrying an id the server has is a no-op.
//!   An offline sale is never refused for stock.
//! - **Mutable records** (products, categories, customers, users, expenses,
//!   settings) are **last writer wins per field**: each field keeps the clock
//!   of the op that last wrote it (`field_hlc`), and a patch writes a field
//!   only if its clock is newer. A patch for an unknown id creates the record
//!   if it carries every required field. Deletes are tombstones, ordered the
//!   same way (`deleted_at` is a field).
//! - Tax rates travel whole and are last writer wins on the record.
//! - **Customers** are one account per person: a customer whose phone another
//!   live customer already has is merged into that one, and a patch or
//!   delete naming a merged-away id applies to the customer it was merged
//!   into ([`crate::customer_merge`]). Sales, payments and ledger entries
//!   keep the customer id they were recorded with; balances resolve aliases.
//!
//! After every op the record's merged state goes into the change feed, also
//! when the op lost every field: the device that sent it then learns the
//! winning values on its next pull.
//!
//! An op that breaks a rule returns [`ApplyError::Reject`]; the caller rolls
//! its savepoint back and records the rejection. A database constraint that
//! fails is a broken rule too (the op is bad, not the server).

use std::collections::BTreeMap;

use pos_domain::{
    BranchId, CategoryId, Currency, CustomerId, DeviceId, ExpenseId, Hlc, Money, Name, ProductId,
    SaleId, TaxCode, TaxMode, Timestamp, UserId,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use sync_protocol::{
    CategoryPatch, CategoryState, ChangeBody, CustomerPatch, CustomerState, ExpensePatch,
    ExpenseState, LedgerEntryRecord, OpBody, PaymentRecord, ProductPatch, ProductState, RejectCode,
    SaleKind, SaleRecord, SettingsPatch, SettingsState, StockMovementRecord, TaxRateRecord,
    Tombstone, TransferReceivedRecord, TransferSentRecord, UserPatch, UserState,
};

use crate::changes::record_change;
use crate::customer_merge;
use record_sql::read;

/// Why an op was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The op breaks a rule: it is rejected for good and the batch goes on.
    #[error("{code:?}: {reason}")]
    Reject { code: RejectCode, reason: String },
    /// The server failed: the whole push is abandoned and nothing changes.
    #[error("database error: {0}")]
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for ApplyError {
    fn from(e: rusqlite::Error) -> ApplyError {
        match &e {
            rusqlite::Error::SqliteFailure(f, msg)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                ApplyError::Reject {
                    code: RejectCode::Invalid,
                    reason: format!(
                        "the op breaks a rule of the server's records ({})",
                        msg.as_deref().unwrap_or("constraint failed")
                    ),
                }
            }
            _ => ApplyError::Db(e),
        }
    }
}

type Result<T> = std::result::Result<T, ApplyError>;

fn reject<T>(code: RejectCode, reason: impl Into<String>) -> Result<T> {
    Err(ApplyError::Reject {
        code,
        reason: reason.into(),
    })
}

fn invalid<T>(reason: impl Into<String>) -> Result<T> {
    reject(RejectCode::Invalid, reason)
}

/// Who sent the op and when it counts.
#[derive(Debug, Clone, Copy)]
pub struct OpContext {
    pub device: DeviceId,
    pub branch: BranchId,
    /// The op's clock after clamping against the server's.
    pub hlc: Hlc,
    /// The device's wall clock when the op was made (creation times).
    pub created_at: Timestamp,
    /// The server's clock.
    pub now: Timestamp,
}

impl OpContext {
    pub(crate) fn record(
        &self,
        conn: &Connection,
        body: ChangeBody,
        branch: Option<BranchId>,
    ) -> Result<()> {
        record_change(conn, &body, branch, Some(self.device), self.now)?;
        Ok(())
    }
}

/// Applies one op's effects and records its changes.
pub fn apply_op(conn: &Connection, ctx: &OpContext, body: &OpBody) -> Result<()> {
    match body {
        OpBody::SaleRecorded(s) => apply_sale(conn, ctx, s),
        OpBody::StockMoved(m) => apply_movement(conn, ctx, m),
        OpBody::LedgerEntryAdded(e) => apply_ledger_entry(conn, ctx, e),
        OpBody::ProductChanged(p) => apply_product(conn, ctx, p),
        OpBody::ProductDeleted(t) => {
            tombstone(conn, ctx, "products", "product", &t.id.to_string(), t)?;
            ctx.record(conn, ChangeBody::Product(product_state(conn, t.id)?), None)
        }
        OpBody::CategoryChanged(c) => apply_category(conn, ctx, c),
        OpBody::CategoryDeleted(t) => {
            tombstone(conn, ctx, "categories", "category", &t.id.to_string(), t)?;
            ctx.record(
                conn,
                ChangeBody::Category(category_state(conn, t.id)?),
                None,
            )
        }
        OpBody::CustomerChanged(c) => apply_customer(conn, ctx, c),
        OpBody::CustomerDeleted(t) => {
            // A merged-away id deleted after the merge stands for the
            // customer it was merged into.
            let id = customer_merge::delete_target(conn, ctx, t.id)?;
            tombstone(conn, ctx, "customers", "customer", &id.to_string(), t)?;
            ctx.record(conn, ChangeBody::Customer(customer_state(conn, id)?), None)
        }
        OpBody::UserChanged(u) => apply_user(conn, ctx, u),
        OpBody::UserDeleted(t) => {
            tombstone(conn, ctx, "users", "user", &t.id.to_string(), t)?;
            ctx.record(conn, ChangeBody::User(user_state(conn, t.id)?), None)
        }
        OpBody::ExpenseChanged(e) => apply_expense(conn, ctx, e),
        OpBody::ExpenseDeleted(t) => {
            expense_branch_check(conn, ctx, t.id)?;
            tombstone(conn, ctx, "expenses", "expense", &t.id.to_string(), t)?;
            let state = expense_state(conn, t.id)?;
            let branch = state.branch_id;
            ctx.record(conn, ChangeBody::Expense(state), Some(branch))
        }
        OpBody::SettingsChanged(s) => apply_settings(conn, ctx, s),
        OpBody::TaxRateChanged(r) => apply_tax_rate(conn, ctx, r),
        OpBody::TransferSent(t) => apply_transfer_sent(conn, ctx, t),
        OpBody::TransferReceived(r) => apply_transfer_received(conn, ctx, r),
    }
}

// Lookups ------------------------------------------------------------------

fn exists(conn: &Connection, table: &'static str, id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?1)"
        ))?
        .query_row([id], |r| r.get(0))?)
}

fn require(conn: &Connection, table: &'static str, what: &str, id: &str) -> Result<()> {
    if exists(conn, table, id)? {
        Ok(())
    } else {
        reject(
            RejectCode::UnknownReference,
            format!(
                "the server has no {what} {id}; push the op that created it first (or resolve the quarantined op that should have)"
            ),
        )
    }
}

/// The business's currency (a setting).
pub fn business_currency(conn: &Connection) -> Result<Currency> {
    let code: String = conn
        .prepare_cached("SELECT value FROM business_settings WHERE key = 'currency'")?
        .query_row([], |r| r.get(0))?;
    parse_text(0, &code).map_err(ApplyError::Db)
}

fn check_currency(business: Currency, m: &Money, what: &str) -> Result<()> {
    if m.currency() != business {
        return invalid(format!(
            "{what} is in {} but the business's currency is {business}",
            m.currency()
        ));
    }
    Ok(())
}

fn check_branch(ctx: &OpContext, branch: BranchId, what: &str) -> Result<()> {
    if branch != ctx.branch {
        return reject(
            RejectCode::WrongBranch,
            format!(
                "{what} belongs to branch {branch} but this device's key is for branch {}; a device pushes its own branch's records only",
                ctx.branch
            ),
        );
    }
    Ok(())
}

// Append-only facts ----------------------------------------------------------

/// Records a sale (with its lines, payments, stock movements and ledger
/// entry) and its changes: what a pushed `sale_recorded` op does, and what
/// `POST /api/transaction` does (see [`crate::mobile`]).
pub fn apply_sale(conn: &Connection, ctx: &OpContext, s: &SaleRecord) -> Result<()> {
    check_branch(ctx, s.branch_id, &format!("sale {}", s.receipt_no))?;
    if exists(conn, "sales", &s.id.to_string())? {
        // Recorded already (by an earlier op): append-only, so nothing to do.
        return Ok(());
    }
    validate_sale(conn, s)?;
    insert_sale(conn, s, ctx.now)?;
    // The sale's change carries its movements (always of the sale's branch,
    // so seen by exactly the devices that see the sale); only the ledger
    // entry, which every branch sees, goes into the feed on its own.
    ctx.record(conn, ChangeBody::Sale(s.clone()), Some(s.branch_id))?;
    if let Some(e) = &s.ledger_entry {
        ctx.record(conn, ChangeBody::LedgerEntry(e.clone()), None)?;
    }
    Ok(())
}

/// What serde cannot check about a sale: that its parts add up, that it is in
/// the business's currency, and that what it refers to exists.
fn validate_sale(conn: &Connection, s: &SaleRecord) -> Result<()> {
    let receipt = &s.receipt_no;
    let business = business_currency(conn)?;
    if s.currency != business {
        return invalid(format!(
            "sale {receipt} is in {} but the business's currency is {business}",
            s.currency
        ));
    }
    if pos_domain::BusinessDay::parse(&s.business_day).is_none() {
        return invalid(format!(
            "sale {receipt}: '{}' is not a business day; write it as YYYY-MM-DD",
            s.business_day
        ));
    }
    let cur = s.currency;
    let same = |m: &Money, what: &str| -> Result<()> {
        if m.currency() != cur {
            return invalid(format!(
                "sale {receipt}: {what} is in {} but the sale is in {cur}",
                m.currency()
            ));
        }
        Ok(())
    };
    for (m, what) in [
        (&s.subtotal, "the subtotal"),
        (&s.discount, "the discount"),
        (&s.tax, "the tax"),
        (&s.total, "the total"),
        (&s.change, "the change"),
    ] {
        same(m, what)?;
    }
    match (s.kind, s.original_sale_id) {
        (SaleKind::Sale, None) if !s.total.is_negative() => {}
        (SaleKind::Sale, _) => {
            return invalid(format!(
                "sale {receipt} is a sale, so it has no original sale and its total is not negative"
            ));
        }
        (kind, Some(original)) if !s.total.is_positive() => {
            require(conn, "sales", "original sale", &original.to_string())?;
            // Sales belong to their branch (invariant 7): only the branch that
            // rang a sale up voids or refunds it. Another branch sees the sale
            // in a customer's history, read-only.
            let branch: String = conn
                .prepare_cached("SELECT branch_id FROM sales WHERE id = ?1")?
                .query_row([original.to_string()], |r| r.get(0))?;
            if branch != s.branch_id.to_string() {
                return reject(
                    RejectCode::WrongBranch,
                    format!(
                        "{} {receipt} is of sale {original}, which belongs to branch {branch}; only the branch that made a sale voids or refunds it",
                        kind.as_str()
                    ),
                );
            }
        }
        (kind, _) => {
            return invalid(format!(
                "{} {receipt} must point at its original sale and have a total of zero or less",
                kind.as_str()
            ));
        }
    }
    if s.lines.is_empty() {
        return invalid(format!("sale {receipt} has no lines"));
    }
    let mut seen = Vec::with_capacity(s.lines.len());
    let (mut gross, mut discount, mut tax, mut total) = (0i128, 0i128, 0i128, 0i128);
    for l in &s.lines {
        let n = l.line_no;
        if n == 0 || seen.contains(&n) {
            return invalid(format!(
                "sale {receipt}: line number {n} is zero or repeated; lines are numbered 1, 2, 3, …"
            ));
        }
        seen.push(n);
        for (m, what) in [
            (&l.unit_price, "unit price"),
            (&l.gross, "gross"),
            (&l.discount, "discount"),
            (&l.net, "net"),
            (&l.tax, "tax"),
            (&l.total, "total"),
        ] {
            same(m, &format!("line {n}'s {what}"))?;
        }
        if l.quantity.milli() == 0 {
            return invalid(format!("sale {receipt}: line {n} has a quantity of zero"));
        }
        if l.tax_basis_points > 10_000 {
            return invalid(format!("sale {receipt}: line {n}'s tax rate is over 100%"));
        }
        let (g, d, net, t, tot) = (
            i128::from(l.gross.minor()),
            i128::from(l.discount.minor()),
            i128::from(l.net.minor()),
            i128::from(l.tax.minor()),
            i128::from(l.total.minor()),
        );
        if g - d != net {
            return invalid(format!(
                "sale {receipt}: line {n}'s gross less its discount is not its net"
            ));
        }
        let expected = match s.tax_mode {
            TaxMode::Inclusive => net,
            TaxMode::Exclusive => net + t,
        };
        if tot != expected {
            return invalid(format!(
                "sale {receipt}: line {n}'s total does not match its net and tax ({} prices)",
                s.tax_mode.as_str()
            ));
        }
        gross += g;
        discount += d;
        tax += t;
        total += tot;
        require(conn, "products", "product", &l.product_id.to_string())?;
    }
    for (sum, field, what) in [
        (gross, &s.subtotal, "subtotal"),
        (discount, &s.discount, "discount"),
        (tax, &s.tax, "tax"),
        (total, &s.total, "total"),
    ] {
        if sum != i128::from(field.minor()) {
            return invalid(format!(
                "sale {receipt}: its lines add up to a {what} of {} minor units, but the sale says {}",
                sum,
                field.minor()
            ));
        }
    }
    let mut paid = 0i128;
    for p in &s.payments {
        check_payment(conn, s, p)?;
        paid += i128::from(p.amount.minor());
    }
    if paid != i128::from(s.total.minor()) {
        return invalid(format!(
            "sale {receipt}: its payments add up to {paid} minor units but its total is {}",
            s.total.minor()
        ));
    }
    require(conn, "users", "cashier", &s.cashier_id.to_string())?;
    if let Some(c) = s.customer_id {
        require(conn, "customers", "customer", &c.to_string())?;
    }
    for m in &s.movements {
        if m.branch_id != s.branch_id {
            return invalid(format!(
                "sale {receipt}: a stock movement is for another branch than the sale"
            ));
        }
        if m.sale_id.is_some_and(|id| id != s.id) {
            return invalid(format!(
                "sale {receipt}: a stock movement points at another sale"
            ));
        }
        check_movement(conn, m)?;
    }
    if let Some(e) = &s.ledger_entry {
        if e.branch_id != s.branch_id {
            return invalid(format!(
                "sale {receipt}: its ledger entry is for another branch than the sale"
            ));
        }
        if e.sale_id.is_some_and(|id| id != s.id) {
            return invalid(format!(
                "sale {receipt}: its ledger entry points at another sale"
            ));
        }
        check_ledger_entry(conn, business, e)?;
    }
    Ok(())
}

fn check_payment(conn: &Connection, s: &SaleRecord, p: &PaymentRecord) -> Result<()> {
    let receipt = &s.receipt_no;
    for m in [Some(&p.amount), p.tendered.as_ref(), p.change.as_ref()]
        .into_iter()
        .flatten()
    {
        if m.currency() != s.currency {
            return invalid(format!(
                "sale {receipt}: a {} payment is in {} but the sale is in {}",
                p.method,
                m.currency(),
                s.currency
            ));
        }
    }
    match p.method {
        pos_domain::PaymentMethod::Credit => match p.customer_id {
            Some(c) => require(conn, "customers", "customer", &c.to_string())?,
            None => {
                return invalid(format!("sale {receipt}: a credit payment has no customer"));
            }
        },
        pos_domain::PaymentMethod::Mpesa if p.reference.is_none() => {
            return invalid(format!(
                "sale {receipt}: an M-Pesa payment has no confirmation code"
            ));
        }
        _ => {
            if let Some(c) = p.customer_id {
                require(conn, "customers", "customer", &c.to_string())?;
            }
        }
    }
    Ok(())
}

fn check_movement(conn: &Connection, m: &StockMovementRecord) -> Result<()> {
    if m.quantity.milli() == 0 {
        return invalid(format!("stock movement {} moves a quantity of zero", m.id));
    }
    require(conn, "products", "product", &m.product_id.to_string())
}

fn check_ledger_entry(conn: &Connection, business: Currency, e: &LedgerEntryRecord) -> Result<()> {
    check_currency(business, &e.amount, &format!("ledger entry {}", e.id))?;
    if e.amount.is_zero() {
        return invalid(format!("ledger entry {} has an amount of zero", e.id));
    }
    if e.method == Some(pos_domain::PaymentMethod::Credit) {
        return invalid(format!(
            "ledger entry {}: a payment towards an account is made in cash, M-Pesa or card, not on credit",
            e.id
        ));
    }
    require(conn, "customers", "customer", &e.customer_id.to_string())
}

fn insert_sale(conn: &Connection, s: &SaleRecord, now: Timestamp) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sales (id, receipt_no, kind, original_sale_id, branch_id, device_id, cashier_id,
                            customer_id, currency, tax_mode, subtotal_minor, discount_minor, tax_minor,
                            total_minor, change_minor, reason, created_at, business_day, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )?
    .execute(params![
        s.id.to_string(),
        s.receipt_no,
        s.kind.as_str(),
        s.original_sale_id.map(|i| i.to_string()),
        s.branch_id.to_string(),
        s.device_id.to_string(),
        s.cashier_id.to_string(),
        s.customer_id.map(|c| c.to_string()),
        s.currency.code(),
        s.tax_mode.as_str(),
        s.subtotal.minor(),
        s.discount.minor(),
        s.tax.minor(),
        s.total.minor(),
        s.change.minor(),
        s.reason,
        s.created_at.as_millis(),
        s.business_day,
        now.as_millis(),
    ])?;
    record_sql::insert_lines_and_payments(conn, s)?;
    for m in &s.movements {
        record_sql::insert_movement(conn, m)?;
    }
    if let Some(e) = &s.ledger_entry {
        record_sql::insert_ledger_entry(conn, e)?;
    }
    Ok(())
}

fn apply_movement(conn: &Connection, ctx: &OpContext, m: &StockMovementRecord) -> Result<()> {
    check_branch(ctx, m.branch_id, &format!("stock movement {}", m.id))?;
    if exists(conn, "stock_movements", &m.id.to_string())? {
        return Ok(());
    }
    if matches!(
        m.kind,
        pos_domain::MovementKind::TransferOut | pos_domain::MovementKind::TransferIn
    ) {
        return invalid(format!(
            "stock movement {} is a {}: a transfer's movements come with its transfer_sent or transfer_received, never on their own",
            m.id,
            m.kind.as_str()
        ));
    }
    check_movement(conn, m)?;
    if let Some(sale) = m.sale_id {
        require(conn, "sales", "sale", &sale.to_string())?;
    }
    record_sql::insert_movement(conn, m)?;
    ctx.record(conn, ChangeBody::StockMoved(m.clone()), Some(m.branch_id))
}

fn apply_ledger_entry(conn: &Connection, ctx: &OpContext, e: &LedgerEntryRecord) -> Result<()> {
    check_branch(ctx, e.branch_id, &format!("ledger entry {}", e.id))?;
    if exists(conn, "customer_ledger", &e.id.to_string())? {
        return Ok(());
    }
    check_ledger_entry(conn, business_currency(conn)?, e)?;
    if let Some(sale) = e.sale_id {
        require(conn, "sales", "sale", &sale.to_string())?;
    }
    record_sql::insert_ledger_entry(conn, e)?;
    // Customers are shared, so every branch sees their ledger.
    ctx.record(conn, ChangeBody::LedgerEntry(e.clone()), None)
}

// Stock transfers -------------------------------------------------------------

/// A transfer sent: only by a device of its `from_branch`, to another branch
/// the server knows; positive quantities of known products; one
/// `transfer_out` movement per line, of `from_branch`, taking the line's
/// quantity out. Inserted once by id. The change goes to both branches:
/// with the movements to the sender, without them to the receiver (stock
/// belongs to its branch).
fn apply_transfer_sent(conn: &Connection, ctx: &OpContext, t: &TransferSentRecord) -> Result<()> {
    let what = format!("transfer {}", t.id);
    check_branch(ctx, t.from_branch, &what)?;
    if exists(conn, "transfers", &t.id.to_string())? {
        return Ok(());
    }
    if t.to_branch == t.from_branch {
        return invalid(format!("{what} is sent to the branch it comes from"));
    }
    require(conn, "branches", "branch", &t.to_branch.to_string())?;
    if t.lines.is_empty() {
        return invalid(format!("{what} has no lines"));
    }
    if t.movements.len() != t.lines.len() {
        return invalid(format!(
            "{what} has {} lines but {} stock movements; it takes one transfer_out movement per line",
            t.lines.len(),
            t.movements.len()
        ));
    }
    for (i, (l, m)) in t.lines.iter().zip(&t.movements).enumerate() {
        let n = i + 1;
        if l.quantity.milli() <= 0 {
            return invalid(format!(
                "{what}: line {n} sends {}; a transfer sends a positive quantity",
                l.quantity.milli()
            ));
        }
        require(conn, "products", "product", &l.product_id.to_string())?;
        if m.kind != pos_domain::MovementKind::TransferOut
            || m.branch_id != t.from_branch
            || m.product_id != l.product_id
            || m.quantity.milli() != -l.quantity.milli()
            || m.sale_id.is_some()
        {
            return invalid(format!(
                "{what}: line {n}'s stock movement must be a transfer_out of the sending branch taking out exactly the line's product and quantity"
            ));
        }
    }
    movements_not_recorded(conn, &what, &t.movements)?;
    record_sql::insert_transfer_sent(conn, t)?;
    for m in &t.movements {
        record_sql::insert_movement(conn, m)?;
    }
    ctx.record(
        conn,
        ChangeBody::TransferSent(t.clone()),
        Some(t.from_branch),
    )?;
    let copy = TransferSentRecord {
        movements: Vec::new(),
        ..t.clone()
    };
    ctx.record(conn, ChangeBody::TransferSent(copy), Some(t.to_branch))
}

/// Refuses a transfer or receipt whose movements the server already holds
/// (recorded on their own, or by another record): inserting them again
/// would fail, and counting them twice would be wrong.
fn movements_not_recorded(
    conn: &Connection,
    what: &str,
    movements: &[StockMovementRecord],
) -> Result<()> {
    for m in movements {
        if exists(conn, "stock_movements", &m.id.to_string())? {
            return invalid(format!(
                "{what}: its stock movement {} is already recorded on the Back Office, so the transfer cannot be recorded with it; ask for support",
                m.id
            ));
        }
    }
    Ok(())
}

/// A transfer received: only by a device of its `to_branch`, of a transfer
/// the server has, once; one line per line sent (same products, in order),
/// each zero or more; one `transfer_in` movement of the receiving branch per
/// line received above zero, bringing exactly that quantity in. The change
/// goes to both branches: with the movements to the receiver, without them to
/// the sender.
fn apply_transfer_received(
    conn: &Connection,
    ctx: &OpContext,
    r: &TransferReceivedRecord,
) -> Result<()> {
    let what = format!("the receipt of transfer {}", r.transfer_id);
    check_branch(ctx, r.branch_id, &what)?;
    if exists(conn, "transfer_receipts", &r.id.to_string())? {
        return Ok(());
    }
    let transfer = conn
        .prepare_cached("SELECT from_branch_id, to_branch_id FROM transfers WHERE id = ?1")?
        .query_row([r.transfer_id.to_string()], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .optional()?;
    let Some((from, to)) = transfer else {
        return reject(
            RejectCode::UnknownReference,
            format!(
                "the server has no transfer {}; the sending branch pushes it first",
                r.transfer_id
            ),
        );
    };
    if to != r.branch_id.to_string() {
        return reject(
            RejectCode::WrongBranch,
            format!(
                "transfer {} goes to branch {to}, not to branch {}; only the receiving branch receives it",
                r.transfer_id, r.branch_id
            ),
        );
    }
    let from: BranchId = parse_text(0, &from).map_err(ApplyError::Db)?;
    // Two tills of the branch may both have received it offline: the first
    // receipt to arrive counts, and the other till is told whose it was.
    // The dashboard receives as the nil device, which has no devices row.
    let first: Option<(String, i64, String)> = conn
        .prepare_cached(
            "SELECT CASE WHEN d.code IS NOT NULL THEN 'till ' || d.code
                         WHEN r.device_id = ?2 THEN 'the Back Office'
                         ELSE 'device ' || r.device_id END,
                    r.received_at, b.time_zone
             FROM transfer_receipts r JOIN branches b ON b.id = r.branch_id
             LEFT JOIN devices d ON d.id = r.device_id WHERE r.transfer_id = ?1",
        )?
        .query_row(
            params![r.transfer_id.to_string(), DeviceId::BACK_OFFICE.to_string()],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    if let Some((by, at, zone)) = first {
        // In the receiving branch's own time, as its people read clocks.
        let at = pos_domain::TimeZone::parse(&zone)
            .unwrap_or(pos_domain::TimeZone::NAIROBI)
            .local_time(Timestamp::from_millis(at));
        return invalid(format!(
            "transfer {} was received already, by {by} at {at}; a transfer is received once, so this receipt does not count at the Back Office (if this till's count differs, correct its stock with a stocktake)",
            r.transfer_id
        ));
    }
    let sent: Vec<String> = conn
        .prepare_cached(
            "SELECT product_id FROM transfer_lines WHERE transfer_id = ?1 ORDER BY line_no",
        )?
        .query_map([r.transfer_id.to_string()], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if sent.len() != r.lines.len() {
        return invalid(format!(
            "{what} has {} lines but the transfer has {}; receive every line (zero for one that did not arrive)",
            r.lines.len(),
            sent.len()
        ));
    }
    let mut movements = r.movements.iter();
    for (i, (l, product)) in r.lines.iter().zip(&sent).enumerate() {
        let n = i + 1;
        if l.product_id.to_string() != *product {
            return invalid(format!(
                "{what}: line {n} is for another product than the transfer's line {n}"
            ));
        }
        if l.quantity_received.is_negative() {
            return invalid(format!(
                "{what}: line {n} receives {}; a received quantity is zero or more",
                l.quantity_received.milli()
            ));
        }
        if l.quantity_received.milli() == 0 {
            continue;
        }
        let ok = movements.next().is_some_and(|m| {
            m.kind == pos_domain::MovementKind::TransferIn
                && m.branch_id == r.branch_id
                && m.product_id == l.product_id
                && m.quantity == l.quantity_received
                && m.sale_id.is_none()
        });
        if !ok {
            return invalid(format!(
                "{what}: line {n} needs a transfer_in movement of the receiving branch bringing in exactly the quantity received"
            ));
        }
    }
    if movements.next().is_some() {
        return invalid(format!(
            "{what} has more stock movements than lines received"
        ));
    }
    movements_not_recorded(conn, &what, &r.movements)?;
    record_sql::insert_transfer_received(conn, r)?;
    for m in &r.movements {
        record_sql::insert_movement(conn, m)?;
    }
    ctx.record(
        conn,
        ChangeBody::TransferReceived(r.clone()),
        Some(r.branch_id),
    )?;
    let copy = TransferReceivedRecord {
        movements: Vec::new(),
        ..r.clone()
    };
    ctx.record(conn, ChangeBody::TransferReceived(copy), Some(from))
}

// Last writer wins per field ---------------------------------------------------

/// One field of a patch and the columns it writes.
struct Field {
    name: &'static str,
    cols: Vec<(&'static str, Value)>,
}

fn field(name: &'static str, value: Value) -> Field {
    Field {
        name,
        cols: vec![(name, value)],
    }
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

fn opt_text(s: Option<impl Into<String>>) -> Value {
    s.map_or(Value::Null, |s| Value::Text(s.into()))
}

fn int(i: i64) -> Value {
    Value::Integer(i)
}

pub(crate) type FieldClocks = BTreeMap<String, Hlc>;

pub(crate) fn parse_clocks(json: &str) -> Result<FieldClocks> {
    serde_json::from_str(json).map_err(|e| {
        ApplyError::Db(rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            Box::new(e),
        ))
    })
}

pub(crate) fn clocks_json(clocks: &FieldClocks) -> Result<String> {
    serde_json::to_string(clocks)
        .map_err(|e| ApplyError::Db(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))
}

/// What a patch for a record the server does not have needs.
struct Create<'a> {
    /// Fields the patch must carry.
    required: &'a [&'static str],
    /// Columns to fill when no field wrote them.
    defaults: Vec<(&'static str, Value)>,
}

/// Merges `fields` into the row `id` of `table` by their clocks, or creates
/// the row. Returns whether the record was created.
fn merge(
    conn: &Connection,
    ctx: &OpContext,
    table: &'static str,
    what: &str,
    id: &str,
    fields: Vec<Field>,
    create: Create<'_>,
) -> Result<bool> {
    let row: Option<(String, String)> = conn
        .prepare_cached(&format!("SELECT field_hlc, hlc FROM {table} WHERE id = ?1"))?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        None => {
            let missing: Vec<&str> = create
                .required
                .iter()
                .copied()
                .filter(|r| !fields.iter().any(|f| f.name == *r))
                .collect();
            if !missing.is_empty() {
                return reject(
                    RejectCode::UnknownReference,
                    format!(
                        "the server has no {what} {id}, and this change does not carry what creating it needs ({}); push the op that created it first",
                        missing.join(", ")
                    ),
                );
            }
            let mut clocks = FieldClocks::new();
            let mut cols: Vec<&'static str> = vec!["id", "created_at", "hlc"];
            let mut vals: Vec<Value> = vec![
                text(id),
                int(ctx.created_at.as_millis()),
                text(ctx.hlc.to_string()),
            ];
            for f in fields {
                clocks.insert(f.name.to_string(), ctx.hlc);
                for (c, v) in f.cols {
                    cols.push(c);
                    vals.push(v);
                }
            }
            for (c, v) in create.defaults {
                if !cols.contains(&c) {
                    cols.push(c);
                    vals.push(v);
                }
            }
            cols.push("field_hlc");
            vals.push(text(clocks_json(&clocks)?));
            let marks = (1..=cols.len())
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ");
            conn.prepare_cached(&format!(
                "INSERT INTO {table} ({}) VALUES ({marks})",
                cols.join(", ")
            ))?
            .execute(params_from_iter(vals))?;
            Ok(true)
        }
        Some((clocks, row_hlc)) => {
            let mut clocks = parse_clocks(&clocks)?;
            let row_hlc: Hlc = parse_text(1, &row_hlc).map_err(ApplyError::Db)?;
            let mut sets: Vec<String> = Vec::new();
            let mut vals: Vec<Value> = Vec::new();
            for f in fields {
                let stored = clocks.get(f.name).copied().unwrap_or(Hlc::ZERO);
                if ctx.hlc > stored {
                    clocks.insert(f.name.to_string(), ctx.hlc);
                    for (c, v) in f.cols {
                        vals.push(v);
                        sets.push(format!("{c} = ?{}", vals.len()));
                    }
                }
            }
            if sets.is_empty() {
                return Ok(false);
            }
            vals.push(text(clocks_json(&clocks)?));
            sets.push(format!("field_hlc = ?{}", vals.len()));
            vals.push(text(row_hlc.max(ctx.hlc).to_string()));
            sets.push(format!("hlc = ?{}", vals.len()));
            vals.push(text(id));
            conn.prepare_cached(&format!(
                "UPDATE {table} SET {} WHERE id = ?{}",
                sets.join(", "),
                vals.len()
            ))?
            .execute(params_from_iter(vals))?;
            Ok(false)
        }
    }
}

/// A soft delete, ordered like any other field write.
fn tombstone<Id>(
    conn: &Connection,
    ctx: &OpContext,
    table: &'static str,
    what: &str,
    id: &str,
    t: &Tombstone<Id>,
) -> Result<()> {
    require(conn, table, what, id)?;
    merge(
        conn,
        ctx,
        table,
        what,
        id,
        vec![field("deleted_at", int(t.deleted_at.as_millis()))],
        Create {
            required: &[],
            defaults: Vec::new(),
        },
    )?;
    Ok(())
}

/// Writes a mutable record's `deleted_at` field by its clock, like any other
/// field: `Some` is a tombstone, `None` brings the record back (only Full
/// Cloud Synchronization and a restored version do that; no op can). Records
/// no change: the caller applies the record's patch next, which does.
pub(crate) fn merge_deleted_at(
    conn: &Connection,
    ctx: &OpContext,
    table: &'static str,
    what: &str,
    id: &str,
    deleted_at: Option<Timestamp>,
) -> Result<()> {
    require(conn, table, what, id)?;
    if deleted_at.is_none() && table == "customers" && customer_merge::is_alias_id(conn, id)? {
        // A customer merged into another stays deleted: bringing the record
        // back would make two accounts of one person again.
        return Ok(());
    }
    merge(
        conn,
        ctx,
        table,
        what,
        id,
        vec![field(
            "deleted_at",
            deleted_at.map_or(Value::Null, |t| int(t.as_millis())),
        )],
        Create {
            required: &[],
            defaults: Vec::new(),
        },
    )?;
    Ok(())
}

fn apply_product(conn: &Connection, ctx: &OpContext, p: &ProductPatch) -> Result<()> {
    let business = business_currency(conn)?;
    let mut fields = Vec::new();
    if let Some(name) = &p.name {
        fields.push(field("name", text(name.as_str())));
    }
    if let Some(sku) = &p.sku {
        fields.push(field("sku", opt_text(sku.as_ref().map(|s| s.as_str()))));
    }
    if let Some(barcode) = &p.barcode {
        fields.push(field(
            "barcode",
            opt_text(barcode.as_ref().map(|b| b.as_str())),
        ));
    }
    if let Some(category) = &p.category_id {
        if let Some(c) = category {
            require(conn, "categories", "category", &c.to_string())?;
        }
        fields.push(field(
            "category_id",
            opt_text(category.map(|c| c.to_string())),
        ));
    }
    if let Some(price) = &p.price {
        check_currency(business, price, "the price")?;
        if Money::price(price.minor(), price.currency()).is_err() {
            return invalid(format!(
                "the price {price} is negative or above the largest allowed"
            ));
        }
        fields.push(Field {
            name: "price",
            cols: vec![
                ("price_minor", int(price.minor())),
                ("currency", text(price.currency().code())),
            ],
        });
    }
    if let Some(code) = &p.tax_code {
        require_tax_code(conn, code)?;
        fields.push(field("tax_code", text(code.as_str())));
    }
    if let Some(image) = &p.image {
        fields.push(field("image", opt_text(image.clone())));
    }
    if let Some(track) = p.track_stock {
        fields.push(field("track_stock", int(i64::from(track))));
    }
    if let Some(low) = &p.low_stock {
        fields.push(Field {
            name: "low_stock",
            cols: vec![(
                "low_stock_milli",
                low.map_or(Value::Null, |q| int(q.milli())),
            )],
        });
    }
    merge(
        conn,
        ctx,
        "products",
        "product",
        &p.id.to_string(),
        fields,
        Create {
            required: &["name", "price", "tax_code"],
            defaults: Vec::new(),
        },
    )?;
    ctx.record(conn, ChangeBody::Product(product_state(conn, p.id)?), None)
}

fn require_tax_code(conn: &Connection, code: &TaxCode) -> Result<()> {
    let known: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM tax_rates WHERE code = ?1)")?
        .query_row([code.as_str()], |r| r.get(0))?;
    if !known {
        return reject(
            RejectCode::UnknownReference,
            format!("the server has no tax rate {code}; push the op that created it first"),
        );
    }
    Ok(())
}

fn apply_category(conn: &Connection, ctx: &OpContext, c: &CategoryPatch) -> Result<()> {
    let mut fields = Vec::new();
    if let Some(name) = &c.name {
        fields.push(field("name", text(name.as_str())));
    }
    if let Some(order) = c.sort_order {
        fields.push(field("sort_order", int(order)));
    }
    merge(
        conn,
        ctx,
        "categories",
        "category",
        &c.id.to_string(),
        fields,
        Create {
            required: &["name"],
            defaults: Vec::new(),
        },
    )?;
    ctx.record(
        conn,
        ChangeBody::Category(category_state(conn, c.id)?),
        None,
    )
}

fn apply_customer(conn: &Connection, ctx: &OpContext, c: &CustomerPatch) -> Result<()> {
    let business = business_currency(conn)?;
    let mut fields = Vec::new();
    if let Some(name) = &c.name {
        fields.push(field("name", text(name.as_str())));
    }
    if let Some(phone) = &c.phone {
        fields.push(field("phone", opt_text(phone.as_ref().map(|p| p.as_str()))));
    }
    if let Some(email) = &c.email {
        fields.push(field("email", opt_text(email.clone())));
    }
    if let Some(limit) = &c.credit_limit {
        check_currency(business, limit, "the credit limit")?;
        if limit.is_negative() {
            return invalid("a credit limit cannot be negative");
        }
        fields.push(Field {
            name: "credit_limit",
            cols: vec![
                ("credit_limit_minor", int(limit.minor())),
                ("currency", text(limit.currency().code())),
            ],
        });
    }
    if let Some(notes) = &c.notes {
        fields.push(field("notes", opt_text(notes.clone())));
    }
    // A merged-away id stands for the customer it was merged into.
    let id = customer_merge::canonical_customer(conn, c.id)?;
    merge(
        conn,
        ctx,
        "customers",
        "customer",
        &id.to_string(),
        fields,
        Create {
            required: &["name"],
            defaults: vec![("currency", text(business.code()))],
        },
    )?;
    // A phone another live customer holds: the same person, created at two
    // branches (or given their number at a till that had not heard of the
    // other record yet). One account: see `customer_merge`.
    if matches!(c.phone, Some(Some(_)))
        && let Some(holder) = customer_merge::phone_holder(conn, id)?
    {
        return customer_merge::fold(conn, ctx, id, holder);
    }
    ctx.record(conn, ChangeBody::Customer(customer_state(conn, id)?), None)
}

fn apply_user(conn: &Connection, ctx: &OpContext, u: &UserPatch) -> Result<()> {
    let mut fields = Vec::new();
    if let Some(name) = &u.name {
        fields.push(field("name", text(name.as_str())));
    }
    if let Some(role) = u.role {
        fields.push(field("role", text(role.as_str())));
    }
    if let Some(hash) = &u.pin_hash {
        if !hash.starts_with("$argon2") {
            return invalid(
                "a user's PIN travels only as an argon2 hash ($argon2id$…); a PIN itself never leaves the till",
            );
        }
        fields.push(field("pin_hash", text(hash.clone())));
    }
    if let Some(active) = u.active {
        fields.push(field("active", int(i64::from(active))));
    }
    merge(
        conn,
        ctx,
        "users",
        "user",
        &u.id.to_string(),
        fields,
        Create {
            required: &["name", "role", "pin_hash"],
            defaults: Vec::new(),
        },
    )?;
    ctx.record(conn, ChangeBody::User(user_state(conn, u.id)?), None)
}

/// An existing expense may only be changed by a device of its branch.
fn expense_branch_check(conn: &Connection, ctx: &OpContext, id: ExpenseId) -> Result<()> {
    let branch: Option<String> = conn
        .prepare_cached("SELECT branch_id FROM expenses WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    if let Some(branch) = branch {
        let branch: BranchId = parse_text(0, &branch).map_err(ApplyError::Db)?;
        check_branch(ctx, branch, &format!("expense {id}"))?;
    }
    Ok(())
}

fn apply_expense(conn: &Connection, ctx: &OpContext, e: &ExpensePatch) -> Result<()> {
    let business = business_currency(conn)?;
    let existing = exists(conn, "expenses", &e.id.to_string())?;
    expense_branch_check(conn, ctx, e.id)?;
    let mut fields = Vec::new();
    if !existing {
        // Set once, when the expense is created; later patches cannot move it.
        if let Some(branch) = e.branch_id {
            check_branch(ctx, branch, &format!("expense {}", e.id))?;
            fields.push(field("branch_id", text(branch.to_string())));
        }
        if let Some(device) = e.device_id {
            fields.push(field("device_id", text(device.to_string())));
        }
        if let Some(user) = e.user_id {
            require(conn, "users", "user", &user.to_string())?;
            fields.push(field("user_id", text(user.to_string())));
        }
    }
    if let Some(category) = &e.category {
        fields.push(field("category", text(category.as_str())));
    }
    if let Some(description) = &e.description {
        fields.push(field("description", text(description.clone())));
    }
    if let Some(amount) = &e.amount {
        check_currency(business, amount, "the expense")?;
        if !amount.is_positive() {
            return invalid("an expense's amount must be more than zero");
        }
        fields.push(Field {
            name: "amount",
            cols: vec![
                ("amount_minor", int(amount.minor())),
                ("currency", text(amount.currency().code())),
            ],
        });
    }
    if let Some(paid) = e.paid_with {
        fields.push(field("paid_with", text(paid.as_str())));
    }
    if let Some(reference) = &e.reference {
        fields.push(field("reference", opt_text(reference.clone())));
    }
    if let Some(at) = e.spent_at {
        fields.push(field("spent_at", int(at.as_millis())));
    }
    if let Some(day) = &e.business_day {
        if pos_domain::BusinessDay::parse(day).is_none() {
            return invalid(format!(
                "'{day}' is not a business day; write it as YYYY-MM-DD"
            ));
        }
        fields.push(field("business_day", text(day.clone())));
    }
    merge(
        conn,
        ctx,
        "expenses",
        "expense",
        &e.id.to_string(),
        fields,
        Create {
            required: &[
                "branch_id",
                "device_id",
                "user_id",
                "category",
                "description",
                "amount",
                "paid_with",
                "spent_at",
                "business_day",
            ],
            defaults: Vec::new(),
        },
    )?;
    let state = expense_state(conn, e.id)?;
    let branch = state.branch_id;
    ctx.record(conn, ChangeBody::Expense(state), Some(branch))
}

fn apply_settings(conn: &Connection, ctx: &OpContext, s: &SettingsPatch) -> Result<()> {
    let mut rows: Vec<(&str, String)> = Vec::new();
    let texts = [
        ("store_name", &s.store_name),
        ("address", &s.address),
        ("phone", &s.phone),
        ("tax_pin", &s.tax_pin),
        ("receipt_header", &s.receipt_header),
        ("receipt_footer", &s.receipt_footer),
    ];
    for (key, value) in texts {
        if let Some(v) = value {
            rows.push((key, v.clone()));
        }
    }
    if let Some(currency) = s.currency {
        let other: Option<String> = conn
            .prepare_cached("SELECT currency FROM sales WHERE currency <> ?1 LIMIT 1")?
            .query_row([currency.code()], |r| r.get(0))
            .optional()?;
        if let Some(other) = other {
            return invalid(format!(
                "the business already has sales in {other}; its currency cannot change to {currency}"
            ));
        }
        rows.push(("currency", currency.code().to_string()));
    }
    if let Some(zone) = s.time_zone {
        rows.push(("time_zone", zone.name().to_string()));
    }
    if let Some(mode) = s.tax_mode {
        rows.push(("tax_mode", mode.as_str().to_string()));
    }
    let hlc = ctx.hlc.to_string();
    let mut stmt = conn.prepare_cached(
        "UPDATE business_settings SET value = ?2, hlc = ?3 WHERE key = ?1 AND hlc < ?3",
    )?;
    for (key, value) in rows {
        stmt.execute(params![key, value, hlc])?;
    }
    ctx.record(conn, ChangeBody::Settings(settings_state(conn)?), None)
}

fn apply_tax_rate(conn: &Connection, ctx: &OpContext, r: &TaxRateRecord) -> Result<()> {
    if r.basis_points > 10_000 {
        return invalid(format!(
            "tax rate {}: {} basis points is over 100%",
            r.code, r.basis_points
        ));
    }
    if Name::parse("tax rate name", &r.name).is_err() {
        return invalid(format!(
            "tax rate {}: its name must be 1 to 120 characters",
            r.code
        ));
    }
    let deleted_at = r.deleted.then(|| ctx.created_at.as_millis());
    let hlc = ctx.hlc.to_string();
    conn.prepare_cached(
        "INSERT INTO tax_rates (code, name, basis_points, hlc, deleted_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (code) DO UPDATE SET
             name = excluded.name, basis_points = excluded.basis_points, hlc = excluded.hlc,
             deleted_at = CASE WHEN excluded.deleted_at IS NULL THEN NULL
                               ELSE coalesce(tax_rates.deleted_at, excluded.deleted_at) END
         WHERE excluded.hlc > tax_rates.hlc",
    )?
    .execute(params![r.code.as_str(), r.name, r.basis_points, hlc, deleted_at])?;
    let state = conn
        .prepare_cached("SELECT name, basis_points, deleted_at FROM tax_rates WHERE code = ?1")?
        .query_row([r.code.as_str()], |row| {
            Ok(TaxRateRecord {
                code: r.code.clone(),
                name: row.get(0)?,
                basis_points: row.get(1)?,
                deleted: row.get::<_, Option<i64>>(2)?.is_some(),
            })
        })?;
    ctx.record(conn, ChangeBody::TaxRate(state), None)
}

// Reading merged states back ----------------------------------------------------

pub(crate) use record_sql::read::parse_text;

pub(crate) fn col<T>(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    parse_text(i, &r.get::<_, String>(i)?)
}

pub(crate) fn col_opt<T>(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<T>>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    r.get::<_, Option<String>>(i)?
        .map(|s| parse_text(i, &s))
        .transpose()
}

pub(crate) fn col_name(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Name> {
    Name::try_from(r.get::<_, String>(i)?).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(crate) fn col_money(
    r: &rusqlite::Row<'_>,
    i: usize,
    currency: Currency,
) -> rusqlite::Result<Money> {
    Money::from_minor(r.get(i)?, currency).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Integer, Box::new(e))
    })
}

pub fn product_state(conn: &Connection, id: ProductId) -> rusqlite::Result<ProductState> {
    read::by_id(conn, &read::PRODUCT, &id.to_string())
}

pub fn category_state(conn: &Connection, id: CategoryId) -> rusqlite::Result<CategoryState> {
    read::by_id(conn, &read::CATEGORY, &id.to_string())
}

pub fn customer_state(conn: &Connection, id: CustomerId) -> rusqlite::Result<CustomerState> {
    read::by_id(conn, &read::CUSTOMER, &id.to_string())
}

pub fn user_state(conn: &Connection, id: UserId) -> rusqlite::Result<UserState> {
    read::by_id(conn, &read::USER, &id.to_string())
}

pub fn expense_state(conn: &Connection, id: ExpenseId) -> rusqlite::Result<ExpenseState> {
    read::by_id(conn, &read::EXPENSE, &id.to_string())
}

pub fn settings_state(conn: &Connection) -> rusqlite::Result<SettingsState> {
    read::settings(conn)
}

/// Whether a sale with this id is on the server (tests, dashboard).
pub fn has_sale(conn: &Connection, id: SaleId) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sales WHERE id = ?1)",
        [id.to_string()],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pos_domain::ManualClock;

    const T0: i64 = 1_772_431_200_000;

    fn setup() -> (Connection, OpContext) {
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        let conn = crate::db::open_in_memory(&clock).unwrap();
        let ctx = OpContext {
            device: DeviceId::new(),
            branch: BranchId::new(),
            hlc: Hlc::new(T0 as u64, 0, 1),
            created_at: Timestamp::from_millis(T0),
            now: Timestamp::from_millis(T0),
        };
        (conn, ctx)
    }

    fn kes(minor: i64) -> Money {
        Money::from_minor(minor, Currency::KES).unwrap()
    }

    fn at(ctx: &OpContext, wall: u64, node: u64) -> OpContext {
        OpContext {
            hlc: Hlc::new(wall, 0, node),
            ..*ctx
        }
    }

    fn create_product(conn: &Connection, ctx: &OpContext, id: ProductId) {
        let p = ProductPatch {
            name: Some(Name::parse("name", "Soda").unwrap()),
            price: Some(kes(80_00)),
            tax_code: Some(TaxCode::parse("VAT16").unwrap()),
            ..ProductPatch::new(id)
        };
        apply_op(conn, ctx, &OpBody::ProductChanged(p)).unwrap();
    }

    #[test]
    fn fields_merge_by_their_own_clocks() {
        let (conn, ctx) = setup();
        let id = ProductId::new();
        create_product(&conn, &ctx, id);
        let t = T0 as u64;
        // A newer price lands; then an edit older than the creation loses
        // both its fields.
        let patch = ProductPatch {
            price: Some(kes(90_00)),
            ..ProductPatch::new(id)
        };
        apply_op(&conn, &at(&ctx, t + 10, 2), &OpBody::ProductChanged(patch)).unwrap();
        let patch = ProductPatch {
            name: Some(Name::parse("name", "Old name").unwrap()),
            price: Some(kes(70_00)),
            ..ProductPatch::new(id)
        };
        apply_op(&conn, &at(&ctx, t - 5, 3), &OpBody::ProductChanged(patch)).unwrap();
        let s = product_state(&conn, id).unwrap();
        assert_eq!(s.price, kes(90_00));
        assert_eq!(s.name.as_str(), "Soda");
        assert_eq!(s.hlc, Hlc::new(t + 10, 0, 2));
        // A name written later wins even though the price clock is newer.
        let patch = ProductPatch {
            name: Some(Name::parse("name", "Soda 500ml").unwrap()),
            ..ProductPatch::new(id)
        };
        apply_op(&conn, &at(&ctx, t + 7, 3), &OpBody::ProductChanged(patch)).unwrap();
        assert_eq!(
            product_state(&conn, id).unwrap().name.as_str(),
            "Soda 500ml"
        );
        // A delete is a field of its own: it wins over no delete, a later
        // edit does not bring the product back, and an older delete does not
        // move the tombstone.
        let del = |ms| Tombstone {
            id,
            deleted_at: Timestamp::from_millis(ms),
        };
        apply_op(
            &conn,
            &at(&ctx, t + 20, 4),
            &OpBody::ProductDeleted(del(T0 + 20)),
        )
        .unwrap();
        let patch = ProductPatch {
            price: Some(kes(95_00)),
            ..ProductPatch::new(id)
        };
        apply_op(&conn, &at(&ctx, t + 30, 2), &OpBody::ProductChanged(patch)).unwrap();
        apply_op(
            &conn,
            &at(&ctx, t + 15, 5),
            &OpBody::ProductDeleted(del(T0 + 15)),
        )
        .unwrap();
        let s = product_state(&conn, id).unwrap();
        assert_eq!(s.deleted_at, Some(Timestamp::from_millis(T0 + 20)));
        assert_eq!(s.price, kes(95_00));
        // Every op recorded the merged state.
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM changes WHERE entity = 'product'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 7);
    }

    #[test]
    fn a_patch_for_an_unknown_record_must_carry_what_creating_it_needs() {
        let (conn, ctx) = setup();
        let patch = ProductPatch {
            price: Some(kes(90_00)),
            ..ProductPatch::new(ProductId::new())
        };
        match apply_op(&conn, &ctx, &OpBody::ProductChanged(patch)) {
            Err(ApplyError::Reject { code, reason }) => {
                assert_eq!(code, RejectCode::UnknownReference);
                assert!(reason.contains("name, tax_code"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let bad_currency = ProductPatch {
            name: Some(Name::parse("name", "Soda").unwrap()),
            price: Some(Money::from_minor(5, Currency::from_code("UGX").unwrap()).unwrap()),
            tax_code: Some(TaxCode::parse("VAT16").unwrap()),
            ..ProductPatch::new(ProductId::new())
        };
        assert!(matches!(
            apply_op(&conn, &ctx, &OpBody::ProductChanged(bad_currency)),
            Err(ApplyError::Reject {
                code: RejectCode::Invalid,
                ..
            })
        ));
    }

    #[test]
    fn settings_and_tax_rates_are_last_writer_wins() {
        let (conn, ctx) = setup();
        let t = T0 as u64;
        let newer = SettingsPatch {
            store_name: Some("Duka Bora".into()),
            ..Default::default()
        };
        apply_op(&conn, &at(&ctx, t + 10, 1), &OpBody::SettingsChanged(newer)).unwrap();
        let older = SettingsPatch {
            store_name: Some("Old".into()),
            receipt_footer: Some("Asante!".into()),
            ..Default::default()
        };
        apply_op(&conn, &at(&ctx, t + 5, 2), &OpBody::SettingsChanged(older)).unwrap();
        let s = settings_state(&conn).unwrap();
        assert_eq!(s.store_name, "Duka Bora");
        assert_eq!(s.receipt_footer, "Asante!");
        assert_eq!(s.hlc, Hlc::new(t + 10, 0, 1));

        let rate = |bp, deleted| TaxRateRecord {
            code: TaxCode::parse("VAT8").unwrap(),
            name: "VAT 8%".into(),
            basis_points: bp,
            deleted,
        };
        apply_op(
            &conn,
            &at(&ctx, t + 10, 1),
            &OpBody::TaxRateChanged(rate(800, false)),
        )
        .unwrap();
        apply_op(
            &conn,
            &at(&ctx, t + 5, 1),
            &OpBody::TaxRateChanged(rate(900, true)),
        )
        .unwrap();
        let (bp, deleted): (u32, Option<i64>) = conn
            .query_row(
                "SELECT basis_points, deleted_at FROM tax_rates WHERE code = 'VAT8'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((bp, deleted), (800, None));
        assert!(matches!(
            apply_op(
                &conn,
                &at(&ctx, t + 20, 1),
                &OpBody::TaxRateChanged(rate(10_001, false))
            ),
            Err(ApplyError::Reject { .. })
        ));
    }
}
