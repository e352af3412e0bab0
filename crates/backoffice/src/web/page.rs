//! The dashboard's page frame and answers: the layout with its navigation,
//! errors as HTML pages, redirects with a one-time notice ("flash"), and the
//! small pieces every form uses (the CSRF field, the error box).

use axum::http::header::{CACHE_CONTROL, LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::session::{FLASH_COOKIE, Role, WebUser};
use crate::error::ApiError;

/// The sections in the navigation, in order; a page says which it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dashboard,
    Products,
    Categories,
    Transfers,
    Sales,
    Customers,
    Expenses,
    Reports,
    Users,
    Branches,
    Devices,
    Settings,
    SyncLog,
    SyncExceptions,
}

impl Nav {
    /// In menu order: each group's links together.
    const ALL: [Nav; 14] = [
        Nav::Dashboard,
        Nav::Sales,
        Nav::Customers,
        Nav::Expenses,
        Nav::Reports,
        Nav::Products,
        Nav::Categories,
        Nav::Transfers,
        Nav::Users,
        Nav::Branches,
        Nav::Devices,
        Nav::Settings,
        Nav::SyncLog,
        Nav::SyncExceptions,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Nav::Dashboard => "/",
            Nav::Products => "/products",
            Nav::Categories => "/categories",
            Nav::Transfers => "/transfers",
            Nav::Reports => "/reports",
            Nav::Sales => "/sales",
            Nav::Customers => "/customers",
            Nav::Expenses => "/expenses",
            Nav::Users => "/users",
            Nav::Branches => "/branches",
            Nav::Devices => "/devices",
            Nav::Settings => "/settings",
            Nav::SyncLog => "/sync-log",
            Nav::SyncExceptions => "/sync-exceptions",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Nav::Dashboard => "Dashboard",
            Nav::Products => "Products & stock",
            Nav::Categories => "Categories",
            Nav::Transfers => "Stock transfers",
            Nav::Reports => "Branch reports",
            Nav::Sales => "Sales",
            Nav::Customers => "Credit customers",
            Nav::Expenses => "Expenses",
            Nav::Users => "Till users",
            Nav::Branches => "Branches",
            Nav::Devices => "Connected devices",
            Nav::Settings => "Business settings",
            Nav::SyncLog => "Sync log",
            Nav::SyncExceptions => "Sync exceptions",
        }
    }

    /// `nav-<this>` is the link's test id.
    pub fn testid(self) -> &'static str {
        match self {
            Nav::Dashboard => "dashboard",
            other => other.path().trim_start_matches('/'),
        }
    }

    /// The group heading the link sits under (groups are contiguous in
    /// [`Nav::ALL`]).
    fn group(self) -> &'static str {
        match self {
            Nav::Dashboard | Nav::Sales | Nav::Customers | Nav::Expenses | Nav::Reports => {
                "Business"
            }
            Nav::Products | Nav::Categories | Nav::Transfers => "Inventory",
            Nav::Users | Nav::Branches | Nav::Devices | Nav::Settings => "Settings",
            Nav::SyncLog | Nav::SyncExceptions => "Sync",
        }
    }
}

/// A whole page for a signed-in user, answered 200.
pub fn render(user: &WebUser, nav: Nav, title: &str, body: Markup) -> Response {
    render_status(StatusCode::OK, user, nav, title, body)
}

/// A whole page with another status: 400 for a form sent back with an error.
pub fn render_status(
    status: StatusCode,
    user: &WebUser,
    nav: Nav,
    title: &str,
    body: Markup,
) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                div.frame {
                    nav.side {
                        a.brand href="/" { "WHIZ POS" span { "Back Office" } }
                        @for (i, item) in Nav::ALL.iter().enumerate() {
                            @if i == 0 || Nav::ALL[i - 1].group() != item.group() {
                                div.group { (item.group()) }
                            }
                            a href=(item.path()) class=[(*item == nav).then_some("active")]
                              data-testid={ "nav-" (item.testid()) } { (item.label()) }
                        }
                    }
                    div.main {
                        header.top {
                            h1 { (title) }
                            div.who {
                                span data-testid="signed-in-as" { (user.name) " · " (user.role.label()) }
                                form method="post" action="/logout" {
                                    (csrf_field(user))
                                    button.link type="submit" data-testid="logout" { "Sign out" }
                                }
                            }
                        }
                        @if let Some(flash) = &user.flash {
                            div.flash role="status" data-testid="flash" { (flash) }
                        }
                        main { (body) }
                    }
                }
            }
        }
    };
    let mut res = (status, Html(markup.into_string())).into_response();
    no_store(&mut res);
    if user.flash.is_some() {
        clear_cookie(&mut res, FLASH_COOKIE);
    }
    res
}

/// A page outside the frame (sign-in, errors before sign-in).
pub fn bare(status: StatusCode, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare { main.card { (body) } }
        }
    };
    let mut res = (status, Html(markup.into_string())).into_response();
    no_store(&mut res);
    res
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · WHIZ POS Back Office" }
            link rel="stylesheet" href="/assets/app.css";
        }
    }
}

/// The hidden field every form posts: the session's CSRF token.
pub fn csrf_field(user: &WebUser) -> Markup {
    html! { input type="hidden" name="_csrf" value=(user.csrf); }
}

/// The box a form shows above itself when it was sent back.
pub fn form_error(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            div.error role="alert" data-testid="form-error" { (m) }
        }
    }
}

/// The field a confirmation page posts back: a destructive action changes
/// something only when the form holds `confirm=yes`.
pub const CONFIRM_FIELD: &str = "confirm";

/// Whether a posted form confirmed its destructive action (`confirm=yes`).
pub fn is_confirmed(form: &std::collections::HashMap<String, String>) -> bool {
    form.get(CONFIRM_FIELD).is_some_and(|v| v == "yes")
}

/// What a confirmation page asks before a destructive action (deleting,
/// retiring, revoking): the first POST of such an action changes nothing
/// and answers [`confirm_page`], whose button posts again with
/// `confirm=yes`.
#[derive(Debug)]
pub struct Confirm<'a> {
    /// The page's title, e.g. "Delete a product?".
    pub title: &'a str,
    /// The question above the explanation, e.g. "Delete Chai?".
    pub question: &'a str,
    /// What happens, said plainly (paragraphs).
    pub what_happens: Markup,
    /// Where the confirm button posts (the action's own URL).
    pub action_url: &'a str,
    /// Fields the action needs besides the CSRF token and `confirm=yes`.
    pub hidden: &'a [(&'a str, &'a str)],
    /// The confirm button's text, e.g. "Delete the product".
    pub confirm_label: &'a str,
    /// The test ids' prefix: `None` marks the button `confirm`, the Cancel
    /// link `confirm-cancel` and the explanation `confirm-explain`;
    /// `Some("device-revoke")` gives `device-revoke-confirm`,
    /// `device-revoke-cancel` and `device-revoke-explain`.
    pub testid: Option<&'a str>,
    /// Where Cancel goes (a GET: nothing changes).
    pub cancel_url: &'a str,
}

/// The page asking to confirm a destructive action (200): what happens,
/// and a form posting to the action again with the CSRF token, `hidden`
/// and `confirm=yes`, next to a Cancel link.
pub fn confirm_page(user: &WebUser, nav: Nav, c: Confirm<'_>) -> Response {
    let id = |what: &str| match c.testid {
        Some(prefix) => format!("{prefix}-{what}"),
        None if what == "confirm" => what.to_string(),
        None => format!("confirm-{what}"),
    };
    let body = html! {
        h2 { (c.question) }
        div.notice data-testid=(id("explain")) { (c.what_happens) }
        form.inline method="post" action=(c.action_url) {
            (csrf_field(user))
            @for (name, value) in c.hidden {
                input type="hidden" name=(name) value=(value);
            }
            input type="hidden" name=(CONFIRM_FIELD) value="yes";
            button.danger type="submit" data-testid=(id("confirm")) { (c.confirm_label) }
            a.button href=(c.cancel_url) data-testid=(id("cancel")) { "Cancel" }
        }
    };
    render(user, nav, c.title, body)
}

/// A 303 to `to` (after a POST, so a reload does not post again).
pub fn redirect(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(LOCATION, v);
    }
    res
}

/// A 303 to `to` whose page then shows `message` once.
pub fn redirect_with_flash(to: &str, message: &str) -> Response {
    let mut res = redirect(to);
    let value = format!(
        "{FLASH_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60",
        URL_SAFE_NO_PAD.encode(message.as_bytes())
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.headers_mut().append(SET_COOKIE, v);
    }
    res
}

/// An id from the URL's path: text that is no id names nothing, so it is
/// not found (404 with `not_found`), like an id no record has.
pub fn path_id<T: std::str::FromStr>(
    text: &str,
    not_found: impl Into<String>,
) -> Result<T, WebError> {
    text.parse()
        .map_err(|_| WebError::NotFound(not_found.into()))
}

/// The answer to a form that saves: a 303 to `to` showing what was saved,
/// or "Nothing to change." when the form matched what is stored (`None`).
pub fn after_save(to: &str, saved: Option<&str>) -> Response {
    redirect_with_flash(to, saved.unwrap_or("Nothing to change."))
}

/// Decodes a flash cookie's value.
pub(crate) fn decode_flash(value: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
    String::from_utf8(bytes).ok().filter(|s| !s.is_empty())
}

pub(crate) fn clear_cookie(res: &mut Response, name: &str) {
    let value = format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.headers_mut().append(SET_COOKIE, v);
    }
}

/// Pages show money and people's data: browsers and proxies keep no copy,
/// no other site may frame them (clickjacking), no script runs (so injected
/// markup could not act), and links to other sites are not told which page
/// they came from.
fn no_store(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // No page runs a script; product pictures are data: URIs.
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
             script-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
}

/// Why a dashboard request was not done. Every variant changes nothing.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No session (or it expired): go to the sign-in page, then back.
    #[error("sign in first")]
    SignIn { next: String },
    /// Signed in, but the role may not do this, or the form is forged.
    #[error("{0}")]
    Forbidden(String),
    /// The input is wrong; the message says which field and why.
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    NotFound(String),
    /// The server failed (logged); the user is told to retry.
    #[error("the Back Office failed")]
    Internal,
}

impl WebError {
    pub fn bad(message: impl Into<String>) -> WebError {
        WebError::BadInput(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> WebError {
        WebError::NotFound(message.into())
    }

    /// The message of refused input, for the form to be shown again with it
    /// (status 400); any other error as it is, to be answered with its page.
    pub fn refusal(self) -> Result<String, WebError> {
        match self {
            WebError::BadInput(m) => Ok(m),
            e => Err(e),
        }
    }

    pub fn internal(cause: &dyn std::fmt::Display) -> WebError {
        tracing::error!(error = %cause, "dashboard: internal error");
        WebError::Internal
    }

    /// The owner-only check of settings pages.
    pub fn require_owner(user: &WebUser) -> Result<(), WebError> {
        match user.role {
            Role::Owner => Ok(()),
            Role::Manager => Err(WebError::Forbidden(
                "only an owner may do this; ask the business's owner to sign in".into(),
            )),
        }
    }
}

impl From<rusqlite::Error> for WebError {
    fn from(e: rusqlite::Error) -> WebError {
        WebError::internal(&e)
    }
}

impl From<tokio::task::JoinError> for WebError {
    fn from(e: tokio::task::JoinError) -> WebError {
        WebError::internal(&e)
    }
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> WebError {
        use sync_protocol::ErrorCode as C;
        match e.code {
            C::BadRequest | C::Conflict | C::PayloadTooLarge => WebError::BadInput(e.message),
            C::NotFound => WebError::NotFound(e.message),
            C::Forbidden | C::Unauthorized => WebError::Forbidden(e.message),
            _ => WebError::Internal,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            WebError::SignIn { next } => {
                let to = if next.is_empty() || next == "/" {
                    "/login".to_string()
                } else {
                    format!(
                        "/login?next={}",
                        serde_urlencoded::to_string([("n", next.as_str())])
                            .map(|s| s.trim_start_matches("n=").to_string())
                            .unwrap_or_default()
                    )
                };
                return redirect(&to);
            }
            WebError::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m),
            WebError::BadInput(m) => (StatusCode::BAD_REQUEST, "That did not work", m),
            WebError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m),
            WebError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The Back Office failed",
                "Nothing was changed. Try again in a moment; the server's log has the details."
                    .to_string(),
            ),
        };
        bare(
            status,
            title,
            html! {
                h1 { (title) }
                div.error role="alert" data-testid="form-error" { (message) }
                @if status == StatusCode::BAD_REQUEST {
                    p { "Use your browser's Back button to return to the form; what you typed is still there." }
                }
                p { a href="/" { "Dashboard" } }
            },
        )
    }
}

/// Marks markup the server rendered itself (an SVG chart or QR code) as
/// safe to embed. Never for text a user or device sent.
pub fn trusted_svg(svg: String) -> PreEscaped<String> {
    PreEscaped(svg)
}

#[cfg(test)]
mod tests {
    use super::Nav;

    #[test]
    fn each_menu_group_is_one_run_of_links() {
        let mut seen: Vec<&str> = Vec::new();
        for (i, item) in Nav::ALL.iter().enumerate() {
            if i == 0 || Nav::ALL[i - 1].group() != item.group() {
                assert!(!seen.contains(&item.group()), "{} twice", item.group());
                seen.push(item.group());
            }
        }
        assert_eq!(seen, ["Business", "Inventory", "Settings", "Sync"]);
    }
}
