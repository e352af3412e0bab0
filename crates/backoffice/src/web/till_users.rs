//! Till users (`/users`): the cashiers, managers and owners who sign in at
//! the tills with a PIN. The dashboard adds them, renames them, changes their
//! role, turns them off and on, resets their PIN and deletes them; every
//! change is a `user_changed` / `user_deleted` op, so each till pulls it.
//!
//! - A PIN is hashed here with argon2id and the till's parameters (the same
//!   PHC string `pos-store` makes, so a till verifies it) and only the hash
//!   travels. A PIN is never shown, logged, kept in the audit log or sent
//!   back into a form.
//! - Who may do what follows the till's own rule ([`pos_domain::Role::can_manage`]):
//!   a dashboard **owner** manages every till user; a dashboard **manager**
//!   manages cashiers only (adds them, edits them, resets their PIN), so only
//!   an owner creates or promotes managers and owners or changes an owner.
//!   Anything else is a 403 that changes nothing.
//! - Like the till: names are unique among live users (ignoring case), and
//!   the last active owner cannot be demoted, turned off or deleted.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use pos_domain::{Hlc, Name, Pin, Role as TillRole, TimeZone, Timestamp, UserId};
use rusqlite::{Connection, OptionalExtension};
use serde::Deserialize;
use sync_protocol::{OpBody, Tombstone, UserPatch};

use super::business::business_zone;
use super::page::{self, Nav, WebError, csrf_field, form_error};
use super::session::{Posted, Role, WebUser};
use super::{db, fmt, write};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(add))
        .route("/users/{id}", get(show).post(update))
        .route("/users/{id}/pin", post(reset_pin))
        .route("/users/{id}/delete", post(delete))
}

const ROLES: [TillRole; 3] = [TillRole::Cashier, TillRole::Manager, TillRole::Owner];

fn role_label(r: TillRole) -> &'static str {
    match r {
        TillRole::Cashier => "Cashier",
        TillRole::Manager => "Manager",
        TillRole::Owner => "Owner",
    }
}

/// The till role a dashboard account acts with: an owner is an owner, a
/// manager a manager.
fn acting_role(user: &WebUser) -> TillRole {
    match user.role {
        Role::Owner => TillRole::Owner,
        Role::Manager => TillRole::Manager,
    }
}

/// Refuses (403) a change to a till user of role `target` that `user` may
/// not make.
fn require_manage(user: &WebUser, target: TillRole, what: &str) -> Result<(), WebError> {
    if acting_role(user).can_manage(target) {
        return Ok(());
    }
    Err(WebError::Forbidden(format!(
        "a manager may {what} cashiers only; only an owner may create, promote or change managers and owners. Ask the business's owner to sign in"
    )))
}

/// A till user as the pages show it (never the PIN hash).
#[derive(Debug, Clone)]
struct TillUser {
    id: UserId,
    name: String,
    role: TillRole,
    active: bool,
    hlc: Hlc,
}

impl TillUser {
    fn changed_at(&self) -> Timestamp {
        Timestamp::from_millis(i64::try_from(self.hlc.wall_ms()).unwrap_or(i64::MAX))
    }
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TillUser> {
    Ok(TillUser {
        id: crate::apply::col(r, 0)?,
        name: r.get(1)?,
        role: crate::apply::col(r, 2)?,
        active: r.get(3)?,
        hlc: crate::apply::col(r, 4)?,
    })
}

fn live_users(conn: &Connection) -> rusqlite::Result<Vec<TillUser>> {
    let mut stmt = conn.prepare(
        "SELECT id, name, role, active, hlc FROM users WHERE deleted_at IS NULL
         ORDER BY CASE role WHEN 'owner' THEN 0 WHEN 'manager' THEN 1 ELSE 2 END,
                  name COLLATE NOCASE",
    )?;
    let rows = stmt.query_map([], user_row)?;
    rows.collect()
}

/// What a page of a till user that does not exist (or is deleted) says.
const NO_SUCH_USER: &str = "there is no such till user (or it was deleted)";

fn live_user(conn: &Connection, id: UserId) -> Result<TillUser, WebError> {
    conn.query_row(
        "SELECT id, name, role, active, hlc FROM users WHERE id = ?1 AND deleted_at IS NULL",
        [id.to_string()],
        user_row,
    )
    .optional()?
    .ok_or_else(|| WebError::not_found(NO_SUCH_USER))
}

/// Live till user `id`, if `user` may `what` it (403 otherwise).
fn manageable(
    conn: &Connection,
    user: &WebUser,
    id: UserId,
    what: &str,
) -> Result<TillUser, WebError> {
    let u = live_user(conn, id)?;
    require_manage(user, u.role, what)?;
    Ok(u)
}

/// [`manageable`] before a form is read: a change is refused before its
/// input is even looked at (and checked again when it is written).
async fn check_manageable(
    state: &AppState,
    user: &WebUser,
    id: UserId,
    what: &'static str,
) -> Result<TillUser, WebError> {
    let who = user.clone();
    db(state, move |conn, _| manageable(conn, &who, id, what)).await
}

/// Refuses a second live user named `name` (ignoring case), like the till.
fn check_name_free(conn: &Connection, name: &Name, except: Option<UserId>) -> Result<(), WebError> {
    let wanted = name.as_str().to_lowercase();
    let except = except.map(|id| id.to_string()).unwrap_or_default();
    let mut stmt = conn.prepare("SELECT name FROM users WHERE deleted_at IS NULL AND id <> ?1")?;
    let names = stmt.query_map([except], |r| r.get::<_, String>(0))?;
    for existing in names {
        let existing = existing?;
        if existing.to_lowercase() == wanted {
            return Err(WebError::bad(format!(
                "the name: there is already a till user called '{existing}'; the till's sign-in screen lists names, so choose a different one (for example add an initial)"
            )));
        }
    }
    Ok(())
}

/// Refuses to take away the last active owner (`what`: "demoted", …).
fn guard_last_owner(
    conn: &Connection,
    user: &TillUser,
    field: &str,
    what: &str,
) -> Result<(), WebError> {
    if user.role != TillRole::Owner || !user.active {
        return Ok(());
    }
    let others: i64 = conn.query_row(
        "SELECT COUNT(*) FROM users
         WHERE role = 'owner' AND active = 1 AND deleted_at IS NULL AND id <> ?1",
        [user.id.to_string()],
        |r| r.get(0),
    )?;
    if others == 0 {
        return Err(WebError::bad(format!(
            "{field}: '{}' is the only active owner at the tills and cannot be {what}; make another till user an owner first",
            user.name
        )));
    }
    Ok(())
}

fn parse_name(text: &str) -> Result<Name, WebError> {
    Name::parse("the name", text).map_err(|e| WebError::bad(e.to_string()))
}

fn parse_role(text: &str) -> Result<TillRole, WebError> {
    TillRole::parse(text).map_err(|_| {
        WebError::bad(format!(
            "the role '{}' is not cashier, manager or owner",
            text.trim()
        ))
    })
}

fn parse_pin(field: &str, text: &str) -> Result<Pin, WebError> {
    Pin::parse(text).map_err(|_| WebError::bad(format!("{field} must be 4 to 8 digits")))
}

/// The new PIN typed twice: both must be a PIN and the same.
fn parse_new_pin(pin: &str, again: &str) -> Result<Pin, WebError> {
    let first = parse_pin("the PIN", pin)?;
    if pin.trim() != again.trim() {
        return Err(WebError::bad(
            "the PIN and the PIN typed again do not match; type the same PIN in both boxes",
        ));
    }
    Ok(first)
}

/// An argon2id PHC string of `pin`, made like the till makes one
/// (`pos-store`'s `hash_pin`: argon2's defaults, a random salt), off the
/// async workers (hashing is slow on purpose).
async fn hash_pin(pin: Pin) -> Result<String, WebError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(pin.expose(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| WebError::internal(&e))
    })
    .await?
}

// Pages ----------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    pin: String,
    #[serde(default)]
    pin_again: String,
}

fn role_options(user: &WebUser, selected: &str) -> Markup {
    html! {
        @for r in ROLES {
            @if acting_role(user).can_manage(r) {
                option value=(r.as_str()) selected[selected == r.as_str()] { (role_label(r)) }
            }
        }
    }
}

fn list_page(
    user: &WebUser,
    users: &[TillUser],
    zone: TimeZone,
    form: &AddForm,
    error: Option<&str>,
) -> Markup {
    let role = if form.role.is_empty() {
        "cashier"
    } else {
        form.role.as_str()
    };
    html! {
        p.muted {
            "The people who sign in at the tills with a PIN. Changes reach every till on its next sync. "
            @if user.role == Role::Manager {
                "As a manager you may add and change cashiers; only an owner manages managers and owners."
            }
        }
        table data-testid="till-users" {
            thead { tr { th { "Name" } th { "Role" } th { "Active" } th { "Last change" } th {} } }
            tbody {
                @for u in users {
                    tr data-testid={ "user-" (u.id) } {
                        td { a href={ "/users/" (u.id) } { (u.name) } }
                        td { (role_label(u.role)) }
                        td {
                            @if u.active { span.tag.good { "active" } } @else { span.tag.bad { "off" } }
                        }
                        td { (fmt::time(u.changed_at(), zone)) }
                        td { a href={ "/users/" (u.id) } { "Edit" } }
                    }
                }
                @if users.is_empty() {
                    tr { td colspan="5" .muted { "No till users yet." } }
                }
            }
        }
        h2 { "Add a till user" }
        section.panel {
            (form_error(error))
            form.stack method="post" action="/users" data-testid="add-user" {
                (csrf_field(user))
                label { "Name" input type="text" name="name" value=(form.name) required maxlength="120"; }
                label { "Role" select name="role" { (role_options(user, role)) } }
                label { "PIN (4 to 8 digits)"
                    input type="password" name="pin" inputmode="numeric" autocomplete="new-password" required;
                }
                label { "PIN again"
                    input type="password" name="pin_again" inputmode="numeric" autocomplete="new-password" required;
                }
                button.primary type="submit" { "Add till user" }
            }
        }
    }
}

/// The list with the add form; 400 when the form is sent back with its
/// refusal.
async fn render_list(
    state: &AppState,
    user: WebUser,
    form: AddForm,
    refusal: Option<String>,
) -> Result<Response, WebError> {
    let (users, zone) = db(state, |conn, _| {
        Ok((live_users(conn)?, business_zone(conn)?))
    })
    .await?;
    let status = match refusal {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    let body = list_page(&user, &users, zone, &form, refusal.as_deref());
    Ok(page::render_status(
        status,
        &user,
        Nav::Users,
        "Till users",
        body,
    ))
}

/// `GET /users`.
async fn list(State(state): State<AppState>, user: WebUser) -> Result<Response, WebError> {
    render_list(&state, user, AddForm::default(), None).await
}

/// `POST /users`: adds a till user.
async fn add(State(state): State<AppState>, posted: Posted<AddForm>) -> Result<Response, WebError> {
    let Posted { user, form } = posted;
    match add_user(&state, &user, &form).await {
        Ok(name) => Ok(page::redirect_with_flash(
            "/users",
            &format!("Till user {name} added; the tills get them on their next sync."),
        )),
        Err(e) => render_list(&state, user, form, Some(e.refusal()?)).await,
    }
}

/// Checks the add form and adds the till user; its name, for the notice.
async fn add_user(state: &AppState, user: &WebUser, form: &AddForm) -> Result<String, WebError> {
    let name = parse_name(&form.name)?;
    let role = parse_role(&form.role)?;
    require_manage(user, role, "add")?;
    let pin = parse_new_pin(&form.pin, &form.pin_again)?;
    // Checked before hashing (slow), and again in the write.
    let n = name.clone();
    db(state, move |conn, _| check_name_free(conn, &n, None)).await?;
    let pin_hash = hash_pin(pin).await?;
    let id = UserId::new();
    let who = user.clone();
    let label = name.to_string();
    db(state, move |conn, clock| {
        check_name_free(conn, &name, None)?;
        let detail = format!("added {} as {}", name, role.as_str());
        let body = OpBody::UserChanged(UserPatch {
            name: Some(name),
            role: Some(role),
            pin_hash: Some(pin_hash),
            active: Some(true),
            ..UserPatch::new(id)
        });
        write::apply_one(conn, clock.now(), &who, body, "till_user.add", detail)
    })
    .await?;
    Ok(label)
}

/// What the edit page's forms were sent back with.
#[derive(Debug, Default)]
struct EditState {
    edit: Option<EditForm>,
    edit_error: Option<String>,
    pin_error: Option<String>,
}

impl EditState {
    /// The name, role and access form sent back with its refusal.
    fn edit(form: EditForm, refusal: String) -> EditState {
        EditState {
            edit: Some(form),
            edit_error: Some(refusal),
            ..EditState::default()
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    /// A checkbox: present ("on") when ticked.
    #[serde(default)]
    active: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PinForm {
    #[serde(default)]
    pin: String,
    #[serde(default)]
    pin_again: String,
}

fn edit_page(user: &WebUser, u: &TillUser, zone: TimeZone, st: &EditState) -> Markup {
    let may = acting_role(user).can_manage(u.role);
    let (name, role, active) = match &st.edit {
        Some(f) => (f.name.clone(), f.role.clone(), f.active.is_some()),
        None => (u.name.clone(), u.role.as_str().to_string(), u.active),
    };
    html! {
        p { a href="/users" { "← All till users" } }
        section.panel data-testid="user-profile" {
            p { strong { (u.name) } " · " (role_label(u.role)) " · "
                @if u.active { span.tag.good { "active" } } @else { span.tag.bad { "off" } } }
            p.muted { "Last changed " (fmt::time(u.changed_at(), zone)) "." }
        }
        @if !may {
            div.notice data-testid="read-only" {
                "Only an owner may change a " (u.role.as_str()) "'s name, role, PIN or access. A manager manages cashiers."
            }
        } @else {
            h2 { "Name, role and access" }
            section.panel {
                (form_error(st.edit_error.as_deref()))
                form.stack method="post" action={ "/users/" (u.id) } data-testid="edit-user" {
                    (csrf_field(user))
                    label { "Name" input type="text" name="name" value=(name) required maxlength="120"; }
                    label { "Role" select name="role" { (role_options(user, &role)) } }
                    label.check { input type="checkbox" name="active" checked[active]; "Active: may sign in at the tills" }
                    button.primary type="submit" { "Save" }
                }
            }
            h2 { "Reset the PIN" }
            section.panel {
                (form_error(st.pin_error.as_deref()))
                p.muted { "Give the new PIN to " (u.name) " in person. The tills get it on their next sync; the old PIN stops working then." }
                form.stack method="post" action={ "/users/" (u.id) "/pin" } data-testid="reset-pin" {
                    (csrf_field(user))
                    label { "New PIN (4 to 8 digits)"
                        input type="password" name="pin" inputmode="numeric" autocomplete="new-password" required;
                    }
                    label { "New PIN again"
                        input type="password" name="pin_again" inputmode="numeric" autocomplete="new-password" required;
                    }
                    button.primary type="submit" { "Reset PIN" }
                }
            }
            h2 { "Delete" }
            section.panel {
                p.muted { "Deleting keeps the user's name on old receipts; they can no longer sign in at any till." }
                form.inline method="post" action={ "/users/" (u.id) "/delete" } data-testid="delete-user" {
                    (csrf_field(user))
                    button.danger type="submit" { "Delete " (u.name) "…" }
                }
            }
        }
    }
}

/// Till user `id`'s page; 400 when a form is sent back with its refusal.
async fn render_edit(
    state: &AppState,
    user: WebUser,
    id: UserId,
    st: EditState,
) -> Result<Response, WebError> {
    let (u, zone) = db(state, move |conn, _| {
        Ok((live_user(conn, id)?, business_zone(conn)?))
    })
    .await?;
    let status = if st.edit_error.is_some() || st.pin_error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let title = format!("Till user {}", u.name);
    let body = edit_page(&user, &u, zone, &st);
    Ok(page::render_status(status, &user, Nav::Users, &title, body))
}

/// `GET /users/{id}`.
async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    user: WebUser,
) -> Result<Response, WebError> {
    let id = page::path_id(&id, NO_SUCH_USER)?;
    render_edit(&state, user, id, EditState::default()).await
}

/// `POST /users/{id}`: name, role, active.
async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<EditForm>,
) -> Result<Response, WebError> {
    let Posted { user, form } = posted;
    let id = page::path_id(&id, NO_SUCH_USER)?;
    match save_user(&state, &user, id, &form).await {
        Ok(true) => Ok(page::redirect_with_flash(
            "/users",
            "Till user saved; the tills get the change on their next sync.",
        )),
        Ok(false) => Ok(page::after_save(&format!("/users/{id}"), None)),
        Err(e) => render_edit(&state, user, id, EditState::edit(form, e.refusal()?)).await,
    }
}

/// Checks the edit form and saves what it changes; whether it changed
/// anything.
async fn save_user(
    state: &AppState,
    user: &WebUser,
    id: UserId,
    form: &EditForm,
) -> Result<bool, WebError> {
    check_manageable(state, user, id, "change").await?;
    let name = parse_name(&form.name)?;
    let role = parse_role(&form.role)?;
    require_manage(user, role, "make users")?;
    let active = form.active.is_some();
    let who = user.clone();
    db(state, move |conn, clock| {
        let u = manageable(conn, &who, id, "change")?;
        let patch = UserPatch {
            name: (name.as_str() != u.name).then_some(name),
            role: (role != u.role).then_some(role),
            active: (active != u.active).then_some(active),
            ..UserPatch::new(id)
        };
        if patch.name.is_none() && patch.role.is_none() && patch.active.is_none() {
            return Ok(false);
        }
        if let Some(n) = &patch.name {
            check_name_free(conn, n, Some(id))?;
        }
        if patch.role.is_some() {
            guard_last_owner(conn, &u, "the role", "made a cashier or manager")?;
        }
        if patch.active == Some(false) {
            guard_last_owner(conn, &u, "active", "turned off")?;
        }
        let mut changed = Vec::new();
        if let Some(n) = &patch.name {
            changed.push(format!("name {n}"));
        }
        if let Some(r) = patch.role {
            changed.push(format!("role {}", r.as_str()));
        }
        if let Some(a) = patch.active {
            changed.push(if a { "activated" } else { "deactivated" }.to_string());
        }
        let body = OpBody::UserChanged(patch);
        let detail = changed.join(", ");
        write::apply_one(conn, clock.now(), &who, body, "till_user.update", detail)?;
        Ok(true)
    })
    .await
}

/// `POST /users/{id}/pin`: a new PIN, typed twice.
async fn reset_pin(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<PinForm>,
) -> Result<Response, WebError> {
    let Posted { user, form } = posted;
    let id = page::path_id(&id, NO_SUCH_USER)?;
    let current = check_manageable(&state, &user, id, "reset the PIN of").await?;
    let pin = match parse_new_pin(&form.pin, &form.pin_again) {
        Ok(p) => p,
        Err(e) => {
            let st = EditState {
                pin_error: Some(e.refusal()?),
                ..EditState::default()
            };
            return render_edit(&state, user, id, st).await;
        }
    };
    let pin_hash = hash_pin(pin).await?;
    let who = user.clone();
    db(&state, move |conn, clock| {
        // The role may have changed since it was checked above.
        manageable(conn, &who, id, "reset the PIN of")?;
        let body = OpBody::UserChanged(UserPatch {
            pin_hash: Some(pin_hash),
            ..UserPatch::new(id)
        });
        let detail = "PIN reset".to_string();
        write::apply_one(conn, clock.now(), &who, body, "till_user.pin_reset", detail)
    })
    .await?;
    Ok(page::redirect_with_flash(
        "/users",
        &format!(
            "{}'s PIN was reset; the tills get it on their next sync.",
            current.name
        ),
    ))
}

/// Live till user `id`, if `user` may delete it and it is not the last
/// active owner.
fn deletable(conn: &Connection, user: &WebUser, id: UserId) -> Result<TillUser, WebError> {
    let u = manageable(conn, user, id, "delete")?;
    guard_last_owner(conn, &u, "delete", "deleted")?;
    Ok(u)
}

/// `POST /users/{id}/delete`: first a page saying what deleting does (or
/// why it cannot be done), then (with `confirm=yes`) a tombstone.
async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<std::collections::HashMap<String, String>>,
) -> Result<Response, WebError> {
    let Posted { user, form } = posted;
    let confirmed = page::is_confirmed(&form);
    let id = page::path_id(&id, NO_SUCH_USER)?;
    let current = check_manageable(&state, &user, id, "delete").await?;
    let who = user.clone();
    let result = db(&state, move |conn, clock| {
        let u = deletable(conn, &who, id)?;
        if !confirmed {
            return Ok(Some(u));
        }
        let now = clock.now();
        let body = OpBody::UserDeleted(Tombstone {
            id,
            deleted_at: now,
        });
        let detail = format!("deleted {}", u.name);
        write::apply_one(conn, now, &who, body, "till_user.delete", detail)?;
        Ok(None)
    })
    .await;
    match result {
        Ok(Some(u)) => Ok(confirm_delete(&user, &u)),
        Ok(None) => Ok(page::redirect_with_flash(
            "/users",
            &format!("Till user {} deleted.", current.name),
        )),
        Err(e) => {
            let st = EditState {
                edit_error: Some(e.refusal()?),
                ..EditState::default()
            };
            render_edit(&state, user, id, st).await
        }
    }
}

/// The page asking before a till user is deleted.
fn confirm_delete(user: &WebUser, u: &TillUser) -> Response {
    let question = format!("Delete {} ({})?", u.name, role_label(u.role).to_lowercase());
    let action = format!("/users/{}/delete", u.id);
    let cancel = format!("/users/{}", u.id);
    page::confirm_page(
        user,
        Nav::Users,
        page::Confirm {
            title: "Delete a till user?",
            question: &question,
            what_happens: html! {
                p { (u.name) " can no longer sign in at any till once it has synced (on its next sync); "
                    "a till that has not synced yet still accepts their PIN until then." }
                p { "Their name stays on the receipts and sales they made." }
                p { "This cannot be undone. To let them sign in again, add them as a new till user with a new PIN." }
            },
            action_url: &action,
            hidden: &[],
            confirm_label: "Delete the till user",
            testid: None,
            cancel_url: &cancel,
        },
    )
}
