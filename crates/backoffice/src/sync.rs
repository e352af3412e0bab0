//! The sync endpoints: `GET /api/status`, `POST /api/sync` (push) and
//! `GET /api/sync` (pull). The exchange is documented in
//! `docs/sync-protocol.md`.
//!
//! A push is one immediate transaction: every new op gets a SAVEPOINT, its
//! `applied_ops` row first (so a replay can never apply twice), then its
//! effects. A rejected op rolls back to its savepoint, is recorded as
//! rejected (it still uses up its sequence number) and the batch goes on.
//! Nothing is visible until the commit, so a crash mid-push leaves nothing
//! and the device's retry applies everything.

use std::time::Instant;

use axum::Json;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use pos_domain::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::de::DeserializeOwned;
use sync_protocol::{
    Cursor, MAX_PULL_LIMIT, MAX_PUSH_OPS, OpEnvelope, OpOutcome, OpResult, PROTOCOL_VERSION,
    PullQuery, PushRequest, PushResponse, RejectCode, StatusResponse,
};

use crate::apply::{ApplyError, OpContext, apply_op};
use crate::auth::AuthDevice;
use crate::changes::changes_after_json;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

/// Pull page size when the request names none.
pub const DEFAULT_PULL_LIMIT: u32 = 500;

/// `Json` whose rejections are our JSON errors (400, or 413 for a body over
/// the limit).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !plain_json(req.headers()) {
            // axum decides (and words the refusal of) any other content type.
            let Json(value) = Json::<T>::from_request(req, state).await?;
            return Ok(ApiJson(value));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(axum::extract::rejection::JsonRejection::from)?;
        // serde_json straight away; axum's `Json` tracks the path of every
        // value it reads to word a refusal (~15% of a push of sales), so it
        // reads the body again only when the body is refused.
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(ApiJson(value)),
            Err(_) => {
                let Json(value) = Json::<T>::from_bytes(&bytes)?;
                Ok(ApiJson(value))
            }
        }
    }
}

/// `Content-Type: application/json`, with parameters or not.
fn plain_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// `GET /api/status` (no key needed).
pub async fn status(State(state): State<AppState>) -> Result<Json<StatusResponse>, ApiError> {
    let max_ahead = state.config().max_clock_ahead_ms;
    let epoch = state.db(|conn, _| Ok(db::epoch(conn)?)).await?;
    Ok(Json(StatusResponse {
        service: "whiz-backoffice".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        protocol: PROTOCOL_VERSION,
        epoch,
        server_time: state.now(),
        max_clock_ahead_ms: max_ahead,
    }))
}

/// `GET /api/device`: the device and branch the request's key belongs to. A
/// till adopts this identity when it is connected, so its records carry the
/// ids this server gave it.
pub async fn device(
    State(state): State<AppState>,
    auth: AuthDevice,
) -> Result<Json<sync_protocol::DeviceInfo>, ApiError> {
    let id = auth.id;
    let info = state
        .db(move |conn, _| {
            Ok(conn.query_row(
                "SELECT d.code, d.name, d.kind, b.id, b.code, b.name, b.time_zone, b.hlc, b.deleted_at, d.last_seq
                 FROM devices d JOIN branches b ON b.id = d.branch_id WHERE d.id = ?1",
                [id.to_string()],
                |r| {
                    let text = |i: usize| r.get::<_, String>(i);
                    let parse_err = |i: usize, e: String| {
                        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
                    };
                    let kind = match text(2)?.as_str() {
                        "mobile" => sync_protocol::DeviceKind::Mobile,
                        _ => sync_protocol::DeviceKind::Desktop,
                    };
                    Ok(sync_protocol::DeviceInfo {
                        device_id: id,
                        device_code: text(0)?,
                        device_name: text(1)?,
                        kind,
                        branch: sync_protocol::BranchState {
                            id: text(3)?.parse().map_err(|e: uuid::Error| parse_err(3, e.to_string()))?,
                            code: text(4)?,
                            name: text(5)?,
                            time_zone: pos_domain::TimeZone::parse(&text(6)?)
                                .map_err(|e| parse_err(6, e.to_string()))?,
                            hlc: text(7)?.parse().map_err(|e: pos_domain::DomainError| parse_err(7, e.to_string()))?,
                            deleted_at: r.get::<_, Option<i64>>(8)?.map(Timestamp::from_millis),
                        },
                        acknowledged_seq: r.get::<_, i64>(9)?.max(0) as u64,
                    })
                },
            )?)
        })
        .await?;
    Ok(Json(info))
}

/// Checks what can be checked before touching the database.
fn check_batch(ops: &[OpEnvelope]) -> Result<(), ApiError> {
    if ops.len() > MAX_PUSH_OPS {
        return Err(ApiError::bad_request(format!(
            "this push has {} ops; send at most {MAX_PUSH_OPS} per request",
            ops.len()
        )));
    }
    for pair in ops.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if b.device_seq != a.device_seq.saturating_add(1) {
            return Err(ApiError::bad_request(format!(
                "ops must be in device_seq order without gaps: op {} follows op {}",
                b.device_seq, a.device_seq
            )));
        }
    }
    if ops.first().is_some_and(|op| op.device_seq == 0) {
        return Err(ApiError::bad_request(
            "device_seq starts at 1; op 0 does not exist",
        ));
    }
    Ok(())
}

/// `POST /api/sync`: applies a batch of outbox ops.
pub async fn push(
    State(state): State<AppState>,
    device: AuthDevice,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    check_batch(&req.ops)?;
    let max_ahead = state.config().max_clock_ahead_ms;
    let started = Instant::now();
    let results = state
        .db(move |conn, clock| {
            let outcome = push_batch(conn, clock.now(), max_ahead, &device, &req.ops, started);
            if let Err(e) = &outcome {
                log_error(
                    conn,
                    &device,
                    "push",
                    req.ops.len(),
                    started,
                    clock.now(),
                    e,
                );
            }
            outcome
        })
        .await?;
    state.note_writes(results.len() as u64 + 1);
    Ok(Json(PushResponse {
        results,
        server_time: state.now(),
    }))
}

fn push_batch(
    conn: &mut Connection,
    now: Timestamp,
    max_ahead: u64,
    device: &AuthDevice,
    ops: &[OpEnvelope],
    started: Instant,
) -> Result<Vec<OpResult>, ApiError> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let last: u64 = tx
        .prepare_cached("SELECT last_seq FROM devices WHERE id = ?1")?
        .query_row([device.id.to_string()], |r| r.get::<_, i64>(0))
        .map(|s| s.max(0) as u64)?;
    let mut results = Vec::with_capacity(ops.len());
    let (mut applied, mut duplicates, mut rejected) = (0i64, 0i64, 0i64);
    let mut new_ops = ops.iter().filter(|op| op.device_seq > last).peekable();
    if let Some(first) = new_ops.peek()
        && first.device_seq != last + 1
    {
        return Err(ApiError::sequence_gap(last + 1, first.device_seq));
    }
    for op in ops.iter().filter(|op| op.device_seq <= last) {
        let outcome = replay(&tx, device, op)?;
        duplicates += 1;
        results.push(result(op, outcome));
    }
    for op in new_ops {
        let (hlc, skew) = op.hlc.clamp(now, max_ahead);
        if skew > 0 {
            tracing::warn!(device = %device.name, op = %op.op_id, skew_ms = skew, "clamped a clock running ahead");
        }
        let ctx = OpContext {
            device: device.id,
            branch: device.branch_id,
            hlc,
            created_at: op.created_at,
            now,
        };
        let sp = tx.savepoint()?;
        let inserted = sp
            .prepare_cached(
                "INSERT INTO applied_ops (op_id, device_id, device_seq, kind, outcome, hlc, clock_skew_ms, applied_at)
                 VALUES (?1, ?2, ?3, ?4, 'applied', ?5, ?6, ?7)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                op.op_id.to_string(),
                device.id.to_string(),
                op.device_seq as i64,
                op.body.kind(),
                hlc.to_string(),
                skew.min(i64::MAX as u64) as i64,
                now.as_millis()
            ])?;
        if inserted == 0 {
            // Applied already: a replay that raced this push, or an op id
            // another op already used.
            drop(sp);
            let outcome = replay(&tx, device, op)?;
            duplicates += 1;
            results.push(result(op, outcome));
            continue;
        }
        match apply_op(&sp, &ctx, &op.body) {
            Ok(()) => {
                sp.commit()?;
                applied += 1;
                results.push(result(op, OpOutcome::Applied));
            }
            Err(ApplyError::Reject { code, reason }) => {
                drop(sp); // rolls the op's effects and its applied row back
                tracing::info!(device = %device.name, op = %op.op_id, seq = op.device_seq, ?code, %reason, "rejected an op");
                tx.prepare_cached(
                    "INSERT INTO applied_ops (op_id, device_id, device_seq, kind, outcome, reject_code, reason,
                                              hlc, clock_skew_ms, applied_at)
                     VALUES (?1, ?2, ?3, ?4, 'rejected', ?5, ?6, ?7, ?8, ?9)",
                )?
                .execute(params![
                    op.op_id.to_string(),
                    device.id.to_string(),
                    op.device_seq as i64,
                    op.body.kind(),
                    reject_code_str(code),
                    reason,
                    hlc.to_string(),
                    skew.min(i64::MAX as u64) as i64,
                    now.as_millis()
                ])?;
                rejected += 1;
                results.push(result(op, OpOutcome::Rejected { code, reason }));
            }
            Err(ApplyError::Db(e)) => return Err(ApiError::internal(&e)),
        }
    }
    let new_last = ops.last().map_or(last, |op| op.device_seq.max(last));
    tx.prepare_cached("UPDATE devices SET last_seq = ?2, last_push_at = ?3 WHERE id = ?1")?
        .execute(params![
            device.id.to_string(),
            new_last as i64,
            now.as_millis()
        ])?;
    tx.prepare_cached(
        "INSERT INTO sync_log (device_id, direction, items, applied, duplicates, rejected, duration_ms, result, at)
         VALUES (?1, 'push', ?2, ?3, ?4, ?5, ?6, 'ok', ?7)",
    )?
    .execute(params![
        device.id.to_string(),
        ops.len() as i64,
        applied,
        duplicates,
        rejected,
        started.elapsed().as_millis().min(i64::MAX as u128) as i64,
        now.as_millis()
    ])?;
    tx.commit()?;
    if applied + rejected > 0 {
        tracing::info!(device = %device.name, applied, duplicates, rejected, "push");
    }
    Ok(results)
}

fn result(op: &OpEnvelope, outcome: OpOutcome) -> OpResult {
    OpResult {
        op_id: op.op_id,
        device_seq: op.device_seq,
        outcome,
    }
}

/// An `applied_ops` row: device, seq, outcome, reject code, reason.
type StoredOp = (String, i64, String, Option<String>, Option<String>);

/// The stored answer for an op this device pushed before.
fn replay(conn: &Connection, device: &AuthDevice, op: &OpEnvelope) -> Result<OpOutcome, ApiError> {
    let stored: Option<StoredOp> = conn
        .prepare_cached(
            "SELECT device_id, device_seq, outcome, reject_code, reason FROM applied_ops WHERE op_id = ?1",
        )?
        .query_row([op.op_id.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((dev, seq, outcome, code, reason)) = stored else {
        return Err(ApiError::conflict(format!(
            "op {} (seq {}) is not the op this device pushed as seq {}: the server has a different op there; this device's outbox does not match what the server received (restored or copied database?) — run Full Cloud Synchronization",
            op.op_id, op.device_seq, op.device_seq
        )));
    };
    if dev != device.id.to_string() || seq != op.device_seq as i64 {
        return Err(ApiError::conflict(format!(
            "op id {} was already used by another op (seq {seq}); every op needs its own id",
            op.op_id
        )));
    }
    if outcome == "rejected" {
        return Ok(OpOutcome::Rejected {
            code: code
                .as_deref()
                .and_then(parse_reject_code)
                .unwrap_or(RejectCode::Invalid),
            reason: reason.unwrap_or_default(),
        });
    }
    Ok(OpOutcome::Duplicate)
}

fn reject_code_str(code: RejectCode) -> &'static str {
    match code {
        RejectCode::Invalid => "invalid",
        RejectCode::WrongBranch => "wrong_branch",
        RejectCode::UnknownReference => "unknown_reference",
    }
}

fn parse_reject_code(s: &str) -> Option<RejectCode> {
    [
        RejectCode::Invalid,
        RejectCode::WrongBranch,
        RejectCode::UnknownReference,
    ]
    .into_iter()
    .find(|c| reject_code_str(*c) == s)
}

/// A failed sync request goes into the sync log (best effort, its own
/// transaction: the request itself changed nothing).
pub(crate) fn log_error(
    conn: &Connection,
    device: &AuthDevice,
    direction: &str,
    items: usize,
    started: Instant,
    now: Timestamp,
    error: &ApiError,
) {
    let res = conn.execute(
        "INSERT INTO sync_log (device_id, direction, items, duration_ms, result, error, at)
         VALUES (?1, ?2, ?3, ?4, 'error', ?5, ?6)",
        params![
            device.id.to_string(),
            direction,
            items as i64,
            started.elapsed().as_millis().min(i64::MAX as u128) as i64,
            format!("{:?}: {}", error.code, error.message),
            now.as_millis()
        ],
    );
    if let Err(e) = res {
        tracing::warn!(error = %e, "could not write the sync log");
    }
}

/// `GET /api/sync?cursor=EPOCH.SEQ&limit=N`: the next page of changes this
/// device's branch may see. The answer is a [`PullResponse`], written out
/// around the stored JSON of each change ([`pull_page`]).
pub async fn pull(
    State(state): State<AppState>,
    device: AuthDevice,
    query: Result<Query<PullQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let limit = match query.limit {
        None => DEFAULT_PULL_LIMIT,
        Some(0) => {
            return Err(ApiError::bad_request(format!(
                "limit must be between 1 and {MAX_PULL_LIMIT}"
            )));
        }
        Some(n) => n.min(MAX_PULL_LIMIT),
    };
    let started = Instant::now();
    let page = state
        .db(move |conn, clock| {
            // A pull writes only its log line and the device's last pull.
            let outcome = db::unsynced(conn, |conn| {
                pull_page(conn, clock.now(), &device, query.cursor, limit, started)
            });
            if let Err(e) = &outcome {
                log_error(conn, &device, "pull", 0, started, clock.now(), e);
            }
            outcome
        })
        .await?;
    state.note_writes(1);
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        page,
    )
        .into_response())
}

/// One page of the feed as the JSON of a [`PullResponse`]. The changes'
/// bodies go out as stored: [`crate::changes::record_change`] wrote each
/// from a `ChangeBody` with serde, so parsing and re-serializing them (half
/// the cost of a bootstrap page) would produce the same text.
fn pull_page(
    conn: &mut Connection,
    now: Timestamp,
    device: &AuthDevice,
    cursor: Option<Cursor>,
    limit: u32,
    started: Instant,
) -> Result<String, ApiError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let epoch = db::epoch(&tx)?;
    let after = match cursor {
        None => 0,
        Some(c) if c.epoch == epoch => c.seq,
        Some(c) => {
            return Err(ApiError::new(
                sync_protocol::ErrorCode::EpochChanged,
                format!(
                    "this cursor is from epoch {} but the Back Office is now at epoch {epoch} (it was restored from a backup); pull again from the beginning",
                    c.epoch
                ),
            ));
        }
    };
    let changes = changes_after_json(&tx, device.branch_id, after, limit)?;
    let has_more = changes.len() == limit as usize;
    let next = changes.last().map_or(after, |c| c.0);
    tx.prepare_cached("UPDATE devices SET last_pull_at = ?2 WHERE id = ?1")?
        .execute(params![device.id.to_string(), now.as_millis()])?;
    tx.prepare_cached(
        "INSERT INTO sync_log (device_id, direction, items, duration_ms, result, at)
         VALUES (?1, 'pull', ?2, ?3, 'ok', ?4)",
    )?
    .execute(params![
        device.id.to_string(),
        changes.len() as i64,
        started.elapsed().as_millis().min(i64::MAX as u128) as i64,
        now.as_millis()
    ])?;
    tx.commit()?;
    page_json(epoch, &changes, Cursor { epoch, seq: next }, has_more)
        .map_err(|e| ApiError::internal(&e))
}

/// The JSON of a [`PullResponse`] whose changes' bodies are JSON text
/// already: the same fields in the same order as serde writes them.
fn page_json(
    epoch: sync_protocol::Epoch,
    changes: &[(u64, String)],
    next_cursor: Cursor,
    has_more: bool,
) -> serde_json::Result<String> {
    use std::fmt::Write as _;
    let bodies: usize = changes.iter().map(|(_, b)| b.len() + 32).sum();
    let mut out = String::with_capacity(bodies + 200);
    out.push_str("{\"epoch\":");
    out.push_str(&serde_json::to_string(&epoch)?);
    out.push_str(",\"changes\":[");
    for (i, (seq, body)) in changes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{{\"seq\":{seq},\"body\":");
        out.push_str(body);
        out.push('}');
    }
    out.push_str("],\"next_cursor\":");
    out.push_str(&serde_json::to_string(&next_cursor)?);
    out.push_str(",\"has_more\":");
    out.push_str(if has_more { "true" } else { "false" });
    out.push('}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pos_domain::{Hlc, OpId, Timestamp};
    use sync_protocol::{OpBody, SettingsPatch};

    fn op(seq: u64) -> OpEnvelope {
        OpEnvelope {
            op_id: OpId::new(),
            device_seq: seq,
            hlc: Hlc::new(1, 0, 1),
            created_at: Timestamp::from_millis(1),
            body: OpBody::SettingsChanged(SettingsPatch::default()),
        }
    }

    #[test]
    fn batches_must_be_contiguous_and_bounded() {
        assert!(check_batch(&[]).is_ok());
        assert!(check_batch(&[op(3), op(4), op(5)]).is_ok());
        assert!(check_batch(&[op(3), op(5)]).is_err());
        assert!(check_batch(&[op(4), op(3)]).is_err());
        assert!(check_batch(&[op(0), op(1)]).is_err());
        let many: Vec<_> = (1..=MAX_PUSH_OPS as u64 + 1).map(op).collect();
        assert!(check_batch(&many).is_err());
    }

    #[test]
    fn a_page_written_around_stored_bodies_is_what_serde_writes() {
        use pos_domain::CustomerId;
        use sync_protocol::{Change, ChangeBody, Epoch, PullResponse};
        let epoch: Epoch =
            serde_json::from_str("\"01933b6e-0000-7c31-9a55-2f1d0c4e7b10\"").unwrap();
        let changes = vec![
            Change {
                seq: 7,
                body: ChangeBody::CustomerAlias {
                    alias: CustomerId::new(),
                    customer: CustomerId::new(),
                },
            },
            Change {
                seq: 9,
                body: ChangeBody::CustomerAlias {
                    alias: CustomerId::new(),
                    customer: CustomerId::new(),
                },
            },
            Change {
                seq: 10,
                body: ChangeBody::CustomerUnaliased {
                    alias: CustomerId::new(),
                },
            },
        ];
        for (changes, has_more) in [(changes, true), (Vec::new(), false)] {
            let next_cursor = Cursor {
                epoch,
                seq: changes.last().map_or(3, |c| c.seq),
            };
            let stored: Vec<(u64, String)> = changes
                .iter()
                .map(|c| (c.seq, serde_json::to_string(&c.body).unwrap()))
                .collect();
            let expected = serde_json::to_string(&PullResponse {
                epoch,
                changes,
                next_cursor,
                has_more,
            })
            .unwrap();
            assert_eq!(
                page_json(epoch, &stored, next_cursor, has_more).unwrap(),
                expected
            );
        }
    }

    #[test]
    fn reject_codes_round_trip() {
        for c in [
            RejectCode::Invalid,
            RejectCode::WrongBranch,
            RejectCode::UnknownReference,
        ] {
            assert_eq!(parse_reject_code(reject_code_str(c)), Some(c));
        }
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;
    use crate::devices::{DeviceKind, add_device};
    use pos_domain::{Clock, ManualClock, Name, OpId, ProductId, TaxCode};
    use sync_protocol::{OpBody, ProductPatch};

    #[test]
    fn a_server_failure_mid_batch_leaves_nothing_and_the_retry_applies_everything() {
        let clock = ManualClock::new(Timestamp::from_millis(1_772_431_200_000));
        let mut conn = crate::db::open_in_memory(&clock).unwrap();
        let new = add_device(&mut conn, &clock, "Main", "Till 1", DeviceKind::Desktop).unwrap();
        let device = AuthDevice {
            id: new.device.id,
            branch_id: new.device.branch_id,
            code: new.device.code,
            name: new.device.name,
        };
        let ops: Vec<OpEnvelope> = (1..=3)
            .map(|seq| OpEnvelope {
                op_id: OpId::new(),
                device_seq: seq,
                hlc: pos_domain::Hlc::new(1_772_431_200_000 + seq, 0, 9),
                created_at: clock.now(),
                body: OpBody::ProductChanged(ProductPatch {
                    name: Some(Name::parse("name", "Soda").unwrap()),
                    price: Some(
                        pos_domain::Money::from_minor(80_00, pos_domain::Currency::KES).unwrap(),
                    ),
                    tax_code: Some(TaxCode::parse("VAT16").unwrap()),
                    ..ProductPatch::new(ProductId::new())
                }),
            })
            .collect();
        let count = |conn: &Connection, sql: &str| -> i64 {
            conn.query_row(sql, [], |r| r.get(0)).unwrap()
        };
        // The third op's change cannot be recorded: the whole push fails.
        conn.execute_batch(
            "CREATE TRIGGER fail_third BEFORE INSERT ON changes
             WHEN (SELECT COUNT(*) FROM products) >= 3
             BEGIN SELECT no_such_function(); END;",
        )
        .unwrap();
        let err = push_batch(
            &mut conn,
            clock.now(),
            300_000,
            &device,
            &ops,
            Instant::now(),
        );
        assert_eq!(err.unwrap_err().code, sync_protocol::ErrorCode::Internal);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM applied_ops"), 0);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM products"), 0);
        assert_eq!(count(&conn, "SELECT last_seq FROM devices"), 0);
        conn.execute_batch("DROP TRIGGER fail_third").unwrap();
        let results = push_batch(
            &mut conn,
            clock.now(),
            300_000,
            &device,
            &ops,
            Instant::now(),
        )
        .unwrap();
        assert!(results.iter().all(|r| r.outcome == OpOutcome::Applied));
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM products"), 3);
        assert_eq!(count(&conn, "SELECT last_seq FROM devices"), 3);
    }
}
