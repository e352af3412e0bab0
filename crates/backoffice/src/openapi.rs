//! `GET /api/openapi.json`: the OpenAPI 3.1 document of the whole HTTP API.
//!
//! The document is hand-written (`docs/openapi.json`) and embedded at build
//! time, so the served copy is always the one in the repository. It needs no
//! key. `tests/openapi.rs` checks that every route the router serves is in it,
//! that every documented path answers, and that real messages validate
//! against its schemas.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// The document, as committed in `docs/openapi.json`.
pub const DOCUMENT: &str = include_str!("../../../docs/openapi.json");

/// Serves [`DOCUMENT`] as `application/json`.
pub async fn document() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT)
}
