//! The Back Office web dashboard: server-rendered pages (maud) served by the
//! same axum server as the sync API, for owners and managers in a browser.
//!
//! Map:
//! - [`session`]: accounts, sign-in and sign-out, sessions, CSRF, limits;
//!   the [`WebUser`], [`Posted`] and [`PostedMultipart`] extractors.
//! - [`page`]: the layout and navigation, [`WebError`], redirects and flash.
//! - [`write`]: every dashboard change, applied as a sync op
//!   ([`crate::apply::apply_op`]) so tills pull it like any other.
//! - [`fmt`]: showing and parsing money, quantities, dates and text.
//! - Pages: [`dashboard`] (`/`), [`catalog`] (`/products`, `/categories`,
//!   stock: restock, adjust, and a one-line transfer), [`transfers`]
//!   (`/transfers` filtered by branch and state, `/transfers/new` to send,
//!   `/transfers/{id}` with its lines and the receive form,
//!   `/transfers/{id}/receive`), [`sales`] (`/sales`, CSV), [`customers`],
//!   [`expenses`], [`reports`] (`/reports`: sales, expenses and stock side by
//!   side, a column per branch and one for all), [`till_users`] (`/users`),
//!   [`business`] (`/branches` with each branch's and till's last successful
//!   push and pull, a branch quiet for 24 h flagged; `/settings`),
//!   [`devices`] (`/devices`: keys and QR codes), [`sync_log`]
//!   (`/sync-log`, `/sync-exceptions`).
//! - Stock transfers are written as the branch they belong to: the sending
//!   branch's `transfer_sent`, the receiving branch's `transfer_received`
//!   ([`write::apply_for`]), so [`crate::apply`]'s branch checks hold for the
//!   dashboard as for a till.
//!
//! Every page needs a signed-in account; every change is a POST with the
//! session's CSRF token and answers with a redirect (or the form again, with
//! a message naming the bad field and status 400, having changed nothing).

pub mod business;
pub mod catalog;
pub mod customers;
pub mod dashboard;
pub mod devices;
pub mod expenses;
pub mod fmt;
pub mod page;
pub mod reports;
pub mod sales;
pub mod session;
pub mod sync_log;
pub mod till_users;
pub mod transfers;
pub mod write;

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pos_domain::Clock;
use rusqlite::Connection;

pub use page::{Nav, WebError};
pub use session::{Posted, PostedMultipart, Role, WebUser};

use crate::state::AppState;

/// The dashboard's routes (merged into [`crate::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", axum::routing::post(session::logout))
        .route("/assets/app.css", get(stylesheet))
        .merge(dashboard::routes())
        .merge(catalog::routes())
        .merge(transfers::routes())
        .merge(sales::routes())
        .merge(customers::routes())
        .merge(expenses::routes())
        .merge(reports::routes())
        .merge(till_users::routes())
        .merge(business::routes())
        .merge(devices::routes())
        .merge(sync_log::routes())
}

/// Runs `f` with the database on the blocking pool, like [`AppState::db`],
/// with the dashboard's error type.
pub async fn db<T, F>(state: &AppState, f: F) -> Result<T, WebError>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection, &dyn Clock) -> Result<T, WebError> + Send + 'static,
{
    state.db(move |conn, clock| Ok(f(conn, clock))).await?
}

const STYLESHEET: &str = include_str!("app.css");

async fn stylesheet() -> Response {
    let mut res = STYLESHEET.into_response();
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    res.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}
