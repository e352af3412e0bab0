//! Expenses (`/expenses`): the petty cash every branch's tills recorded,
//! filtered by branch and by business day (each expense's day in its own
//! branch's time zone, as the till recorded it), with totals per branch and
//! per category for the range.
//!
//! The tills record and edit expenses; the dashboard only reads them, and a
//! manager or owner may delete a mistaken one: an `expense_deleted`
//! tombstone for the expense's branch, so only that branch's tills pull it.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use pos_domain::{BranchId, ExpenseId};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use sync_protocol::{OpBody, Tombstone};

use super::business::{business_currency, business_zone};
use super::page::{self, Nav, WebError, csrf_field, form_error};
use super::session::{Posted, WebUser};
use super::write::{self, Write};
use super::{db, fmt};
use crate::devices::{Branch, all_branches};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/expenses", get(list))
        .route("/expenses/{id}/delete", post(delete))
}

/// The most rows the table shows (the totals always cover the whole range).
const ROW_LIMIT: i64 = 1000;

/// A branch and a range of business days, as typed (also the filter of
/// the branch reports, [`super::reports`]).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    pub(crate) branch: String,
    #[serde(default)]
    pub(crate) from: String,
    #[serde(default)]
    pub(crate) to: String,
}

/// The filter checked: the branch (or every branch) and the days.
pub(crate) struct Range {
    pub(crate) branch: Option<BranchId>,
    pub(crate) from: NaiveDate,
    pub(crate) to: NaiveDate,
}

/// Checks a [`Filter`]: the days default to the month so far (`today` is
/// the business's), the branch must be one of the business's.
pub(crate) fn check_filter(
    conn: &Connection,
    f: &Filter,
    today: NaiveDate,
) -> Result<Range, WebError> {
    let from = match f.from.trim() {
        "" => today.with_day(1).unwrap_or(today),
        t => fmt::parse_date("from", t)?,
    };
    let to = match f.to.trim() {
        "" => today,
        t => fmt::parse_date("to", t)?,
    };
    if from > to {
        return Err(WebError::bad(format!(
            "from ({from}) is after to ({to}); swap them"
        )));
    }
    let branch = match f.branch.trim() {
        "" => None,
        t => {
            let id: Option<BranchId> = t.parse().ok();
            let known: bool = match id {
                Some(id) => conn.query_row(
                    "SELECT EXISTS (SELECT 1 FROM branches WHERE id = ?1)",
                    [id.to_string()],
                    |r| r.get(0),
                )?,
                None => false,
            };
            if !known {
                return Err(WebError::bad(format!(
                    "the branch '{t}' is not one of this business's branches"
                )));
            }
            id
        }
    };
    Ok(Range { branch, from, to })
}

#[derive(Debug, Clone)]
struct Row {
    id: ExpenseId,
    day: String,
    branch: String,
    category: String,
    description: String,
    amount: i64,
    currency: String,
    paid_with: String,
    reference: Option<String>,
    user: Option<String>,
}

#[derive(Debug, Clone)]
struct Total {
    key: String,
    label: String,
    count: i64,
    minor: i64,
}

struct Report {
    rows: Vec<Row>,
    more: bool,
    by_branch: Vec<Total>,
    by_category: Vec<Total>,
}

const WHERE: &str =
    "e.deleted_at IS NULL AND e.business_day BETWEEN ?1 AND ?2 AND (?3 = '' OR e.branch_id = ?3)";

fn report(conn: &Connection, r: &Range) -> rusqlite::Result<Report> {
    let (from, to) = (r.from.to_string(), r.to.to_string());
    let branch = r.branch.map(|b| b.to_string()).unwrap_or_default();
    let mut stmt = conn.prepare(&format!(
        "SELECT e.id, e.business_day, COALESCE(b.name, e.branch_id), e.category, e.description,
                e.amount_minor, e.currency, e.paid_with, e.reference, u.name
         FROM expenses e LEFT JOIN branches b ON b.id = e.branch_id LEFT JOIN users u ON u.id = e.user_id
         WHERE {WHERE}
         ORDER BY e.business_day DESC, e.spent_at DESC, e.id LIMIT ?4"
    ))?;
    let mut rows: Vec<Row> = stmt
        .query_map(params![from, to, branch, ROW_LIMIT + 1], |r| {
            Ok(Row {
                id: crate::apply::col(r, 0)?,
                day: r.get(1)?,
                branch: r.get(2)?,
                category: r.get(3)?,
                description: r.get(4)?,
                amount: r.get(5)?,
                currency: r.get(6)?,
                paid_with: r.get(7)?,
                reference: r.get(8)?,
                user: r.get(9)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let more = rows.len() as i64 > ROW_LIMIT;
    rows.truncate(ROW_LIMIT as usize);
    let totals =
        |group: &str, key: &str, label: &str, order: &str| -> rusqlite::Result<Vec<Total>> {
            let mut stmt = conn.prepare(&format!(
                "SELECT {key}, {label}, COUNT(*), SUM(e.amount_minor)
             FROM expenses e LEFT JOIN branches b ON b.id = e.branch_id
             WHERE {WHERE} GROUP BY {group} ORDER BY {order}"
            ))?;
            let rows = stmt.query_map(params![from, to, branch], |r| {
                Ok(Total {
                    key: r.get(0)?,
                    label: r.get(1)?,
                    count: r.get(2)?,
                    minor: r.get(3)?,
                })
            })?;
            rows.collect()
        };
    Ok(Report {
        rows,
        more,
        by_branch: totals(
            "e.branch_id",
            "COALESCE(b.code, e.branch_id)",
            "COALESCE(b.name, e.branch_id)",
            "2 COLLATE NOCASE",
        )?,
        by_category: totals(
            "e.category",
            "e.category",
            "e.category",
            "4 DESC, 2 COLLATE NOCASE",
        )?,
    })
}

fn paid_with_label(p: &str) -> &str {
    match p {
        "cash" => "Cash",
        "mpesa" => "M-Pesa",
        "card" => "Card",
        "bank" => "Bank",
        other => other,
    }
}

fn totals_table(testid: &str, what: &str, totals: &[Total], code: &str) -> Markup {
    html! {
        table data-testid=(testid) {
            thead { tr { th { (what) } th.num { "Expenses" } th.num { "Total" } } }
            tbody {
                @for t in totals {
                    tr {
                        td { (t.label) }
                        td.num { (t.count) }
                        td.num data-testid={ (testid) "-" (t.key) } { (fmt::money(t.minor, code)) }
                    }
                }
                @if totals.is_empty() { tr { td colspan="3" .muted { "None" } } }
            }
        }
    }
}

struct View<'a> {
    filter: &'a Filter,
    branches: &'a [Branch],
    report: Option<&'a Report>,
    currency: &'a str,
    back: String,
}

fn list_page(user: &WebUser, v: &View<'_>, error: Option<&str>) -> Markup {
    let f = v.filter;
    html! {
        (form_error(error))
        form.filters method="get" action="/expenses" data-testid="expense-filters" {
            label { "Branch"
                select name="branch" {
                    option value="" { "Every branch" }
                    @for b in v.branches.iter().filter(|b| b.live) {
                        option value=(b.id) selected[f.branch.trim() == b.id] { (b.name) }
                    }
                }
            }
            label { "From (business day)" input type="date" name="from" value=(f.from); }
            label { "To" input type="date" name="to" value=(f.to); }
            button type="submit" { "Show" }
        }
        @if let Some(r) = v.report {
            @let all: i64 = r.by_branch.iter().map(|t| t.minor).sum();
            div.cards {
                div.card { div.label { "Total for the range" } div.value data-testid="total-all" { (fmt::money(all, v.currency)) } }
                div.card { div.label { "Expenses" } div.value { (r.by_branch.iter().map(|t| t.count).sum::<i64>()) } }
            }
            div.grid2 {
                div { h2 { "By branch" } (totals_table("total-branch", "Branch", &r.by_branch, v.currency)) }
                div { h2 { "By category" } (totals_table("total-category", "Category", &r.by_category, v.currency)) }
            }
            h2 { "Expenses" }
            table data-testid="expenses" {
                thead { tr {
                    th { "Day" } th { "Branch" } th { "Category" } th { "Description" } th.num { "Amount" }
                    th { "Paid with" } th { "Reference" } th { "Recorded by" } th {}
                } }
                tbody {
                    @for e in &r.rows {
                        tr data-testid={ "expense-" (e.id) } {
                            td { (e.day) }
                            td { (e.branch) }
                            td { (e.category) }
                            td { (e.description) }
                            td.num { (fmt::money(e.amount, &e.currency)) }
                            td { (paid_with_label(&e.paid_with)) }
                            td { (e.reference.as_deref().unwrap_or("—")) }
                            td { (e.user.as_deref().unwrap_or("—")) }
                            td {
                                form.inline method="post" action={ "/expenses/" (e.id) "/delete" } {
                                    (csrf_field(user))
                                    input type="hidden" name="back" value=(v.back);
                                    button.danger type="submit" title="Delete this expense at every till of its branch" { "Delete…" }
                                }
                            }
                        }
                    }
                    @if r.rows.is_empty() {
                        tr { td colspan="9" .muted { "No expenses in this range." } }
                    }
                }
            }
            @if r.more {
                p.notice { "Only the newest " (ROW_LIMIT) " expenses are listed; the totals cover the whole range." }
            }
        }
    }
}

/// `GET /expenses?branch=&from=&to=`.
async fn list(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
    user: WebUser,
) -> Result<Response, WebError> {
    let f = filter.clone();
    let out = db(&state, move |conn, clock| {
        let zone = business_zone(conn)?;
        let currency = business_currency(conn)?.code().to_string();
        let branches = all_branches(conn)?;
        let today = zone.business_day(clock.now()).0;
        let checked = check_filter(conn, &f, today);
        let (range, error) = match checked {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e.refusal()?)),
        };
        let shown = match &range {
            Some(r) => Filter {
                branch: r.branch.map(|b| b.to_string()).unwrap_or_default(),
                from: r.from.to_string(),
                to: r.to.to_string(),
            },
            None => f,
        };
        let report = range.as_ref().map(|r| report(conn, r)).transpose()?;
        Ok((shown, branches, report, currency, error))
    })
    .await?;
    let (shown, branches, report, currency, error) = out;
    let back = format!(
        "/expenses?{}",
        serde_urlencoded::to_string([
            ("branch", &shown.branch),
            ("from", &shown.from),
            ("to", &shown.to)
        ])
        .unwrap_or_default()
    );
    let view = View {
        filter: &shown,
        branches: &branches,
        report: report.as_ref(),
        currency: &currency,
        back,
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = list_page(&user, &view, error.as_deref());
    Ok(page::render_status(
        status,
        &user,
        Nav::Expenses,
        "Expenses",
        body,
    ))
}

/// Where to go back after a delete: an `/expenses` page only.
fn safe_back(back: Option<&String>) -> &str {
    match back {
        Some(b) if (b == "/expenses" || b.starts_with("/expenses?")) && !b.contains('\\') => b,
        _ => "/expenses",
    }
}

/// A live expense, as the confirmation page and the tombstone need it.
struct Found {
    branch_id: String,
    branch: String,
    day: String,
    description: String,
    amount: i64,
    currency: String,
}

/// `POST /expenses/{id}/delete`: first a page saying what deleting does,
/// then (with `confirm=yes`) a tombstone for the expense's branch.
async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let Posted { user, form } = posted;
    let confirmed = page::is_confirmed(&form);
    let id: ExpenseId = page::path_id(&id, "there is no such expense")?;
    let back = safe_back(form.get("back")).to_string();
    let who = user.clone();
    let done = db(&state, move |conn, clock| {
        let found: Option<Found> = conn
            .query_row(
                "SELECT e.branch_id, COALESCE(b.name, e.branch_id), e.business_day, e.description,
                        e.amount_minor, e.currency
                 FROM expenses e LEFT JOIN branches b ON b.id = e.branch_id
                 WHERE e.id = ?1 AND e.deleted_at IS NULL",
                [id.to_string()],
                |r| {
                    Ok(Found {
                        branch_id: r.get(0)?,
                        branch: r.get(1)?,
                        day: r.get(2)?,
                        description: r.get(3)?,
                        amount: r.get(4)?,
                        currency: r.get(5)?,
                    })
                },
            )
            .optional()?;
        let Some(found) = found else {
            return Err(WebError::not_found(
                "there is no such expense (or it was deleted already)",
            ));
        };
        let shown = format!(
            "{} ({})",
            found.description,
            fmt::money(found.amount, &found.currency)
        );
        if !confirmed {
            return Ok(Err((found, shown)));
        }
        let branch: BranchId = found
            .branch_id
            .parse()
            .map_err(|e| WebError::internal(&e))?;
        let now = clock.now();
        let body = OpBody::ExpenseDeleted(Tombstone {
            id,
            deleted_at: now,
        });
        let change = Write {
            hlc: write::hlc_for(conn, now, &body)?,
            body,
            branch: Some(branch),
            action: "expense.delete",
            detail: format!("deleted {shown}"),
        };
        write::apply(conn, now, &who, &[change])?;
        Ok(Ok(shown))
    })
    .await?;
    match done {
        Ok(done) => Ok(page::redirect_with_flash(
            &back,
            &format!("Expense {done} deleted; its branch's tills get that on their next sync."),
        )),
        Err((found, shown)) => Ok(confirm_delete(&user, id, &found, &shown, &back)),
    }
}

/// The page asking before an expense is deleted.
fn confirm_delete(user: &WebUser, id: ExpenseId, e: &Found, shown: &str, back: &str) -> Response {
    let question = format!("Delete the expense {shown}?");
    let action = format!("/expenses/{id}/delete");
    page::confirm_page(
        user,
        Nav::Expenses,
        page::Confirm {
            title: "Delete an expense?",
            question: &question,
            what_happens: html! {
                p { "The expense " (shown) " of " (e.branch) " on " (e.day) " is deleted at every till of "
                    (e.branch) " on their next sync, and leaves the expense totals here and at the tills." }
                p { "This cannot be undone. If it was right after all, record it again at a till." }
            },
            action_url: &action,
            hidden: &[("back", back)],
            confirm_label: "Delete the expense",
            testid: None,
            cancel_url: back,
        },
    )
}
