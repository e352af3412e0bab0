//! Device authentication: `Authorization: Bearer whiz_…`.
//!
//! No key or an unknown key is 401; a revoked key is 403. A good key marks
//! the device as seen (to the minute). Keys are compared by their SHA-256, looked up through
//! a UNIQUE index, so the key itself is never stored or logged.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use pos_domain::{BranchId, DeviceId};
use rusqlite::{OptionalExtension, params};

use crate::devices::{KEY_PREFIX, hash_key, parse_col};
use crate::error::ApiError;
use crate::state::AppState;

/// The device a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthDevice {
    pub id: DeviceId,
    pub branch_id: BranchId,
    pub code: String,
    pub name: String,
}

/// How fresh `last_seen_at` is kept.
pub const SEEN_RESOLUTION_MS: i64 = 60_000;

const HOW: &str = "send the device's API key as `Authorization: Bearer whiz_…`; an owner creates one with `whiz-backoffice device add` (Back Office > Settings > Connected Devices)";

impl FromRequestParts<AppState> for AuthDevice {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized(format!("no API key: {HOW}")))?;
        let key = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| k.starts_with(KEY_PREFIX))
            .ok_or_else(|| {
                ApiError::unauthorized(format!(
                    "the Authorization header is not a WHIZ API key: {HOW}"
                ))
            })?;
        let hash = hash_key(key);
        state
            .db(move |conn, clock| {
                let found = conn
                    .prepare_cached(
                        "SELECT id, branch_id, code, name, revoked_at FROM devices WHERE key_hash = ?1",
                    )?
                    .query_row([&hash], |r| {
                        Ok((
                            AuthDevice {
                                id: parse_col(r, 0)?,
                                branch_id: parse_col(r, 1)?,
                                code: r.get(2)?,
                                name: r.get(3)?,
                            },
                            r.get::<_, Option<i64>>(4)?,
                        ))
                    })
                    .optional()?;
                let Some((device, revoked)) = found else {
                    return Err(ApiError::unauthorized(format!(
                        "this API key is not known to this Back Office: {HOW}"
                    )));
                };
                if revoked.is_some() {
                    return Err(ApiError::forbidden(format!(
                        "the key of device '{}' has been revoked; ask the owner for a new key",
                        device.name
                    )));
                }
                // At most one write a minute per device: each commit is synced.
                conn.prepare_cached(
                    "UPDATE devices SET last_seen_at = ?2
                     WHERE id = ?1 AND (last_seen_at IS NULL OR last_seen_at <= ?2 - ?3)",
                )?
                .execute(params![
                    device.id.to_string(),
                    clock.now().as_millis(),
                    SEEN_RESOLUTION_MS
                ])?;
                Ok(device)
            })
            .await
    }
}
