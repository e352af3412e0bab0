//! Signing in to the dashboard: accounts, sessions, CSRF and sign-in limits.
//!
//! - **Accounts** (`web_users`) are owners and managers, made with
//!   `whiz-backoffice user add`; passwords are kept as argon2 hashes. There
//!   is no default account and no default password.
//! - **Sessions**: a random token in an `HttpOnly`, `SameSite=Lax` cookie
//!   (`Secure` when the request came over TLS, see [`is_tls`]); the server
//!   keeps only its SHA-256. A session ends after [`SESSION_IDLE_MS`] without
//!   use, after [`SESSION_MAX_MS`] in any case, and on sign-out.
//! - **CSRF**: every state-changing request is a POST carrying the session's
//!   token in `_csrf` ([`Posted`], [`PostedMultipart`]); the sign-in form
//!   uses a double-submit cookie. A cross-site `Origin` is refused too.
//! - **Sign-in limits**: [`MAX_FAILURES_PER_ACCOUNT`] failures for one
//!   username, or [`MAX_FAILURES_PER_ADDRESS`] from one address, within
//!   [`FAILURE_WINDOW_MS`] refuse further tries until the window passes.

use std::collections::HashMap;
use std::net::SocketAddr;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Multipart, Query, Request, State};
use axum::http::header::{CONTENT_TYPE, COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;
use pos_domain::{Clock, Timestamp};
use rand::RngCore;
use rand::rngs::OsRng;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::page::{self, WebError, decode_flash};
use crate::devices::hash_key;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "whiz_session";
pub const LOGIN_CSRF_COOKIE: &str = "whiz_login";
pub const FLASH_COOKIE: &str = "whiz_flash";

/// A session unused this long is over (8 hours: a working day).
pub const SESSION_IDLE_MS: i64 = 8 * 3_600_000;
/// A session is over this long after sign-in, used or not.
pub const SESSION_MAX_MS: i64 = 7 * 24 * 3_600_000;
/// `last_seen_at` is refreshed at most this often.
const SEEN_RESOLUTION_MS: i64 = 60_000;

pub const FAILURE_WINDOW_MS: i64 = 15 * 60_000;
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 200;

/// What a dashboard account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, including keys, branches, business settings.
    Owner,
    /// Day-to-day: products, stock, sales, customers, expenses, till users,
    /// the sync log.
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Manager => "Manager",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "manager" => Some(Role::Manager),
            _ => None,
        }
    }
}

// Accounts -------------------------------------------------------------------

/// A dashboard account as `user list` shows it. Never holds the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub name: String,
    pub role: Role,
    pub created_at: Timestamp,
    pub disabled_at: Option<Timestamp>,
}

/// Why an account command was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("the username must be 3 to 40 letters, digits or . _ @ - (got '{0}')")]
    BadUsername(String),
    #[error("the name cannot be empty or longer than 60 characters")]
    BadName,
    #[error(
        "the password must be at least {MIN_PASSWORD_CHARS} characters (and at most {MAX_PASSWORD_CHARS}), and not the username"
    )]
    WeakPassword,
    #[error("there is already an account '{0}'")]
    Taken(String),
    #[error("there is no account '{0}'; `whiz-backoffice user list` shows them")]
    NotFound(String),
    #[error("could not hash the password: {0}")]
    Hash(String),
    #[error("the Back Office database failed: {0}")]
    Db(#[from] rusqlite::Error),
}

fn check_username(username: &str) -> Result<String, AccountError> {
    let u = username.trim();
    let ok = (3..=40).contains(&u.chars().count())
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if ok {
        Ok(u.to_string())
    } else {
        Err(AccountError::BadUsername(username.to_string()))
    }
}

fn check_password(username: &str, password: &str) -> Result<(), AccountError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n)
        || password.trim().eq_ignore_ascii_case(username)
    {
        return Err(AccountError::WeakPassword);
    }
    Ok(())
}

fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// A hash of a password nobody has, so an unknown username costs the same
/// time to refuse as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password anyone has ✓").unwrap_or_default())
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Makes a dashboard account.
pub fn add_account(
    conn: &Connection,
    clock: &dyn Clock,
    username: &str,
    name: &str,
    role: Role,
    password: &str,
) -> Result<Account, AccountError> {
    let username = check_username(username)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(AccountError::BadName);
    }
    check_password(&username, password)?;
    let taken: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM web_users WHERE username = ?1 COLLATE NOCASE)",
        [&username],
        |r| r.get(0),
    )?;
    if taken {
        return Err(AccountError::Taken(username));
    }
    let hash = hash_password(password)?;
    let id = Uuid::now_v7().to_string();
    let now = clock.now();
    conn.execute(
        "INSERT INTO web_users (id, username, name, role, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, username, name, role.as_str(), hash, now.as_millis()],
    )?;
    Ok(Account {
        id,
        username,
        name: name.to_string(),
        role,
        created_at: now,
        disabled_at: None,
    })
}

/// Sets a new password and ends the account's sessions.
pub fn set_password(conn: &Connection, username: &str, password: &str) -> Result<(), AccountError> {
    let account = find_account(conn, username)?;
    check_password(&account.username, password)?;
    let hash = hash_password(password)?;
    conn.execute(
        "UPDATE web_users SET password_hash = ?2 WHERE id = ?1",
        params![account.id, hash],
    )?;
    conn.execute("DELETE FROM web_sessions WHERE user_id = ?1", [&account.id])?;
    Ok(())
}

/// Disables (or enables again) an account; disabling ends its sessions.
pub fn set_disabled(
    conn: &Connection,
    clock: &dyn Clock,
    username: &str,
    disabled: bool,
) -> Result<(), AccountError> {
    let account = find_account(conn, username)?;
    let at = disabled.then(|| clock.now().as_millis());
    conn.execute(
        "UPDATE web_users SET disabled_at = ?2 WHERE id = ?1",
        params![account.id, at],
    )?;
    if disabled {
        conn.execute("DELETE FROM web_sessions WHERE user_id = ?1", [&account.id])?;
    }
    Ok(())
}

const ACCOUNT_COLUMNS: &str = "id, username, name, role, created_at, disabled_at";

fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    let role: String = r.get(3)?;
    Ok(Account {
        id: r.get(0)?,
        username: r.get(1)?,
        name: r.get(2)?,
        role: Role::parse(&role).unwrap_or(Role::Manager),
        created_at: Timestamp::from_millis(r.get(4)?),
        disabled_at: r.get::<_, Option<i64>>(5)?.map(Timestamp::from_millis),
    })
}

pub fn find_account(conn: &Connection, username: &str) -> Result<Account, AccountError> {
    conn.query_row(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM web_users WHERE username = ?1 COLLATE NOCASE"),
        [username.trim()],
        account_row,
    )
    .optional()?
    .ok_or_else(|| AccountError::NotFound(username.to_string()))
}

pub fn list_accounts(conn: &Connection) -> Result<Vec<Account>, AccountError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM web_users ORDER BY username COLLATE NOCASE"
    ))?;
    let rows = stmt.query_map([], account_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

// Sessions -------------------------------------------------------------------

/// The signed-in person a dashboard request comes from.
#[derive(Debug, Clone)]
pub struct WebUser {
    pub id: String,
    pub username: String,
    pub name: String,
    pub role: Role,
    /// The session's CSRF token: every form sends it back as `_csrf`.
    pub csrf: String,
    /// A notice left by the previous request (shown once).
    pub flash: Option<String>,
}

fn random_token() -> Result<String, WebError> {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| WebError::internal(&e))?;
    Ok(hex::encode(bytes))
}

/// The cookies of a request, by name.
pub(crate) fn cookies(headers: &HeaderMap) -> HashMap<String, String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Whether the browser reached us over TLS: a proxy in front says so with
/// `X-Forwarded-Proto: https` (the Back Office itself speaks plain HTTP).
pub fn is_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn set_cookie(res: &mut Response, headers: &HeaderMap, name: &str, value: &str, max_age_s: i64) {
    let secure = if is_tls(headers) { "; Secure" } else { "" };
    let cookie =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(SET_COOKIE, v);
    }
}

/// The session named by a cookie token, if it is live; refreshes its
/// last-seen time.
fn session_user(
    conn: &Connection,
    token: &str,
    now: Timestamp,
) -> rusqlite::Result<Option<WebUser>> {
    let hash = hash_key(token);
    let found = conn
        .prepare_cached(
            "SELECT u.id, u.username, u.name, u.role, s.csrf, s.last_seen_at, s.created_at
             FROM web_sessions s JOIN web_users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled_at IS NULL",
        )?
        .query_row(params![hash, now.as_millis()], |r| {
            let role: String = r.get(3)?;
            Ok((
                WebUser {
                    id: r.get(0)?,
                    username: r.get(1)?,
                    name: r.get(2)?,
                    role: Role::parse(&role).unwrap_or(Role::Manager),
                    csrf: r.get(4)?,
                    flash: None,
                },
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .optional()?;
    let Some((user, seen, created)) = found else {
        return Ok(None);
    };
    if now.as_millis() - seen >= SEEN_RESOLUTION_MS {
        let expires = (now.as_millis() + SESSION_IDLE_MS).min(created + SESSION_MAX_MS);
        conn.prepare_cached(
            "UPDATE web_sessions SET last_seen_at = ?2, expires_at = ?3 WHERE token_hash = ?1",
        )?
        .execute(params![hash, now.as_millis(), expires])?;
    }
    Ok(Some(user))
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let jar = cookies(&parts.headers);
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let sign_in = || WebError::SignIn {
            next: if parts.method == Method::GET {
                next.clone()
            } else {
                String::new()
            },
        };
        let Some(token) = jar.get(SESSION_COOKIE).filter(|t| !t.is_empty()).cloned() else {
            return Err(sign_in());
        };
        let user = super::db(state, move |conn, clock| {
            Ok(session_user(conn, &token, clock.now())?)
        })
        .await?;
        let mut user = user.ok_or_else(sign_in)?;
        user.flash = jar.get(FLASH_COOKIE).and_then(|v| decode_flash(v));
        Ok(user)
    }
}

/// Constant-time comparison of two tokens.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Refuses a request whose `Origin` is another site: a browser always sends
/// `Origin` on a cross-site POST.
fn check_origin(headers: &HeaderMap) -> Result<(), WebError> {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
    if origin == "null" || origin_host != host {
        return Err(WebError::Forbidden(
            "this form was sent from another site, so it was refused; use the Back Office's own pages".into(),
        ));
    }
    Ok(())
}

const CSRF_REFUSED: &str = "this form has expired or did not come from this dashboard, so nothing was changed; reload the page and send it again";

/// A POSTed urlencoded form from a signed-in user whose CSRF token matched:
/// the only way a dashboard page changes anything.
#[derive(Debug)]
pub struct Posted<T> {
    pub user: WebUser,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Posted<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        let (mut parts, body) = req.into_parts();
        check_origin(&parts.headers)?;
        let user = WebUser::from_request_parts(&mut parts, state).await?;
        let urlencoded = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !urlencoded {
            return Err(WebError::bad(
                "send the form as application/x-www-form-urlencoded",
            ));
        }
        let req = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| WebError::bad(format!("the form could not be read: {}", e.body_text())))?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| WebError::bad(format!("the form could not be read: {e}")))?;
        let sent = fields
            .iter()
            .find(|(k, _)| k == "_csrf")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        if !same_token(sent, &user.csrf) {
            return Err(WebError::Forbidden(CSRF_REFUSED.into()));
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| WebError::bad(format!("the form is missing something: {e}")))?;
        Ok(Posted { user, form })
    }
}

/// A file sent with a multipart form.
#[derive(Debug, Clone)]
pub struct Upload {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A POSTed multipart form (one with a file) from a signed-in user whose
/// CSRF token matched. Text fields by name; files by field name (empty file
/// inputs are left out).
#[derive(Debug)]
pub struct PostedMultipart {
    pub user: WebUser,
    pub fields: HashMap<String, String>,
    pub files: HashMap<String, Upload>,
}

impl FromRequest<AppState> for PostedMultipart {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        let (mut parts, body) = req.into_parts();
        check_origin(&parts.headers)?;
        let user = WebUser::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let mut multipart = Multipart::from_request(req, state)
            .await
            .map_err(|e| WebError::bad(format!("the form could not be read: {}", e.body_text())))?;
        let (mut fields, mut files) = (HashMap::new(), HashMap::new());
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| WebError::bad(format!("the form could not be read: {}", e.body_text())))?
        {
            let name = field.name().unwrap_or("").to_string();
            let file_name = field.file_name().map(str::to_string);
            let content_type = field.content_type().unwrap_or("").to_string();
            let bytes = field.bytes().await.map_err(|e| {
                WebError::bad(format!("the form could not be read: {}", e.body_text()))
            })?;
            match file_name {
                Some(file_name) if !bytes.is_empty() => {
                    files.insert(
                        name,
                        Upload {
                            file_name,
                            content_type,
                            bytes: bytes.to_vec(),
                        },
                    );
                }
                Some(_) => {}
                None => {
                    fields.insert(name, String::from_utf8_lossy(&bytes).into_owned());
                }
            }
        }
        let sent = fields.get("_csrf").map(String::as_str).unwrap_or("");
        if !same_token(sent, &user.csrf) {
            return Err(WebError::Forbidden(CSRF_REFUSED.into()));
        }
        Ok(PostedMultipart {
            user,
            fields,
            files,
        })
    }
}

// Sign-in and sign-out ---------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
}

/// Only a path of this site may be a `next` (never `//evil.example`).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

fn login_page(
    status: StatusCode,
    token: &str,
    next: &str,
    username: &str,
    error: Option<&str>,
    no_accounts: bool,
) -> Response {
    page::bare(
        status,
        "Sign in",
        html! {
            h1 { "WHIZ POS Back Office" }
            p.muted { "Sign in as the business's owner or a manager." }
            (page::form_error(error))
            @if no_accounts {
                div.notice data-testid="no-accounts" {
                    "This Back Office has no accounts yet. On the server, run "
                    code { "whiz-backoffice user add --role owner <username>" }
                    " and choose a password; then sign in here."
                }
            }
            form method="post" action="/login" {
                input type="hidden" name="_csrf" value=(token);
                input type="hidden" name="next" value=(next);
                label { "Username"
                    input type="text" name="username" value=(username) autocomplete="username" required autofocus;
                }
                label { "Password"
                    input type="password" name="password" autocomplete="current-password" required;
                }
                button.primary type="submit" data-testid="login-submit" { "Sign in" }
            }
        },
    )
}

async fn no_accounts(state: &AppState) -> Result<bool, WebError> {
    super::db(state, |conn, _| {
        Ok(
            conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM web_users)", [], |r| {
                r.get(0)
            })?,
        )
    })
    .await
}

/// `GET /login`: the form, with a fresh double-submit CSRF cookie.
pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Result<Response, WebError> {
    let token = random_token()?;
    let next = safe_next(q.next.as_deref()).to_string();
    let empty = no_accounts(&state).await?;
    let mut res = login_page(StatusCode::OK, &token, &next, "", None, empty);
    set_cookie(&mut res, &headers, LOGIN_CSRF_COOKIE, &token, 3600);
    Ok(res)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    _csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// Where a request came from, for the per-address limit.
fn client_address(parts_ext: &axum::http::Extensions) -> String {
    parts_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

enum LoginOutcome {
    Ok { token: String },
    Wrong,
    Limited { minutes: i64 },
}

fn try_login(
    conn: &Connection,
    now: Timestamp,
    username: &str,
    password: &str,
    address: &str,
) -> Result<LoginOutcome, WebError> {
    let since = now.as_millis() - FAILURE_WINDOW_MS;
    let by_account: i64 = conn.query_row(
        "SELECT COUNT(*) FROM web_login_failures WHERE username = ?1 COLLATE NOCASE AND at > ?2",
        params![username, since],
        |r| r.get(0),
    )?;
    let by_address: i64 = conn.query_row(
        "SELECT COUNT(*) FROM web_login_failures WHERE address = ?1 AND at > ?2",
        params![address, since],
        |r| r.get(0),
    )?;
    if by_account >= MAX_FAILURES_PER_ACCOUNT || by_address >= MAX_FAILURES_PER_ADDRESS {
        let oldest: i64 = conn.query_row(
            "SELECT COALESCE(MIN(at), ?3) FROM web_login_failures
             WHERE (username = ?1 COLLATE NOCASE OR address = ?2) AND at > ?3",
            params![username, address, since],
            |r| r.get(0),
        )?;
        let wait = (oldest + FAILURE_WINDOW_MS - now.as_millis()).max(60_000);
        return Ok(LoginOutcome::Limited {
            minutes: (wait + 59_999) / 60_000,
        });
    }
    let found: Option<(String, String)> = conn
        .query_row(
            "SELECT id, password_hash FROM web_users
             WHERE username = ?1 COLLATE NOCASE AND disabled_at IS NULL",
            [username],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let ok = match &found {
        Some((_, hash)) => verify_password(hash, password),
        None => {
            let _ = verify_password(dummy_hash(), password);
            false
        }
    };
    let Some((user_id, _)) = found.filter(|_| ok) else {
        conn.execute(
            "INSERT INTO web_login_failures (username, address, at) VALUES (?1, ?2, ?3)",
            params![username, address, now.as_millis()],
        )?;
        conn.execute(
            "DELETE FROM web_login_failures WHERE at <= ?1",
            [since - FAILURE_WINDOW_MS],
        )?;
        return Ok(LoginOutcome::Wrong);
    };
    conn.execute(
        "DELETE FROM web_login_failures WHERE username = ?1 COLLATE NOCASE",
        [username],
    )?;
    conn.execute(
        "DELETE FROM web_sessions WHERE expires_at <= ?1",
        [now.as_millis()],
    )?;
    let token = random_token()?;
    let csrf = random_token()?;
    conn.execute(
        "INSERT INTO web_sessions (token_hash, user_id, csrf, created_at, last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
        params![
            hash_key(&token),
            user_id,
            csrf,
            now.as_millis(),
            now.as_millis() + SESSION_IDLE_MS
        ],
    )?;
    Ok(LoginOutcome::Ok { token })
}

/// `POST /login`.
pub async fn login(State(state): State<AppState>, req: Request) -> Result<Response, WebError> {
    let (parts, body) = req.into_parts();
    check_origin(&parts.headers)?;
    let address = client_address(&parts.extensions);
    let headers = parts.headers.clone();
    let jar = cookies(&headers);
    let bytes = Bytes::from_request(Request::from_parts(parts, body), &state)
        .await
        .map_err(|e| WebError::bad(format!("the form could not be read: {}", e.body_text())))?;
    let form: LoginForm = serde_urlencoded::from_bytes(&bytes)
        .map_err(|e| WebError::bad(format!("the form could not be read: {e}")))?;
    let next = safe_next(form.next.as_deref()).to_string();
    let expected = jar.get(LOGIN_CSRF_COOKIE).map(String::as_str).unwrap_or("");
    if expected.is_empty() || !same_token(&form._csrf, expected) {
        return Err(WebError::Forbidden(
            "the sign-in form expired or did not come from this Back Office; open the sign-in page again".into(),
        ));
    }
    let username = form.username.trim().to_string();
    let password = form.password;
    let again = |status, message: &str| {
        let mut res = login_page(status, expected, &next, &username, Some(message), false);
        set_cookie(&mut res, &headers, LOGIN_CSRF_COOKIE, expected, 3600);
        res
    };
    if username.is_empty() || password.is_empty() {
        return Ok(again(
            StatusCode::BAD_REQUEST,
            "enter your username and your password",
        ));
    }
    let user = username.clone();
    let outcome = super::db(&state, move |conn, clock| {
        try_login(conn, clock.now(), &user, &password, &address)
    })
    .await?;
    match outcome {
        LoginOutcome::Ok { token } => {
            tracing::info!(username = %username, "dashboard sign-in");
            let mut res = page::redirect(&next);
            set_cookie(
                &mut res,
                &headers,
                SESSION_COOKIE,
                &token,
                SESSION_MAX_MS / 1000,
            );
            page::clear_cookie(&mut res, LOGIN_CSRF_COOKIE);
            Ok(res)
        }
        LoginOutcome::Wrong => {
            tracing::warn!(username = %username, "dashboard sign-in failed");
            Ok(again(
                StatusCode::UNAUTHORIZED,
                "that username and password do not match an account",
            ))
        }
        LoginOutcome::Limited { minutes } => Ok(again(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "too many failed sign-ins for this account or from this computer; try again in {minutes} minute{}",
                if minutes == 1 { "" } else { "s" }
            ),
        )),
    }
}

/// `POST /logout`: ends the session (CSRF-checked, so no other site can sign
/// you out).
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    posted: Posted<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let _ = posted;
    if let Some(token) = cookies(&headers).get(SESSION_COOKIE).cloned() {
        super::db(&state, move |conn, _| {
            conn.execute(
                "DELETE FROM web_sessions WHERE token_hash = ?1",
                [hash_key(&token)],
            )?;
            Ok(())
        })
        .await?;
    }
    let mut res = page::redirect("/login");
    page::clear_cookie(&mut res, SESSION_COOKIE);
    Ok(res.into_response())
}
