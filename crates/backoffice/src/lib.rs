//! WHIZ POS Back Office: the central sync hub for every branch and device.
//!
//! Map:
//! - [`router`] and [`serve`]: the HTTP server (axum) with its limits,
//!   JSON errors and graceful shutdown.
//! - [`sync`]: `GET /api/status`, `POST /api/sync` (push), `GET /api/sync` (pull).
//! - [`full_sync`]: `POST /api/sync/full` (Full Cloud Synchronization:
//!   preview, apply chunks, finish) and the restorable versions it keeps.
//! - [`apply`]: what each pushed op does to the server's tables (append-only
//!   facts, last writer wins per field, tombstones) and the changes it records.
//! - [`changes`]: the change feed devices pull, in commit order.
//! - [`customer_merge`]: one customer created at two branches becomes one
//!   (aliases; balances resolve them).
//! - [`customer_history`]: `GET /api/customers/{id}/history` (a customer's
//!   sales and account at every branch, read-only).
//! - [`mobile`]: `GET /api/products` and `POST /api/transaction` (mobile API).
//! - [`rate_limit`]: the per-key token bucket (429 `rate_limited`).
//! - [`auth`]: the `Authorization: Bearer` device extractor.
//! - [`devices`]: devices, branches and API keys (the CLI's `device` commands).
//! - [`db`] and [`schema`]: opening, pragmas, migrations, the epoch.
//! - [`state`]: the shared state (config, clock, the one connection).
//! - [`error`]: [`ApiError`], every non-2xx answer.
//! - [`web`]: the web dashboard (sign-in, pages, forms) for owners and
//!   managers, on the same server.
//!
//! See ARCHITECTURE.md (Back Office) and docs/sync-protocol.md.

pub mod apply;
pub mod auth;
pub mod changes;
pub mod customer_history;
pub mod customer_merge;
pub mod db;
pub mod devices;
pub mod error;
pub mod full_sync;
pub mod mobile;
pub mod openapi;
pub mod rate_limit;
pub mod schema;
pub mod state;
pub mod sync;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use state::AppState;

/// How the server runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: PathBuf,
    /// The largest request body accepted; larger ones get 413.
    pub max_body_bytes: usize,
    /// A request still running after this long is answered 503 (an op
    /// applied in the meantime is answered `duplicate` on the retry).
    pub request_timeout: Duration,
    /// Op clocks more than this far ahead of the server's are clamped.
    pub max_clock_ahead_ms: u64,
    /// Requests per API key; `None` turns rate limiting off.
    pub rate_limit: Option<rate_limit::RateLimit>,
}

/// Port 5000 on every interface.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:5000";
/// The database file in the working directory.
pub const DEFAULT_DATABASE: &str = "whiz-backoffice.sqlite3";

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([0, 0, 0, 0], 5000)),
            database: PathBuf::from(DEFAULT_DATABASE),
            // 500 ops of large sales fit; a till pushes pages of its outbox.
            max_body_bytes: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            max_clock_ahead_ms: 300_000,
            rate_limit: Some(rate_limit::RateLimit::default()),
        }
    }
}

/// The API's routes, limits and error answers over `state`.
pub fn router(state: AppState) -> Router {
    let limit = state.config().max_body_bytes;
    Router::new()
        .route("/api/status", get(sync::status))
        .route("/api/device", get(sync::device))
        .route("/api/sync", get(sync::pull).post(sync::push))
        .route("/api/sync/full", axum::routing::post(full_sync::full))
        .route("/api/openapi.json", get(openapi::document))
        // The mobile API and per-key rate limiting (`mobile`, `rate_limit`).
        .route("/api/products", get(mobile::products))
        .route("/api/transaction", axum::routing::post(mobile::transaction))
        // Cross-branch customer history, read-only (`customer_history`).
        .route(
            "/api/customers/{id}/history",
            get(customer_history::history),
        )
        .layer(middleware::from_fn_with_state(
            rate_limit::Limits::new(&state),
            rate_limit::limit,
        ))
        .merge(web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// An unknown path: a JSON error under `/api/`, a page for a browser
/// everywhere else.
async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return ApiError::not_found(format!(
            "there is no {} here; the sync API is GET /api/status, POST /api/sync and GET /api/sync",
            uri.path()
        ))
        .into_response();
    }
    web::WebError::not_found(format!(
        "there is no page {} in the Back Office; use the menu on the left",
        uri.path()
    ))
    .into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return ApiError::bad_request(format!(
            "{method} is not allowed on {}; see docs/sync-protocol.md for the methods of each path",
            uri.path()
        ))
        .into_response();
    }
    web::WebError::bad(format!(
        "{method} is not how {} is used; open it from the Back Office's menu",
        uri.path()
    ))
    .into_response()
}

/// Answers 503 in JSON when a request runs longer than the configured time.
async fn time_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config().request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::unavailable(format!(
            "the server did not finish within {} s; retry (ops it applied meanwhile are answered duplicate)",
            limit.as_secs()
        ))
        .into_response(),
    }
}

/// Serves the API on `listener` until `shutdown` completes, then lets the
/// requests in flight finish. Checkpoints the database's log in the
/// background meanwhile ([`db::checkpoint_loop`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let checkpoints = state
        .database_file()
        .map(|path| tokio::spawn(db::checkpoint_loop(state.clone(), path)));
    // The peer address reaches handlers (the dashboard's sign-in limit).
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    if let Some(task) = checkpoints {
        task.abort();
    }
    served
}
