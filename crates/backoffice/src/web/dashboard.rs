//! The dashboard (`/`): how the business is doing at a glance.
//!
//! - Net sales (sales less voids and refunds) and the number of sales for
//!   today, this week (Monday to Sunday) and this month, per branch and for
//!   all branches together. "Today" is each branch's own business day, in
//!   its own time zone: sales carry their `business_day`, so every figure is
//!   a range over the `sales_branch_day` index, one branch at a time.
//! - Takings by payment method, today and this month.
//! - The month's best sellers by revenue, net of voids and refunds.
//! - The last 30 days as a bar chart, an SVG drawn here (no script).
//! - Low stock: tracked products at or under their alert level in a
//!   branch, and any below zero; stock transfers still in transit.
//!
//! `?branch=<id>` narrows everything to one branch. A business with no
//! sales yet is told how to connect its first till instead.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use chrono::{Datelike, Days, Months, NaiveDate};
use maud::{Markup, html};
use pos_domain::{Currency, PaymentMethod, TimeZone, Timestamp};
use rusqlite::Connection;

use super::business::{business_currency, business_zone};
use super::db;
use super::fmt::{self, plural};
use super::page::{self, Nav, WebError};
use super::sales::{branch_filter, check_branch, query_fields};
use super::session::WebUser;
use crate::devices::{Branch, all_branches};
use crate::state::AppState;

/// Days in the chart.
pub const CHART_DAYS: u64 = 30;
/// Best sellers shown.
const BEST_SELLERS: usize = 10;
/// Low-stock rows shown (the products page has the rest).
const LOW_STOCK_ROWS: usize = 200;

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(show))
}

// Periods --------------------------------------------------------------------

/// A branch's today, week and month, as inclusive business-day ranges.
#[derive(Debug, Clone, Copy)]
struct Periods {
    today: NaiveDate,
    week: (NaiveDate, NaiveDate),
    month: (NaiveDate, NaiveDate),
}

impl Periods {
    fn of(today: NaiveDate) -> Periods {
        let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
        let first = today.with_day(1).unwrap_or(today);
        let last = first
            .checked_add_months(Months::new(1))
            .and_then(|d| d.pred_opt())
            .unwrap_or(today);
        Periods {
            today,
            week: (monday, monday + Days::new(6)),
            month: (first, last),
        }
    }

    /// The range covering the week and the month.
    fn span(&self) -> (NaiveDate, NaiveDate) {
        (self.week.0.min(self.month.0), self.week.1.max(self.month.1))
    }
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

// Data -----------------------------------------------------------------------

/// Net total and counts for one period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Figures {
    net: i64,
    sales: i64,
    returns: i64,
}

impl Figures {
    fn add(&mut self, o: Figures) {
        self.net += o.net;
        self.sales += o.sales;
        self.returns += o.returns;
    }

    fn is_empty(&self) -> bool {
        *self == Figures::default()
    }
}

#[derive(Debug, Clone)]
struct BranchFigures {
    branch: Branch,
    periods: Periods,
    today: Figures,
    week: Figures,
    month: Figures,
}

#[derive(Debug, Clone)]
struct BestSeller {
    product_id: String,
    name: String,
    quantity: i64,
    revenue: i64,
}

#[derive(Debug, Clone)]
struct LowStock {
    branch: String,
    product_id: String,
    product: String,
    quantity: i64,
    alert_at: Option<i64>,
}

/// One bar of the chart.
#[derive(Debug, Clone, Copy)]
struct DayTotal {
    day: NaiveDate,
    net: i64,
    sales: i64,
}

#[derive(Debug)]
struct Dashboard {
    currency: String,
    branches: Vec<Branch>,
    selected: Option<String>,
    rows: Vec<BranchFigures>,
    all: [Figures; 3],
    /// Per method of [`PaymentMethod::ALL`]: (today, this month).
    methods: [(i64, i64); 4],
    best: Vec<BestSeller>,
    chart: Vec<DayTotal>,
    low: Vec<LowStock>,
    low_more: bool,
    /// Stock transfers from or to the chosen branches not received yet.
    in_transit: i64,
    any_sales: bool,
    any_devices: bool,
    now: Timestamp,
    zone: TimeZone,
}

fn branch_figures(
    conn: &Connection,
    branch: &Branch,
    p: Periods,
) -> rusqlite::Result<[Figures; 3]> {
    let (lo, hi) = p.span();
    conn.prepare_cached(
        "SELECT
            COALESCE(SUM(CASE WHEN business_day = ?2 THEN total_minor END), 0),
            COUNT(CASE WHEN business_day = ?2 AND kind = 'sale' THEN 1 END),
            COUNT(CASE WHEN business_day = ?2 AND kind <> 'sale' THEN 1 END),
            COALESCE(SUM(CASE WHEN business_day BETWEEN ?3 AND ?4 THEN total_minor END), 0),
            COUNT(CASE WHEN business_day BETWEEN ?3 AND ?4 AND kind = 'sale' THEN 1 END),
            COUNT(CASE WHEN business_day BETWEEN ?3 AND ?4 AND kind <> 'sale' THEN 1 END),
            COALESCE(SUM(CASE WHEN business_day BETWEEN ?5 AND ?6 THEN total_minor END), 0),
            COUNT(CASE WHEN business_day BETWEEN ?5 AND ?6 AND kind = 'sale' THEN 1 END),
            COUNT(CASE WHEN business_day BETWEEN ?5 AND ?6 AND kind <> 'sale' THEN 1 END)
         FROM sales WHERE branch_id = ?1 AND business_day BETWEEN ?7 AND ?8",
    )?
    .query_row(
        rusqlite::params![
            branch.id,
            day(p.today),
            day(p.week.0),
            day(p.week.1),
            day(p.month.0),
            day(p.month.1),
            day(lo),
            day(hi)
        ],
        |r| {
            let f = |i: usize| -> rusqlite::Result<Figures> {
                Ok(Figures {
                    net: r.get(i)?,
                    sales: r.get(i + 1)?,
                    returns: r.get(i + 2)?,
                })
            };
            Ok([f(0)?, f(3)?, f(6)?])
        },
    )
}

fn method_totals(
    conn: &Connection,
    branch: &Branch,
    p: Periods,
    into: &mut [(i64, i64); 4],
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.method,
                COALESCE(SUM(CASE WHEN s.business_day = ?2 THEN p.amount_minor END), 0),
                COALESCE(SUM(p.amount_minor), 0)
         FROM sales s JOIN payments p ON p.sale_id = s.id
         WHERE s.branch_id = ?1 AND s.business_day BETWEEN ?3 AND ?4
         GROUP BY p.method",
    )?;
    let mut rows = stmt.query(rusqlite::params![
        branch.id,
        day(p.today),
        day(p.month.0),
        day(p.month.1)
    ])?;
    while let Some(r) = rows.next()? {
        let method: String = r.get(0)?;
        if let Some(i) = PaymentMethod::ALL.iter().position(|m| m.as_str() == method) {
            into[i].0 += r.get::<_, i64>(1)?;
            into[i].1 += r.get::<_, i64>(2)?;
        }
    }
    Ok(())
}

fn best_sellers(
    conn: &Connection,
    branch: &Branch,
    p: Periods,
    into: &mut HashMap<String, BestSeller>,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.product_id, COALESCE(pr.name, MAX(l.name)), SUM(l.quantity_milli), SUM(l.total_minor)
         FROM sales s
         JOIN sale_lines l ON l.sale_id = s.id
         LEFT JOIN products pr ON pr.id = l.product_id
         WHERE s.branch_id = ?1 AND s.business_day BETWEEN ?2 AND ?3
         GROUP BY l.product_id",
    )?;
    let mut rows = stmt.query(rusqlite::params![branch.id, day(p.month.0), day(p.month.1)])?;
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let name: String = r.get(1)?;
        let quantity: i64 = r.get(2)?;
        let revenue: i64 = r.get(3)?;
        let e = into.entry(id.clone()).or_insert(BestSeller {
            product_id: id,
            name,
            quantity: 0,
            revenue: 0,
        });
        e.quantity += quantity;
        e.revenue += revenue;
    }
    Ok(())
}

fn daily_totals(
    conn: &Connection,
    branch: &Branch,
    (first, last): (NaiveDate, NaiveDate),
    into: &mut HashMap<NaiveDate, (i64, i64)>,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT business_day, COALESCE(SUM(total_minor), 0), COUNT(CASE WHEN kind = 'sale' THEN 1 END)
         FROM sales WHERE branch_id = ?1 AND business_day BETWEEN ?2 AND ?3
         GROUP BY business_day",
    )?;
    let mut rows = stmt.query(rusqlite::params![branch.id, day(first), day(last)])?;
    while let Some(r) = rows.next()? {
        let d: String = r.get(0)?;
        if let Ok(d) = NaiveDate::parse_from_str(&d, "%Y-%m-%d") {
            let e = into.entry(d).or_default();
            e.0 += r.get::<_, i64>(1)?;
            e.1 += r.get::<_, i64>(2)?;
        }
    }
    Ok(())
}

fn low_stock(conn: &Connection, branch: Option<&str>) -> rusqlite::Result<Vec<LowStock>> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.name, p.id, p.name, l.quantity_milli, p.low_stock_milli
         FROM stock_levels l
         JOIN products p ON p.id = l.product_id
         JOIN branches b ON b.id = l.branch_id
         WHERE p.deleted_at IS NULL AND b.deleted_at IS NULL AND p.track_stock = 1
           AND (l.quantity_milli < 0
                OR (p.low_stock_milli IS NOT NULL AND l.quantity_milli <= p.low_stock_milli))
           AND (?1 IS NULL OR l.branch_id = ?1)
         ORDER BY b.name COLLATE NOCASE, l.quantity_milli, p.name COLLATE NOCASE
         LIMIT ?2",
    )?;
    let limit = i64::try_from(LOW_STOCK_ROWS + 1).unwrap_or(i64::MAX);
    let rows = stmt.query_map(rusqlite::params![branch, limit], |r| {
        Ok(LowStock {
            branch: r.get(0)?,
            product_id: r.get(1)?,
            product: r.get(2)?,
            quantity: r.get(3)?,
            alert_at: r.get(4)?,
        })
    })?;
    rows.collect()
}

/// How many transfers from or to `branch` (any when `None`) are sent but
/// not received.
fn in_transit(conn: &Connection, branch: Option<&str>) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM transfers t
         WHERE (?1 IS NULL OR t.from_branch_id = ?1 OR t.to_branch_id = ?1)
           AND NOT EXISTS (SELECT 1 FROM transfer_receipts r WHERE r.transfer_id = t.id)",
    )?
    .query_row([branch], |r| r.get(0))
}

fn load(
    conn: &Connection,
    now: Timestamp,
    selected: Option<String>,
) -> Result<Dashboard, WebError> {
    let branches = all_branches(conn)?;
    check_branch(&branches, selected.as_deref())?;
    let currency = business_currency(conn)?.code().to_string();
    let business_zone = business_zone(conn)?;

    let chosen: Vec<&Branch> = branches
        .iter()
        .filter(|b| selected.as_deref().is_none_or(|s| s == b.id))
        .collect();
    let chart_end = chosen
        .iter()
        .map(|b| b.zone.business_day(now).0)
        .max()
        .unwrap_or_else(|| business_zone.business_day(now).0);
    let chart_start = chart_end - Days::new(CHART_DAYS - 1);

    let mut rows = Vec::new();
    let mut all = [Figures::default(); 3];
    let mut methods = [(0, 0); 4];
    let mut best = HashMap::new();
    let mut daily = HashMap::new();
    for b in chosen {
        let periods = Periods::of(b.zone.business_day(now).0);
        let [today, week, month] = branch_figures(conn, b, periods)?;
        method_totals(conn, b, periods, &mut methods)?;
        best_sellers(conn, b, periods, &mut best)?;
        daily_totals(conn, b, (chart_start, chart_end), &mut daily)?;
        let quiet = today.is_empty() && week.is_empty() && month.is_empty();
        // A closed branch with nothing this month is history, not news.
        if !b.live && quiet && selected.is_none() {
            continue;
        }
        all[0].add(today);
        all[1].add(week);
        all[2].add(month);
        rows.push(BranchFigures {
            branch: b.clone(),
            periods,
            today,
            week,
            month,
        });
    }

    let mut best: Vec<BestSeller> = best.into_values().filter(|b| b.revenue > 0).collect();
    best.sort_by(|a, b| {
        b.revenue
            .cmp(&a.revenue)
            .then(b.quantity.cmp(&a.quantity))
            .then_with(|| a.name.cmp(&b.name))
    });
    best.truncate(BEST_SELLERS);

    let chart = chart_start
        .iter_days()
        .take_while(|d| *d <= chart_end)
        .map(|d| {
            let (net, sales) = daily.get(&d).copied().unwrap_or_default();
            DayTotal { day: d, net, sales }
        })
        .collect();

    let in_transit = in_transit(conn, selected.as_deref())?;
    let mut low = low_stock(conn, selected.as_deref())?;
    let low_more = low.len() > LOW_STOCK_ROWS;
    low.truncate(LOW_STOCK_ROWS);

    let any_sales: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM sales)", [], |r| r.get(0))?;
    let any_devices: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM devices WHERE revoked_at IS NULL)",
        [],
        |r| r.get(0),
    )?;
    Ok(Dashboard {
        currency,
        branches,
        selected,
        rows,
        all,
        methods,
        best,
        chart,
        low,
        low_more,
        in_transit,
        any_sales,
        any_devices,
        now,
        zone: business_zone,
    })
}

// The page -------------------------------------------------------------------

async fn show(
    State(state): State<AppState>,
    user: WebUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let selected = query_fields(raw.as_deref())?.remove("branch");
    let data = db(&state, move |conn, clock| load(conn, clock.now(), selected)).await?;
    Ok(page::render(
        &user,
        Nav::Dashboard,
        "Dashboard",
        body(&data),
    ))
}

fn figures_cell(f: Figures, currency: &str) -> Markup {
    html! {
        div { strong { (fmt::money(f.net, currency)) } }
        div.muted {
            (plural(f.sales, "sale", "sales"))
            @if f.returns > 0 { ", " (plural(f.returns, "void/refund", "voids/refunds")) }
        }
    }
}

fn sales_link(branch: Option<&str>, from: NaiveDate, to: NaiveDate) -> String {
    let mut pairs = vec![("from", day(from)), ("to", day(to))];
    if let Some(b) = branch {
        pairs.insert(0, ("branch", b.to_string()));
    }
    format!(
        "/sales?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

fn body(d: &Dashboard) -> Markup {
    let cur = d.currency.as_str();
    html! {
        @if d.branches.len() > 1 {
            form.filters method="get" action="/" data-testid="branch-filter" {
                (branch_filter(&d.branches, d.selected.as_deref()))
                button type="submit" { "Show" }
            }
        }
        @if !d.any_sales {
            (empty_state(d))
        } @else {
            div.cards data-testid="headline" {
                div.card { div.label { "Today" } div.value data-testid="today-net" { (fmt::money(d.all[0].net, cur)) }
                    div.muted { (plural(d.all[0].sales, "sale", "sales")) } }
                div.card { div.label { "This week" } div.value data-testid="week-net" { (fmt::money(d.all[1].net, cur)) }
                    div.muted { (plural(d.all[1].sales, "sale", "sales")) } }
                div.card { div.label { "This month" } div.value data-testid="month-net" { (fmt::money(d.all[2].net, cur)) }
                    div.muted { (plural(d.all[2].sales, "sale", "sales")) } }
            }
            h2 { "Sales by branch" }
            p.muted { "Net of voids and refunds. Today, this week (Monday to Sunday) and this month are each branch's own, in its time zone." }
            table data-testid="figures" {
                thead { tr { th { "Branch" } th { "Today" } th { "This week" } th { "This month" } } }
                tbody {
                    @for r in &d.rows {
                        tr data-testid={ "figures-" (r.branch.id) } {
                            td {
                                (r.branch.name) @if !r.branch.live { " " span.tag { "closed" } }
                                div.muted { (day(r.periods.today)) " · " (r.branch.zone.name()) }
                            }
                            td { a href=(sales_link(Some(&r.branch.id), r.periods.today, r.periods.today)) { (figures_cell(r.today, cur)) } }
                            td { a href=(sales_link(Some(&r.branch.id), r.periods.week.0, r.periods.week.1)) { (figures_cell(r.week, cur)) } }
                            td { a href=(sales_link(Some(&r.branch.id), r.periods.month.0, r.periods.month.1)) { (figures_cell(r.month, cur)) } }
                        }
                    }
                    @if d.rows.len() > 1 {
                        tr data-testid="figures-all" {
                            td { strong { "All branches" } }
                            td { (figures_cell(d.all[0], cur)) }
                            td { (figures_cell(d.all[1], cur)) }
                            td { (figures_cell(d.all[2], cur)) }
                        }
                    }
                }
            }
            div.grid2 {
                section {
                    h2 { "Takings by payment method" }
                    table data-testid="methods" {
                        thead { tr { th { "Method" } th.num { "Today" } th.num { "This month" } } }
                        tbody {
                            @for (i, m) in PaymentMethod::ALL.iter().enumerate() {
                                tr data-testid={ "method-" (m.as_str()) } {
                                    td { (m.to_string()) }
                                    td.num { (fmt::money(d.methods[i].0, cur)) }
                                    td.num { (fmt::money(d.methods[i].1, cur)) }
                                }
                            }
                        }
                    }
                }
                section {
                    h2 { "Best sellers this month" }
                    @if d.best.is_empty() {
                        p.muted data-testid="best-sellers" { "Nothing sold this month yet." }
                    } @else {
                        table data-testid="best-sellers" {
                            thead { tr { th { "#" } th { "Product" } th.num { "Quantity" } th.num { "Revenue" } } }
                            tbody {
                                @for (i, b) in d.best.iter().enumerate() {
                                    tr data-testid="best-seller" {
                                        td { (i + 1) }
                                        td { a href={ "/products/" (b.product_id) } { (b.name) } }
                                        td.num { (fmt::qty(b.quantity)) }
                                        td.num { (fmt::money(b.revenue, cur)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Last " (CHART_DAYS) " days" }
            div.chart data-testid="sales-chart" {
                (page::trusted_svg(chart_svg(&d.chart, cur)))
            }
        }
        (low_stock_section(d))
        @if d.in_transit > 0 {
            @let link = match &d.selected {
                Some(b) => format!("/transfers?state=sent&branch={b}"),
                None => "/transfers?state=sent".to_string(),
            };
            p.notice data-testid="in-transit" {
                a href=(link) { (plural(d.in_transit, "stock transfer is", "stock transfers are")) " in transit" }
                ": sent, and not received yet at the other branch."
            }
        }
        p.muted { "As of " (fmt::time(d.now, d.zone)) " (" (d.zone.name()) ")." }
    }
}

fn empty_state(d: &Dashboard) -> Markup {
    html! {
        section.panel data-testid="no-sales" {
            h2 { "No sales yet" }
            @if d.any_devices {
                p { "Your tills are connected but have not sent a sale yet. Sales appear here within a minute of being rung up, once the till is online." }
                p { "Check each till's sync status under " a href="/devices" { "Connected devices" } " and the " a href="/sync-log" { "Sync log" } "." }
            } @else {
                p { "To get started:" }
                ol {
                    li { "Add your products under " a href="/products" { "Products & stock" } " (or on a till)." }
                    li { "Add a device for each till under " a href="/devices" { "Connected devices" } ": name its branch and the till, and you get a key." }
                    li { "On the till, open Sync settings and enter this Back Office's address and the key (or scan the QR code)." }
                    li { "Ring up a sale: it shows here as soon as the till syncs." }
                }
                p { a.button.primary href="/devices" data-testid="add-device" { "Add a device" } }
            }
        }
    }
}

fn low_stock_section(d: &Dashboard) -> Markup {
    html! {
        h2 { "Low stock" }
        div data-testid="low-stock" {
            @if d.low.is_empty() {
                p.muted { "No product is at or below its low-stock level." }
            } @else {
                table {
                    thead { tr { th { "Branch" } th { "Product" } th.num { "In stock" } th.num { "Alert at" } th {} } }
                    tbody {
                        @for l in &d.low {
                            tr data-testid="low-stock-row" {
                                td { (l.branch) }
                                td { a href={ "/products/" (l.product_id) } { (l.product) } }
                                td.num { (fmt::qty(l.quantity)) }
                                td.num { @if let Some(a) = l.alert_at { (fmt::qty(a)) } @else { span.muted { "—" } } }
                                td {
                                    @if l.quantity < 0 { span.tag.bad { "negative" } }
                                    @else if l.quantity == 0 { span.tag.bad { "out of stock" } }
                                    @else { span.tag.warn { "low" } }
                                }
                            }
                        }
                    }
                }
                @if d.low_more {
                    p.muted { "More products are low; see " a href="/products" { "Products & stock" } "." }
                }
            }
        }
    }
}

// The chart ------------------------------------------------------------------

const W: i64 = 760;
const H: i64 = 250;
const LEFT: i64 = 84;
const RIGHT: i64 = 8;
const TOP: i64 = 12;
const BOTTOM: i64 = 34;

/// The smallest 1, 2 or 5 × 10ⁿ that is at least `v` (and at least 1).
fn nice(v: i64) -> i64 {
    let mut p: i64 = 1;
    loop {
        for m in [1, 2, 5] {
            let c = p.saturating_mul(m);
            if c >= v {
                return c;
            }
        }
        if p > i64::MAX / 10 {
            return i64::MAX / 4;
        }
        p *= 10;
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A bar per day: the day's net sales; gridlines at quarters of a round
/// maximum; the date under every fifth bar. Integer pixels throughout.
fn chart_svg(days: &[DayTotal], currency: &str) -> String {
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let n = i64::try_from(days.len()).unwrap_or(1).max(1);
    let slot = plot_w / n;
    let bar_w = (slot - slot / 4).max(1);
    let per_major = Currency::from_code(currency).map_or(100, |c| c.minor_per_major());
    let max = days.iter().map(|d| d.net).max().unwrap_or(0).max(0);
    let step = nice(((max + 3) / 4).max(per_major));
    let top_value = step * 4;
    let y_of = |v: i64| -> i64 {
        let v = v.clamp(0, top_value);
        let h =
            i64::try_from(i128::from(v) * i128::from(plot_h) / i128::from(top_value)).unwrap_or(0);
        TOP + plot_h - h
    };
    let total: i64 = days.iter().map(|d| d.net).sum();
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-label="{}" font-size="11" font-family="system-ui, sans-serif">"##,
        xml_escape(&format!(
            "Net sales per day, last {} days: {} in all",
            days.len(),
            fmt::money(total, currency)
        ))
    );
    for i in 0..=4 {
        let v = step * i;
        let y = y_of(v);
        let _ = write!(
            s,
            r##"<line class="grid" x1="{LEFT}" y1="{y}" x2="{}" y2="{y}" stroke="#e4e7ec"/><text class="y-label" x="{}" y="{}" text-anchor="end" fill="#667085">{}</text>"##,
            W - RIGHT,
            LEFT - 6,
            y + 4,
            xml_escape(&fmt::amount(v, currency))
        );
    }
    for (i, d) in days.iter().enumerate() {
        let i = i64::try_from(i).unwrap_or(0);
        let x = LEFT + i * slot + (slot - bar_w) / 2;
        let y = y_of(d.net);
        let h = TOP + plot_h - y;
        let date = day(d.day);
        let _ = write!(
            s,
            r##"<rect class="bar" x="{x}" y="{y}" width="{bar_w}" height="{h}" fill="#0b6e4f" data-day="{date}" data-value="{}"><title>{}</title></rect>"##,
            d.net,
            xml_escape(&format!(
                "{date}: {} ({})",
                fmt::money(d.net, currency),
                plural(d.sales, "sale", "sales")
            ))
        );
        if i % 5 == 0 || i == n - 1 {
            let _ = write!(
                s,
                r##"<text class="x-label" x="{}" y="{}" text-anchor="middle" fill="#667085">{}</text>"##,
                x + bar_w / 2,
                H - BOTTOM + 16,
                xml_escape(&d.day.format("%-d %b").to_string())
            );
        }
    }
    let _ = write!(
        s,
        r##"<line class="axis" x1="{LEFT}" y1="{0}" x2="{1}" y2="{0}" stroke="#98a2b3"/></svg>"##,
        TOP + plot_h,
        W - RIGHT
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_run_monday_to_sunday_and_over_the_month() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(); // a Monday
        let p = Periods::of(d);
        assert_eq!(day(p.week.0), "2026-03-02");
        assert_eq!(day(p.week.1), "2026-03-08");
        assert_eq!(day(p.month.0), "2026-03-01");
        assert_eq!(day(p.month.1), "2026-03-31");
        let p = Periods::of(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()); // a Sunday
        assert_eq!(
            (day(p.week.0), day(p.week.1)),
            ("2026-02-23".into(), "2026-03-01".into())
        );
        assert_eq!(p.span(), (p.week.0, p.month.1));
        let p = Periods::of(NaiveDate::from_ymd_opt(2024, 2, 10).unwrap());
        assert_eq!(day(p.month.1), "2024-02-29");
    }

    #[test]
    fn the_scale_is_round() {
        assert_eq!(nice(0), 1);
        assert_eq!(nice(3), 5);
        assert_eq!(nice(11_250), 20_000);
        assert_eq!(nice(50_000), 50_000);
    }

    #[test]
    fn the_chart_has_a_bar_per_day_scaled_to_the_data() {
        let start = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
        let days: Vec<DayTotal> = (0..30)
            .map(|i| DayTotal {
                day: start + Days::new(i),
                net: if i == 29 { 400_00 } else { 0 },
                sales: i64::from(i == 29),
            })
            .collect();
        let svg = chart_svg(&days, "KES");
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 30);
        assert!(
            svg.contains("<title>2026-03-02: KES 400.00 (1 sale)</title>"),
            "{svg}"
        );
        // The top gridline is 100.00 × 4 and the full bar reaches it.
        assert!(svg.contains(">400.00</text>"), "{svg}");
        assert!(svg.contains(&format!("y=\"{TOP}\" width=")), "{svg}");
    }
}
