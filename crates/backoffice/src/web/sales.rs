//! Sales (`/sales`): every branch's sales, voids and refunds, newest first,
//! filtered by branch, business day, cashier, payment method and kind, with
//! the filtered set's totals; one receipt (`/sales/{id}`) with its lines,
//! payments and the voids or refunds made of it; and the same list as CSV
//! (`/sales.csv`) for a spreadsheet.
//!
//! Filters travel in the query string, so a filtered list can be bookmarked
//! and its CSV link carries the same filters. A filter that cannot be read
//! (a date that is not `YYYY-MM-DD`, a method that does not exist, a branch
//! or cashier that is not this business's) answers a 400 page naming it:
//! an empty list would look like "no sales", which is a different answer.
//!
//! Amounts are integer minor units throughout; a void or refund is a row of
//! its own with a negative total, so a net total is a plain sum.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use maud::{Markup, html};
use pos_domain::{Currency, DeviceId, PaymentMethod, TimeZone, Timestamp};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use uuid::Uuid;

use super::business::business_currency;
use super::page::{self, Nav, WebError};
use super::session::WebUser;
use super::{db, fmt};
use crate::devices::{Branch, all_branches};
use crate::state::AppState;

/// Rows on one page of the list.
pub const PAGE_SIZE: i64 = 100;

/// The kinds of sale row, with the filter's labels.
const KINDS: [(&str, &str); 3] = [("sale", "Sales"), ("void", "Voids"), ("refund", "Refunds")];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sales", get(list))
        .route("/sales.csv", get(csv))
        .route("/sales/{id}", get(detail))
}

// Shared with the dashboard ---------------------------------------------------

/// The query string as name → trimmed value; empty values (a filter left
/// at "All") are absent, and a name given twice keeps its last value.
pub(crate) fn query_fields(raw: Option<&str>) -> Result<HashMap<String, String>, WebError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| WebError::bad(format!("the page's filters could not be read: {e}")))?;
    Ok(pairs
        .into_iter()
        .map(|(k, v)| (k, v.trim().to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect())
}

/// A value typed by someone, cut short for an error message.
pub(crate) fn shown(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        text.to_string()
    }
}

/// Checks a `branch` filter names one of `branches`.
pub(crate) fn check_branch(branches: &[Branch], id: Option<&str>) -> Result<(), WebError> {
    match id {
        Some(id) if !branches.iter().any(|b| b.id == id) => Err(WebError::bad(format!(
            "the branch '{}' is not one of this business's branches; pick one from the list",
            shown(id)
        ))),
        _ => Ok(()),
    }
}

/// The `branch` filter's field: every branch, open and closed (their sales
/// stay), `selected` chosen.
pub(crate) fn branch_filter(branches: &[Branch], selected: Option<&str>) -> Markup {
    html! {
        label { "Branch"
            select name="branch" {
                option value="" { "All branches" }
                @for b in branches {
                    option value=(b.id) selected[selected == Some(b.id.as_str())] {
                        (b.name) @if !b.live { " (closed)" }
                    }
                }
            }
        }
    }
}

/// `M-Pesa` for `mpesa`; an unknown method shows as stored.
pub(crate) fn method_label(method: &str) -> String {
    PaymentMethod::parse(method).map_or_else(|| method.to_string(), |m| m.to_string())
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "void" => "Void",
        "refund" => "Refund",
        _ => "Sale",
    }
}

/// The device that recorded a sale: its code, or "Back Office" for the nil
/// device (a sale recorded by the server itself).
fn till_label(device_id: &str, code: Option<&str>) -> String {
    if device_id == DeviceId::BACK_OFFICE.to_string() {
        return "Back Office".to_string();
    }
    match code {
        Some(c) => c.to_string(),
        None => "unknown device".to_string(),
    }
}

// Filters --------------------------------------------------------------------

/// What the list (and its CSV) is narrowed to.
#[derive(Debug, Clone, Default)]
struct Filters {
    branch: Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    cashier: Option<String>,
    method: Option<PaymentMethod>,
    kind: Option<&'static str>,
    /// 1-based.
    page: i64,
}

impl Filters {
    /// Reads the filters' form; what needs the database (does the branch or
    /// cashier exist?) is [`Filters::check`].
    fn parse(q: &HashMap<String, String>) -> Result<Filters, WebError> {
        let from = q
            .get("from")
            .map(|t| fmt::parse_date("the From date", t))
            .transpose()?;
        let to = q
            .get("to")
            .map(|t| fmt::parse_date("the To date", t))
            .transpose()?;
        if let (Some(a), Some(b)) = (from, to)
            && a > b
        {
            return Err(WebError::bad(format!(
                "the From date ({a}) is after the To date ({b}); swap them"
            )));
        }
        let method = q
            .get("method")
            .map(|m| {
                PaymentMethod::parse(m).ok_or_else(|| {
                    WebError::bad(format!(
                        "the payment method '{}' is not one of cash, mpesa, card or credit",
                        shown(m)
                    ))
                })
            })
            .transpose()?;
        let kind = q
            .get("kind")
            .map(|k| {
                KINDS
                    .iter()
                    .find(|(v, _)| v == k)
                    .map(|(v, _)| *v)
                    .ok_or_else(|| {
                        WebError::bad(format!(
                            "the kind '{}' is not one of sale, void or refund",
                            shown(k)
                        ))
                    })
            })
            .transpose()?;
        let page = match q.get("page") {
            None => 1,
            Some(p) => p
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| {
                    WebError::bad(format!(
                        "the page '{}' is not a page number (1, 2, 3, …)",
                        shown(p)
                    ))
                })?,
        };
        Ok(Filters {
            branch: q.get("branch").cloned(),
            from,
            to,
            cashier: q.get("cashier").cloned(),
            method,
            kind,
            page,
        })
    }

    /// Checks the branch and cashier named exist.
    fn check(&self, conn: &Connection, branches: &[Branch]) -> Result<(), WebError> {
        check_branch(branches, self.branch.as_deref())?;
        if let Some(c) = &self.cashier {
            let known: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)",
                [c],
                |r| r.get(0),
            )?;
            if !known {
                return Err(WebError::bad(format!(
                    "the cashier '{}' is not one of this business's till users; pick one from the list",
                    shown(c)
                )));
            }
        }
        Ok(())
    }

    /// The `WHERE` clause over `sales s` and its parameters.
    fn sql(&self) -> (String, Vec<Value>) {
        let mut clauses: Vec<&str> = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        match &self.branch {
            Some(b) => {
                clauses.push("s.branch_id = ?");
                values.push(Value::Text(b.clone()));
            }
            // Lets SQLite walk sales_branch_day branch by branch for a
            // date range instead of reading every sale.
            None if self.from.is_some() || self.to.is_some() => {
                clauses.push("s.branch_id IN (SELECT id FROM branches)");
            }
            None => {}
        }
        if let Some(from) = self.from {
            clauses.push("s.business_day >= ?");
            values.push(Value::Text(from.format("%Y-%m-%d").to_string()));
        }
        if let Some(to) = self.to {
            clauses.push("s.business_day <= ?");
            values.push(Value::Text(to.format("%Y-%m-%d").to_string()));
        }
        if let Some(c) = &self.cashier {
            clauses.push("s.cashier_id = ?");
            values.push(Value::Text(c.clone()));
        }
        if let Some(m) = self.method {
            clauses
                .push("EXISTS (SELECT 1 FROM payments p WHERE p.sale_id = s.id AND p.method = ?)");
            values.push(Value::Text(m.as_str().to_string()));
        }
        if let Some(k) = self.kind {
            clauses.push("s.kind = ?");
            values.push(Value::Text(k.to_string()));
        }
        let sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        (sql, values)
    }

    /// The filters as a query string (without the page), for links.
    fn query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(b) = &self.branch {
            pairs.push(("branch", b.clone()));
        }
        if let Some(d) = self.from {
            pairs.push(("from", d.format("%Y-%m-%d").to_string()));
        }
        if let Some(d) = self.to {
            pairs.push(("to", d.format("%Y-%m-%d").to_string()));
        }
        if let Some(c) = &self.cashier {
            pairs.push(("cashier", c.clone()));
        }
        if let Some(m) = self.method {
            pairs.push(("method", m.as_str().to_string()));
        }
        if let Some(k) = self.kind {
            pairs.push(("kind", k.to_string()));
        }
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }

    fn page_link(&self, page: i64) -> String {
        let q = self.query();
        match (q.is_empty(), page) {
            (true, 1) => "/sales".to_string(),
            (true, p) => format!("/sales?page={p}"),
            (false, 1) => format!("/sales?{q}"),
            (false, p) => format!("/sales?{q}&page={p}"),
        }
    }
}

// Data -----------------------------------------------------------------------

/// One row of the list (and of the CSV), and the head of a receipt.
#[derive(Debug, Clone)]
struct SaleRow {
    id: String,
    receipt_no: String,
    kind: String,
    created_at: Timestamp,
    business_day: String,
    branch: String,
    zone: TimeZone,
    till: String,
    cashier: String,
    customer: Option<String>,
    currency: String,
    subtotal: i64,
    discount: i64,
    tax: i64,
    total: i64,
    /// Payment methods, as stored, in the order of [`PaymentMethod::ALL`].
    methods: Vec<String>,
    original_receipt: Option<String>,
    reason: Option<String>,
}

/// The columns [`sale_row`] reads, from [`SALE_JOINS`]: a sale with the
/// names of its branch, till, cashier and customer, and its original's
/// receipt number.
const SALE_COLUMNS: &str = "s.id, s.receipt_no, s.kind, s.created_at, s.business_day, b.name,
        b.time_zone, s.device_id, d.code, u.name, c.name, s.currency, s.subtotal_minor,
        s.discount_minor, s.tax_minor, s.total_minor, o.receipt_no, s.reason";

/// `sales s` and what names its branch, till, cashier, customer and
/// original. A merged customer's alias is followed to the customer it became
/// (reads resolve aliases).
const SALE_JOINS: &str = "FROM sales s
         JOIN branches b ON b.id = s.branch_id
         LEFT JOIN devices d ON d.id = s.device_id
         LEFT JOIN users u ON u.id = s.cashier_id
         LEFT JOIN customers c ON c.id = COALESCE(
             (SELECT a.customer_id FROM customer_aliases a WHERE a.alias_id = s.customer_id),
             s.customer_id)
         LEFT JOIN sales o ON o.id = s.original_sale_id";

/// A sale from the first columns of a row ([`SALE_COLUMNS`]), without its
/// payment methods.
fn sale_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SaleRow> {
    let zone: String = r.get(6)?;
    let device_id: String = r.get(7)?;
    let code: Option<String> = r.get(8)?;
    Ok(SaleRow {
        id: r.get(0)?,
        receipt_no: r.get(1)?,
        kind: r.get(2)?,
        created_at: Timestamp::from_millis(r.get(3)?),
        business_day: r.get(4)?,
        branch: r.get(5)?,
        zone: TimeZone::parse(&zone).unwrap_or_default(),
        till: till_label(&device_id, code.as_deref()),
        cashier: r
            .get::<_, Option<String>>(9)?
            .unwrap_or_else(|| "unknown".to_string()),
        customer: r.get(10)?,
        currency: r.get(11)?,
        subtotal: r.get(12)?,
        discount: r.get(13)?,
        tax: r.get(14)?,
        total: r.get(15)?,
        methods: Vec::new(),
        original_receipt: r.get(16)?,
        reason: r.get(17)?,
    })
}

fn sale_rows(
    conn: &Connection,
    filters: &Filters,
    page: Option<(i64, i64)>,
) -> rusqlite::Result<Vec<SaleRow>> {
    let (clause, mut values) = filters.sql();
    let limit = match page {
        Some((limit, offset)) => {
            values.push(Value::Integer(limit));
            values.push(Value::Integer(offset));
            "LIMIT ? OFFSET ?"
        }
        None => "",
    };
    let sql = format!(
        "SELECT {SALE_COLUMNS},
                (SELECT group_concat(DISTINCT p.method) FROM payments p WHERE p.sale_id = s.id)
         {SALE_JOINS}
         {clause}
         ORDER BY s.created_at DESC, s.id DESC
         {limit}"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(values), |r| {
        let methods: Option<String> = r.get(18)?;
        let mut methods: Vec<String> = methods
            .unwrap_or_default()
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect();
        methods.sort_by_key(|m| {
            PaymentMethod::ALL
                .iter()
                .position(|x| x.as_str() == m)
                .unwrap_or(PaymentMethod::ALL.len())
        });
        Ok(SaleRow {
            methods,
            ..sale_row(r)?
        })
    })?;
    rows.collect()
}

/// The filtered set's count of sales, of voids and refunds, and net total.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    rows: i64,
    sales: i64,
    returns: i64,
    net: i64,
}

fn totals(conn: &Connection, filters: &Filters) -> rusqlite::Result<Totals> {
    let (clause, values) = filters.sql();
    conn.query_row(
        &format!(
            "SELECT COUNT(*), COUNT(CASE WHEN s.kind = 'sale' THEN 1 END),
                    COUNT(CASE WHEN s.kind <> 'sale' THEN 1 END), COALESCE(SUM(s.total_minor), 0)
             FROM sales s {clause}"
        ),
        params_from_iter(values),
        |r| {
            Ok(Totals {
                rows: r.get(0)?,
                sales: r.get(1)?,
                returns: r.get(2)?,
                net: r.get(3)?,
            })
        },
    )
}

/// A till user for the cashier filter.
#[derive(Debug, Clone)]
struct Cashier {
    id: String,
    name: String,
    removed: bool,
}

fn cashiers(conn: &Connection) -> rusqlite::Result<Vec<Cashier>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, deleted_at IS NOT NULL FROM users
         ORDER BY deleted_at IS NOT NULL, name COLLATE NOCASE, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Cashier {
            id: r.get(0)?,
            name: r.get(1)?,
            removed: r.get(2)?,
        })
    })?;
    rows.collect()
}

#[derive(Debug)]
struct ListData {
    filters: Filters,
    branches: Vec<Branch>,
    cashiers: Vec<Cashier>,
    totals: Totals,
    rows: Vec<SaleRow>,
    currency: String,
}

fn load_list(conn: &Connection, filters: Filters) -> Result<ListData, WebError> {
    let branches = all_branches(conn)?;
    filters.check(conn, &branches)?;
    let totals = totals(conn, &filters)?;
    let offset = (filters.page - 1).saturating_mul(PAGE_SIZE);
    let rows = sale_rows(conn, &filters, Some((PAGE_SIZE, offset)))?;
    Ok(ListData {
        branches,
        cashiers: cashiers(conn)?,
        totals,
        rows,
        currency: business_currency(conn)?.code().to_string(),
        filters,
    })
}

// The list -------------------------------------------------------------------

async fn list(
    State(state): State<AppState>,
    user: WebUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let filters = Filters::parse(&query_fields(raw.as_deref())?)?;
    let data = db(&state, move |conn, _| load_list(conn, filters)).await?;
    Ok(page::render(&user, Nav::Sales, "Sales", list_body(&data)))
}

fn filter_form(data: &ListData) -> Markup {
    let f = &data.filters;
    let date = |d: Option<NaiveDate>| {
        d.map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    html! {
        form.filters method="get" action="/sales" data-testid="sales-filters" {
            (branch_filter(&data.branches, f.branch.as_deref()))
            label { "From" input type="date" name="from" value=(date(f.from)); }
            label { "To" input type="date" name="to" value=(date(f.to)); }
            label { "Cashier"
                select name="cashier" {
                    option value="" { "All cashiers" }
                    @for c in &data.cashiers {
                        option value=(c.id) selected[f.cashier.as_deref() == Some(c.id.as_str())] {
                            (c.name) @if c.removed { " (removed)" }
                        }
                    }
                }
            }
            label { "Payment"
                select name="method" {
                    option value="" { "All methods" }
                    @for m in PaymentMethod::ALL {
                        option value=(m.as_str()) selected[f.method == Some(m)] { (m.to_string()) }
                    }
                }
            }
            label { "Kind"
                select name="kind" {
                    option value="" { "All kinds" }
                    @for (v, l) in KINDS {
                        option value=(v) selected[f.kind == Some(v)] { (l) }
                    }
                }
            }
            button.primary type="submit" { "Filter" }
            a.button href="/sales" { "Clear" }
        }
    }
}

fn list_body(data: &ListData) -> Markup {
    let f = &data.filters;
    let t = data.totals;
    let pages = ((t.rows + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let first = (f.page - 1).saturating_mul(PAGE_SIZE);
    let csv = match f.query() {
        q if q.is_empty() => "/sales.csv".to_string(),
        q => format!("/sales.csv?{q}"),
    };
    html! {
        (filter_form(data))
        div.cards data-testid="sales-totals" {
            div.card { div.label { "Sales" } div.value data-testid="total-sales" { (t.sales) } }
            div.card { div.label { "Voids & refunds" } div.value data-testid="total-returns" { (t.returns) } }
            div.card { div.label { "Net total" } div.value data-testid="total-net" { (fmt::money(t.net, &data.currency)) } }
        }
        p {
            a.button href=(csv) data-testid="export-csv" { "Export CSV" }
            " "
            span.muted {
                @if t.rows == 0 {
                    "No rows."
                } @else if data.rows.is_empty() {
                    "Page " (f.page) " is past the end (" (fmt::plural(t.rows, "row", "rows")) ")."
                } @else {
                    "Rows " (first + 1) "–" (first + i64::try_from(data.rows.len()).unwrap_or(0)) " of " (t.rows) ", newest first."
                }
            }
        }
        @if data.rows.is_empty() {
            p.notice data-testid="no-sales" {
                @if t.rows == 0 { "No sales match these filters." }
                @else { a href=(f.page_link(1)) { "Back to the first page" } }
            }
        } @else {
            table data-testid="sales-table" {
                thead { tr {
                    th { "Receipt" } th { "Time" } th { "Branch" } th { "Till" } th { "Cashier" }
                    th { "Customer" } th { "Paid by" } th.num { "Total" }
                } }
                tbody {
                    @for s in &data.rows {
                        tr data-testid="sale-row" data-receipt=(s.receipt_no) {
                            td {
                                a href={ "/sales/" (s.id) } { (s.receipt_no) }
                                @if s.kind != "sale" { " " span.tag.bad { (kind_label(&s.kind)) } }
                            }
                            td { (fmt::time(s.created_at, s.zone)) }
                            td { (s.branch) }
                            td { (s.till) }
                            td { (s.cashier) }
                            td { @if let Some(c) = &s.customer { (c) } @else { span.muted { "—" } } }
                            td { (s.methods.iter().map(|m| method_label(m)).collect::<Vec<_>>().join(", ")) }
                            td.num { (fmt::money(s.total, &s.currency)) }
                        }
                    }
                }
            }
        }
        @if pages > 1 {
            nav.pager data-testid="pager" {
                @if f.page > 1 { a.button href=(f.page_link(f.page - 1)) rel="prev" { "← Newer" } " " }
                span.muted { "Page " (f.page) " of " (pages) }
                @if f.page < pages { " " a.button href=(f.page_link(f.page + 1)) rel="next" data-testid="next-page" { "Older →" } }
            }
        }
    }
}

// One sale -------------------------------------------------------------------

#[derive(Debug)]
struct Detail {
    sale: SaleRow,
    /// The sale a void or refund is of: its id and receipt number.
    original: Option<(String, String)>,
    tax_mode: String,
    change: i64,
    received_at: Timestamp,
    lines: Vec<Line>,
    payments: Vec<Payment>,
    related: Vec<Related>,
}

#[derive(Debug)]
struct Line {
    product_id: String,
    name: String,
    sku: Option<String>,
    unit_price: i64,
    quantity: i64,
    discount: i64,
    tax_code: String,
    tax: i64,
    total: i64,
}

#[derive(Debug)]
struct Payment {
    method: String,
    amount: i64,
    tendered: Option<i64>,
    change: Option<i64>,
    reference: Option<String>,
    customer: Option<String>,
}

#[derive(Debug)]
struct Related {
    id: String,
    receipt_no: String,
    kind: String,
    created_at: Timestamp,
    total: i64,
    reason: Option<String>,
}

fn load_detail(conn: &Connection, id: &str) -> Result<Option<Detail>, WebError> {
    let head = conn
        .query_row(
            &format!(
                "SELECT {SALE_COLUMNS}, s.original_sale_id, s.tax_mode, s.change_minor,
                        s.received_at
                 {SALE_JOINS}
                 WHERE s.id = ?1"
            ),
            [id],
            |r| {
                let sale = sale_row(r)?;
                let original: Option<String> = r.get(18)?;
                let original_receipt = sale.original_receipt.clone().unwrap_or_default();
                Ok(Detail {
                    sale,
                    original: original.map(|o| (o, original_receipt)),
                    tax_mode: r.get(19)?,
                    change: r.get(20)?,
                    received_at: Timestamp::from_millis(r.get(21)?),
                    lines: Vec::new(),
                    payments: Vec::new(),
                    related: Vec::new(),
                })
            },
        )
        .optional()?;
    let Some(mut sale) = head else {
        return Ok(None);
    };
    sale.lines = conn
        .prepare_cached(
            "SELECT product_id, name, sku, unit_price_minor, quantity_milli, discount_minor,
                    tax_code, tax_minor, total_minor
             FROM sale_lines WHERE sale_id = ?1 ORDER BY line_no",
        )?
        .query_map([id], |r| {
            Ok(Line {
                product_id: r.get(0)?,
                name: r.get(1)?,
                sku: r.get(2)?,
                unit_price: r.get(3)?,
                quantity: r.get(4)?,
                discount: r.get(5)?,
                tax_code: r.get(6)?,
                tax: r.get(7)?,
                total: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    sale.payments = conn
        .prepare_cached(
            "SELECT p.method, p.amount_minor, p.tendered_minor, p.change_minor, p.reference, c.name
             FROM payments p
             LEFT JOIN customers c ON c.id = COALESCE(
                 (SELECT a.customer_id FROM customer_aliases a WHERE a.alias_id = p.customer_id),
                 p.customer_id)
             WHERE p.sale_id = ?1 ORDER BY p.rowid",
        )?
        .query_map([id], |r| {
            Ok(Payment {
                method: r.get(0)?,
                amount: r.get(1)?,
                tendered: r.get(2)?,
                change: r.get(3)?,
                reference: r.get(4)?,
                customer: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    sale.related = conn
        .prepare_cached(
            "SELECT id, receipt_no, kind, created_at, total_minor, reason FROM sales
             WHERE original_sale_id = ?1 ORDER BY created_at, id",
        )?
        .query_map([id], |r| {
            Ok(Related {
                id: r.get(0)?,
                receipt_no: r.get(1)?,
                kind: r.get(2)?,
                created_at: Timestamp::from_millis(r.get(3)?),
                total: r.get(4)?,
                reason: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(sale))
}

async fn detail(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let not_found = || {
        WebError::not_found(format!(
            "there is no sale '{}'; the Sales page lists every sale",
            shown(&id)
        ))
    };
    let Ok(uuid) = Uuid::parse_str(&id) else {
        return Err(not_found());
    };
    let key = uuid.to_string();
    let sale = db(&state, move |conn, _| load_detail(conn, &key))
        .await?
        .ok_or_else(not_found)?;
    let title = format!("{} {}", kind_label(&sale.sale.kind), sale.sale.receipt_no);
    Ok(page::render(&user, Nav::Sales, &title, detail_body(&sale)))
}

fn detail_body(s: &Detail) -> Markup {
    let h = &s.sale;
    let cur = h.currency.as_str();
    let money = |m: i64| fmt::money(m, cur);
    let opt_money = |m: Option<i64>| m.map_or_else(|| "—".to_string(), |m| fmt::money(m, cur));
    html! {
        p { a href="/sales" { "← All sales" } }
        @if let Some((orig_id, orig_receipt)) = &s.original {
            p.notice data-testid="original-sale" {
                "This " (kind_label(&h.kind).to_lowercase()) " is of sale "
                a href={ "/sales/" (orig_id) } { (orig_receipt) } "."
            }
        }
        section.panel data-testid="sale-header" {
            table {
                tbody {
                    tr { th { "Receipt" } td { (h.receipt_no) " " @if h.kind != "sale" { span.tag.bad { (kind_label(&h.kind)) } } } }
                    tr { th { "Time" } td { (fmt::time(h.created_at, h.zone)) " (" (h.zone.name()) "), business day " (h.business_day) } }
                    tr { th { "Branch" } td { (h.branch) } }
                    tr { th { "Till" } td { (h.till) } }
                    tr { th { "Cashier" } td { (h.cashier) } }
                    tr { th { "Customer" } td { @if let Some(c) = &h.customer { (c) } @else { span.muted { "—" } } } }
                    tr { th { "Prices" } td { "tax " (s.tax_mode) } }
                    @if let Some(r) = &h.reason { tr { th { "Reason" } td data-testid="reason" { (r) } } }
                    tr { th { "Received" } td { (fmt::time(s.received_at, h.zone)) } }
                }
            }
        }
        h2 { "Items" }
        table data-testid="sale-lines" {
            thead { tr {
                th { "Item" } th.num { "Qty" } th.num { "Unit price" } th.num { "Discount" }
                th.num { "Tax" } th.num { "Total" }
            } }
            tbody {
                @for l in &s.lines {
                    tr {
                        td {
                            a href={ "/products/" (l.product_id) } { (l.name) }
                            @if let Some(sku) = &l.sku { " " span.muted { (sku) } }
                        }
                        td.num { (fmt::qty(l.quantity)) }
                        td.num { (money(l.unit_price)) }
                        td.num { (money(l.discount)) }
                        td.num { (money(l.tax)) " " span.muted { (l.tax_code) } }
                        td.num { (money(l.total)) }
                    }
                }
            }
            tfoot {
                tr { th colspan="5" { "Subtotal" } td.num { (money(h.subtotal)) } }
                tr { th colspan="5" { "Discount" } td.num { (money(h.discount)) } }
                tr { th colspan="5" { "Tax" } td.num { (money(h.tax)) } }
                tr { th colspan="5" { "Total" } td.num data-testid="sale-total" { strong { (money(h.total)) } } }
                @if s.change != 0 { tr { th colspan="5" { "Change" } td.num { (money(s.change)) } } }
            }
        }
        h2 { "Payments" }
        @if s.payments.is_empty() {
            p.muted { "No payments." }
        } @else {
            table data-testid="sale-payments" {
                thead { tr {
                    th { "Method" } th.num { "Amount" } th.num { "Tendered" } th.num { "Change" }
                    th { "M-Pesa reference" } th { "Credit customer" }
                } }
                tbody {
                    @for p in &s.payments {
                        tr {
                            td { (method_label(&p.method)) }
                            td.num { (money(p.amount)) }
                            td.num { (opt_money(p.tendered)) }
                            td.num { (opt_money(p.change)) }
                            td { @if let Some(r) = &p.reference { code { (r) } } @else { span.muted { "—" } } }
                            td { @if let Some(c) = &p.customer { (c) } @else { span.muted { "—" } } }
                        }
                    }
                }
            }
        }
        @if h.kind == "sale" {
            h2 { "Voids and refunds" }
            @if s.related.is_empty() {
                p.muted data-testid="no-returns" { "None: this sale stands as recorded." }
            } @else {
                table data-testid="sale-returns" {
                    thead { tr { th { "Receipt" } th { "Kind" } th { "Time" } th { "Reason" } th.num { "Total" } } }
                    tbody {
                        @for r in &s.related {
                            tr {
                                td { a href={ "/sales/" (r.id) } { (r.receipt_no) } }
                                td { (kind_label(&r.kind)) }
                                td { (fmt::time(r.created_at, h.zone)) }
                                td { @if let Some(x) = &r.reason { (x) } @else { span.muted { "—" } } }
                                td.num { (money(r.total)) }
                            }
                        }
                    }
                }
            }
        }
        p.muted { "Sale id " code { (h.id) } }
    }
}

// CSV ------------------------------------------------------------------------

/// `1250.50` from minor units: no grouping, so a spreadsheet reads a number.
pub(crate) fn decimal(minor: i64, currency: &str) -> String {
    let exponent = Currency::from_code(currency).map_or(2, |c| c.exponent());
    let per = Currency::from_code(currency).map_or(100, |c| c.minor_per_major());
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let per = per.unsigned_abs().max(1);
    if exponent == 0 {
        format!("{sign}{abs}")
    } else {
        let width = usize::from(exponent);
        format!("{sign}{}.{:0width$}", abs / per, abs % per)
    }
}

/// A text cell: a leading `=`, `+`, `-`, `@` (or tab, carriage return) gets
/// a `'` so a spreadsheet shows it instead of running it as a formula; a
/// cell with a comma, quote or line break is quoted, its quotes doubled.
fn push_text(out: &mut String, text: &str) {
    let guarded;
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        guarded = format!("'{text}");
        guarded.as_str()
    } else {
        text
    };
    push_raw(out, text);
}

/// A cell as is (numbers), quoted only if it must be.
fn push_raw(out: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// A CSV cell: text (quoted as needed, guarded against formulas) or a
/// number written as it is.
pub(crate) enum Cell<'a> {
    Text(&'a str),
    Number(String),
}

/// Appends one CSV line of `cells`.
pub(crate) fn push_row(out: &mut String, cells: &[Cell<'_>]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match c {
            Cell::Text(t) => push_text(out, t),
            Cell::Number(n) => push_raw(out, n),
        }
    }
    out.push_str("\r\n");
}

const CSV_HEADER: [&str; 18] = [
    "Receipt",
    "Kind",
    "Time",
    "Business day",
    "Branch",
    "Till",
    "Cashier",
    "Customer",
    "Payment methods",
    "Items",
    "Subtotal",
    "Discount",
    "Tax",
    "Total",
    "Currency",
    "Original receipt",
    "Reason",
    "Sale ID",
];

/// `Name x 2; Other x 0.5` per sale, for the CSV's Items column.
fn items_by_sale(
    conn: &Connection,
    filters: &Filters,
) -> rusqlite::Result<HashMap<String, String>> {
    let (clause, values) = filters.sql();
    let mut stmt = conn.prepare(&format!(
        "SELECT l.sale_id, l.name, l.quantity_milli
         FROM sales s JOIN sale_lines l ON l.sale_id = s.id
         {clause}
         ORDER BY l.sale_id, l.line_no"
    ))?;
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut items: HashMap<String, String> = HashMap::new();
    while let Some(r) = rows.next()? {
        let sale: String = r.get(0)?;
        let name: String = r.get(1)?;
        let qty: i64 = r.get(2)?;
        let entry = items.entry(sale).or_default();
        if !entry.is_empty() {
            entry.push_str("; ");
        }
        let _ = write!(entry, "{name} x {}", fmt::qty(qty));
    }
    Ok(items)
}

fn csv_text(conn: &Connection, filters: &Filters) -> Result<String, WebError> {
    let rows = sale_rows(conn, filters, None)?;
    let items = items_by_sale(conn, filters)?;
    let mut out = String::with_capacity(256 + rows.len() * 200);
    let header: Vec<Cell<'_>> = CSV_HEADER.iter().map(|h| Cell::Text(h)).collect();
    push_row(&mut out, &header);
    for s in &rows {
        let time = fmt::time(s.created_at, s.zone);
        let methods = s
            .methods
            .iter()
            .map(|m| method_label(m))
            .collect::<Vec<_>>()
            .join("; ");
        let item_text = items.get(&s.id).map(String::as_str).unwrap_or("");
        push_row(
            &mut out,
            &[
                Cell::Text(&s.receipt_no),
                Cell::Text(&s.kind),
                Cell::Text(&time),
                Cell::Text(&s.business_day),
                Cell::Text(&s.branch),
                Cell::Text(&s.till),
                Cell::Text(&s.cashier),
                Cell::Text(s.customer.as_deref().unwrap_or("")),
                Cell::Text(&methods),
                Cell::Text(item_text),
                Cell::Number(decimal(s.subtotal, &s.currency)),
                Cell::Number(decimal(s.discount, &s.currency)),
                Cell::Number(decimal(s.tax, &s.currency)),
                Cell::Number(decimal(s.total, &s.currency)),
                Cell::Text(&s.currency),
                Cell::Text(s.original_receipt.as_deref().unwrap_or("")),
                Cell::Text(s.reason.as_deref().unwrap_or("")),
                Cell::Text(&s.id),
            ],
        );
    }
    Ok(out)
}

async fn csv(
    State(state): State<AppState>,
    _user: WebUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let filters = Filters::parse(&query_fields(raw.as_deref())?)?;
    let name = format!(
        "sales-{}-{}.csv",
        filters
            .from
            .map_or_else(|| "all".to_string(), |d| d.format("%Y-%m-%d").to_string()),
        filters
            .to
            .map_or_else(|| "all".to_string(), |d| d.format("%Y-%m-%d").to_string()),
    );
    let text = db(&state, move |conn, _| {
        let branches = all_branches(conn)?;
        filters.check(conn, &branches)?;
        csv_text(conn, &filters)
    })
    .await?;
    Ok(csv_download(&name, text))
}

/// A CSV file to download as `name`, kept by no cache.
pub(crate) fn csv_download(name: &str, text: String) -> Response {
    let mut res = text.into_response();
    let headers = res.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(CONTENT_DISPOSITION, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[Cell<'_>]) -> String {
        let mut out = String::new();
        push_row(&mut out, cells);
        out
    }

    #[test]
    fn csv_cells_are_quoted_and_guarded() {
        assert_eq!(
            row(&[
                Cell::Text("Mango, ripe"),
                Cell::Text("say \"hi\""),
                Cell::Text("=SUM(A1)"),
                Cell::Text("-x"),
                Cell::Text("@me, too"),
                Cell::Number("-160.00".into()),
                Cell::Text("two\nlines"),
            ]),
            "\"Mango, ripe\",\"say \"\"hi\"\"\",'=SUM(A1),'-x,\"'@me, too\",-160.00,\"two\nlines\"\r\n"
        );
    }

    #[test]
    fn decimals_have_no_grouping() {
        assert_eq!(decimal(125_050, "KES"), "1250.50");
        assert_eq!(decimal(-5, "KES"), "-0.05");
        assert_eq!(decimal(0, "KES"), "0.00");
        assert_eq!(decimal(1_500, "UGX"), "1500");
    }

    #[test]
    fn bad_filters_are_named() {
        let q = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>()
        };
        let e = Filters::parse(&q(&[("from", "2026-13-01")]))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "the From date '2026-13-01' is not a date (YYYY-MM-DD)");
        let e = Filters::parse(&q(&[("method", "bitcoin")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("the payment method 'bitcoin'"), "{e}");
        let e = Filters::parse(&q(&[("from", "2026-03-02"), ("to", "2026-03-01")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("after the To date"), "{e}");
        let f = Filters::parse(&q(&[
            ("from", "2026-03-01"),
            ("method", "mpesa"),
            ("page", "2"),
        ]))
        .unwrap();
        assert_eq!(f.query(), "from=2026-03-01&method=mpesa");
        assert_eq!(f.page_link(3), "/sales?from=2026-03-01&method=mpesa&page=3");
    }
}
