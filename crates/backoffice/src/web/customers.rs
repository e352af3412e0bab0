//! Credit customers (`/customers`): who owes what, across every branch.
//!
//! A balance is the sum of a customer's ledger entries at every branch,
//! with the ids merged into the customer (the same person added at two
//! branches) counted too: [`crate::customer_merge::customer_balance`]. The
//! profile page lists the whole ledger, each entry in its branch's time zone,
//! and the records merged into the customer.
//!
//! A manager or owner edits the name, phone, credit limit and notes: a
//! `customer_changed` patch carrying only the fields that changed. A phone
//! another live customer already has is refused (the till refuses it too);
//! on the server it would merge the two accounts, which is not what an edit
//! means.
//!
//! **Merged records** (`customer_merges`): every record merged into the
//! customer, with when and why, the branch that created each, and whether
//! the merge was undone. An **owner** (a manager is refused, 403) may undo
//! a merge that was wrong (two people sharing a phone):
//! `POST /customers/{id}/merges/{merge}/undo` with the phone the separated
//! customer gets (empty: none; a valid number no live customer has, so
//! never the kept customer's: phones are unique among live customers on
//! every till). The first POST checks and answers the confirmation page;
//! the confirmed one runs [`customer_merge::undo_merge`] and writes the
//! audit row in one transaction.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use pos_domain::{BranchId, Currency, CustomerId, Money, Name, PhoneNumber, TimeZone, Timestamp};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Deserialize;
use sync_protocol::{CustomerPatch, CustomerState, LedgerKind, OpBody};

use super::business::{business_currency, business_zone};
use super::page::{self, Nav, WebError, csrf_field, form_error};
use super::session::{Posted, Role, WebUser};
use super::{db, fmt, write};
use crate::apply::{ApplyError, OpContext};
use crate::customer_merge::{
    self, MergeBranch, MergeRecord, canonical_customer, customer_balance, merges_into,
};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/customers", get(list))
        .route("/customers/{id}", get(show).post(update))
        .route(
            "/customers/{id}/merges/{merge}/undo",
            axum::routing::post(undo_merge),
        )
}

/// The most customers the list shows at once (search narrows it).
const LIST_LIMIT: i64 = 500;
/// The longest notes (the till's limit).
const MAX_NOTES: usize = 1000;

fn balance(conn: &Connection, id: CustomerId) -> Result<Money, WebError> {
    customer_balance(conn, id).map_err(|e| WebError::internal(&e))
}

/// The newest ledger entry of the customer or its aliases.
fn last_activity(conn: &Connection, id: CustomerId) -> rusqlite::Result<Option<Timestamp>> {
    let at: Option<i64> = conn
        .prepare_cached(
            "SELECT MAX(created_at) FROM customer_ledger
             WHERE customer_id = ?1
                OR customer_id IN (SELECT alias_id FROM customer_aliases WHERE customer_id = ?1)",
        )?
        .query_row([id.to_string()], |r| r.get(0))?;
    Ok(at.map(Timestamp::from_millis))
}

/// `%`, `_` and `\` taken literally in a LIKE pattern (`ESCAPE '\'`).
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[derive(Debug, Clone)]
struct ListRow {
    id: CustomerId,
    name: String,
    phone: Option<String>,
    limit: i64,
    balance: Money,
    last: Option<Timestamp>,
}

/// Live customers whose name or phone matches `q` (all when empty).
fn search(conn: &Connection, q: &str) -> Result<(Vec<ListRow>, bool), WebError> {
    let q = q.trim();
    let name_like = format!("%{}%", like_escape(q));
    // A phone typed in any form: its normalized number, or its digits (a
    // local 07… also as the +2547… it is stored as).
    let exact_phone = PhoneNumber::parse(q).map(String::from).unwrap_or_default();
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let digits =
        if digits.len() >= 3 && q.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)) {
            digits.strip_prefix('0').unwrap_or(&digits).to_string()
        } else {
            String::new()
        };
    let digits_like = format!("%{digits}%");
    let mut stmt = conn.prepare(
        "SELECT id, name, phone, credit_limit_minor FROM customers
         WHERE deleted_at IS NULL
           AND (?1 = '' OR name LIKE ?2 ESCAPE '\\' OR phone = ?3
                OR (?4 <> '' AND phone LIKE ?5))
         ORDER BY name COLLATE NOCASE, id LIMIT ?6",
    )?;
    let rows: Vec<(CustomerId, String, Option<String>, i64)> = stmt
        .query_map(
            params![
                q,
                name_like,
                exact_phone,
                digits,
                digits_like,
                LIST_LIMIT + 1
            ],
            |r| Ok((crate::apply::col(r, 0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?
        .collect::<rusqlite::Result<_>>()?;
    let more = rows.len() as i64 > LIST_LIMIT;
    let mut out = Vec::with_capacity(rows.len());
    for (id, name, phone, limit) in rows.into_iter().take(LIST_LIMIT as usize) {
        out.push(ListRow {
            id,
            name,
            phone,
            limit,
            balance: balance(conn, id)?,
            last: last_activity(conn, id)?,
        });
    }
    Ok((out, more))
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
}

/// `GET /customers?q=`.
async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
    user: WebUser,
) -> Result<Response, WebError> {
    let q = query.q.clone();
    let (rows, more, currency, zone) = db(&state, move |conn, _| {
        let (rows, more) = search(conn, &q)?;
        Ok((rows, more, business_currency(conn)?, business_zone(conn)?))
    })
    .await?;
    let code = currency.code();
    let owed: i64 = rows.iter().map(|r| r.balance.minor().max(0)).sum();
    let body = html! {
        form.filters method="get" action="/customers" {
            label { "Name or phone" input type="search" name="q" value=(query.q) placeholder="Njeri or 0712 345 678"; }
            button type="submit" { "Search" }
            @if !query.q.is_empty() { a href="/customers" { "Show all" } }
        }
        table data-testid="customers" {
            thead { tr {
                th { "Name" } th { "Phone" } th.num { "Credit limit" } th.num { "Balance (all branches)" } th { "Last activity" }
            } }
            tbody {
                @for r in &rows {
                    tr data-testid={ "customer-" (r.id) } {
                        td { a href={ "/customers/" (r.id) } { (r.name) } }
                        td { (r.phone.as_deref().unwrap_or("—")) }
                        td.num { (fmt::money(r.limit, code)) }
                        td.num data-testid="balance" {
                            (r.balance.to_string())
                            @if r.limit > 0 && r.balance.minor() > r.limit { " " span.tag.bad { "over limit" } }
                        }
                        td { (fmt::time_or_never(r.last, zone)) }
                    }
                }
                @if rows.is_empty() {
                    tr { td colspan="5" .muted {
                        @if query.q.is_empty() { "No credit customers yet: the tills add them." }
                        @else { "No customer's name or phone matches." }
                    } }
                }
            }
            @if !rows.is_empty() {
                tfoot { tr {
                    th colspan="3" { "Owed by the customers shown" }
                    th.num data-testid="total-owed" { (fmt::money(owed, code)) }
                    th {}
                } }
            }
        }
        @if more {
            p.notice { "Only the first " (LIST_LIMIT) " customers are shown; search to narrow the list." }
        }
    };
    Ok(page::render(
        &user,
        Nav::Customers,
        "Credit customers",
        body,
    ))
}

// One customer ---------------------------------------------------------------

#[derive(Debug, Clone)]
struct LedgerRow {
    at: Timestamp,
    zone: TimeZone,
    branch: String,
    kind: String,
    amount: i64,
    currency: String,
    method: Option<String>,
    reference: Option<String>,
    note: Option<String>,
    sale_id: Option<String>,
    /// The id it was recorded under, when that is a merged-in alias.
    alias: Option<String>,
}

fn ledger(conn: &Connection, id: CustomerId) -> rusqlite::Result<Vec<LedgerRow>> {
    let mut stmt = conn.prepare(
        "SELECT l.created_at, b.time_zone, COALESCE(b.name, l.branch_id), l.kind, l.amount_minor,
                l.currency, l.method, l.reference, l.note, l.sale_id, l.customer_id
         FROM customer_ledger l LEFT JOIN branches b ON b.id = l.branch_id
         WHERE l.customer_id = ?1
            OR l.customer_id IN (SELECT alias_id FROM customer_aliases WHERE customer_id = ?1)
         ORDER BY l.created_at, l.id",
    )?;
    let me = id.to_string();
    let rows = stmt.query_map([&me], |r| {
        let zone: Option<String> = r.get(1)?;
        let recorded_under: String = r.get(10)?;
        Ok(LedgerRow {
            at: Timestamp::from_millis(r.get(0)?),
            zone: zone
                .and_then(|z| TimeZone::parse(&z).ok())
                .unwrap_or_default(),
            branch: r.get(2)?,
            kind: r.get(3)?,
            amount: r.get(4)?,
            currency: r.get(5)?,
            method: r.get(6)?,
            reference: r.get(7)?,
            note: r.get(8)?,
            sale_id: r.get(9)?,
            alias: (recorded_under != me).then_some(recorded_under),
        })
    })?;
    rows.collect()
}

fn kind_label(kind: &str) -> &'static str {
    match LedgerKind::parse(kind) {
        Some(LedgerKind::CreditSale) => "Credit sale",
        Some(LedgerKind::Payment) => "Payment",
        Some(LedgerKind::Refund) => "Refund",
        Some(LedgerKind::Adjustment) => "Adjustment",
        None => "Other",
    }
}

fn method_label(method: &str) -> &str {
    match method {
        "cash" => "Cash",
        "mpesa" => "M-Pesa",
        "card" => "Card",
        other => other,
    }
}

struct Profile {
    customer: CustomerState,
    balance: Money,
    ledger: Vec<LedgerRow>,
    /// Records merged into this customer (held or undone), oldest first.
    merges: Vec<MergeRecord>,
    /// When this record was itself merged into another and an owner undid
    /// it (the latest such merge).
    separated: Option<Separated>,
    zone: TimeZone,
}

/// A merge of this record into another that an owner undid.
#[derive(Debug, Clone)]
struct Separated {
    from: CustomerId,
    from_name: String,
    merged_at: Timestamp,
    undone_at: Timestamp,
    undone_by: Option<String>,
}

fn separated(conn: &Connection, id: CustomerId) -> rusqlite::Result<Option<Separated>> {
    conn.prepare_cached(
        "SELECT m.customer_id, c.name, m.merged_at, m.undone_at, u.name
         FROM customer_merges m
         JOIN customers c ON c.id = m.customer_id
         LEFT JOIN web_users u ON u.id = m.undone_by
         WHERE m.alias_id = ?1 AND m.undone_at IS NOT NULL
         ORDER BY m.id DESC LIMIT 1",
    )?
    .query_row([id.to_string()], |r| {
        Ok(Separated {
            from: crate::apply::col(r, 0)?,
            from_name: r.get(1)?,
            merged_at: Timestamp::from_millis(r.get(2)?),
            undone_at: Timestamp::from_millis(r.get(3)?),
            undone_by: r.get(4)?,
        })
    })
    .optional()
}

/// An undo of a merge sent back: which merge, the phone typed, and why not.
#[derive(Debug, Clone)]
struct MergeRefusal {
    merge: i64,
    phone: String,
    message: String,
}

/// What a page of a customer that does not exist says.
const NO_SUCH_CUSTOMER: &str = "there is no such customer";

/// Refuses (404) an id no customer has, deleted ones included.
fn require_customer(conn: &Connection, id: CustomerId) -> Result<(), WebError> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM customers WHERE id = ?1)",
        [id.to_string()],
        |r| r.get(0),
    )?;
    if !exists {
        return Err(WebError::not_found(NO_SUCH_CUSTOMER));
    }
    Ok(())
}

fn load_profile(conn: &Connection, id: CustomerId) -> Result<Profile, WebError> {
    require_customer(conn, id)?;
    let customer = crate::apply::customer_state(conn, id)?;
    Ok(Profile {
        balance: balance(conn, id)?,
        ledger: ledger(conn, id)?,
        merges: merges_into(conn, id)?,
        separated: separated(conn, id)?,
        zone: business_zone(conn)?,
        customer,
    })
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CustomerForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    credit_limit: String,
    #[serde(default)]
    notes: String,
}

impl CustomerForm {
    fn from_state(c: &CustomerState) -> CustomerForm {
        CustomerForm {
            name: c.name.to_string(),
            phone: c.phone.as_ref().map(|p| p.to_string()).unwrap_or_default(),
            credit_limit: c.credit_limit.amount_text(),
            notes: c.notes.clone().unwrap_or_default(),
        }
    }
}

/// "Westlands (WES)", or "—" for a record the dashboard made or an unknown.
fn branch_label(b: Option<&MergeBranch>) -> String {
    match b {
        Some(b) if !b.name.is_empty() => format!("{} ({})", b.name, b.code),
        Some(b) => b.id.to_string(),
        None => "—".to_string(),
    }
}

/// The "Merged records" section: each record merged into `p`'s customer,
/// with an owner's "Undo merge" form for each merge that holds.
fn merged_records(user: &WebUser, p: &Profile, refusal: Option<&MergeRefusal>) -> Markup {
    let c = &p.customer;
    let owner = user.role == Role::Owner;
    html! {
        h2 { "Merged records" }
        p.muted { "The same person was added again at a branch (same phone), so the Back Office merged that record into this one: while merged, its sales and ledger entries count here. If a merge was wrong (two people sharing a phone), an owner can undo it: the record becomes its own customer again, with its own ledger." }
        table data-testid="merges" {
            thead { tr {
                th { "Merged record" } th { "Its phone" } th { "Created at" } th { "Merged" } th { "Status" }
            } }
            tbody {
                @for m in &p.merges {
                    tr data-testid={ "merge-" (m.alias) } {
                        td {
                            @if m.undone_at.is_some() { a href={ "/customers/" (m.alias) } { (m.alias_name) } }
                            @else { (m.alias_name) }
                            br; code { (m.alias) }
                        }
                        td { (m.alias_phone.as_deref().unwrap_or("—")) }
                        td {
                            "merged record: " (branch_label(m.alias_branch.as_ref()))
                            br; span.muted { "this customer: " (branch_label(m.customer_branch.as_ref())) }
                        }
                        td { (fmt::time(m.merged_at, p.zone)) br; span.muted { (m.reason) } }
                        td {
                            @if let Some(at) = m.undone_at {
                                span.tag data-testid="merge-status" { "undone" }
                                " " (fmt::time(at, p.zone))
                                @if let Some(who) = &m.undone_by_name { " by " (who) }
                            } @else {
                                span.tag.good data-testid="merge-status" { "merged" }
                                @if owner {
                                    @let typed = refusal.filter(|r| r.merge == m.id);
                                    (form_error(typed.map(|r| r.message.as_str())))
                                    form.inline method="post" action={ "/customers/" (c.id) "/merges/" (m.id) "/undo" }
                                        data-testid={ "undo-merge-" (m.alias) } {
                                        (csrf_field(user))
                                        label { "Phone it gets (empty: none)"
                                            input type="tel" name="phone" value=(typed.map_or("", |r| r.phone.as_str())) placeholder="0722 000 111"; }
                                        button type="submit" { "Undo merge…" }
                                    }
                                } @else {
                                    br; span.muted { "Only an owner can undo a merge." }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn profile_page(
    user: &WebUser,
    p: &Profile,
    form: Option<&CustomerForm>,
    error: Option<&str>,
    refusal: Option<&MergeRefusal>,
) -> Markup {
    let c = &p.customer;
    let code = c.credit_limit.currency().code().to_string();
    let form = form.cloned().unwrap_or_else(|| CustomerForm::from_state(c));
    let available = c.credit_limit.minor() - p.balance.minor();
    let running: Vec<i64> = p
        .ledger
        .iter()
        .scan(0i64, |sum, e| {
            *sum += e.amount;
            Some(*sum)
        })
        .collect();
    // A refused undo shows next to its form, or on top when the merge has
    // no form (already undone, or moved to another customer).
    let shown_inline = refusal.is_some_and(|r| {
        user.role == Role::Owner && p.merges.iter().any(|m| m.id == r.merge && m.is_current())
    });
    html! {
        p { a href="/customers" { "← All credit customers" } }
        @if !shown_inline { (form_error(refusal.map(|r| r.message.as_str()))) }
        @if let Some(sep) = &p.separated {
            div.notice data-testid="separated" {
                "This record was merged into " a href={ "/customers/" (sep.from) } { (sep.from_name) }
                " on " (fmt::time(sep.merged_at, p.zone)) " (same phone); "
                @if let Some(who) = &sep.undone_by { (who) } @else { "an owner" }
                " undid that on " (fmt::time(sep.undone_at, p.zone)) ", so it is a customer of its own again."
            }
        }
        @if c.deleted_at.is_some() {
            div.notice data-testid="deleted" { "This customer was deleted at a till. The ledger stays for the record." }
        }
        div.cards {
            div.card { div.label { "Balance (all branches)" } div.value data-testid="balance" { (p.balance.to_string()) } }
            div.card { div.label { "Credit limit" } div.value data-testid="credit-limit" { (c.credit_limit.to_string()) } }
            div.card { div.label { "Credit left" } div.value data-testid="credit-left" { (fmt::money(available.max(0), &code)) } }
        }
        section.panel data-testid="profile" {
            p { strong { (c.name) } }
            p { "Phone: " (c.phone.as_ref().map_or("—".to_string(), |p| p.to_string())) }
            @if let Some(email) = &c.email { p { "Email: " (email) } }
            @if let Some(notes) = &c.notes { p.muted style="white-space:pre-line" { (notes) } }
            p.muted { "Added " (fmt::time(c.created_at, p.zone)) "." }
        }
        h2 { "Ledger" }
        table data-testid="ledger" {
            thead { tr {
                th { "Time" } th { "Branch" } th { "Kind" } th.num { "Amount" } th { "Method / reference" } th { "Sale" } th.num { "Balance" }
            } }
            tbody {
                @for (e, after) in p.ledger.iter().zip(&running) {
                    tr {
                        td { (fmt::time(e.at, e.zone)) }
                        td { (e.branch) }
                        td { (kind_label(&e.kind))
                            @if e.alias.is_some() { " " span.tag title="recorded under a merged-in customer" { "merged" } } }
                        td.num { (fmt::money(e.amount, &e.currency)) }
                        td {
                            @if let Some(m) = &e.method { (method_label(m)) }
                            @if e.method.is_some() && e.reference.is_some() { " · " }
                            @if let Some(r) = &e.reference { (r) }
                            @if let Some(n) = &e.note { br; span.muted { (n) } }
                        }
                        td { @if let Some(s) = &e.sale_id { a href={ "/sales/" (s) } { "View sale" } } }
                        td.num { (fmt::money(*after, &code)) }
                    }
                }
                @if p.ledger.is_empty() {
                    tr { td colspan="7" .muted { "No credit sales or payments yet." } }
                }
            }
        }
        @if !p.merges.is_empty() { (merged_records(user, p, refusal)) }
        @if c.deleted_at.is_none() {
            h2 { "Edit" }
            section.panel {
                (form_error(error))
                form.stack method="post" action={ "/customers/" (c.id) } data-testid="edit-customer" {
                    (csrf_field(user))
                    label { "Name" input type="text" name="name" value=(form.name) required maxlength="120"; }
                    label { "Phone" input type="tel" name="phone" value=(form.phone) placeholder="0712 345 678"; }
                    label { "Credit limit (" (code) ")" input type="text" name="credit_limit" value=(form.credit_limit) inputmode="decimal" required; }
                    label { "Notes" textarea name="notes" rows="3" maxlength=(MAX_NOTES) { (form.notes) } }
                    button.primary type="submit" { "Save" }
                }
            }
        }
    }
}

/// Customer `id`'s page; 400 when the edit form is sent back with its
/// refusal, or an undo of a merge with its.
async fn render_profile(
    state: &AppState,
    user: &WebUser,
    id: CustomerId,
    again: Option<(CustomerForm, String)>,
    merge_refusal: Option<MergeRefusal>,
) -> Result<Response, WebError> {
    let p = db(state, move |conn, _| load_profile(conn, id)).await?;
    let title = p.customer.name.to_string();
    let (mut status, form, refusal) = match &again {
        Some((form, m)) => (StatusCode::BAD_REQUEST, Some(form), Some(m.as_str())),
        None => (StatusCode::OK, None, None),
    };
    if merge_refusal.is_some() {
        status = StatusCode::BAD_REQUEST;
    }
    let body = profile_page(user, &p, form, refusal, merge_refusal.as_ref());
    Ok(page::render_status(
        status,
        user,
        Nav::Customers,
        &title,
        body,
    ))
}

/// `GET /customers/{id}`: a merged-away id shows the customer it became.
async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    user: WebUser,
) -> Result<Response, WebError> {
    let id = page::path_id(&id, NO_SUCH_CUSTOMER)?;
    let kept = db(&state, move |conn, _| Ok(canonical_customer(conn, id)?)).await?;
    if kept != id {
        return Ok(page::redirect(&format!("/customers/{kept}")));
    }
    render_profile(&state, &user, id, None, None).await
}

/// The form checked: the patch of the fields that change.
fn plan(
    conn: &Connection,
    id: CustomerId,
    f: &CustomerForm,
    currency: Currency,
) -> Result<CustomerPatch, WebError> {
    let c = crate::apply::customer_state(conn, id)?;
    if c.deleted_at.is_some() {
        return Err(WebError::bad(
            "this customer was deleted at a till and cannot be edited",
        ));
    }
    let name = Name::parse("the name", &f.name).map_err(|e| WebError::bad(e.to_string()))?;
    let phone = match f.phone.trim() {
        "" => None,
        t => Some(PhoneNumber::parse(t).map_err(|_| {
            WebError::bad(format!(
                "the phone '{t}' is not a phone number; write it like 0712 345 678 or +254 712 345 678"
            ))
        })?),
    };
    let limit = fmt::parse_money("the credit limit", &f.credit_limit, currency)?;
    if limit.is_negative() {
        return Err(WebError::bad("the credit limit cannot be negative"));
    }
    let notes = fmt::optional_text("the notes", &f.notes.replace("\r\n", "\n"), MAX_NOTES)?;
    if let Some(p) = &phone
        && c.phone.as_ref() != Some(p)
    {
        let holder: Option<String> = conn
            .query_row(
                "SELECT name FROM customers WHERE phone = ?1 AND id <> ?2 AND deleted_at IS NULL LIMIT 1",
                params![p.as_str(), id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(holder) = holder {
            return Err(WebError::bad(format!(
                "the phone {p} is already the number of customer '{holder}'; one person has one account, so check the number"
            )));
        }
    }
    Ok(CustomerPatch {
        name: (name != c.name).then_some(name),
        phone: (phone != c.phone).then_some(phone),
        credit_limit: (limit != c.credit_limit).then_some(limit),
        notes: (notes != c.notes).then_some(notes),
        ..CustomerPatch::new(id)
    })
}

/// `POST /customers/{id}`: name, phone, credit limit, notes.
async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<CustomerForm>,
) -> Result<Response, WebError> {
    let Posted { user, form } = posted;
    let id = page::path_id(&id, NO_SUCH_CUSTOMER)?;
    let f = form.clone();
    let who = user.clone();
    let result = db(&state, move |conn, clock| {
        if canonical_customer(conn, id)? != id {
            return Err(WebError::bad(
                "this customer was merged into another; open the customer it was merged into and edit that one",
            ));
        }
        require_customer(conn, id)?;
        let patch = plan(conn, id, &f, business_currency(conn)?)?;
        let changed = write::changed_fields(&[
            ("name", patch.name.is_some()),
            ("phone", patch.phone.is_some()),
            ("credit limit", patch.credit_limit.is_some()),
            ("notes", patch.notes.is_some()),
        ]);
        if changed.is_empty() {
            return Ok(None);
        }
        let changed = changed.join(", ");
        let detail = match &patch.credit_limit {
            Some(l) => format!("changed {changed}; credit limit {l}"),
            None => format!("changed {changed}"),
        };
        let body = OpBody::CustomerChanged(patch);
        write::apply_one(conn, clock.now(), &who, body, "customer.update", detail)?;
        Ok(Some(format!(
            "Saved ({changed}); every till gets it on its next sync."
        )))
    })
    .await;
    match result {
        Ok(saved) => Ok(page::after_save(
            &format!("/customers/{id}"),
            saved.as_deref(),
        )),
        Err(e) => render_profile(&state, &user, id, Some((form, e.refusal()?)), None).await,
    }
}

// Undoing a merge ------------------------------------------------------------

/// What a merge undo would do, checked: shown on the confirmation page and
/// done once confirmed.
#[derive(Debug, Clone)]
struct UndoPlan {
    alias: CustomerId,
    alias_name: String,
    kept_name: String,
    phone: Option<PhoneNumber>,
    /// What each will owe once separated (the alias's own ledger; the rest).
    alias_owes: Money,
    kept_owes: Money,
}

/// A merge that does not exist (or not into this customer).
const NO_SUCH_MERGE: &str = "there is no such merge of this customer";

/// Checks an undo of merge `merge` into customer `id` giving the separated
/// record `phone` (as typed): the merge holds, and the phone is empty or a
/// valid number no live customer has (so never the kept customer's).
fn plan_undo(
    conn: &Connection,
    id: CustomerId,
    merge: i64,
    phone: &str,
) -> Result<UndoPlan, WebError> {
    require_customer(conn, id)?;
    let m = customer_merge::merge_record(conn, merge)?
        .filter(|m| m.customer == id)
        .ok_or_else(|| WebError::not_found(NO_SUCH_MERGE))?;
    let zone = business_zone(conn)?;
    if let Some(at) = m.undone_at {
        let who = m.undone_by_name.as_deref().unwrap_or("an owner");
        return Err(WebError::bad(format!(
            "this merge was already undone ({} by {who}): {} is its own customer again",
            fmt::time(at, zone),
            m.alias_name
        )));
    }
    if m.superseded_at.is_some() {
        return Err(WebError::bad(format!(
            "{} was merged into another customer since; undo the merge on that customer's page",
            m.alias_name
        )));
    }
    let kept = crate::apply::customer_state(conn, id)?;
    let phone = match phone.trim() {
        "" => None,
        t => Some(PhoneNumber::parse(t).map_err(|_| {
            WebError::bad(format!(
                "the phone '{t}' is not a phone number; write it like 0712 345 678 or +254 712 345 678, or leave it empty for none"
            ))
        })?),
    };
    if let Some(p) = &phone {
        let holder: Option<(String, String)> = conn
            .query_row(
                "SELECT id, name FROM customers
                 WHERE phone = ?1 AND id <> ?2 AND deleted_at IS NULL LIMIT 1",
                params![p.as_str(), m.alias.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match holder {
            Some((holder, name)) if holder == id.to_string() => {
                return Err(WebError::bad(format!(
                    "{p} is the phone of {name}, who stays as they are; a phone belongs to one live customer on every till, so give {} another number or none",
                    m.alias_name
                )));
            }
            Some((_, name)) => {
                return Err(WebError::bad(format!(
                    "the phone {p} is already the number of customer '{name}'; one person has one account, so check the number"
                )));
            }
            None => {}
        }
    }
    let own: i64 = conn.query_row(
        "SELECT COALESCE(SUM(amount_minor), 0) FROM customer_ledger WHERE customer_id = ?1",
        [m.alias.to_string()],
        |r| r.get(0),
    )?;
    let total = balance(conn, id)?;
    let currency = total.currency();
    let money = |minor: i64| Money::from_minor(minor, currency).map_err(|e| WebError::internal(&e));
    Ok(UndoPlan {
        alias: m.alias,
        alias_name: m.alias_name,
        kept_name: kept.name.to_string(),
        phone,
        alias_owes: money(own)?,
        kept_owes: money(total.minor() - own)?,
    })
}

/// `POST /customers/{id}/merges/{merge}/undo` (owners only): the first POST
/// checks and asks; the confirmed one (`confirm=yes`) separates the record.
async fn undo_merge(
    State(state): State<AppState>,
    Path((id, merge)): Path<(String, String)>,
    posted: Posted<std::collections::HashMap<String, String>>,
) -> Result<Response, WebError> {
    let Posted { user, form } = posted;
    WebError::require_owner(&user)?;
    let id: CustomerId = page::path_id(&id, NO_SUCH_CUSTOMER)?;
    let merge: i64 = page::path_id(&merge, NO_SUCH_MERGE)?;
    let confirmed = page::is_confirmed(&form);
    let typed = form.get("phone").cloned().unwrap_or_default();
    let who = user.clone();
    let phone = typed.clone();
    let result = db(&state, move |conn, clock| {
        let now = clock.now();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let plan = plan_undo(&tx, id, merge, &phone)?;
        if !confirmed {
            return Ok((plan, false));
        }
        let body = OpBody::CustomerChanged(CustomerPatch::new(plan.alias));
        let ctx = OpContext {
            device: write::DASHBOARD_DEVICE,
            // Customers are shared: no branch check looks at it.
            branch: BranchId::from_uuid(uuid::Uuid::nil()),
            hlc: write::hlc_for(&tx, now, &body)?,
            created_at: now,
            now,
        };
        match customer_merge::undo_merge(&tx, &ctx, merge, plan.phone.as_ref(), &who.id) {
            Ok(_) => {}
            Err(ApplyError::Reject { reason, .. }) => return Err(WebError::BadInput(reason)),
            Err(ApplyError::Db(e)) => return Err(WebError::internal(&e)),
        }
        let phone = plan
            .phone
            .as_ref()
            .map_or("no phone".to_string(), |p| p.to_string());
        let detail = format!(
            "undid the merge of {} into {} ({}); it is a customer again with {phone}",
            plan.alias_name, plan.kept_name, id
        );
        write::audit(
            &tx,
            now,
            &who,
            "customer.unmerge",
            "customer",
            &plan.alias.to_string(),
            &detail,
        )?;
        tx.commit()?;
        Ok((plan, true))
    })
    .await;
    match result {
        Ok((plan, false)) => Ok(confirm_undo(&user, id, merge, &plan, &typed)),
        Ok((plan, true)) => Ok(page::redirect_with_flash(
            &format!("/customers/{id}"),
            &format!(
                "Merge undone: {} is a separate customer again; every till gets it on its next sync.",
                plan.alias_name
            ),
        )),
        Err(e) => {
            let message = e.refusal()?;
            let refusal = MergeRefusal {
                merge,
                phone: typed,
                message,
            };
            render_profile(&state, &user, id, None, Some(refusal)).await
        }
    }
}

/// What a separated account will show: "owe **KES 160.00**", or "be in
/// credit by **KES 140.00**" when its own ledger is below zero.
fn owes_phrase(m: Money) -> Markup {
    if m.is_negative() {
        html! { "be in credit by " strong { (m.negated().to_string()) } }
    } else {
        html! { "owe " strong { (m.to_string()) } }
    }
}

/// Said plainly when a separated balance would be below zero: while the
/// records were merged, a payment recorded against one account paid what
/// the other owed, so one will show a credit and the other a debt.
fn credit_warning(plan: &UndoPlan) -> Markup {
    let (credit, debt) = if plan.alias_owes.is_negative() {
        (
            (&plan.alias_name, plan.alias_owes),
            (&plan.kept_name, plan.kept_owes),
        )
    } else {
        (
            (&plan.kept_name, plan.kept_owes),
            (&plan.alias_name, plan.alias_owes),
        )
    };
    html! {
        div.notice data-testid="undo-credit-warning" {
            p {
                strong { "One account will show a credit balance and the other a debt. " }
                (credit.0) " will show a credit of " (credit.1.negated().to_string())
                @if debt.1.is_positive() {
                    " and " (debt.0) " a debt of " (debt.1.to_string())
                } @else if debt.1.is_negative() {
                    ", and " (debt.0) " a credit of " (debt.1.negated().to_string())
                }
                ": while the two were merged, payments recorded against one account paid what the other owed, "
                "and separating them gives each its own entries back."
            }
            p {
                "If it is one person's money, record a ledger adjustment at a till afterwards to move the amount "
                "between the two accounts (a charge on the one in credit, a matching credit on the one in debt)."
            }
        }
    }
}

/// The page asking before a merge is undone.
fn confirm_undo(
    user: &WebUser,
    id: CustomerId,
    merge: i64,
    plan: &UndoPlan,
    typed: &str,
) -> Response {
    let question = format!(
        "Separate {} from {} again?",
        plan.alias_name, plan.kept_name
    );
    let action = format!("/customers/{id}/merges/{merge}/undo");
    let cancel = format!("/customers/{id}");
    let phone = plan
        .phone
        .as_ref()
        .map_or("no phone".to_string(), |p| format!("the phone {p}"));
    page::confirm_page(
        user,
        Nav::Customers,
        page::Confirm {
            title: "Undo a customer merge?",
            question: &question,
            what_happens: html! {
                p { (plan.alias_name) " becomes a customer of their own again, with " (phone) "." }
                p { "The sales and ledger entries recorded under " (plan.alias_name) " were never rewritten, so they go back to them: "
                    (plan.alias_name) " will " (owes_phrase(plan.alias_owes)) " and "
                    (plan.kept_name) " will " (owes_phrase(plan.kept_owes)) "." }
                @if plan.alias_owes.is_negative() || plan.kept_owes.is_negative() {
                    (credit_warning(plan))
                }
                p { (plan.kept_name) "'s profile stays as it is: what the merge folded into it (a name, notes, the credit limit) is not taken back; edit it if needed." }
                p { "Every till gets this on its next sync. If a till later adds a customer with "
                    (plan.alias_name) "'s new phone, the two are merged again (one phone, one account)." }
            },
            action_url: &action,
            hidden: &[("phone", typed)],
            confirm_label: "Undo the merge",
            testid: None,
            cancel_url: &cancel,
        },
    )
}
