//! The sync pages: `/sync-log` (every sync request a device made, newest
//! first, with a summary per device) and `/sync-exceptions` (the ops the
//! server rejected, with their reasons). Owners and managers see both.
//!
//! Filters are query parameters; a value that is not one of the choices is
//! answered 400 with the filter form naming it.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use pos_domain::{DeviceId, TimeZone, Timestamp};
use rusqlite::Connection;
use rusqlite::types::Value;
use serde::Deserialize;

use super::fmt;
use super::page::{self, Nav, WebError, form_error};
use super::session::WebUser;
use crate::state::AppState;

/// Rows per page.
pub const PAGE_SIZE: i64 = 100;
/// The summary counts errors this far back.
pub const ERROR_WINDOW_MS: i64 = 24 * 3_600_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sync-log", get(sync_log))
        .route("/sync-exceptions", get(sync_exceptions))
}

// Devices (for the filter and the summary) -----------------------------------

#[derive(Debug, Clone)]
struct Device {
    id: String,
    name: String,
    code: String,
    branch_name: String,
    branch_code: String,
    zone: TimeZone,
    last_push_at: Option<Timestamp>,
    last_pull_at: Option<Timestamp>,
    revoked: bool,
    errors_24h: i64,
}

fn ts(v: Option<i64>) -> Option<Timestamp> {
    v.map(Timestamp::from_millis)
}

fn zone(name: &str) -> TimeZone {
    TimeZone::parse(name).unwrap_or_default()
}

fn load_devices(conn: &Connection, now: Timestamp) -> rusqlite::Result<Vec<Device>> {
    let mut stmt = conn.prepare(
        "SELECT d.id, d.name, d.code, b.name, b.code, b.time_zone, d.last_push_at, d.last_pull_at,
                d.revoked_at IS NOT NULL,
                (SELECT COUNT(*) FROM sync_log l
                  WHERE l.device_id = d.id AND l.at > ?1 AND l.result = 'error')
         FROM devices d JOIN branches b ON b.id = d.branch_id
         ORDER BY b.name COLLATE NOCASE, d.created_at, d.id",
    )?;
    let rows = stmt.query_map([now.as_millis() - ERROR_WINDOW_MS], |r| {
        Ok(Device {
            id: r.get(0)?,
            name: r.get(1)?,
            code: r.get(2)?,
            branch_name: r.get(3)?,
            branch_code: r.get(4)?,
            zone: zone(&r.get::<_, String>(5)?),
            last_push_at: ts(r.get(6)?),
            last_pull_at: ts(r.get(7)?),
            revoked: r.get(8)?,
            errors_24h: r.get(9)?,
        })
    })?;
    rows.collect()
}

/// The `device` filter: empty for all, else the id of a known device.
fn check_device(devices: &[Device], text: &str) -> Result<Option<String>, WebError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let known = t.parse::<DeviceId>().is_ok() && devices.iter().any(|d| d.id == t);
    if !known {
        return Err(WebError::bad(format!(
            "the device '{t}' is not a device of this Back Office; choose one from the list"
        )));
    }
    Ok(Some(t.to_string()))
}

/// The `page` filter: 1 when empty.
fn check_page(text: &str) -> Result<i64, WebError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(1);
    }
    match t.parse::<i64>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(WebError::bad(format!(
            "the page '{t}' is not a page number (1, 2, 3…)"
        ))),
    }
}

/// One of `choices` or empty (`None`), else a message naming `field`.
fn check_choice(field: &str, text: &str, choices: &[&str]) -> Result<Option<String>, WebError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if choices.contains(&t) {
        return Ok(Some(t.to_string()));
    }
    Err(WebError::bad(format!(
        "the {field} '{t}' is not one of: {}",
        choices.join(", ")
    )))
}

fn parse_query<T: for<'de> Deserialize<'de> + Default>(raw: Option<String>) -> Result<T, WebError> {
    match raw {
        None => Ok(T::default()),
        Some(q) => serde_urlencoded::from_str(&q)
            .map_err(|e| WebError::bad(format!("the filters could not be read: {e}"))),
    }
}

/// `?name=value&…` of the non-empty `pairs`.
fn query_string(pairs: &[(&str, String)]) -> String {
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", serde_urlencoded::to_string(kept).unwrap_or_default())
    }
}

fn device_select(devices: &[Device], selected: &str) -> Markup {
    html! {
        label { "Device"
            select name="device" data-testid="filter-device" {
                option value="" selected[selected.is_empty()] { "All devices" }
                @for d in devices {
                    option value=(d.id) selected[selected == d.id] {
                        (d.name) " (" (d.code) ") · " (d.branch_name)
                        @if d.revoked { " · revoked" }
                    }
                }
            }
        }
    }
}

/// Ends `sql` with `ORDER BY order` and the `LIMIT` and `OFFSET` of page
/// `page`, their values added to `args`. It reads one row more than a page,
/// so [`page_rows`] can tell whether another page follows.
fn limit_to_page(sql: &mut String, args: &mut Vec<Value>, order: &str, page: i64) {
    args.push(Value::Integer(PAGE_SIZE + 1));
    args.push(Value::Integer((page - 1) * PAGE_SIZE));
    sql.push_str(&format!(
        " ORDER BY {order} LIMIT ?{} OFFSET ?{}",
        args.len() - 1,
        args.len()
    ));
}

/// The rows [`limit_to_page`] read: the page's, and whether another follows.
fn page_rows<T>(rows: &[T]) -> (&[T], bool) {
    let shown = rows.len().min(PAGE_SIZE as usize);
    (&rows[..shown], rows.len() > shown)
}

fn pager(path: &str, pairs: &[(&str, String)], page: i64, has_next: bool) -> Markup {
    let link = |n: i64| {
        let mut all = pairs.to_vec();
        if n > 1 {
            all.push(("page", n.to_string()));
        }
        format!("{path}{}", query_string(&all))
    };
    html! {
        @if page > 1 || has_next {
            p.pager data-testid="pager" {
                @if page > 1 { a href=(link(page - 1)) data-testid="page-newer" { "← Newer" } " " }
                span.muted { "Page " (page) }
                @if has_next { " " a href=(link(page + 1)) data-testid="page-older" { "Older →" } }
            }
        }
    }
}

// The sync log -----------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
struct LogQuery {
    #[serde(default)]
    device: String,
    #[serde(default)]
    direction: String,
    #[serde(default)]
    result: String,
    #[serde(default)]
    page: String,
}

#[derive(Debug)]
struct LogRow {
    device_id: String,
    device: String,
    code: String,
    branch: String,
    zone: TimeZone,
    direction: String,
    items: i64,
    applied: i64,
    duplicates: i64,
    rejected: i64,
    duration_ms: i64,
    ok: bool,
    error: Option<String>,
    at: Timestamp,
}

struct LogFilters {
    device: Option<String>,
    direction: Option<String>,
    result: Option<String>,
    page: i64,
}

fn check_log_query(devices: &[Device], q: &LogQuery) -> Result<LogFilters, WebError> {
    Ok(LogFilters {
        device: check_device(devices, &q.device)?,
        direction: check_choice("direction", &q.direction, &["push", "pull", "full"])?,
        result: check_choice("result", &q.result, &["ok", "error"])?,
        page: check_page(&q.page)?,
    })
}

fn load_log(conn: &Connection, f: &LogFilters) -> rusqlite::Result<Vec<LogRow>> {
    let mut sql = String::from(
        "SELECT l.device_id, d.name, d.code, b.name, b.time_zone, l.direction, l.items, l.applied,
                l.duplicates, l.rejected, l.duration_ms, l.result, l.error, l.at
         FROM sync_log l JOIN devices d ON d.id = l.device_id JOIN branches b ON b.id = d.branch_id
         WHERE 1 = 1",
    );
    let mut args: Vec<Value> = Vec::new();
    for (column, value) in [
        ("l.device_id", &f.device),
        ("l.direction", &f.direction),
        ("l.result", &f.result),
    ] {
        if let Some(v) = value {
            args.push(Value::Text(v.clone()));
            sql.push_str(&format!(" AND {column} = ?{}", args.len()));
        }
    }
    limit_to_page(&mut sql, &mut args, "l.id DESC", f.page);
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
        Ok(LogRow {
            device_id: r.get(0)?,
            device: r.get(1)?,
            code: r.get(2)?,
            branch: r.get(3)?,
            zone: zone(&r.get::<_, String>(4)?),
            direction: r.get(5)?,
            items: r.get(6)?,
            applied: r.get(7)?,
            duplicates: r.get(8)?,
            rejected: r.get(9)?,
            duration_ms: r.get(10)?,
            ok: r.get::<_, String>(11)? == "ok",
            error: r.get(12)?,
            at: Timestamp::from_millis(r.get(13)?),
        })
    })?;
    rows.collect()
}

/// `850 ms`, `2.4 s` (tenths cut, not rounded).
pub fn duration(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{}.{} s", ms / 1000, ms % 1000 / 100)
    }
}

/// `GET /sync-log?device=&direction=&result=&page=`.
async fn sync_log(
    State(state): State<AppState>,
    user: WebUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let q: LogQuery = parse_query(raw)?;
    let (devices, checked) = super::db(&state, move |conn, clock| {
        let devices = load_devices(conn, clock.now())?;
        let checked = match check_log_query(&devices, &q) {
            Ok(f) => {
                let rows = load_log(conn, &f)?;
                Ok((f, rows))
            }
            Err(e) => Err((q, e.refusal()?)),
        };
        Ok((devices, checked))
    })
    .await?;
    let title = "Sync log";
    match checked {
        Ok((f, rows)) => {
            let selected = LogQuery {
                device: f.device.clone().unwrap_or_default(),
                direction: f.direction.clone().unwrap_or_default(),
                result: f.result.clone().unwrap_or_default(),
                page: String::new(),
            };
            let body = html! {
                (summary(&devices))
                (log_filters(&devices, &selected))
                (log_table(&rows, &selected, f.page))
            };
            Ok(page::render(&user, Nav::SyncLog, title, body))
        }
        Err((q, message)) => {
            let body = html! {
                (form_error(Some(&message)))
                (log_filters(&devices, &q))
            };
            Ok(page::render_status(
                StatusCode::BAD_REQUEST,
                &user,
                Nav::SyncLog,
                title,
                body,
            ))
        }
    }
}

fn summary(devices: &[Device]) -> Markup {
    html! {
        h2 { "Devices" }
        @if devices.is_empty() {
            p.muted { "No devices yet: an owner adds them under Connected devices." }
        } @else {
            table data-testid="sync-summary" {
                thead { tr {
                    th { "Device" } th { "Branch" } th { "Last successful push" }
                    th { "Last successful pull" } th.num { "Errors (24 h)" }
                } }
                tbody {
                    @for d in devices {
                        tr data-device-name=(d.name) {
                            td {
                                a href={ "/sync-log?device=" (d.id) } { (d.name) } " " span.muted { "(" (d.code) ")" }
                                @if d.revoked { " " span.tag.bad { "revoked" } }
                            }
                            td { (d.branch_name) " " span.muted { "(" (d.branch_code) ")" } }
                            td data-col="last-push" { (fmt::time_or_never(d.last_push_at, d.zone)) }
                            td data-col="last-pull" { (fmt::time_or_never(d.last_pull_at, d.zone)) }
                            td.num data-col="errors-24h" {
                                @if d.errors_24h > 0 {
                                    a.tag.bad href={ "/sync-log?result=error&device=" (d.id) } { (d.errors_24h) }
                                } @else { "0" }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn log_filters(devices: &[Device], q: &LogQuery) -> Markup {
    let opt = |value: &str, label: &str, current: &str| {
        html! { option value=(value) selected[current == value] { (label) } }
    };
    html! {
        h2 { "Requests" }
        form.filters method="get" action="/sync-log" data-testid="sync-log-filters" {
            (device_select(devices, &q.device))
            label { "Direction"
                select name="direction" data-testid="filter-direction" {
                    (opt("", "All", &q.direction))
                    (opt("push", "Push", &q.direction))
                    (opt("pull", "Pull", &q.direction))
                    (opt("full", "Full sync", &q.direction))
                }
            }
            label { "Result"
                select name="result" data-testid="filter-result" {
                    (opt("", "All", &q.result))
                    (opt("ok", "OK", &q.result))
                    (opt("error", "Error", &q.result))
                }
            }
            button type="submit" { "Show" }
            a href="/sync-log" { "Clear" }
        }
    }
}

fn log_table(rows: &[LogRow], q: &LogQuery, page: i64) -> Markup {
    let (shown, has_next) = page_rows(rows);
    let pairs = [
        ("device", q.device.clone()),
        ("direction", q.direction.clone()),
        ("result", q.result.clone()),
    ];
    html! {
        @if shown.is_empty() {
            p data-testid="sync-log-empty" {
                @if page > 1 { "No more requests." }
                @else { "No sync requests" @if !q.device.is_empty() || !q.direction.is_empty() || !q.result.is_empty() { " match these filters" } "." }
                " A device's every push, pull and full sync is listed here."
            }
        } @else {
            table data-testid="sync-log" {
                thead { tr {
                    th { "Time" } th { "Device" } th { "Direction" } th.num { "Items" } th.num { "Applied" }
                    th.num { "Duplicates" } th.num { "Rejected" } th.num { "Duration" } th { "Result" }
                } }
                tbody {
                    @for r in shown {
                        tr data-testid="sync-row" data-device-name=(r.device) data-direction=(r.direction)
                           data-result=(if r.ok { "ok" } else { "error" }) {
                            td { (fmt::time(r.at, r.zone)) }
                            td { (r.device) " " span.muted { "(" (r.code) ") · " (r.branch) } }
                            td data-col="direction" { (r.direction) }
                            td.num data-col="items" { (r.items) }
                            td.num data-col="applied" { (r.applied) }
                            td.num data-col="duplicates" { (r.duplicates) }
                            td.num data-col="rejected" {
                                @if r.rejected > 0 {
                                    a href={ "/sync-exceptions?device=" (r.device_id) } { (r.rejected) }
                                } @else { (r.rejected) }
                            }
                            td.num data-col="duration" { (duration(r.duration_ms)) }
                            td data-col="result" {
                                @if r.ok { span.tag.good { "ok" } }
                                @else {
                                    span.tag.bad { "error" }
                                    @if let Some(e) = &r.error { " " span data-col="error" { (e) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        (pager("/sync-log", &pairs, page, has_next))
    }
}

// Sync exceptions ----------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
struct ExceptionQuery {
    #[serde(default)]
    device: String,
    #[serde(default)]
    page: String,
}

#[derive(Debug)]
struct Rejected {
    at: Timestamp,
    device: String,
    code: String,
    branch: String,
    branch_code: String,
    zone: TimeZone,
    kind: String,
    device_seq: i64,
    reject_code: String,
    reason: String,
    op_id: String,
}

fn load_rejected(
    conn: &Connection,
    device: Option<&str>,
    page: i64,
) -> rusqlite::Result<Vec<Rejected>> {
    let mut sql = String::from(
        "SELECT a.applied_at, d.name, d.code, b.name, b.code, b.time_zone, a.kind, a.device_seq,
                a.reject_code, a.reason, a.op_id
         FROM applied_ops a JOIN devices d ON d.id = a.device_id JOIN branches b ON b.id = d.branch_id
         WHERE a.outcome = 'rejected'",
    );
    let mut args: Vec<Value> = Vec::new();
    if let Some(d) = device {
        args.push(Value::Text(d.to_string()));
        sql.push_str(" AND a.device_id = ?1");
    }
    limit_to_page(&mut sql, &mut args, "a.applied_at DESC, a.rowid DESC", page);
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
        Ok(Rejected {
            at: Timestamp::from_millis(r.get(0)?),
            device: r.get(1)?,
            code: r.get(2)?,
            branch: r.get(3)?,
            branch_code: r.get(4)?,
            zone: zone(&r.get::<_, String>(5)?),
            kind: r.get(6)?,
            device_seq: r.get(7)?,
            reject_code: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
            reason: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
            op_id: r.get(10)?,
        })
    })?;
    rows.collect()
}

/// What a reject code means, in a few words.
fn reject_label(code: &str) -> &'static str {
    match code {
        "invalid" => "the op broke a rule",
        "wrong_branch" => "for another branch",
        "unknown_reference" => "refers to something unknown",
        _ => "",
    }
}

/// `GET /sync-exceptions?device=&page=`.
async fn sync_exceptions(
    State(state): State<AppState>,
    user: WebUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let q: ExceptionQuery = parse_query(raw)?;
    let (devices, checked) = super::db(&state, move |conn, clock| {
        let devices = load_devices(conn, clock.now())?;
        let filters = check_device(&devices, &q.device).and_then(|d| Ok((d, check_page(&q.page)?)));
        let checked = match filters {
            Ok((device, page)) => {
                let rows = load_rejected(conn, device.as_deref(), page)?;
                Ok((device.unwrap_or_default(), page, rows))
            }
            Err(e) => Err((q.device, e.refusal()?)),
        };
        Ok((devices, checked))
    })
    .await?;
    let title = "Sync exceptions";
    match checked {
        Ok((device, page_no, rows)) => {
            let body = html! {
                (exception_intro())
                (exception_filters(&devices, &device))
                (exception_table(&rows, &device, page_no))
            };
            Ok(page::render(&user, Nav::SyncExceptions, title, body))
        }
        Err((device, message)) => {
            let body = html! {
                (exception_intro())
                (form_error(Some(&message)))
                (exception_filters(&devices, &device))
            };
            Ok(page::render_status(
                StatusCode::BAD_REQUEST,
                &user,
                Nav::SyncExceptions,
                title,
                body,
            ))
        }
    }
}

fn exception_intro() -> Markup {
    html! {
        p.muted {
            "Ops a device sent that the Back Office could not accept. Each was left out as a whole "
            "(nothing of it was kept) and the device went on with its other ops; its answer told the device why."
        }
    }
}

fn exception_filters(devices: &[Device], device: &str) -> Markup {
    html! {
        form.filters method="get" action="/sync-exceptions" data-testid="sync-exceptions-filters" {
            (device_select(devices, device))
            button type="submit" { "Show" }
            a href="/sync-exceptions" { "Clear" }
        }
    }
}

fn exception_table(rows: &[Rejected], device: &str, page: i64) -> Markup {
    let (shown, has_next) = page_rows(rows);
    html! {
        @if shown.is_empty() {
            @if page > 1 {
                p data-testid="sync-exceptions-empty" { "No more rejected ops." }
            } @else {
                div.panel data-testid="sync-exceptions-empty" {
                    p { strong { "No rejected ops" } @if !device.is_empty() { " from this device" } "." }
                    p.muted {
                        "When a till or mobile device sends a change the Back Office cannot accept — a sale of a "
                        "product it does not know, a sale recorded for another branch, totals that do not add up — "
                        "the change is rejected and listed here with the device, the reason and the op's id, "
                        "so you can put it right (for example, add the missing product and record the sale again)."
                    }
                }
            }
        } @else {
            table data-testid="sync-exceptions" {
                thead { tr {
                    th { "Time" } th { "Device" } th { "Branch" } th { "Op" } th.num { "Device seq" }
                    th { "Code" } th { "Reason" } th { "Op id" }
                } }
                tbody {
                    @for r in shown {
                        tr data-testid="exception-row" data-device-name=(r.device) {
                            td { (fmt::time(r.at, r.zone)) }
                            td { (r.device) " " span.muted { "(" (r.code) ")" } }
                            td { (r.branch) " " span.muted { "(" (r.branch_code) ")" } }
                            td data-col="kind" { code { (r.kind) } }
                            td.num data-col="seq" { (r.device_seq) }
                            td data-col="code" {
                                code { (r.reject_code) }
                                @let label = reject_label(&r.reject_code);
                                @if !label.is_empty() { br; span.muted { (label) } }
                            }
                            td data-col="reason" { (r.reason) }
                            td data-col="op-id" { code { (r.op_id) } }
                        }
                    }
                }
            }
        }
        (pager("/sync-exceptions", &[("device", device.to_string())], page, has_next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_links_read_well() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(2_400), "2.4 s");
        assert_eq!(
            query_string(&[("device", String::new()), ("result", "error".into())]),
            "?result=error"
        );
        assert_eq!(query_string(&[("a", String::new())]), "");
        assert!(check_choice("direction", "sideways", &["push", "pull"]).is_err());
        assert_eq!(
            check_choice("direction", " pull ", &["push", "pull"])
                .unwrap()
                .as_deref(),
            Some("pull")
        );
        assert_eq!(check_page("").unwrap(), 1);
        assert!(check_page("0").is_err() && check_page("x").is_err());
    }
}
