//! Branch reports (`/reports`): one table comparing the branches, a column
//! per branch and one for all branches together, for a range of business
//! days and one branch or all.
//!
//! - **Sales**: the number of sales, gross sales, voids and refunds (count
//!   and amount), net sales, and the net taken per payment method.
//! - **Expenses**: the total, and per category.
//! - **Stock**, as it is now (stock levels are not kept per day): tracked
//!   products, how many are in stock, low, out and below zero, and the value
//!   of what is in stock at the selling price.
//!
//! `/reports.csv` is the same table for a spreadsheet.
//!
//! Days are business days in each branch's own time zone: sales and
//! expenses carry the `business_day` their till gave them, so a range is a
//! plain comparison per branch (the `sales_branch_day` index), as on the
//! dashboard and the sales list. The filter is the expenses page's
//! (`expenses::check_filter`): the month so far unless dates are given.
//!
//! Gross margin is not shown: products carry no cost price yet, and a margin
//! made up from nothing would mislead. Amounts are integer minor units; the
//! one division (stock value, quantities in thousandths) rounds once.

use std::collections::BTreeSet;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use pos_domain::PaymentMethod;
use pos_domain::money::div_round;
use rusqlite::{Connection, params};

use super::business::{business_currency, business_zone};
use super::db;
use super::expenses::{Filter, Range, check_filter};
use super::fmt::{self, plural};
use super::page::{self, Nav, WebError, form_error};
use super::sales::{Cell, branch_filter, csv_download, decimal, method_label, push_row};
use super::session::WebUser;
use crate::devices::{Branch, all_branches};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/reports", get(show))
        .route("/reports.csv", get(csv))
}

// Figures ------------------------------------------------------------------------

/// One column's sales for the range.
#[derive(Debug, Clone, Copy, Default)]
struct Sales {
    count: i64,
    gross: i64,
    voids: i64,
    voided: i64,
    refunds: i64,
    refunded: i64,
    net: i64,
    /// Net per method of [`PaymentMethod::ALL`].
    methods: [i64; 4],
}

/// One column's stock, now.
#[derive(Debug, Clone, Copy, Default)]
struct Stock {
    tracked: i64,
    in_stock: i64,
    low: i64,
    out: i64,
    negative: i64,
    /// Σ quantity (thousandths) × price (minor units) over levels above zero.
    value_milli: i128,
}

/// A column of the table: one branch, or all of them.
#[derive(Debug, Clone, Default)]
struct Column {
    /// `all` or the branch's id (for test ids and links).
    key: String,
    label: String,
    sales: Sales,
    expenses: i64,
    /// (category, total), by category.
    by_category: Vec<(String, i64)>,
    stock: Stock,
}

impl Column {
    fn add(&mut self, o: &Column) {
        let (s, t) = (&mut self.sales, &o.sales);
        s.count += t.count;
        s.gross += t.gross;
        s.voids += t.voids;
        s.voided += t.voided;
        s.refunds += t.refunds;
        s.refunded += t.refunded;
        s.net += t.net;
        for (m, n) in s.methods.iter_mut().zip(t.methods) {
            *m += n;
        }
        self.expenses += o.expenses;
        for (cat, minor) in &o.by_category {
            match self.by_category.iter_mut().find(|(c, _)| c == cat) {
                Some((_, total)) => *total += minor,
                None => self.by_category.push((cat.clone(), *minor)),
            }
        }
        let (s, t) = (&mut self.stock, &o.stock);
        s.tracked += t.tracked;
        s.in_stock += t.in_stock;
        s.low += t.low;
        s.out += t.out;
        s.negative += t.negative;
        s.value_milli += t.value_milli;
    }

    fn category(&self, cat: &str) -> i64 {
        self.by_category
            .iter()
            .find(|(c, _)| c == cat)
            .map_or(0, |(_, m)| *m)
    }

    fn stock_value(&self) -> i64 {
        i64::try_from(div_round(self.stock.value_milli, 1000)).unwrap_or(i64::MAX)
    }
}

fn day(d: chrono::NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn branch_column(conn: &Connection, b: &Branch, r: &Range) -> rusqlite::Result<Column> {
    let (from, to) = (day(r.from), day(r.to));
    let mut sales = conn
        .prepare_cached(
            "SELECT COUNT(CASE WHEN kind = 'sale' THEN 1 END),
                    COALESCE(SUM(CASE WHEN kind = 'sale' THEN total_minor END), 0),
                    COUNT(CASE WHEN kind = 'void' THEN 1 END),
                    COALESCE(SUM(CASE WHEN kind = 'void' THEN total_minor END), 0),
                    COUNT(CASE WHEN kind = 'refund' THEN 1 END),
                    COALESCE(SUM(CASE WHEN kind = 'refund' THEN total_minor END), 0),
                    COALESCE(SUM(total_minor), 0)
             FROM sales WHERE branch_id = ?1 AND business_day BETWEEN ?2 AND ?3",
        )?
        .query_row(params![b.id, from, to], |r| {
            Ok(Sales {
                count: r.get(0)?,
                gross: r.get(1)?,
                voids: r.get(2)?,
                voided: r.get(3)?,
                refunds: r.get(4)?,
                refunded: r.get(5)?,
                net: r.get(6)?,
                methods: [0; 4],
            })
        })?;
    let mut stmt = conn.prepare_cached(
        "SELECT p.method, COALESCE(SUM(p.amount_minor), 0)
         FROM sales s JOIN payments p ON p.sale_id = s.id
         WHERE s.branch_id = ?1 AND s.business_day BETWEEN ?2 AND ?3
         GROUP BY p.method",
    )?;
    let mut rows = stmt.query(params![b.id, from, to])?;
    while let Some(row) = rows.next()? {
        let method: String = row.get(0)?;
        if let Some(i) = PaymentMethod::ALL.iter().position(|m| m.as_str() == method) {
            sales.methods[i] += row.get::<_, i64>(1)?;
        }
    }
    let by_category = conn
        .prepare_cached(
            "SELECT category, SUM(amount_minor) FROM expenses
             WHERE deleted_at IS NULL AND branch_id = ?1 AND business_day BETWEEN ?2 AND ?3
             GROUP BY category ORDER BY category COLLATE NOCASE",
        )?
        .query_map(params![b.id, from, to], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<(String, i64)>>>()?;
    let mut stock = Stock::default();
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(l.quantity_milli, 0), p.price_minor, p.low_stock_milli
         FROM products p
         LEFT JOIN stock_levels l ON l.product_id = p.id AND l.branch_id = ?1
         WHERE p.deleted_at IS NULL AND p.track_stock = 1",
    )?;
    let mut rows = stmt.query([&b.id])?;
    while let Some(row) = rows.next()? {
        let (q, price, low): (i64, i64, Option<i64>) = (row.get(0)?, row.get(1)?, row.get(2)?);
        stock.tracked += 1;
        match q {
            q if q < 0 => stock.negative += 1,
            0 => stock.out += 1,
            q => {
                stock.in_stock += 1;
                stock.value_milli += i128::from(q) * i128::from(price);
                if low.is_some_and(|l| q <= l) {
                    stock.low += 1;
                }
            }
        }
    }
    Ok(Column {
        key: b.id.clone(),
        label: b.name.clone(),
        sales,
        expenses: by_category.iter().map(|(_, m)| m).sum(),
        by_category,
        stock,
    })
}

struct Report {
    currency: String,
    /// The branches' columns, then "All branches" when there are several.
    columns: Vec<Column>,
    categories: Vec<String>,
}

fn load(conn: &Connection, r: &Range) -> Result<Report, WebError> {
    let branches = all_branches(conn)?;
    let mut columns = Vec::new();
    for b in &branches {
        if r.branch.is_some_and(|id| id.to_string() != b.id) {
            continue;
        }
        let c = branch_column(conn, b, r)?;
        // A closed branch with nothing in the range is history.
        let quiet = c.sales.count + c.sales.voids + c.sales.refunds == 0
            && c.by_category.is_empty()
            && c.stock.in_stock + c.stock.negative == 0;
        if b.live || !quiet || r.branch.is_some() {
            columns.push(c);
        }
    }
    if columns.len() > 1 {
        let mut all = Column {
            key: "all".into(),
            label: "All branches".into(),
            ..Column::default()
        };
        for c in &columns {
            all.add(c);
        }
        // Every branch counts the same tracked products; all together they
        // are still those products.
        all.stock.tracked = columns[0].stock.tracked;
        columns.push(all);
    }
    let categories: BTreeSet<String> = columns
        .iter()
        .flat_map(|c| c.by_category.iter().map(|(cat, _)| cat.clone()))
        .collect();
    Ok(Report {
        currency: business_currency(conn)?.code().to_string(),
        columns,
        categories: categories.into_iter().collect(),
    })
}

// The table ---------------------------------------------------------------------------

/// How a figure reads.
#[derive(Debug, Clone, Copy)]
enum Figure {
    Count(i64),
    Money(i64),
}

/// A part of the table: a section's heading, or a row with a figure per
/// column (the page and the CSV show the same rows).
enum Part {
    Section(&'static str),
    Row {
        label: String,
        /// The row's test id is `{key}-{column key}`.
        key: String,
        figures: Vec<Figure>,
    },
}

fn parts(r: &Report) -> Vec<Part> {
    use Figure::{Count, Money};
    let row = |label: &str, key: &str, f: &dyn Fn(&Column) -> Figure| Part::Row {
        label: label.to_string(),
        key: key.to_string(),
        figures: r.columns.iter().map(f).collect(),
    };
    let mut out = vec![
        Part::Section("Sales"),
        row("Sales", "sales", &|c| Count(c.sales.count)),
        row("Gross sales", "gross", &|c| Money(c.sales.gross)),
        row("Voids", "voids", &|c| Count(c.sales.voids)),
        row("Voided", "voided", &|c| Money(c.sales.voided)),
        row("Refunds", "refunds", &|c| Count(c.sales.refunds)),
        row("Refunded", "refunded", &|c| Money(c.sales.refunded)),
        row("Net sales", "net", &|c| Money(c.sales.net)),
    ];
    for (i, m) in PaymentMethod::ALL.iter().enumerate() {
        out.push(row(
            &format!("Paid by {}", method_label(m.as_str())),
            &format!("method-{}", m.as_str()),
            &|c| Money(c.sales.methods[i]),
        ));
    }
    out.push(Part::Section("Expenses"));
    out.push(row("Expenses", "expenses", &|c| Money(c.expenses)));
    for cat in &r.categories {
        out.push(row(
            &format!("Expenses: {cat}"),
            &format!("category-{cat}"),
            &|c| Money(c.category(cat)),
        ));
    }
    out.extend([
        row("Net sales less expenses", "after-expenses", &|c| {
            Money(c.sales.net - c.expenses)
        }),
        Part::Section("Stock now"),
        row("Tracked products", "stock-tracked", &|c| {
            Count(c.stock.tracked)
        }),
        row("In stock", "stock-in", &|c| Count(c.stock.in_stock)),
        row("In stock but low", "stock-low", &|c| Count(c.stock.low)),
        row("Out of stock", "stock-out", &|c| Count(c.stock.out)),
        row("Below zero", "stock-negative", &|c| Count(c.stock.negative)),
        row("Value at selling price", "stock-value", &|c| {
            Money(c.stock_value())
        }),
    ]);
    out
}

fn table(r: &Report, filter: &Filter) -> Markup {
    let cols = &r.columns;
    html! {
        table data-testid="report" {
            thead { tr {
                th { "From " (filter.from) " to " (filter.to) }
                @for c in cols { th.num { (c.label) } }
            } }
            tbody {
                @for part in parts(r) {
                    @match part {
                        Part::Section(title) => {
                            tr { th colspan=(cols.len() + 1) { strong { (title) } } }
                        }
                        Part::Row { label, key, figures } => {
                            tr {
                                th { (label) }
                                @for (c, f) in cols.iter().zip(figures) {
                                    td.num data-testid={ (key) "-" (c.key) } {
                                        @match f {
                                            Figure::Count(n) => { (n) }
                                            Figure::Money(m) => { (fmt::money(m, &r.currency)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The table as CSV: a line per row, amounts as plain decimals in the
/// business's currency (named in the header).
fn csv_text(r: &Report, filter: &Filter) -> String {
    let mut out = String::new();
    let first = format!("{} to {} ({})", filter.from, filter.to, r.currency);
    let mut header = vec![Cell::Text(&first)];
    header.extend(r.columns.iter().map(|c| Cell::Text(&c.label)));
    push_row(&mut out, &header);
    for part in parts(r) {
        if let Part::Row { label, figures, .. } = part {
            let mut cells = vec![Cell::Text(&label)];
            cells.extend(figures.iter().map(|f| {
                Cell::Number(match *f {
                    Figure::Count(n) => n.to_string(),
                    Figure::Money(m) => decimal(m, &r.currency),
                })
            }));
            push_row(&mut out, &cells);
        }
    }
    out
}

// The page ---------------------------------------------------------------------------

fn report_page(
    filter: &Filter,
    report: Option<&Report>,
    branches: &[Branch],
    error: Option<&str>,
) -> Markup {
    html! {
        p.muted {
            "Each branch's figures for its own business days (in its time zone). Net sales are sales less voids and refunds; "
            "payments are net of them too. Stock is as it is now, whatever the dates; under All branches, "
            "each product counts once per branch (in stock at one, out at another). "
            "Gross margin is not shown: products have no cost price yet."
        }
        (form_error(error))
        form.filters method="get" action="/reports" data-testid="report-filters" {
            (branch_filter(branches, (!filter.branch.is_empty()).then_some(filter.branch.as_str())))
            label { "From (business day)" input type="date" name="from" value=(filter.from); }
            label { "To" input type="date" name="to" value=(filter.to); }
            button type="submit" { "Show" }
        }
        @if let Some(r) = report {
            @if r.columns.is_empty() {
                p.muted { "No branches yet." }
            } @else {
                (table(r, filter))
                p {
                    a data-testid="report-csv" href={ "/reports.csv?" (serde_urlencoded::to_string([("branch", &filter.branch), ("from", &filter.from), ("to", &filter.to)]).unwrap_or_default()) } {
                        "Download as CSV"
                    }
                }
                p.muted {
                    (plural(r.columns.iter().filter(|c| c.key != "all").count() as i64, "branch", "branches"))
                    ". The sales list and the expenses page have the records behind these figures."
                }
            }
        }
    }
}

/// The filter as checked (or as typed, with its refusal), the branches,
/// and the report when the filter was good.
type Loaded = (Filter, Vec<Branch>, Option<Report>, Option<String>);

async fn load_filtered(state: &AppState, filter: Filter) -> Result<Loaded, WebError> {
    db(state, move |conn, clock| {
        let today = business_zone(conn)?.business_day(clock.now()).0;
        let branches = all_branches(conn)?;
        match check_filter(conn, &filter, today) {
            Ok(range) => {
                let report = load(conn, &range)?;
                let shown = Filter {
                    branch: range.branch.map(|b| b.to_string()).unwrap_or_default(),
                    from: day(range.from),
                    to: day(range.to),
                };
                Ok((shown, branches, Some(report), None))
            }
            Err(e) => Ok((filter, branches, None, Some(e.refusal()?))),
        }
    })
    .await
}

/// `GET /reports?branch=&from=&to=`.
async fn show(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
    user: WebUser,
) -> Result<Response, WebError> {
    let (shown, branches, report, error) = load_filtered(&state, filter).await?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = report_page(&shown, report.as_ref(), &branches, error.as_deref());
    Ok(page::render_status(
        status,
        &user,
        Nav::Reports,
        "Branch reports",
        body,
    ))
}

/// `GET /reports.csv?branch=&from=&to=`: the same table for a spreadsheet.
async fn csv(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
    _user: WebUser,
) -> Result<Response, WebError> {
    let (shown, _, report, error) = load_filtered(&state, filter).await?;
    match (report, error) {
        (Some(r), _) => Ok(csv_download(
            &format!("branch-report-{}-{}.csv", shown.from, shown.to),
            csv_text(&r, &shown),
        )),
        (None, e) => Err(WebError::bad(e.unwrap_or_default())),
    }
}
