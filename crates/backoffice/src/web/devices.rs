//! Settings > Connected Devices (`/devices`): every till and mobile device
//! with its key's prefix and when it last synced; generating a key (shown
//! once, with a QR code a device can scan) and revoking one.
//!
//! Keys are the owner's business: a manager sees the list but neither the
//! form nor the revoke buttons, and is refused (403) if posting anyway. A
//! new key exists in clear only in the answer to `POST /devices` (a page,
//! not a redirect, marked `no-store`); the database keeps its SHA-256
//! ([`crate::devices::add_device`]), and neither the log nor the audit row
//! holds it.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use pos_domain::{DeviceId, TimeZone, Timestamp};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::page::{self, Nav, WebError, csrf_field, form_error, redirect_with_flash, trusted_svg};
use super::session::{Posted, Role, WebUser, is_tls};
use super::{fmt, write};
use crate::devices::{
    Branch, DeviceError, DeviceInfo, DeviceKind, NewDevice, add_device, all_branches, list_devices,
    revoke_device,
};
use crate::state::AppState;

/// A device not seen for this long is marked stale.
pub const STALE_AFTER_MS: i64 = 24 * 3_600_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/devices", get(list).post(create))
        .route("/devices/{id}/revoke", post(revoke))
}

// Data -----------------------------------------------------------------------

/// Everything the list page shows.
#[derive(Debug)]
struct ListData {
    devices: Vec<DeviceInfo>,
    branches: Vec<Branch>,
    now: Timestamp,
}

impl ListData {
    fn zone_of(&self, branch_id: &str) -> TimeZone {
        self.branches
            .iter()
            .find(|b| b.id == branch_id)
            .map_or_else(TimeZone::default, |b| b.zone)
    }
}

fn load(conn: &Connection, now: Timestamp) -> Result<ListData, WebError> {
    Ok(ListData {
        devices: list_devices(conn).map_err(device_error)?,
        branches: all_branches(conn)?,
        now,
    })
}

async fn load_page(state: &AppState) -> Result<ListData, WebError> {
    super::db(state, |conn, clock| load(conn, clock.now())).await
}

/// A device command's refusal as the dashboard answers it.
fn device_error(e: DeviceError) -> WebError {
    match e {
        DeviceError::DuplicateName { .. } => WebError::bad(format!("the device name: {e}")),
        DeviceError::EmptyName { .. }
        | DeviceError::NameTooLong { .. }
        | DeviceError::AlreadyRevoked(_)
        | DeviceError::Ambiguous { .. } => WebError::bad(e.to_string()),
        DeviceError::NotFound(_) => WebError::not_found(e.to_string()),
        DeviceError::Random(_) | DeviceError::Db(_) => WebError::internal(&e),
    }
}

/// Records `action` on device `d` in the audit log: the device, its branch
/// (`note` after the branch's code) and its key's prefix, never the key.
fn audit_device(
    conn: &Connection,
    now: Timestamp,
    user: &WebUser,
    action: &str,
    d: &DeviceInfo,
    note: &str,
) -> rusqlite::Result<()> {
    let detail = format!(
        "{} device '{}' ({}) of branch {} ({}{note}), key {}…",
        d.kind, d.name, d.code, d.branch_name, d.branch_code, d.key_prefix
    );
    write::audit(
        conn,
        now,
        user,
        action,
        "device",
        &d.id.to_string(),
        &detail,
    )
}

/// A device's state, as its tag says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Revoked,
    NeverConnected,
    Stale,
}

impl Status {
    pub fn of(d: &DeviceInfo, now: Timestamp) -> Status {
        match (d.revoked_at, d.last_seen_at) {
            (Some(_), _) => Status::Revoked,
            (None, None) => Status::NeverConnected,
            (None, Some(seen)) if now.as_millis() - seen.as_millis() > STALE_AFTER_MS => {
                Status::Stale
            }
            (None, Some(_)) => Status::Active,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Revoked => "revoked",
            Status::NeverConnected => "never connected",
            Status::Stale => "stale",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Status::Active => "tag good",
            Status::Revoked => "tag bad",
            Status::NeverConnected | Status::Stale => "tag warn",
        }
    }
}

// The list and the form --------------------------------------------------------

/// What the "generate a key" form holds (kept when it is sent back).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    pub branch_id: String,
    #[serde(default)]
    pub new_branch: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: String,
}

/// `GET /devices`.
async fn list(State(state): State<AppState>, user: WebUser) -> Result<Response, WebError> {
    let data = load_page(&state).await?;
    Ok(page::render(
        &user,
        Nav::Devices,
        "Connected devices",
        list_page(&user, &data, &CreateForm::default(), None),
    ))
}

fn list_page(user: &WebUser, data: &ListData, form: &CreateForm, error: Option<&str>) -> Markup {
    let owner = user.role == Role::Owner;
    html! {
        p.muted {
            "Every till and mobile device that syncs with this Back Office, with the first characters of its key. "
            "Times are in each branch's time zone. A device is stale when it has not been seen for a day."
        }
        @if data.devices.is_empty() {
            p data-testid="devices-empty" {
                "No devices yet. " @if owner { "Generate a key below and enter it on the till." }
                @else { "The business's owner generates a key for each till." }
            }
        } @else {
            table data-testid="devices" {
                thead { tr {
                    th { "Branch" } th { "Name" } th { "Code" } th { "Kind" } th { "Key" }
                    th { "Created" } th { "Last seen" } th { "Last push" } th { "Last pull" }
                    th { "Status" }
                    @if owner { th {} }
                } }
                tbody {
                    @for d in &data.devices {
                        (device_row(d, data, user))
                    }
                }
            }
        }
        @if owner {
            (create_form(user, data, form, error))
        } @else {
            p.muted data-testid="devices-owner-only" {
                "Only the business's owner can generate or revoke keys."
            }
        }
    }
}

fn device_row(d: &DeviceInfo, data: &ListData, user: &WebUser) -> Markup {
    let zone = data.zone_of(&d.branch_id.to_string());
    let status = Status::of(d, data.now);
    html! {
        tr data-device-name=(d.name) data-device-id=(d.id) data-status=(status.label()) {
            td { (d.branch_name) " " span.muted { "(" (d.branch_code) ")" } }
            td { (d.name) }
            td { code { (d.code) } }
            td { (d.kind) }
            td { code { (d.key_prefix) "…" } }
            td { (fmt::time(d.created_at, zone)) }
            td data-col="last-seen" { (fmt::time_or_never(d.last_seen_at, zone)) }
            td data-col="last-push" { (fmt::time_or_never(d.last_push_at, zone)) }
            td data-col="last-pull" { (fmt::time_or_never(d.last_pull_at, zone)) }
            td {
                span class=(status.class()) data-testid="device-status" { (status.label()) }
                @if let Some(at) = d.revoked_at {
                    br; span.muted { "revoked " (fmt::time(at, zone)) }
                }
            }
            @if user.role == Role::Owner {
                td {
                    @if d.revoked_at.is_none() {
                        form.inline method="post" action={ "/devices/" (d.id) "/revoke" } {
                            (csrf_field(user))
                            button.danger type="submit" data-testid="device-revoke" { "Revoke…" }
                        }
                    }
                }
            }
        }
    }
}

fn create_form(user: &WebUser, data: &ListData, form: &CreateForm, error: Option<&str>) -> Markup {
    let kind = if form.kind.is_empty() {
        "desktop"
    } else {
        form.kind.as_str()
    };
    html! {
        h2 id="new-key" { "Generate a key" }
        p.muted {
            "Each till or mobile device needs its own key. It is shown once, on the next page, with a QR code. "
            "Choose the device's branch, or type a new branch's name to create it."
        }
        (form_error(error))
        form.stack method="post" action="/devices" data-testid="device-form" {
            (csrf_field(user))
            label { "Branch"
                select name="branch_id" data-testid="device-branch" {
                    option value="" selected[form.branch_id.is_empty()] { "— a new branch (type its name below) —" }
                    @for b in data.branches.iter().filter(|b| b.live) {
                        option value=(b.id) selected[form.branch_id == b.id] { (b.name) }
                    }
                }
            }
            label { "New branch name (only for a new branch)"
                input type="text" name="new_branch" value=(form.new_branch) maxlength="60"
                    data-testid="device-new-branch";
            }
            label { "Device name"
                input type="text" name="name" value=(form.name) maxlength="60" required
                    placeholder="Till 1" data-testid="device-name";
            }
            label { "Kind"
                select name="kind" data-testid="device-kind" {
                    option value="desktop" selected[kind == "desktop"] { "Desktop till" }
                    option value="mobile" selected[kind == "mobile"] { "Mobile device" }
                }
            }
            div { button.primary type="submit" data-testid="device-create" { "Generate key" } }
        }
    }
}

// Generating a key -------------------------------------------------------------

/// The checked "generate a key" form.
#[derive(Debug)]
struct NewKey {
    branch_name: String,
    name: String,
    kind: DeviceKind,
}

fn check_create(conn: &Connection, form: &CreateForm) -> Result<NewKey, WebError> {
    let name = form.name.trim();
    if name.is_empty() {
        return Err(WebError::bad("the device name cannot be empty"));
    }
    let branch_id = form.branch_id.trim();
    let new_branch = form.new_branch.trim();
    let branch_name = match (branch_id.is_empty(), new_branch.is_empty()) {
        (false, false) => {
            return Err(WebError::bad(
                "the branch: choose an existing branch or type a new branch's name, not both",
            ));
        }
        (true, true) => {
            return Err(WebError::bad(
                "the branch: choose an existing branch, or type a name for a new one",
            ));
        }
        (true, false) => new_branch.to_string(),
        (false, true) => conn
            .query_row(
                "SELECT name FROM branches WHERE id = ?1 AND deleted_at IS NULL",
                [branch_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| {
                WebError::bad(format!(
                    "the branch: there is no branch with the id '{branch_id}' (it may have been deleted); choose one from the list"
                ))
            })?,
    };
    let kind = DeviceKind::parse(form.kind.trim()).ok_or_else(|| {
        WebError::bad(format!(
            "the kind '{}' is not a kind of device; choose desktop or mobile",
            form.kind.trim()
        ))
    })?;
    Ok(NewKey {
        branch_name,
        name: name.to_string(),
        kind,
    })
}

/// What a device scans: where the Back Office is and the key to use.
#[derive(Debug, Serialize)]
struct QrPayload<'a> {
    url: &'a str,
    key: &'a str,
    branch: &'a str,
    device: &'a str,
}

/// The JSON a new device's QR code holds:
/// `{"url":…,"key":…,"branch":<branch code>,"device":<device code>}`.
pub fn qr_payload(url: &str, key: &str, branch_code: &str, device_code: &str) -> String {
    serde_json::to_string(&QrPayload {
        url,
        key,
        branch: branch_code,
        device: device_code,
    })
    .unwrap_or_default()
}

/// The QR code of `text` as an inline `<svg>` (no XML declaration).
pub fn qr_svg(text: &str) -> Result<String, WebError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| WebError::internal(&e))?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .build();
    Ok(match svg.find("<svg") {
        Some(at) => svg[at..].to_string(),
        None => svg,
    })
}

/// Whether `host` is a plain `name[:port]` or `[v6]:port` (nothing that
/// could turn the URL into something else).
fn plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// The address devices reach this Back Office at, as the browser did:
/// the `Host` header, `https` when the request came over TLS.
pub fn base_url(headers: &HeaderMap, fallback: &str) -> String {
    let scheme = if is_tls(headers) { "https" } else { "http" };
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|h| plain_host(h))
        .unwrap_or(fallback);
    format!("{scheme}://{host}")
}

/// `POST /devices`: generates a key and shows it once.
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Posted { user, form }: Posted<CreateForm>,
) -> Result<Response, WebError> {
    WebError::require_owner(&user)?;
    let fallback = state.config().listen.to_string();
    let url = base_url(&headers, &fallback);
    let (f, u) = (form.clone(), user.clone());
    let outcome = super::db(&state, move |conn, clock| {
        let input = match check_create(conn, &f) {
            Ok(input) => input,
            Err(e) => return Ok(Err(e.refusal()?)),
        };
        let new = match add_device(conn, clock, &input.branch_name, &input.name, input.kind) {
            Ok(new) => new,
            Err(e) => return Ok(Err(device_error(e).refusal()?)),
        };
        let note = if new.new_branch { ", new branch" } else { "" };
        audit_device(conn, clock.now(), &u, "device.add", &new.device, note)?;
        Ok(Ok(new))
    })
    .await?;
    match outcome {
        Ok(new) => {
            tracing::info!(
                user = %user.username,
                device = %new.device.name,
                branch = %new.device.branch_name,
                "dashboard: generated a device key"
            );
            let body = key_page(&new, &url)?;
            Ok(page::render(&user, Nav::Devices, "New device key", body))
        }
        Err(message) => {
            let data = load_page(&state).await?;
            Ok(page::render_status(
                StatusCode::BAD_REQUEST,
                &user,
                Nav::Devices,
                "Connected devices",
                list_page(&user, &data, &form, Some(&message)),
            ))
        }
    }
}

fn key_page(new: &NewDevice, url: &str) -> Result<Markup, WebError> {
    let d = &new.device;
    let payload = qr_payload(url, &new.api_key, &d.branch_code, &d.code);
    let svg = qr_svg(&payload)?;
    let desktop = d.kind == DeviceKind::Desktop.as_str();
    Ok(html! {
        h2 { "Key for " (d.name) " (" (d.code) ") · " (d.branch_name) }
        @if new.new_branch {
            p data-testid="device-new-branch-made" {
                "Branch " strong { (d.branch_name) } " (code " code { (d.branch_code) } ") was created for it."
            }
        }
        div.notice role="alert" data-testid="device-key-warning" {
            strong { "This key is shown only now. " }
            "Enter it on the device (or scan the QR code) before leaving this page: the Back Office keeps only a "
            "fingerprint of it and cannot show it again. If it is lost, revoke this device and generate a new key."
        }
        div.grid2 {
            div {
                p { "Back Office URL" br; code data-testid="device-url" { (url) } }
                p { "API key" }
                div.key data-testid="device-key" { (new.api_key) }
                h2 { "How to enter it" }
                @if desktop {
                    ol data-testid="device-howto" {
                        li { "On the till, sign in as the owner and open " strong { "Settings" } "." }
                        li { "Under " strong { "Back Office connection" } ", type the " strong { "Back Office URL" }
                             " above and paste the " strong { "API key" } "." }
                        li { "Press " strong { "Test connection" } ", then " strong { "Save connection" } "." }
                    }
                } @else {
                    ol data-testid="device-howto" {
                        li { "On the mobile device, open the WHIZ POS app's settings for the Back Office." }
                        li { "Scan the QR code, or type the Back Office URL and the API key." }
                        li { "Save; the device then syncs as " (d.code) " of " (d.branch_name) "." }
                    }
                }
                p.muted {
                    "The till is " (d.code) " of branch " (d.branch_code)
                    "; its receipts are numbered " code { (d.branch_code) "-" (d.code) "-000001" } " onwards."
                }
            }
            div {
                div.qr data-testid="device-qr" title="Back Office URL and API key" { (trusted_svg(svg)) }
                p.muted { "The QR code holds the Back Office URL, the key, the branch and the device code." }
            }
        }
        p { a.button href="/devices" data-testid="device-done" { "Done: back to devices" } }
    })
}

// Revoking -------------------------------------------------------------------

fn find_device(conn: &Connection, id: &DeviceId) -> Result<DeviceInfo, WebError> {
    list_devices(conn)
        .map_err(device_error)?
        .into_iter()
        .find(|d| d.id == *id)
        .ok_or_else(|| WebError::not_found(format!("there is no device with the id '{id}'")))
}

/// `POST /devices/{id}/revoke`: first a page saying what revoking does,
/// then (with `confirm=yes`) the revocation.
async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { user, form }: Posted<HashMap<String, String>>,
) -> Result<Response, WebError> {
    WebError::require_owner(&user)?;
    let id: DeviceId = page::path_id(&id, format!("there is no device with the id '{id}'"))?;
    let confirmed = page::is_confirmed(&form);
    let u = user.clone();
    let done = super::db(&state, move |conn, clock| {
        let device = find_device(conn, &id)?;
        if device.revoked_at.is_some() {
            return Err(WebError::bad(format!(
                "device '{}' is already revoked",
                device.name
            )));
        }
        if !confirmed {
            let zone: Option<String> = conn
                .query_row(
                    "SELECT time_zone FROM branches WHERE id = ?1",
                    [device.branch_id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            let zone = zone
                .and_then(|z| TimeZone::parse(&z).ok())
                .unwrap_or_default();
            return Ok(Err((device, zone)));
        }
        let d = revoke_device(conn, clock, &id.to_string()).map_err(device_error)?;
        audit_device(conn, clock.now(), &u, "device.revoke", &d, "")?;
        Ok(Ok(d))
    })
    .await?;
    match done {
        Ok(d) => {
            tracing::info!(user = %user.username, device = %d.name, "dashboard: revoked a device key");
            Ok(redirect_with_flash(
                "/devices",
                &format!(
                    "Revoked {} ({}) of {}: its key no longer works.",
                    d.name, d.code, d.branch_name
                ),
            ))
        }
        Err((device, zone)) => Ok(confirm_revoke(&user, &device, zone)),
    }
}

/// The page asking first: what revoking does, then a button posting again
/// with `confirm=yes`.
fn confirm_revoke(user: &WebUser, d: &DeviceInfo, zone: TimeZone) -> Response {
    let question = format!("Revoke {} ({}) of {}?", d.name, d.code, d.branch_name);
    let action = format!("/devices/{}/revoke", d.id);
    page::confirm_page(
        user,
        Nav::Devices,
        page::Confirm {
            title: "Revoke a device key?",
            question: &question,
            what_happens: html! {
                p { "Revoking makes this device's key stop working at once: its next push or pull is refused, "
                    "and it cannot sync again with this key." }
                p { "Sales and changes it has not sent yet stay on the device. If it still works, let it sync first "
                    "(its last push was " (fmt::time_or_never(d.last_push_at, zone)) ")." }
                p { "This cannot be undone. To connect the device again, generate a new key for it; its code "
                    (d.code) " is not given to another device." }
            },
            action_url: &action,
            hidden: &[],
            confirm_label: "Revoke the key",
            testid: Some("device-revoke"),
            cancel_url: "/devices",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_payload_holds_url_key_branch_and_device() {
        let p = qr_payload(
            "https://bo.example.co.ke",
            "whiz_0123456789abcdef0123456789abcdef01234567",
            "MAIN",
            "T3",
        );
        assert_eq!(
            p,
            r#"{"url":"https://bo.example.co.ke","key":"whiz_0123456789abcdef0123456789abcdef01234567","branch":"MAIN","device":"T3"}"#
        );
        // Text is escaped as JSON, never spliced in.
        let q = qr_payload("http://h", "k\"", "B", "T1");
        let v: serde_json::Value = serde_json::from_str(&q).unwrap();
        assert_eq!(v["key"], "k\"");
        let svg = qr_svg(&p).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{svg}"
        );
    }

    #[test]
    fn the_base_url_comes_from_the_request() {
        let mut h = HeaderMap::new();
        h.insert(HOST, "bo.example.co.ke:8080".parse().unwrap());
        assert_eq!(base_url(&h, "0.0.0.0:1"), "http://bo.example.co.ke:8080");
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(base_url(&h, "0.0.0.0:1"), "https://bo.example.co.ke:8080");
        h.insert(HOST, "evil/path?x".parse().unwrap());
        assert_eq!(base_url(&h, "10.0.0.2:8080"), "https://10.0.0.2:8080");
        assert_eq!(
            base_url(&HeaderMap::new(), "10.0.0.2:8080"),
            "http://10.0.0.2:8080"
        );
    }

    #[test]
    fn a_device_is_stale_after_a_day_unseen() {
        let now = Timestamp::from_millis(10 * STALE_AFTER_MS);
        let mut d = DeviceInfo {
            id: DeviceId::new(),
            branch_id: pos_domain::BranchId::new(),
            branch_code: "MAIN".into(),
            branch_name: "Main".into(),
            name: "Till 1".into(),
            kind: "desktop".into(),
            code: "T1".into(),
            key_prefix: "whiz_0123".into(),
            created_at: now,
            last_seen_at: None,
            last_push_at: None,
            last_pull_at: None,
            revoked_at: None,
        };
        assert_eq!(Status::of(&d, now), Status::NeverConnected);
        d.last_seen_at = Some(Timestamp::from_millis(now.as_millis() - STALE_AFTER_MS));
        assert_eq!(Status::of(&d, now), Status::Active);
        d.last_seen_at = Some(Timestamp::from_millis(now.as_millis() - STALE_AFTER_MS - 1));
        assert_eq!(Status::of(&d, now), Status::Stale);
        d.revoked_at = Some(now);
        assert_eq!(Status::of(&d, now), Status::Revoked);
    }
}
