//! Branches (`/branches`) and the business settings with tax rates
//! (`/settings`). Everyone signed in sees them; only an owner changes them
//! (a manager gets the pages read-only, and a 403 that changes nothing for a
//! forged POST).
//!
//! - **Branches** are the server's own records (not ops): a new or changed
//!   branch is written with a server clock and recorded in the change feed
//!   for every device, in one transaction, like `whiz-backoffice device add`
//!   does ([`crate::devices::insert_branch`]). A branch's code is on every
//!   receipt number of its tills, so it is set once (given, or made from the
//!   name) and never reused; the name and time zone may change.
//! - **Sync status**: per branch, the latest successful push and pull over
//!   its connected tills, and per till; a branch none of whose tills pushed
//!   or pulled successfully in [`SYNC_STALE_MS`] (24 h) is flagged, since its
//!   figures here may be out of date. Revoked keys no longer count.
//! - **Settings** are checked by the rules the till checks them with
//!   ([`pos_domain::settings`], names, phone numbers) and written as one
//!   `settings_changed` op carrying only the fields that changed. The currency is refused once anything is priced in
//!   it (products, sales, customers or expenses), the till's own rule: amounts
//!   already recorded would silently change meaning.
//! - **Tax rates** travel whole (`tax_rate_changed`): adding, changing and
//!   retiring (`deleted: true`) a rate. A rate live products use is not
//!   retired. Percentages are read as text into basis points (`8.5` → 850),
//!   never through a float.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use pos_domain::settings::{self, MAX_ADDRESS_CHARS, MAX_TAX_PIN_CHARS};
use pos_domain::{
    BranchId, Currency, DomainError, Hlc, Name, PhoneNumber, TaxCode, TaxMode, TaxRate, TimeZone,
    Timestamp,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Deserialize;
use sync_protocol::{BranchState, OpBody, SettingsPatch, SettingsState, TaxRateRecord};

use super::page::{self, Nav, WebError, csrf_field, form_error};
use super::session::{Posted, Role, WebUser};
use super::{db, fmt, write};
use crate::devices::{
    MAX_BRANCH_CODE, MAX_NAME_CHARS, branch_code_used, derive_branch_code, insert_branch,
};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/branches", get(branches).post(create_branch))
        .route("/branches/{id}", post(update_branch))
        .route("/settings", get(settings).post(save_settings))
        .route("/settings/tax-rates", post(save_tax_rate))
        .route("/settings/tax-rates/{code}/delete", post(delete_tax_rate))
}

/// The business's time zone (a setting), for showing times that belong to
/// no branch.
pub(crate) fn business_zone(conn: &Connection) -> rusqlite::Result<TimeZone> {
    let name: Option<String> = conn
        .query_row(
            "SELECT value FROM business_settings WHERE key = 'time_zone'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(name
        .and_then(|n| TimeZone::parse(&n).ok())
        .unwrap_or_default())
}

/// The business's currency (a setting).
pub(crate) fn business_currency(conn: &Connection) -> Result<Currency, WebError> {
    crate::apply::business_currency(conn).map_err(|e| WebError::internal(&e))
}

/// A time zone typed into a form.
fn parse_zone(text: &str) -> Result<TimeZone, WebError> {
    TimeZone::parse(text).map_err(|_| {
        WebError::bad(format!(
            "the time zone '{}' is not a time zone; use a name such as Africa/Nairobi or Africa/Kampala",
            text.trim()
        ))
    })
}

/// Time zones offered in the forms (any IANA name is accepted).
const ZONES: &[&str] = &[
    "Africa/Nairobi",
    "Africa/Kampala",
    "Africa/Dar_es_Salaam",
    "Africa/Kigali",
    "Africa/Bujumbura",
    "Africa/Addis_Ababa",
    "Africa/Juba",
    "Africa/Mogadishu",
    "Africa/Lubumbashi",
    "Africa/Johannesburg",
    "Africa/Lagos",
    "Africa/Accra",
    "Europe/London",
    "UTC",
];

fn zone_list() -> Markup {
    html! {
        datalist id="zones" { @for z in ZONES { option value=(z); } }
    }
}

// Branches ---------------------------------------------------------------------

#[derive(Debug, Clone)]
struct BranchRow {
    id: BranchId,
    code: String,
    name: String,
    zone: String,
    devices: i64,
    last_push: Option<Timestamp>,
    last_pull: Option<Timestamp>,
}

/// A branch whose tills have not synced for this long is flagged: its
/// sales and stock on the Back Office may be out of date.
pub const SYNC_STALE_MS: i64 = 24 * 3_600_000;

/// Where a branch's (or a till's) sync stands, from its latest successful
/// push and pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SyncHealth {
    /// No till to sync.
    NoTills,
    /// A push or pull succeeded within [`SYNC_STALE_MS`].
    Recent,
    /// Nothing succeeded within [`SYNC_STALE_MS`] (or ever).
    Stale,
}

impl SyncHealth {
    /// A till counts as syncing when its last successful push *or* pull is
    /// recent: a quiet till has nothing to push but still pulls.
    fn of(
        tills: i64,
        push: Option<Timestamp>,
        pull: Option<Timestamp>,
        now: Timestamp,
    ) -> SyncHealth {
        if tills == 0 {
            return SyncHealth::NoTills;
        }
        match push.max(pull) {
            Some(t) if now.as_millis() - t.as_millis() <= SYNC_STALE_MS => SyncHealth::Recent,
            _ => SyncHealth::Stale,
        }
    }

    fn tag(self, testid: &str) -> Markup {
        html! {
            @match self {
                SyncHealth::NoTills => span.tag data-testid=(testid) { "no tills" },
                SyncHealth::Recent => span.tag.good data-testid=(testid) { "synced in the last 24 h" },
                SyncHealth::Stale => span.tag.bad data-testid=(testid) title="none of its tills pushed or pulled successfully in 24 hours: its figures here may be out of date" { "no sync in 24 h" },
            }
        }
    }
}

/// A connected (not revoked) till's latest successful push and pull.
#[derive(Debug, Clone)]
struct TillSync {
    branch_id: BranchId,
    name: String,
    code: String,
    last_push: Option<Timestamp>,
    last_pull: Option<Timestamp>,
}

fn till_syncs(conn: &Connection) -> rusqlite::Result<Vec<TillSync>> {
    let mut stmt = conn.prepare(
        "SELECT branch_id, name, code, last_push_at, last_pull_at FROM devices
         WHERE revoked_at IS NULL ORDER BY code, created_at",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(TillSync {
            branch_id: crate::apply::col(r, 0)?,
            name: r.get(1)?,
            code: r.get(2)?,
            last_push: r.get::<_, Option<i64>>(3)?.map(Timestamp::from_millis),
            last_pull: r.get::<_, Option<i64>>(4)?.map(Timestamp::from_millis),
        })
    })?;
    rows.collect()
}

/// The branches with their connected tills' latest successful push and
/// pull (revoked keys no longer count).
fn list_branches(conn: &Connection) -> rusqlite::Result<Vec<BranchRow>> {
    let mut stmt = conn.prepare(
        "SELECT b.id, b.code, b.name, b.time_zone,
                (SELECT COUNT(*) FROM devices d WHERE d.branch_id = b.id AND d.revoked_at IS NULL),
                (SELECT MAX(d.last_push_at) FROM devices d WHERE d.branch_id = b.id AND d.revoked_at IS NULL),
                (SELECT MAX(d.last_pull_at) FROM devices d WHERE d.branch_id = b.id AND d.revoked_at IS NULL)
         FROM branches b WHERE b.deleted_at IS NULL ORDER BY b.name COLLATE NOCASE",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(BranchRow {
            id: crate::apply::col(r, 0)?,
            code: r.get(1)?,
            name: r.get(2)?,
            zone: r.get(3)?,
            devices: r.get(4)?,
            last_push: r.get::<_, Option<i64>>(5)?.map(Timestamp::from_millis),
            last_pull: r.get::<_, Option<i64>>(6)?.map(Timestamp::from_millis),
        })
    })?;
    rows.collect()
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BranchForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    time_zone: String,
}

/// A branch form sent back with its refusal: the new-branch form, or one
/// branch's row.
enum BranchAgain {
    None,
    New(BranchForm, String),
    Edit(BranchId, BranchForm, String),
}

/// What the branches page shows.
struct BranchesData {
    rows: Vec<BranchRow>,
    tills: Vec<TillSync>,
    zone: TimeZone,
    now: Timestamp,
}

fn branches_page(user: &WebUser, d: &BranchesData, again: &BranchAgain) -> Markup {
    let (rows, zone, now) = (&d.rows, d.zone, d.now);
    let owner = user.role == Role::Owner;
    html! {
        p.muted {
            "Each branch has its own tills, stock, sales and expenses, and its own time zone for business days. "
            "A branch's code is printed in its receipt numbers, so it never changes."
        }
        @if !owner {
            div.notice data-testid="read-only" { "Read-only: only an owner adds or changes branches." }
        }
        @if let BranchAgain::Edit(_, _, m) = again { (form_error(Some(m))) }
        (zone_list())
        table data-testid="branches" {
            thead { tr {
                th { "Code" } th { "Name" } th { "Time zone" } th.num { "Devices" }
                th { "Last push" } th { "Last pull" } th { "Sync" }
            } }
            tbody {
                @for b in rows {
                    @let tz = TimeZone::parse(&b.zone).unwrap_or_default();
                    @let edit = match again { BranchAgain::Edit(id, f, _) if *id == b.id => Some(f), _ => None };
                    tr data-testid={ "branch-" (b.code) } {
                        td { code { (b.code) } }
                        @if owner {
                            td colspan="2" {
                                form.inline method="post" action={ "/branches/" (b.id) } {
                                    (csrf_field(user))
                                    input type="text" name="name" aria-label="Name" required maxlength=(MAX_NAME_CHARS)
                                        value=(edit.map_or(b.name.as_str(), |f| f.name.as_str()));
                                    input type="text" name="time_zone" list="zones" aria-label="Time zone" required
                                        value=(edit.map_or(b.zone.as_str(), |f| f.time_zone.as_str()));
                                    button type="submit" { "Save" }
                                }
                            }
                        } @else {
                            td { (b.name) }
                            td { (b.zone) }
                        }
                        td.num { (b.devices) }
                        td { (fmt::time_or_never(b.last_push, tz)) }
                        td { (fmt::time_or_never(b.last_pull, tz)) }
                        td { (SyncHealth::of(b.devices, b.last_push, b.last_pull, now).tag(&format!("sync-{}", b.code))) }
                    }
                }
                @if rows.is_empty() {
                    tr { td colspan="7" .muted { "No branches yet: add one here, or add a device with whiz-backoffice device add." } }
                }
            }
        }
        @if !d.tills.is_empty() {
            h2 { "Sync per till" }
            p.muted {
                "Each connected till's last successful push (its sales and changes reached the Back Office) and pull "
                "(it received everyone else's). A branch is flagged when none of its tills did either in 24 hours."
            }
            table data-testid="till-sync" {
                thead { tr { th { "Branch" } th { "Till" } th { "Last push" } th { "Last pull" } th { "Sync" } } }
                tbody {
                    @for b in rows {
                        @let tz = TimeZone::parse(&b.zone).unwrap_or_default();
                        @for t in d.tills.iter().filter(|t| t.branch_id == b.id) {
                            tr data-testid={ "till-" (b.code) "-" (t.code) } {
                                td { (b.name) }
                                td { (t.name) " (" (t.code) ")" }
                                td { (fmt::time_or_never(t.last_push, tz)) }
                                td { (fmt::time_or_never(t.last_pull, tz)) }
                                td { (SyncHealth::of(1, t.last_push, t.last_pull, now).tag(&format!("till-sync-{}-{}", b.code, t.code))) }
                            }
                        }
                    }
                }
            }
        }
        @if owner {
            @let (form, error) = match again {
                BranchAgain::New(f, m) => (f.clone(), Some(m.as_str())),
                _ => (BranchForm { time_zone: zone.name().to_string(), ..BranchForm::default() }, None),
            };
            h2 { "Add a branch" }
            section.panel {
                (form_error(error))
                form.stack method="post" action="/branches" data-testid="add-branch" {
                    (csrf_field(user))
                    label { "Name" input type="text" name="name" value=(form.name) required maxlength=(MAX_NAME_CHARS); }
                    label { "Code (optional: up to " (MAX_BRANCH_CODE) " letters A–Z and digits; made from the name if empty)"
                        input type="text" name="code" value=(form.code) maxlength=(MAX_BRANCH_CODE);
                    }
                    label { "Time zone" input type="text" name="time_zone" list="zones" value=(form.time_zone) required; }
                    button.primary type="submit" { "Add branch" }
                }
            }
        }
    }
}

/// The branches page; 400 when a form is sent back with its refusal.
async fn render_branches(
    state: &AppState,
    user: &WebUser,
    again: BranchAgain,
) -> Result<Response, WebError> {
    let data = db(state, |conn, clock| {
        Ok(BranchesData {
            rows: list_branches(conn)?,
            tills: till_syncs(conn)?,
            zone: business_zone(conn)?,
            now: clock.now(),
        })
    })
    .await?;
    let status = match again {
        BranchAgain::None => StatusCode::OK,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = branches_page(user, &data, &again);
    Ok(page::render_status(
        status,
        user,
        Nav::Branches,
        "Branches",
        body,
    ))
}

/// `GET /branches`.
async fn branches(State(state): State<AppState>, user: WebUser) -> Result<Response, WebError> {
    render_branches(&state, &user, BranchAgain::None).await
}

fn branch_name(text: &str) -> Result<String, WebError> {
    let name = fmt::required_text("the name", text, MAX_NAME_CHARS)?;
    if name.chars().any(char::is_control) {
        return Err(WebError::bad(
            "the name has characters that are not allowed",
        ));
    }
    Ok(name)
}

fn branch_code(text: &str) -> Result<Option<String>, WebError> {
    let code = text.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Ok(None);
    }
    if code.len() > MAX_BRANCH_CODE || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(WebError::bad(format!(
            "the code '{}' must be 1 to {MAX_BRANCH_CODE} letters A–Z and digits 0–9",
            text.trim()
        )));
    }
    Ok(Some(code))
}

/// Refuses a name another live branch has (ignoring case).
fn check_branch_name_free(
    conn: &Connection,
    name: &str,
    except: Option<BranchId>,
) -> Result<(), WebError> {
    let other: Option<String> = conn
        .query_row(
            "SELECT name FROM branches WHERE name = ?1 COLLATE NOCASE AND deleted_at IS NULL AND id <> ?2",
            params![name, except.map(|b| b.to_string()).unwrap_or_default()],
            |r| r.get(0),
        )
        .optional()?;
    match other {
        Some(other) => Err(WebError::bad(format!(
            "the name: there is already a branch called '{other}'; choose another name"
        ))),
        None => Ok(()),
    }
}

/// `POST /branches`: a new branch (owners).
async fn create_branch(
    State(state): State<AppState>,
    Posted { user, form }: Posted<BranchForm>,
) -> Result<Response, WebError> {
    WebError::require_owner(&user)?;
    let (who, f) = (user.clone(), form.clone());
    let added = db(&state, move |conn, clock| {
        add_branch(conn, clock.now(), &who, &f)
    })
    .await;
    match added {
        Ok(flash) => Ok(page::redirect_with_flash("/branches", &flash)),
        Err(e) => render_branches(&state, &user, BranchAgain::New(form, e.refusal()?)).await,
    }
}

/// Adds the branch of the new-branch form; the notice saying so.
fn add_branch(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    f: &BranchForm,
) -> Result<String, WebError> {
    let name = branch_name(&f.name)?;
    let code = branch_code(&f.code)?;
    let zone = parse_zone(&f.time_zone)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    check_branch_name_free(&tx, &name, None)?;
    let code = match code {
        Some(code) => {
            if branch_code_used(&tx, &code)? {
                return Err(WebError::bad(format!(
                    "the code: a branch already has the code {code} (codes are never reused, because receipt numbers carry them); choose another"
                )));
            }
            code
        }
        None => derive_branch_code(&tx, &name)?,
    };
    let id = insert_branch(&tx, &code, &name, zone, now)?;
    let detail = format!("{code} {name} {}", zone.name());
    write::audit(
        &tx,
        now,
        user,
        "branch.create",
        "branch",
        &id.to_string(),
        &detail,
    )?;
    tx.commit()?;
    Ok(format!("Branch {name} ({code}) added."))
}

/// `POST /branches/{id}`: rename, or change the time zone (owners).
async fn update_branch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { user, form }: Posted<BranchForm>,
) -> Result<Response, WebError> {
    WebError::require_owner(&user)?;
    let id: BranchId = page::path_id(&id, "there is no such branch")?;
    let (who, f) = (user.clone(), form.clone());
    let saved = db(&state, move |conn, clock| {
        change_branch(conn, clock.now(), &who, id, &f)
    })
    .await;
    match saved {
        Ok(saved) => Ok(page::after_save("/branches", saved.as_deref())),
        Err(e) => render_branches(&state, &user, BranchAgain::Edit(id, form, e.refusal()?)).await,
    }
}

/// Saves branch `id`'s name and time zone from its row's form; the notice
/// saying so, `None` when they are as they were.
fn change_branch(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    id: BranchId,
    f: &BranchForm,
) -> Result<Option<String>, WebError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: Option<(String, String, String, String)> = tx
        .query_row(
            "SELECT code, name, time_zone, hlc FROM branches WHERE id = ?1 AND deleted_at IS NULL",
            [id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((code, old_name, old_zone, old_hlc)) = current else {
        return Err(WebError::not_found(
            "there is no such branch (or it was deleted)",
        ));
    };
    let name = branch_name(&f.name)?;
    let zone = parse_zone(&f.time_zone)?;
    if name == old_name && zone.name() == old_zone {
        return Ok(None);
    }
    if !name.eq_ignore_ascii_case(&old_name) {
        check_branch_name_free(&tx, &name, Some(id))?;
    }
    let detail = format!("{code} {name} {}", zone.name());
    let branch = BranchState {
        id,
        code: code.clone(),
        name,
        time_zone: zone,
        hlc: write::hlc_after(now, old_hlc.parse().ok()),
        deleted_at: None,
    };
    crate::devices::update_branch(&tx, branch, now)?;
    write::audit(
        &tx,
        now,
        user,
        "branch.update",
        "branch",
        &id.to_string(),
        &detail,
    )?;
    tx.commit()?;
    Ok(Some(format!(
        "Branch {code} saved; its devices get the change on their next sync."
    )))
}

// Settings ---------------------------------------------------------------------

/// What the settings form sends: raw text.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    store_name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    tax_pin: String,
    #[serde(default)]
    receipt_header: String,
    #[serde(default)]
    receipt_footer: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    tax_mode: String,
}

impl SettingsForm {
    fn from_state(s: &SettingsState) -> SettingsForm {
        SettingsForm {
            store_name: s.store_name.clone(),
            address: s.address.clone(),
            phone: s.phone.clone(),
            tax_pin: s.tax_pin.clone(),
            receipt_header: s.receipt_header.clone(),
            receipt_footer: s.receipt_footer.clone(),
            currency: s.currency.code().to_string(),
            time_zone: s.time_zone.name().to_string(),
            tax_mode: s.tax_mode.as_str().to_string(),
        }
    }
}

/// Settings text the domain's rule refused ([`settings::free_text`]), in
/// the dashboard's words.
fn text_refused(e: DomainError) -> WebError {
    WebError::bad(match e {
        DomainError::BadCharacters { field, .. } => {
            format!("{field} has characters that are not allowed")
        }
        DomainError::TooManyTextLines { field, lines, max } => {
            format!("{field} has {lines} lines; at most {max} fit on a receipt")
        }
        other => other.to_string(),
    })
}

/// Every field of the form checked and normalized as the till does.
fn validate_settings(f: &SettingsForm) -> Result<SettingsState, WebError> {
    let store_name =
        Name::parse("the store name", &f.store_name).map_err(|e| WebError::bad(e.to_string()))?;
    let address = settings::free_text("the address", &f.address, MAX_ADDRESS_CHARS, None)
        .map_err(text_refused)?;
    let phone = match f.phone.trim() {
        "" => String::new(),
        t => PhoneNumber::parse(t)
            .map_err(|_| {
                WebError::bad(format!(
                    "the phone '{t}' is not a phone number; write it like 0712 345 678 or +254 712 345 678"
                ))
            })?
            .to_string(),
    };
    let tax_pin = settings::tax_pin(&f.tax_pin).map_err(|_| {
        WebError::bad(format!(
            "the tax PIN '{}' must be up to {MAX_TAX_PIN_CHARS} letters and digits, like P051234567X",
            f.tax_pin.trim()
        ))
    })?;
    let receipt_header =
        settings::receipt_text("the receipt header", &f.receipt_header).map_err(text_refused)?;
    let receipt_footer =
        settings::receipt_text("the receipt footer", &f.receipt_footer).map_err(text_refused)?;
    let currency = Currency::from_code(&f.currency).map_err(|_| {
        WebError::bad(format!(
            "the currency '{}' is not a currency code the tills know; use a three-letter code such as KES, UGX or TZS",
            f.currency.trim()
        ))
    })?;
    let time_zone = parse_zone(&f.time_zone)?;
    let tax_mode = TaxMode::parse(&f.tax_mode.trim().to_ascii_lowercase()).map_err(|_| {
        WebError::bad(format!(
            "the tax mode '{}' is not inclusive or exclusive",
            f.tax_mode.trim()
        ))
    })?;
    Ok(SettingsState {
        store_name: store_name.to_string(),
        address,
        phone,
        tax_pin,
        receipt_header,
        receipt_footer,
        currency,
        time_zone,
        tax_mode,
        hlc: Hlc::ZERO,
    })
}

/// The fields of `wanted` that differ from `stored`.
fn settings_diff(stored: &SettingsState, wanted: &SettingsState) -> SettingsPatch {
    let text = |old: &String, new: &String| (old != new).then(|| new.clone());
    SettingsPatch {
        store_name: text(&stored.store_name, &wanted.store_name),
        address: text(&stored.address, &wanted.address),
        phone: text(&stored.phone, &wanted.phone),
        tax_pin: text(&stored.tax_pin, &wanted.tax_pin),
        receipt_header: text(&stored.receipt_header, &wanted.receipt_header),
        receipt_footer: text(&stored.receipt_footer, &wanted.receipt_footer),
        currency: (stored.currency != wanted.currency).then_some(wanted.currency),
        time_zone: (stored.time_zone != wanted.time_zone).then_some(wanted.time_zone),
        tax_mode: (stored.tax_mode != wanted.tax_mode).then_some(wanted.tax_mode),
    }
}

fn changed_keys(p: &SettingsPatch) -> Vec<&'static str> {
    write::changed_fields(&[
        ("store name", p.store_name.is_some()),
        ("address", p.address.is_some()),
        ("phone", p.phone.is_some()),
        ("tax PIN", p.tax_pin.is_some()),
        ("receipt header", p.receipt_header.is_some()),
        ("receipt footer", p.receipt_footer.is_some()),
        ("currency", p.currency.is_some()),
        ("time zone", p.time_zone.is_some()),
        ("tax mode", p.tax_mode.is_some()),
    ])
}

/// Whether anything is priced in the business's currency yet (the till's
/// rule for when the currency may change).
fn currency_in_use(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM products) OR EXISTS (SELECT 1 FROM sales)
             OR EXISTS (SELECT 1 FROM customers) OR EXISTS (SELECT 1 FROM expenses)",
        [],
        |r| r.get(0),
    )
}

#[derive(Debug, Clone)]
struct RateRow {
    code: String,
    name: String,
    basis_points: u32,
    products: i64,
}

fn live_rates(conn: &Connection) -> rusqlite::Result<Vec<RateRow>> {
    let mut stmt = conn.prepare(
        "SELECT t.code, t.name, t.basis_points,
                (SELECT COUNT(*) FROM products p WHERE p.tax_code = t.code AND p.deleted_at IS NULL)
         FROM tax_rates t WHERE t.deleted_at IS NULL ORDER BY t.code",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(RateRow {
            code: r.get(0)?,
            name: r.get(1)?,
            basis_points: r.get(2)?,
            products: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// `1600` → `16`, `850` → `8.5`, `825` → `8.25`.
fn percent_text(bp: u32) -> String {
    let (whole, frac) = (bp / 100, bp % 100);
    match frac {
        0 => whole.to_string(),
        f if f % 10 == 0 => format!("{whole}.{}", f / 10),
        f => format!("{whole}.{f:02}"),
    }
}

/// A percentage typed as `16`, `8.5` or `8.25` (an optional `%`), read as
/// basis points without floating point: 0 to 100, at most 2 decimals.
fn parse_percent(text: &str) -> Result<u32, WebError> {
    let bad = || {
        WebError::bad(format!(
            "the percent '{}' is not a tax rate; type it like 16 or 8.5 (0 to 100, at most 2 decimals)",
            text.trim()
        ))
    };
    let t = text.trim().trim_end_matches('%').trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if (whole.is_empty() && frac.is_empty())
        || whole.len() > 3
        || frac.len() > 2
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: u32 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let frac: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().map_err(|_| bad())?
    };
    let bp = whole * 100 + frac;
    if bp > 10_000 {
        return Err(bad());
    }
    Ok(bp)
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TaxRateForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    percent: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct SettingsQuery {
    /// A tax rate's code: its values fill the tax rate form.
    #[serde(default)]
    edit: Option<String>,
}

/// What the settings page was sent back with: a form and its refusal, or
/// the tax rate to fill the tax rate form with.
#[derive(Default)]
struct SettingsAgain {
    settings: Option<(SettingsForm, String)>,
    rate: Option<(TaxRateForm, String)>,
    edit: Option<String>,
}

impl SettingsAgain {
    fn settings(form: SettingsForm, refusal: String) -> SettingsAgain {
        SettingsAgain {
            settings: Some((form, refusal)),
            ..SettingsAgain::default()
        }
    }

    fn rate(form: TaxRateForm, refusal: String) -> SettingsAgain {
        SettingsAgain {
            rate: Some((form, refusal)),
            ..SettingsAgain::default()
        }
    }
}

fn settings_page(
    user: &WebUser,
    stored: &SettingsState,
    rates: &[RateRow],
    in_use: bool,
    again: &SettingsAgain,
) -> Markup {
    let owner = user.role == Role::Owner;
    let (form, error) = match &again.settings {
        Some((f, m)) => (f.clone(), Some(m.as_str())),
        None => (SettingsForm::from_state(stored), None),
    };
    let rate_form = match (&again.rate, &again.edit) {
        (Some((f, _)), _) => f.clone(),
        (None, Some(code)) => rates
            .iter()
            .find(|r| r.code.eq_ignore_ascii_case(code))
            .map(|r| TaxRateForm {
                code: r.code.clone(),
                name: r.name.clone(),
                percent: percent_text(r.basis_points),
            })
            .unwrap_or_default(),
        (None, None) => TaxRateForm::default(),
    };
    html! {
        @if !owner {
            div.notice data-testid="read-only" {
                "Read-only: only an owner changes the business settings and tax rates."
            }
        }
        section.panel {
            (form_error(error))
            form.stack method="post" action="/settings" data-testid="settings-form" {
                (csrf_field(user))
                fieldset disabled[!owner] style="border:0;padding:0;margin:0;display:grid;gap:10px" {
                    label { "Store name" input type="text" name="store_name" value=(form.store_name) required maxlength="120"; }
                    label { "Address" input type="text" name="address" value=(form.address) maxlength=(MAX_ADDRESS_CHARS); }
                    label { "Phone" input type="tel" name="phone" value=(form.phone) placeholder="0712 345 678"; }
                    label { "Tax PIN (KRA PIN)" input type="text" name="tax_pin" value=(form.tax_pin) maxlength=(MAX_TAX_PIN_CHARS); }
                    label { "Receipt header (up to 12 lines)"
                        textarea name="receipt_header" rows="3" { (form.receipt_header) }
                    }
                    label { "Receipt footer (up to 12 lines)"
                        textarea name="receipt_footer" rows="3" { (form.receipt_footer) }
                    }
                    label { "Currency (three letters, such as KES)"
                        input type="text" name="currency" value=(form.currency) maxlength="3" required;
                    }
                    p.muted data-testid="currency-rule" {
                        "The currency can only be chosen before the first product, sale, customer or expense is recorded: "
                        "every amount already recorded is in it, so changing it later would change what those amounts mean. "
                        @if in_use { strong { "This business has records, so the currency is fixed at " (stored.currency.code()) "." } }
                    }
                    label { "Time zone (business days of records that belong to no branch; each branch has its own under Branches)"
                        input type="text" name="time_zone" list="zones" value=(form.time_zone) required;
                    }
                    label { "Prices"
                        select name="tax_mode" {
                            option value="inclusive" selected[form.tax_mode == "inclusive"] { "include tax (tax-inclusive)" }
                            option value="exclusive" selected[form.tax_mode == "exclusive"] { "exclude tax: tax is added at the till (tax-exclusive)" }
                        }
                    }
                    @if owner { button.primary type="submit" { "Save settings" } }
                }
            }
        }
        (zone_list())
        h2 { "Tax rates" }
        @if let Some((_, m)) = &again.rate { (form_error(Some(m))) }
        table data-testid="tax-rates" {
            thead { tr { th { "Code" } th { "Name" } th.num { "Rate" } th.num { "Products" } th {} } }
            tbody {
                @for r in rates {
                    tr data-testid={ "rate-" (r.code) } {
                        td { code { (r.code) } }
                        td { (r.name) }
                        td.num { (percent_text(r.basis_points)) "%" }
                        td.num { (r.products) }
                        td {
                            @if owner {
                                form.inline method="post" action={ "/settings/tax-rates/" (r.code) "/delete" } {
                                    (csrf_field(user))
                                    a href={ "/settings?edit=" (r.code) } { "Edit" }
                                    " "
                                    button.danger type="submit" { "Retire…" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if owner {
            h2 { "Add or change a tax rate" }
            section.panel {
                p.muted { "A code that exists is changed; sales already made keep the rate they were made with." }
                form.inline method="post" action="/settings/tax-rates" data-testid="tax-rate-form" {
                    (csrf_field(user))
                    label { "Code" input type="text" name="code" value=(rate_form.code) maxlength="16" required placeholder="VAT16"; }
                    label { "Name" input type="text" name="name" value=(rate_form.name) maxlength="120" required placeholder="VAT 16%"; }
                    label { "Percent" input type="text" name="percent" value=(rate_form.percent) inputmode="decimal" required placeholder="16"; }
                    button.primary type="submit" { "Save tax rate" }
                }
            }
        }
    }
}

/// The settings page; 400 when a form is sent back with its refusal.
async fn render_settings(
    state: &AppState,
    user: &WebUser,
    again: SettingsAgain,
) -> Result<Response, WebError> {
    let (stored, rates, in_use) = db(state, |conn, _| {
        Ok((
            crate::apply::settings_state(conn)?,
            live_rates(conn)?,
            currency_in_use(conn)?,
        ))
    })
    .await?;
    let status = if again.settings.is_some() || again.rate.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = settings_page(user, &stored, &rates, in_use, &again);
    Ok(page::render_status(
        status,
        user,
        Nav::Settings,
        "Business settings",
        body,
    ))
}

/// `GET /settings`.
async fn settings(
    State(state): State<AppState>,
    Query(q): Query<SettingsQuery>,
    user: WebUser,
) -> Result<Response, WebError> {
    let again = SettingsAgain {
        edit: q.edit,
        ..SettingsAgain::default()
    };
    render_settings(&state, &user, again).await
}

/// `POST /settings` (owners).
async fn save_settings(
    State(state): State<AppState>,
    Posted { user, form }: Posted<SettingsForm>,
) -> Result<Response, WebError> {
    WebError::require_owner(&user)?;
    let (who, f) = (user.clone(), form.clone());
    let saved = db(&state, move |conn, clock| {
        change_settings(conn, clock.now(), &who, &f)
    })
    .await;
    match saved {
        Ok(saved) => Ok(page::after_save("/settings", saved.as_deref())),
        Err(e) => render_settings(&state, &user, SettingsAgain::settings(form, e.refusal()?)).await,
    }
}

/// Saves the settings the form changes; the notice saying which, `None`
/// when none.
fn change_settings(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    f: &SettingsForm,
) -> Result<Option<String>, WebError> {
    let wanted = validate_settings(f)?;
    let stored = crate::apply::settings_state(conn)?;
    let patch = settings_diff(&stored, &wanted);
    let keys = changed_keys(&patch);
    if keys.is_empty() {
        return Ok(None);
    }
    if let Some(new) = patch.currency
        && currency_in_use(conn)?
    {
        return Err(WebError::bad(format!(
            "the currency cannot change from {} to {new}: products, sales, customers or expenses are already recorded in {}, and their amounts would be wrong. The currency is chosen before the first of them is recorded",
            stored.currency.code(),
            stored.currency.code()
        )));
    }
    let keys = keys.join(", ");
    let body = OpBody::SettingsChanged(patch);
    let detail = format!("changed {keys}");
    write::apply_one(conn, now, user, body, "settings.update", detail)?;
    Ok(Some(format!(
        "Saved ({keys}); every till gets it on its next sync."
    )))
}

/// `POST /settings/tax-rates` (owners): adds a rate, changes one, or brings
/// a retired one back.
async fn save_tax_rate(
    State(state): State<AppState>,
    Posted { user, form }: Posted<TaxRateForm>,
) -> Result<Response, WebError> {
    WebError::require_owner(&user)?;
    let (who, f) = (user.clone(), form.clone());
    let saved = db(&state, move |conn, clock| {
        change_tax_rate(conn, clock.now(), &who, &f)
    })
    .await;
    match saved {
        Ok(saved) => Ok(page::after_save("/settings", saved.as_deref())),
        Err(e) => render_settings(&state, &user, SettingsAgain::rate(form, e.refusal()?)).await,
    }
}

/// Saves the rate of the tax rate form; the notice saying so, `None` when
/// it is live and as it was.
fn change_tax_rate(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    f: &TaxRateForm,
) -> Result<Option<String>, WebError> {
    let code = TaxCode::parse(&f.code).map_err(|e| WebError::bad(format!("the code: {e}")))?;
    let name =
        Name::parse("the tax rate name", &f.name).map_err(|e| WebError::bad(e.to_string()))?;
    let bp = parse_percent(&f.percent)?;
    let rate = TaxRate::new(code, name.as_str(), i64::from(bp))
        .map_err(|e| WebError::bad(format!("the percent: {e}")))?;
    let current: Option<(String, u32, Option<i64>)> = conn
        .query_row(
            "SELECT name, basis_points, deleted_at FROM tax_rates WHERE code = ?1",
            [rate.code.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((n, b, None)) = &current
        && *n == rate.name
        && *b == rate.basis_points()
    {
        return Ok(None);
    }
    let detail = format!("{} {} {}bp", rate.code, rate.name, rate.basis_points());
    let record = TaxRateRecord {
        code: rate.code.clone(),
        name: rate.name.clone(),
        basis_points: rate.basis_points(),
        deleted: false,
    };
    let body = OpBody::TaxRateChanged(record);
    write::apply_one(conn, now, user, body, "tax_rate.save", detail)?;
    Ok(Some(format!(
        "Tax rate {} ({}%) saved; every till gets it on its next sync.",
        rate.code,
        percent_text(rate.basis_points())
    )))
}

/// `POST /settings/tax-rates/{code}/delete` (owners): first a page saying
/// what retiring does (or why it cannot be done), then (with `confirm=yes`)
/// retires a rate no live product uses.
async fn delete_tax_rate(
    State(state): State<AppState>,
    Path(code): Path<String>,
    posted: Posted<std::collections::HashMap<String, String>>,
) -> Result<Response, WebError> {
    let Posted { user, form } = posted;
    WebError::require_owner(&user)?;
    let confirmed = page::is_confirmed(&form);
    let code: TaxCode = page::path_id(&code, "there is no such tax rate")?;
    let who = user.clone();
    let retired = db(&state, move |conn, clock| {
        if !confirmed {
            let (name, basis_points) = retirable_tax_rate(conn, &code)?;
            return Ok(Err((code, name, basis_points)));
        }
        retire_tax_rate(conn, clock.now(), &who, code).map(Ok)
    })
    .await;
    match retired {
        Ok(Ok(flash)) => Ok(page::redirect_with_flash("/settings", &flash)),
        Ok(Err((code, name, basis_points))) => {
            Ok(confirm_retire(&user, &code, &name, basis_points))
        }
        Err(e) => {
            let again = SettingsAgain::rate(TaxRateForm::default(), e.refusal()?);
            render_settings(&state, &user, again).await
        }
    }
}

/// Live tax rate `code`'s name and basis points, if no live product uses it.
fn retirable_tax_rate(conn: &Connection, code: &TaxCode) -> Result<(String, u32), WebError> {
    let current: Option<(String, u32)> = conn
        .query_row(
            "SELECT name, basis_points FROM tax_rates WHERE code = ?1 AND deleted_at IS NULL",
            [code.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((name, basis_points)) = current else {
        return Err(WebError::not_found(format!(
            "there is no tax rate {code} (or it was retired)"
        )));
    };
    let used: i64 = conn.query_row(
        "SELECT COUNT(*) FROM products WHERE tax_code = ?1 AND deleted_at IS NULL",
        [code.as_str()],
        |r| r.get(0),
    )?;
    if used > 0 {
        return Err(WebError::bad(format!(
            "tax rate {code} is used by {}; move them to another tax rate first",
            fmt::plural(used, "product", "products")
        )));
    }
    Ok((name, basis_points))
}

/// Retires tax rate `code`; the notice saying so.
fn retire_tax_rate(
    conn: &mut Connection,
    now: Timestamp,
    user: &WebUser,
    code: TaxCode,
) -> Result<String, WebError> {
    let (name, basis_points) = retirable_tax_rate(conn, &code)?;
    let detail = format!("retired {code}");
    let record = TaxRateRecord {
        code: code.clone(),
        name,
        basis_points,
        deleted: true,
    };
    write::apply_one(
        conn,
        now,
        user,
        OpBody::TaxRateChanged(record),
        "tax_rate.retire",
        detail,
    )?;
    Ok(format!("Tax rate {code} retired."))
}

/// The page asking before a tax rate is retired.
fn confirm_retire(user: &WebUser, code: &TaxCode, name: &str, basis_points: u32) -> Response {
    let percent = percent_text(basis_points);
    let question = format!("Retire tax rate {code} ({name}, {percent}%)?");
    let action = format!("/settings/tax-rates/{code}/delete");
    page::confirm_page(
        user,
        Nav::Settings,
        page::Confirm {
            title: "Retire a tax rate?",
            question: &question,
            what_happens: html! {
                p { "Tax rate " (code) " (" (percent) "%) is no longer offered for products at any till after their next sync. "
                    "No live product uses it; sales already made keep the rate they were made with." }
                p { "To bring it back, save a tax rate with the code " (code) " again." }
            },
            action_url: &action,
            hidden: &[],
            confirm_label: "Retire the tax rate",
            testid: None,
            cancel_url: "/settings",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_read_as_basis_points() {
        for (text, bp) in [
            ("16", 1600),
            ("8.5", 850),
            ("8.25", 825),
            ("0", 0),
            ("100", 10_000),
            (" 16 % ", 1600),
            (".5", 50),
        ] {
            assert_eq!(parse_percent(text).unwrap(), bp, "{text}");
        }
        for bad in ["", "abc", "8.555", "100.01", "101", "-1", "1e2", "8,5", "."] {
            assert!(parse_percent(bad).is_err(), "{bad}");
        }
        assert_eq!(percent_text(850), "8.5");
        assert_eq!(percent_text(825), "8.25");
        assert_eq!(percent_text(1600), "16");
    }
}
