//! `POST /api/sync/full`: Full Cloud Synchronization, the server side
//! (DESIGN.md invariant 8; the wire is `sync_protocol::full`, prose and
//! examples in docs/sync-protocol.md).
//!
//! - **Preview** compares one part of a till's manifest with the server's
//!   records of that entity in the part's id range, scoped like the pull feed
//!   (expenses, sales, stand-alone stock movements and ledger entries of the
//!   device's branch only; everything else is shared). Read-only.
//! - **Apply** runs one chunk in one immediate transaction, keyed by
//!   `(session, chunk)` in `full_sync_chunks`: a retry is answered from the
//!   stored first answer and changes nothing. Each record gets a savepoint
//!   and is translated into the ops `apply.rs` already applies, so every rule
//!   of a push holds (references, sums, branch, currency) and every change
//!   reaches the change feed:
//!   - append-only records (sales, movements, ledger entries, transfers and
//!     their receipts, each with its own movements) are inserted
//!     once; present ones are `unchanged`; another branch's are rejected;
//!   - mutable records in [`FullSyncMode::Overwrite`]: the replaced state is
//!     saved in `record_versions`, and the till's values are written as a
//!     patch of every field (and the tombstone, or its absence) stamped with
//!     a fresh server clock newer than every field clock of the record;
//!   - in [`FullSyncMode::Restore`] the patch carries the record's own clock
//!     (clamped like a push), so last-writer-wins decides field by field;
//!     a record whose merge changes nothing is rolled back and `unchanged`;
//!   - `remove` soft-deletes records only the server has (tombstone with a
//!     fresh server clock), saving the state first.
//! - **Finish** moves the device's `last_seq` up to what the till says its
//!   upload accounts for, never down.
//!
//! Every step writes a line in the sync log. Saved versions are listed and
//! restored by `whiz-backoffice versions …` ([`list_versions`],
//! [`restore_version`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use pos_domain::{
    BranchId, CategoryId, Clock, CustomerId, DeviceId, ExpenseId, Hlc, Timestamp, UserId,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};
use sha2::{Digest as _, Sha256};
use sync_protocol::{
    ApplyAnswer, ApplyChunk, CategoryPatch, ChangeBody, CustomerPatch, EntityKind, ExpensePatch,
    FinishAnswer, FinishRequest, FullRecord, FullSyncMode, FullSyncRequest, FullSyncResponse,
    MAX_FULL_SYNC_RECORDS, MAX_MANIFEST_ENTRIES, OpBody, PreviewAnswer, PreviewPart, ProductPatch,
    RecordRef, RecordRejection, RejectCode, SETTINGS_ID, SettingsPatch, TaxRateRecord, Tombstone,
    UserPatch, digest,
};
use uuid::Uuid;

use crate::apply::{self, ApplyError, OpContext, apply_op};
use crate::auth::AuthDevice;
use crate::customer_merge;
use crate::db::{SERVER_NODE, server_hlc};
use crate::error::ApiError;
use crate::state::AppState;
use crate::sync::{ApiJson, log_error};

/// `POST /api/sync/full`: one step of Full Cloud Synchronization.
pub async fn full(
    State(state): State<AppState>,
    device: AuthDevice,
    ApiJson(req): ApiJson<FullSyncRequest>,
) -> Result<Json<FullSyncResponse>, ApiError> {
    let max_ahead = state.config().max_clock_ahead_ms;
    let started = Instant::now();
    let answer = state
        .db(move |conn, clock| {
            let now = clock.now();
            let (direction, items, outcome) = match &req {
                FullSyncRequest::Preview(p) => (
                    "full_preview",
                    p.records.len(),
                    check_preview(p)
                        .and_then(|()| preview(conn, now, &device, p, started))
                        .map(FullSyncResponse::Preview),
                ),
                FullSyncRequest::Apply(c) => (
                    "full_apply",
                    c.records.len() + c.remove.len(),
                    check_chunk(c)
                        .and_then(|()| apply_chunk(conn, now, max_ahead, &device, c, started))
                        .map(FullSyncResponse::Apply),
                ),
                FullSyncRequest::Finish(f) => (
                    "full_finish",
                    0,
                    finish(conn, now, &device, f, started).map(FullSyncResponse::Finish),
                ),
            };
            if let Err(e) = &outcome {
                log_error(conn, &device, direction, items, started, now, e);
            }
            outcome
        })
        .await?;
    Ok(Json(answer))
}

// Preview -------------------------------------------------------------------------

/// What can be checked about a preview part before reading anything.
fn check_preview(p: &PreviewPart) -> Result<(), ApiError> {
    let kind = p.entity.as_str();
    if p.records.len() > MAX_MANIFEST_ENTRIES {
        return Err(ApiError::bad_request(format!(
            "this preview part lists {} {kind} records; send at most {MAX_MANIFEST_ENTRIES} per part (split the id range)",
            p.records.len()
        )));
    }
    if let (Some(after), Some(through)) = (&p.after, &p.through)
        && after >= through
    {
        return Err(ApiError::bad_request(format!(
            "the range ({after:?}, {through:?}] is empty: `after` must come before `through`"
        )));
    }
    for (i, e) in p.records.iter().enumerate() {
        if e.id.is_empty() {
            return Err(ApiError::bad_request(format!(
                "{kind} record {i} of this part has an empty id"
            )));
        }
        if let Some(after) = &p.after
            && e.id <= *after
        {
            return Err(ApiError::bad_request(format!(
                "{kind} {} is not after {after:?}, where this part starts; list only ids in (after, through]",
                e.id
            )));
        }
        if let Some(through) = &p.through
            && e.id > *through
        {
            return Err(ApiError::bad_request(format!(
                "{kind} {} is after {through:?}, where this part ends; list only ids in (after, through]",
                e.id
            )));
        }
        if i > 0 && p.records[i - 1].id >= e.id {
            return Err(ApiError::bad_request(format!(
                "the records of a part must be sorted by id without repeats: {} follows {}",
                e.id,
                p.records[i - 1].id
            )));
        }
    }
    Ok(())
}

/// One of the server's records in a preview range.
struct ServerEntry {
    digest: String,
    live: bool,
}

fn preview(
    conn: &mut Connection,
    now: Timestamp,
    device: &AuthDevice,
    p: &PreviewPart,
    started: Instant,
) -> Result<PreviewAnswer, ApiError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let server = server_entries(
        &tx,
        p.entity,
        device.branch_id,
        p.after.as_deref(),
        p.through.as_deref(),
    )?;
    let mut answer = PreviewAnswer {
        entity: Some(p.entity),
        ..PreviewAnswer::default()
    };
    let mut listed = BTreeSet::new();
    for e in &p.records {
        listed.insert(e.id.as_str());
        match server.get(&e.id) {
            None => answer.to_add.push(e.id.clone()),
            Some(_) if p.entity.is_append_only() => answer.unchanged += 1,
            // A merged-away customer: the upload leaves it (see apply_record).
            Some(_)
                if p.entity == EntityKind::Customer && customer_merge::is_alias_id(&tx, &e.id)? =>
            {
                answer.unchanged += 1
            }
            Some(s) if s.digest == e.digest => answer.unchanged += 1,
            Some(_) => answer.to_overwrite.push(e.id.clone()),
        }
    }
    answer.only_on_server = server
        .iter()
        .filter(|(id, s)| s.live && !listed.contains(id.as_str()))
        .map(|(id, _)| id.clone())
        .collect();
    let detail = format!(
        "{}: {} to add, {} to overwrite, {} only on the server, {} unchanged",
        p.entity.as_str(),
        answer.to_add.len(),
        answer.to_overwrite.len(),
        answer.only_on_server.len(),
        answer.unchanged
    );
    log_ok(
        &tx,
        device,
        "full_preview",
        LogCounts {
            items: p.records.len(),
            ..LogCounts::default()
        },
        started,
        now,
        &detail,
    )?;
    tx.commit()?;
    Ok(answer)
}

/// The server's records of `kind` with ids in `(after, through]` that a
/// device of `branch` may see, by id.
fn server_entries(
    conn: &Connection,
    kind: EntityKind,
    branch: BranchId,
    after: Option<&str>,
    through: Option<&str>,
) -> Result<BTreeMap<String, ServerEntry>, ApiError> {
    let mut out = BTreeMap::new();
    if kind == EntityKind::Settings {
        let in_range =
            after.is_none_or(|a| SETTINGS_ID > a) && through.is_none_or(|t| SETTINGS_ID <= t);
        if in_range {
            let state = apply::settings_state(conn)?;
            out.insert(
                SETTINGS_ID.to_string(),
                ServerEntry {
                    digest: digest(&FullRecord::Settings(state)),
                    live: true,
                },
            );
        }
        return Ok(out);
    }
    let (table, id_col, live, scope) = match kind {
        EntityKind::Settings => unreachable_kind(kind)?,
        EntityKind::TaxRate => ("tax_rates", "code", "deleted_at IS NULL", ""),
        EntityKind::Category => ("categories", "id", "deleted_at IS NULL", ""),
        EntityKind::Product => ("products", "id", "deleted_at IS NULL", ""),
        EntityKind::User => ("users", "id", "deleted_at IS NULL", ""),
        EntityKind::Customer => ("customers", "id", "deleted_at IS NULL", ""),
        EntityKind::Expense => ("expenses", "id", "deleted_at IS NULL", "AND branch_id = ?3"),
        EntityKind::Sale => ("sales", "id", "1", "AND branch_id = ?3"),
        EntityKind::StockMovement => (
            "stock_movements",
            "id",
            "1",
            "AND sale_id IS NULL AND kind NOT IN ('transfer_out', 'transfer_in') AND branch_id = ?3",
        ),
        EntityKind::Transfer => ("transfers", "id", "1", "AND from_branch_id = ?3"),
        EntityKind::TransferReceipt => ("transfer_receipts", "id", "1", "AND branch_id = ?3"),
        EntityKind::LedgerEntry => (
            "customer_ledger",
            "id",
            "1",
            "AND sale_id IS NULL AND branch_id = ?3",
        ),
    };
    let mut args: Vec<Value> = vec![opt_text(after), opt_text(through)];
    if !scope.is_empty() {
        args.push(Value::Text(branch.to_string()));
    }
    let sql = format!(
        "SELECT {id_col}, {live} FROM {table}
         WHERE (?1 IS NULL OR {id_col} > ?1) AND (?2 IS NULL OR {id_col} <= ?2) {scope}
         ORDER BY {id_col}"
    );
    let rows: Vec<(String, bool)> = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(args), |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, live) in rows {
        let digest = if kind.is_append_only() {
            String::new()
        } else {
            match load(conn, kind, &id) {
                Ok(Some(state)) => digest(&state),
                Ok(None) => continue,
                Err(e) => return Err(ApiError::internal(&e)),
            }
        };
        out.insert(id, ServerEntry { digest, live });
    }
    Ok(out)
}

fn unreachable_kind<T>(kind: EntityKind) -> Result<T, ApiError> {
    Err(ApiError::internal(&format!(
        "{} records have no table of their own",
        kind.as_str()
    )))
}

fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::Text(s.to_string()))
}

// Apply ----------------------------------------------------------------------------

/// What can be checked about a chunk before touching the database.
fn check_chunk(c: &ApplyChunk) -> Result<(), ApiError> {
    let n = c.records.len() + c.remove.len();
    if n > MAX_FULL_SYNC_RECORDS {
        return Err(ApiError::bad_request(format!(
            "this chunk carries {n} records and removals; send at most {MAX_FULL_SYNC_RECORDS} per chunk"
        )));
    }
    if c.chunk == 0 {
        return Err(ApiError::bad_request(
            "chunks are numbered 1, 2, 3, … within a session; chunk 0 does not exist",
        ));
    }
    if c.mode == FullSyncMode::Restore && !c.remove.is_empty() {
        return Err(ApiError::bad_request(
            "a restore never removes records: send removals only in overwrite mode",
        ));
    }
    let mut seen = BTreeSet::new();
    for r in &c.records {
        if !seen.insert((r.entity(), r.id())) {
            return Err(ApiError::bad_request(format!(
                "{} {} is in this chunk twice; send each record once",
                r.entity().as_str(),
                r.id()
            )));
        }
    }
    for r in &c.remove {
        if !r.entity.is_removable() {
            return Err(ApiError::bad_request(format!(
                "{} records are never removed ({}); only categories, products, users, customers and expenses are",
                r.entity.as_str(),
                if r.entity.is_append_only() {
                    "they are append-only: the server keeps every one"
                } else {
                    "they are retired, not removed"
                }
            )));
        }
        if !seen.insert((r.entity, r.id.clone())) {
            return Err(ApiError::bad_request(format!(
                "{} {} is both uploaded and removed (or removed twice) in this chunk",
                r.entity.as_str(),
                r.id
            )));
        }
    }
    Ok(())
}

/// The SHA-256 of a chunk as received: a retry must be the same chunk.
fn request_hash(c: &ApplyChunk) -> String {
    let json = serde_json::to_string(c).unwrap_or_default();
    hex::encode(Sha256::digest(json.as_bytes()))
}

/// Takes `session` for `device`, or checks it is already its own.
fn claim_session(
    conn: &Connection,
    device: &AuthDevice,
    session: Uuid,
    now: Timestamp,
) -> Result<(), ApiError> {
    let owner: Option<String> = conn
        .prepare_cached("SELECT device_id FROM full_sync_sessions WHERE session = ?1")?
        .query_row([session.to_string()], |r| r.get(0))
        .optional()?;
    match owner {
        Some(owner) if owner != device.id.to_string() => Err(ApiError::conflict(format!(
            "session {session} is another device's Full Cloud Synchronization run; start a run with a new session id"
        ))),
        Some(_) => Ok(()),
        None => {
            conn.prepare_cached(
                "INSERT INTO full_sync_sessions (session, device_id, started_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                session.to_string(),
                device.id.to_string(),
                now.as_millis()
            ])?;
            Ok(())
        }
    }
}

/// What one record or removal came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Added,
    Overwritten,
    Unchanged,
    Removed,
}

/// Who is writing and why, for every record of a chunk (or a CLI restore).
#[derive(Debug, Clone, Copy)]
struct Writer {
    device: DeviceId,
    branch: BranchId,
    now: Timestamp,
    max_ahead: u64,
    /// The device a saved version names (`None`: the CLI).
    replaced_by: Option<DeviceId>,
    session: Option<Uuid>,
    /// The reason saved with the state an overwrite replaces.
    reason: &'static str,
}

impl Writer {
    fn ctx(&self, hlc: Hlc, created_at: Timestamp) -> OpContext {
        OpContext {
            device: self.device,
            branch: self.branch,
            hlc,
            created_at,
            now: self.now,
        }
    }
}

fn apply_chunk(
    conn: &mut Connection,
    now: Timestamp,
    max_ahead: u64,
    device: &AuthDevice,
    c: &ApplyChunk,
    started: Instant,
) -> Result<ApplyAnswer, ApiError> {
    let hash = request_hash(c);
    let items = c.records.len() + c.remove.len();
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    claim_session(&tx, device, c.session, now)?;
    let stored: Option<(String, String)> = tx
        .prepare_cached(
            "SELECT request_hash, answer FROM full_sync_chunks WHERE session = ?1 AND chunk = ?2",
        )?
        .query_row(params![c.session.to_string(), c.chunk], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((stored_hash, answer)) = stored {
        if stored_hash != hash {
            return Err(ApiError::conflict(format!(
                "chunk {} of session {} was already applied with other content; send the same chunk again or use the next chunk number",
                c.chunk, c.session
            )));
        }
        let mut answer: ApplyAnswer =
            serde_json::from_str(&answer).map_err(|e| ApiError::internal(&e))?;
        answer.duplicate = true;
        log_ok(
            &tx,
            device,
            "full_apply",
            LogCounts {
                items,
                duplicates: items as u64,
                ..LogCounts::default()
            },
            started,
            now,
            &format!(
                "session {} chunk {}: a retry, answered from the first time",
                c.session, c.chunk
            ),
        )?;
        tx.commit()?;
        return Ok(answer);
    }

    let writer = Writer {
        device: device.id,
        branch: device.branch_id,
        now,
        max_ahead,
        replaced_by: Some(device.id),
        session: Some(c.session),
        reason: "full_sync_overwrite",
    };
    let mut answer = ApplyAnswer {
        session: c.session,
        chunk: c.chunk,
        ..ApplyAnswer::default()
    };
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    for record in &c.records {
        let sp = tx.savepoint()?;
        let outcome = apply_record(&sp, &writer, c.mode, record);
        let done = settle(sp, outcome, record.entity(), record.id(), &mut answer)?;
        if done {
            *kinds.entry(record.entity().as_str()).or_default() += 1;
        }
    }
    for r in &c.remove {
        let sp = tx.savepoint()?;
        let outcome = remove_record(&sp, &writer, r);
        settle(sp, outcome, r.entity, r.id.clone(), &mut answer)?;
    }
    let json = serde_json::to_string(&answer).map_err(|e| ApiError::internal(&e))?;
    tx.prepare_cached(
        "INSERT INTO full_sync_chunks (session, chunk, device_id, mode, request_hash, answer, applied_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        c.session.to_string(),
        c.chunk,
        device.id.to_string(),
        match c.mode {
            FullSyncMode::Overwrite => "overwrite",
            FullSyncMode::Restore => "restore",
        },
        hash,
        json,
        now.as_millis()
    ])?;
    let written = answer.added + answer.overwritten + answer.removed;
    let detail = format!(
        "session {} chunk {} ({}): {} added, {} overwritten, {} unchanged, {} removed, {} rejected; written: {}",
        c.session,
        c.chunk,
        match c.mode {
            FullSyncMode::Overwrite => "overwrite",
            FullSyncMode::Restore => "restore",
        },
        answer.added,
        answer.overwritten,
        answer.unchanged,
        answer.removed,
        answer.rejected.len(),
        kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    log_ok(
        &tx,
        device,
        "full_apply",
        LogCounts {
            items,
            applied: written,
            duplicates: answer.unchanged,
            rejected: answer.rejected.len() as u64,
        },
        started,
        now,
        &detail,
    )?;
    tx.commit()?;
    tracing::info!(device = %device.name, session = %c.session, chunk = c.chunk, added = answer.added,
        overwritten = answer.overwritten, unchanged = answer.unchanged, removed = answer.removed,
        rejected = answer.rejected.len(), "full sync chunk");
    Ok(answer)
}

/// Commits or rolls back one record's savepoint by its outcome and counts
/// it. Returns whether the record wrote anything.
fn settle(
    sp: rusqlite::Savepoint<'_>,
    outcome: Result<Outcome, ApplyError>,
    entity: EntityKind,
    id: String,
    answer: &mut ApplyAnswer,
) -> Result<bool, ApiError> {
    match outcome {
        Ok(Outcome::Unchanged) => {
            // A restore may have merged without changing a value: undo it,
            // so an unchanged record writes nothing (not even a change).
            drop(sp);
            answer.unchanged += 1;
            Ok(false)
        }
        Ok(o) => {
            sp.commit()?;
            match o {
                Outcome::Added => answer.added += 1,
                Outcome::Overwritten => answer.overwritten += 1,
                Outcome::Removed => answer.removed += 1,
                Outcome::Unchanged => {}
            }
            Ok(true)
        }
        Err(ApplyError::Reject { code, reason }) => {
            drop(sp);
            answer.rejected.push(RecordRejection {
                entity,
                id,
                code,
                reason,
            });
            Ok(false)
        }
        Err(ApplyError::Db(e)) => Err(ApiError::internal(&e)),
    }
}

fn reject<T>(code: RejectCode, reason: impl Into<String>) -> Result<T, ApplyError> {
    Err(ApplyError::Reject {
        code,
        reason: reason.into(),
    })
}

fn wrong_branch<T>(writer: &Writer, what: String, branch: BranchId) -> Result<T, ApplyError> {
    reject(
        RejectCode::WrongBranch,
        format!(
            "{what} belongs to branch {branch} but this device's key is for branch {}; Full Cloud Synchronization uploads this branch's records only",
            writer.branch
        ),
    )
}

/// Applies one uploaded record.
fn apply_record(
    conn: &Connection,
    writer: &Writer,
    mode: FullSyncMode,
    record: &FullRecord,
) -> Result<Outcome, ApplyError> {
    let kind = record.entity();
    let id = record.id();
    if kind.is_append_only() {
        let (branch, table) = match record {
            FullRecord::Sale(s) => (s.branch_id, "sales"),
            FullRecord::StockMovement(m) => (m.branch_id, "stock_movements"),
            FullRecord::LedgerEntry(e) => (e.branch_id, "customer_ledger"),
            FullRecord::Transfer(t) => (t.from_branch, "transfers"),
            FullRecord::TransferReceipt(r) => (r.branch_id, "transfer_receipts"),
            _ => return reject(RejectCode::Invalid, "not an append-only record"),
        };
        if branch != writer.branch {
            return wrong_branch(writer, format!("{} {id}", kind.as_str()), branch);
        }
        let present: bool = conn
            .prepare_cached(&format!(
                "SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?1)"
            ))?
            .query_row([&id], |r| r.get(0))?;
        if present {
            return Ok(Outcome::Unchanged);
        }
        let ctx = writer.ctx(
            server_hlc(writer.now),
            created_at_of(record).unwrap_or(writer.now),
        );
        apply_op(conn, &ctx, &op_of(record))?;
        return Ok(Outcome::Added);
    }
    if let FullRecord::Expense(e) = record
        && e.branch_id != writer.branch
    {
        return wrong_branch(writer, format!("expense {id}"), e.branch_id);
    }
    // A customer the Back Office merged into another (same phone) is the
    // server's decision: the till's copy of the merged-away id is stale, and
    // the kept customer is a record of its own in the upload.
    if kind == EntityKind::Customer && customer_merge::is_alias_id(conn, &id)? {
        return Ok(Outcome::Unchanged);
    }
    let current = load(conn, kind, &id)?;
    if let Some(FullRecord::Expense(e)) = &current
        && e.branch_id != writer.branch
    {
        return wrong_branch(writer, format!("expense {id}"), e.branch_id);
    }
    let created_at = created_at_of(record).unwrap_or(writer.now);
    let Some(current) = current else {
        let hlc = match (mode, hlc_of(record)) {
            (FullSyncMode::Restore, Some(hlc)) => clamp(writer, hlc, &id),
            _ => fresh_hlc(Hlc::ZERO, writer.now),
        };
        let ctx = writer.ctx(hlc, created_at);
        if let (FullRecord::Customer(c), Some(at)) = (record, deleted_at_of(record)) {
            // A deleted customer arrives deleted: it holds no phone, so it is
            // never merged into a live customer with the same number.
            customer_merge::add_deleted(conn, &ctx, c, at)?;
            return Ok(Outcome::Added);
        }
        apply_op(conn, &ctx, &op_of(record))?;
        if let Some(at) = deleted_at_of(record)
            && let Some(t) = tombstone_of(record, at)
        {
            apply_op(conn, &ctx, &t)?;
        }
        return Ok(Outcome::Added);
    };
    if digest(&current) == digest(record) {
        return Ok(Outcome::Unchanged);
    }
    match mode {
        FullSyncMode::Overwrite => {
            overwrite(conn, writer, &current, record)?;
            Ok(Outcome::Overwritten)
        }
        FullSyncMode::Restore => {
            // A tax rate carries no clock: the server's stands.
            let Some(hlc) = hlc_of(record) else {
                return Ok(Outcome::Unchanged);
            };
            let ctx = writer.ctx(clamp(writer, hlc, &id), created_at);
            // A tombstone merges like any field; a live record never brings
            // a deleted one back here (no op could).
            if let (Some(at), Some((table, what))) = (deleted_at_of(record), table_of(kind)) {
                apply::merge_deleted_at(conn, &ctx, table, what, &id, Some(at))?;
            }
            apply_op(conn, &ctx, &op_of(record))?;
            let after = load(conn, kind, &id)?;
            if after.as_ref().map(digest) == Some(digest(&current)) {
                Ok(Outcome::Unchanged)
            } else {
                Ok(Outcome::Overwritten)
            }
        }
    }
}

/// Writes `record`'s values over `current` as a new version: the current
/// state is saved, then every field (and the tombstone or its absence) is
/// written with a clock newer than any the record has, and the merged state
/// goes to the change feed. Returns the id of the saved version.
fn overwrite(
    conn: &Connection,
    writer: &Writer,
    current: &FullRecord,
    record: &FullRecord,
) -> Result<i64, ApplyError> {
    let kind = record.entity();
    let id = record.id();
    let version = save_version(conn, writer, current, writer.reason)?;
    let hlc = fresh_hlc(newest_clock(conn, current)?, writer.now);
    let ctx = writer.ctx(hlc, created_at_of(record).unwrap_or(writer.now));
    set_once_columns(conn, current, record)?;
    if let Some((table, what)) = table_of(kind) {
        let wanted = deleted_at_of(record);
        if deleted_at_of(current) != wanted {
            apply::merge_deleted_at(conn, &ctx, table, what, &id, wanted)?;
        }
    }
    apply_op(conn, &ctx, &op_of(record))?;
    Ok(version)
}

/// Soft-removes a record only the server has.
fn remove_record(conn: &Connection, writer: &Writer, r: &RecordRef) -> Result<Outcome, ApplyError> {
    let kind = r.entity.as_str();
    let Some(current) = load(conn, r.entity, &r.id)? else {
        return reject(
            RejectCode::UnknownReference,
            format!(
                "the server has no {kind} {}; there is nothing to remove",
                r.id
            ),
        );
    };
    if let FullRecord::Expense(e) = &current
        && e.branch_id != writer.branch
    {
        return wrong_branch(writer, format!("expense {}", r.id), e.branch_id);
    }
    if deleted_at_of(&current).is_some() {
        return reject(
            RejectCode::Invalid,
            format!("{kind} {} is already removed on the server", r.id),
        );
    }
    let Some(tombstone) = tombstone_of(&current, writer.now) else {
        return reject(
            RejectCode::Invalid,
            format!("{kind} records are never removed"),
        );
    };
    save_version(conn, writer, &current, "full_sync_remove")?;
    let hlc = fresh_hlc(newest_clock(conn, &current)?, writer.now);
    apply_op(conn, &writer.ctx(hlc, writer.now), &tombstone)?;
    Ok(Outcome::Removed)
}

/// A record's own clock, clamped like a pushed op's.
fn clamp(writer: &Writer, hlc: Hlc, id: &str) -> Hlc {
    let (hlc, skew) = hlc.clamp(writer.now, writer.max_ahead);
    if skew > 0 {
        tracing::warn!(record = %id, skew_ms = skew, "clamped a restored record's clock running ahead");
    }
    hlc
}

/// A server clock reading newer than `newest` and no older than `now`.
fn fresh_hlc(newest: Hlc, now: Timestamp) -> Hlc {
    let after = match newest.counter().checked_add(1) {
        Some(c) => Hlc::new(newest.wall_ms(), c, SERVER_NODE),
        None => Hlc::new(newest.wall_ms().saturating_add(1), 0, SERVER_NODE),
    };
    server_hlc(now).max(after)
}

/// The newest clock any field of the server's record carries.
fn newest_clock(conn: &Connection, current: &FullRecord) -> Result<Hlc, ApplyError> {
    let kind = current.entity();
    let id = current.id();
    let table = match kind {
        EntityKind::Settings => {
            let newest: Option<String> = conn
                .prepare_cached("SELECT MAX(hlc) FROM business_settings")?
                .query_row([], |r| r.get(0))?;
            return parse_hlc(newest.as_deref());
        }
        EntityKind::TaxRate => {
            let hlc: Option<String> = conn
                .prepare_cached("SELECT hlc FROM tax_rates WHERE code = ?1")?
                .query_row([&id], |r| r.get(0))
                .optional()?;
            return parse_hlc(hlc.as_deref());
        }
        _ => match table_of(kind) {
            Some((table, _)) => table,
            None => return Ok(Hlc::ZERO),
        },
    };
    let row: Option<(String, String)> = conn
        .prepare_cached(&format!("SELECT hlc, field_hlc FROM {table} WHERE id = ?1"))?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((hlc, fields)) = row else {
        return Ok(Hlc::ZERO);
    };
    let mut newest = parse_hlc(Some(&hlc))?;
    let fields: BTreeMap<String, Hlc> = serde_json::from_str(&fields).map_err(|e| {
        ApplyError::Db(rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Text,
            Box::new(e),
        ))
    })?;
    for clock in fields.into_values() {
        newest = newest.max(clock);
    }
    Ok(newest)
}

fn parse_hlc(s: Option<&str>) -> Result<Hlc, ApplyError> {
    match s {
        None => Ok(Hlc::ZERO),
        Some(s) => s.parse().map_err(|e: pos_domain::DomainError| {
            ApplyError::Db(rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                Box::new(e),
            ))
        }),
    }
}

/// Columns a patch never writes (set when the record was created): an
/// overwrite makes them the till's too, so both sides hold the same record.
fn set_once_columns(
    conn: &Connection,
    current: &FullRecord,
    record: &FullRecord,
) -> Result<(), ApplyError> {
    let created = |table: &str, id: String, at: Timestamp| -> Result<(), ApplyError> {
        conn.prepare_cached(&format!("UPDATE {table} SET created_at = ?2 WHERE id = ?1"))?
            .execute(params![id, at.as_millis()])?;
        Ok(())
    };
    match (current, record) {
        (FullRecord::Product(c), FullRecord::Product(r)) if c.created_at != r.created_at => {
            created("products", r.id.to_string(), r.created_at)
        }
        (FullRecord::Customer(c), FullRecord::Customer(r)) if c.created_at != r.created_at => {
            created("customers", r.id.to_string(), r.created_at)
        }
        (FullRecord::User(c), FullRecord::User(r)) if c.created_at != r.created_at => {
            created("users", r.id.to_string(), r.created_at)
        }
        (FullRecord::Expense(c), FullRecord::Expense(r)) => {
            if c.created_at != r.created_at {
                created("expenses", r.id.to_string(), r.created_at)?;
            }
            if c.user_id != r.user_id {
                let known: bool = conn
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)")?
                    .query_row([r.user_id.to_string()], |row| row.get(0))?;
                if !known {
                    return reject(
                        RejectCode::UnknownReference,
                        format!(
                            "expense {}: the server has no user {}; upload the user first",
                            r.id, r.user_id
                        ),
                    );
                }
            }
            if c.user_id != r.user_id || c.device_id != r.device_id {
                conn.prepare_cached(
                    "UPDATE expenses SET user_id = ?2, device_id = ?3 WHERE id = ?1",
                )?
                .execute(params![
                    r.id.to_string(),
                    r.user_id.to_string(),
                    r.device_id.to_string()
                ])?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Saves `state` as a restorable version; returns its id.
fn save_version(
    conn: &Connection,
    writer: &Writer,
    state: &FullRecord,
    reason: &str,
) -> Result<i64, ApplyError> {
    let json = serde_json::to_string(&change_of(state))
        .map_err(|e| ApplyError::Db(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
    conn.prepare_cached(
        "INSERT INTO record_versions (entity, entity_id, state, replaced_at, replaced_by, reason, session)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        state.entity().as_str(),
        state.id(),
        json,
        writer.now.as_millis(),
        writer.replaced_by.map(|d| d.to_string()),
        reason,
        writer.session.map(|s| s.to_string())
    ])?;
    Ok(conn.last_insert_rowid())
}

// Records and the ops they become ------------------------------------------------

/// The server's current state of a mutable record (tombstoned ones too), by
/// its manifest id. An id that cannot be one of `kind` is refused.
fn load(conn: &Connection, kind: EntityKind, id: &str) -> Result<Option<FullRecord>, ApplyError> {
    fn parse<T: std::str::FromStr>(kind: EntityKind, id: &str) -> Result<T, ApplyError> {
        id.parse().map_err(|_| ApplyError::Reject {
            code: RejectCode::Invalid,
            reason: format!("'{id}' is not a {} id", kind.as_str()),
        })
    }
    let state = match kind {
        EntityKind::Settings => {
            if id != SETTINGS_ID {
                return reject(
                    RejectCode::Invalid,
                    format!("the settings record's id is '{SETTINGS_ID}', not '{id}'"),
                );
            }
            Some(FullRecord::Settings(apply::settings_state(conn)?))
        }
        EntityKind::TaxRate => conn
            .prepare_cached(
                "SELECT code, name, basis_points, deleted_at FROM tax_rates WHERE code = ?1",
            )?
            .query_row([id], |r| {
                Ok(FullRecord::TaxRate(TaxRateRecord {
                    code: apply::col(r, 0)?,
                    name: r.get(1)?,
                    basis_points: r.get(2)?,
                    deleted: r.get::<_, Option<i64>>(3)?.is_some(),
                }))
            })
            .optional()?,
        EntityKind::Category => apply::category_state(conn, parse::<CategoryId>(kind, id)?)
            .optional()?
            .map(FullRecord::Category),
        EntityKind::Product => apply::product_state(conn, parse(kind, id)?)
            .optional()?
            .map(FullRecord::Product),
        EntityKind::User => apply::user_state(conn, parse::<UserId>(kind, id)?)
            .optional()?
            .map(FullRecord::User),
        EntityKind::Customer => apply::customer_state(conn, parse::<CustomerId>(kind, id)?)
            .optional()?
            .map(FullRecord::Customer),
        EntityKind::Expense => apply::expense_state(conn, parse::<ExpenseId>(kind, id)?)
            .optional()?
            .map(FullRecord::Expense),
        EntityKind::Sale
        | EntityKind::StockMovement
        | EntityKind::LedgerEntry
        | EntityKind::Transfer
        | EntityKind::TransferReceipt => {
            return reject(
                RejectCode::Invalid,
                format!("{} records are append-only", kind.as_str()),
            );
        }
    };
    Ok(state)
}

/// The table and the word for a record kind that has a tombstone.
fn table_of(kind: EntityKind) -> Option<(&'static str, &'static str)> {
    match kind {
        EntityKind::Category => Some(("categories", "category")),
        EntityKind::Product => Some(("products", "product")),
        EntityKind::User => Some(("users", "user")),
        EntityKind::Customer => Some(("customers", "customer")),
        EntityKind::Expense => Some(("expenses", "expense")),
        _ => None,
    }
}

fn created_at_of(record: &FullRecord) -> Option<Timestamp> {
    match record {
        FullRecord::Product(p) => Some(p.created_at),
        FullRecord::Customer(c) => Some(c.created_at),
        FullRecord::User(u) => Some(u.created_at),
        FullRecord::Expense(e) => Some(e.created_at),
        FullRecord::Sale(s) => Some(s.created_at),
        FullRecord::StockMovement(m) => Some(m.created_at),
        FullRecord::LedgerEntry(e) => Some(e.created_at),
        FullRecord::Transfer(t) => Some(t.sent_at),
        FullRecord::TransferReceipt(r) => Some(r.received_at),
        FullRecord::Settings(_) | FullRecord::TaxRate(_) | FullRecord::Category(_) => None,
    }
}

fn deleted_at_of(record: &FullRecord) -> Option<Timestamp> {
    match record {
        FullRecord::Product(p) => p.deleted_at,
        FullRecord::Category(c) => c.deleted_at,
        FullRecord::Customer(c) => c.deleted_at,
        FullRecord::User(u) => u.deleted_at,
        FullRecord::Expense(e) => e.deleted_at,
        _ => None,
    }
}

/// A mutable record's own clock (tax rates carry none).
fn hlc_of(record: &FullRecord) -> Option<Hlc> {
    match record {
        FullRecord::Settings(s) => Some(s.hlc),
        FullRecord::Product(p) => Some(p.hlc),
        FullRecord::Category(c) => Some(c.hlc),
        FullRecord::Customer(c) => Some(c.hlc),
        FullRecord::User(u) => Some(u.hlc),
        FullRecord::Expense(e) => Some(e.hlc),
        _ => None,
    }
}

/// The op that soft-deletes `record` at `at`.
fn tombstone_of(record: &FullRecord, at: Timestamp) -> Option<OpBody> {
    Some(match record {
        FullRecord::Product(p) => OpBody::ProductDeleted(Tombstone {
            id: p.id,
            deleted_at: at,
        }),
        FullRecord::Category(c) => OpBody::CategoryDeleted(Tombstone {
            id: c.id,
            deleted_at: at,
        }),
        FullRecord::Customer(c) => OpBody::CustomerDeleted(Tombstone {
            id: c.id,
            deleted_at: at,
        }),
        FullRecord::User(u) => OpBody::UserDeleted(Tombstone {
            id: u.id,
            deleted_at: at,
        }),
        FullRecord::Expense(e) => OpBody::ExpenseDeleted(Tombstone {
            id: e.id,
            deleted_at: at,
        }),
        _ => return None,
    })
}

/// The op that writes `record`: a patch with every field for a mutable
/// record, the record itself for an append-only one.
fn op_of(record: &FullRecord) -> OpBody {
    match record.clone() {
        FullRecord::Settings(s) => OpBody::SettingsChanged(SettingsPatch {
            store_name: Some(s.store_name),
            address: Some(s.address),
            phone: Some(s.phone),
            tax_pin: Some(s.tax_pin),
            receipt_header: Some(s.receipt_header),
            receipt_footer: Some(s.receipt_footer),
            currency: Some(s.currency),
            time_zone: Some(s.time_zone),
            tax_mode: Some(s.tax_mode),
        }),
        FullRecord::TaxRate(r) => OpBody::TaxRateChanged(r),
        FullRecord::Category(c) => OpBody::CategoryChanged(CategoryPatch {
            id: c.id,
            name: Some(c.name),
            sort_order: Some(c.sort_order),
        }),
        FullRecord::Product(p) => OpBody::ProductChanged(ProductPatch {
            id: p.id,
            name: Some(p.name),
            sku: Some(p.sku),
            barcode: Some(p.barcode),
            category_id: Some(p.category_id),
            price: Some(p.price),
            tax_code: Some(p.tax_code),
            image: Some(p.image),
            track_stock: Some(p.track_stock),
            low_stock: Some(p.low_stock),
        }),
        FullRecord::User(u) => OpBody::UserChanged(UserPatch {
            id: u.id,
            name: Some(u.name),
            role: Some(u.role),
            pin_hash: Some(u.pin_hash),
            active: Some(u.active),
        }),
        FullRecord::Customer(c) => OpBody::CustomerChanged(CustomerPatch {
            id: c.id,
            name: Some(c.name),
            phone: Some(c.phone),
            email: Some(c.email),
            credit_limit: Some(c.credit_limit),
            notes: Some(c.notes),
        }),
        FullRecord::Expense(e) => OpBody::ExpenseChanged(ExpensePatch {
            id: e.id,
            branch_id: Some(e.branch_id),
            device_id: Some(e.device_id),
            user_id: Some(e.user_id),
            category: Some(e.category),
            description: Some(e.description),
            amount: Some(e.amount),
            paid_with: Some(e.paid_with),
            reference: Some(e.reference),
            spent_at: Some(e.spent_at),
            business_day: Some(e.business_day),
        }),
        FullRecord::Sale(s) => OpBody::SaleRecorded(s),
        FullRecord::StockMovement(m) => OpBody::StockMoved(m),
        FullRecord::LedgerEntry(e) => OpBody::LedgerEntryAdded(e),
        FullRecord::Transfer(t) => OpBody::TransferSent(t),
        FullRecord::TransferReceipt(r) => OpBody::TransferReceived(r),
    }
}

/// A record as the change feed (and a saved version) holds it.
fn change_of(record: &FullRecord) -> ChangeBody {
    match record.clone() {
        FullRecord::Settings(s) => ChangeBody::Settings(s),
        FullRecord::TaxRate(r) => ChangeBody::TaxRate(r),
        FullRecord::Category(c) => ChangeBody::Category(c),
        FullRecord::Product(p) => ChangeBody::Product(p),
        FullRecord::User(u) => ChangeBody::User(u),
        FullRecord::Customer(c) => ChangeBody::Customer(c),
        FullRecord::Expense(e) => ChangeBody::Expense(e),
        FullRecord::Sale(s) => ChangeBody::Sale(s),
        FullRecord::StockMovement(m) => ChangeBody::StockMoved(m),
        FullRecord::LedgerEntry(e) => ChangeBody::LedgerEntry(e),
        FullRecord::Transfer(t) => ChangeBody::TransferSent(t),
        FullRecord::TransferReceipt(r) => ChangeBody::TransferReceived(r),
    }
}

/// The mutable record a saved state describes.
fn record_of(body: ChangeBody) -> Option<FullRecord> {
    Some(match body {
        ChangeBody::Settings(s) => FullRecord::Settings(s),
        ChangeBody::TaxRate(r) => FullRecord::TaxRate(r),
        ChangeBody::Category(c) => FullRecord::Category(c),
        ChangeBody::Product(p) => FullRecord::Product(p),
        ChangeBody::User(u) => FullRecord::User(u),
        ChangeBody::Customer(c) => FullRecord::Customer(c),
        ChangeBody::Expense(e) => FullRecord::Expense(e),
        _ => return None,
    })
}

// Finish -----------------------------------------------------------------------------

fn finish(
    conn: &mut Connection,
    now: Timestamp,
    device: &AuthDevice,
    f: &FinishRequest,
    started: Instant,
) -> Result<FinishAnswer, ApiError> {
    let Ok(acknowledged) = i64::try_from(f.acknowledged_seq) else {
        return Err(ApiError::bad_request(format!(
            "acknowledged_seq {} is larger than any device sequence can be",
            f.acknowledged_seq
        )));
    };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    claim_session(&tx, device, f.session, now)?;
    tx.prepare_cached(
        "UPDATE full_sync_sessions SET finished_at = ?2, acknowledged_seq = ?3 WHERE session = ?1",
    )?
    .execute(params![
        f.session.to_string(),
        now.as_millis(),
        acknowledged
    ])?;
    let last_seq = |tx: &Connection| -> rusqlite::Result<i64> {
        tx.prepare_cached("SELECT last_seq FROM devices WHERE id = ?1")?
            .query_row([device.id.to_string()], |r| r.get(0))
    };
    let before = last_seq(&tx)?;
    tx.prepare_cached("UPDATE devices SET last_seq = MAX(last_seq, ?2) WHERE id = ?1")?
        .execute(params![device.id.to_string(), acknowledged])?;
    let after = last_seq(&tx)?.max(0);
    let detail = format!(
        "session {}: the upload accounts for ops up to {acknowledged}; last_seq {before} -> {after}",
        f.session
    );
    log_ok(
        &tx,
        device,
        "full_finish",
        LogCounts::default(),
        started,
        now,
        &detail,
    )?;
    tx.commit()?;
    tracing::info!(device = %device.name, session = %f.session, acknowledged, before, after, "full sync finished");
    Ok(FinishAnswer {
        session: f.session,
        next_device_seq: after as u64 + 1,
        server_time: now,
    })
}

// The sync log ------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default)]
struct LogCounts {
    items: usize,
    applied: u64,
    duplicates: u64,
    rejected: u64,
}

fn log_ok(
    conn: &Connection,
    device: &AuthDevice,
    direction: &str,
    counts: LogCounts,
    started: Instant,
    now: Timestamp,
    detail: &str,
) -> rusqlite::Result<()> {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "INSERT INTO sync_log (device_id, direction, items, applied, duplicates, rejected, duration_ms,
                               result, at, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'ok', ?8, ?9)",
    )?
    .execute(params![
        device.id.to_string(),
        direction,
        n(counts.items as u64),
        n(counts.applied),
        n(counts.duplicates),
        n(counts.rejected),
        started.elapsed().as_millis().min(i64::MAX as u128) as i64,
        now.as_millis(),
        detail
    ])?;
    Ok(())
}

// Restorable versions (the CLI) ---------------------------------------------------------

/// A saved state of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// What `versions restore` takes.
    pub id: i64,
    pub entity: EntityKind,
    pub entity_id: String,
    pub replaced_at: Timestamp,
    /// The device whose run replaced it (`None`: the CLI).
    pub replaced_by: Option<DeviceId>,
    /// That device's name and code, if it still exists.
    pub device: Option<String>,
    /// `full_sync_overwrite`, `full_sync_remove` or `version_restore`.
    pub reason: String,
    pub session: Option<String>,
    /// The state as it was.
    pub state: ChangeBody,
}

/// The saved versions of one record, oldest first.
pub fn list_versions(
    conn: &Connection,
    entity: EntityKind,
    id: &str,
) -> rusqlite::Result<Vec<VersionInfo>> {
    let mut stmt = conn.prepare(
        "SELECT v.id, v.entity_id, v.replaced_at, v.replaced_by, d.name, d.code, v.reason, v.session, v.state
         FROM record_versions v LEFT JOIN devices d ON d.id = v.replaced_by
         WHERE v.entity = ?1 AND v.entity_id = ?2 ORDER BY v.id",
    )?;
    let rows = stmt.query_map(params![entity.as_str(), id], |r| {
        let name: Option<String> = r.get(4)?;
        let code: Option<String> = r.get(5)?;
        let state: String = r.get(8)?;
        Ok(VersionInfo {
            id: r.get(0)?,
            entity,
            entity_id: r.get(1)?,
            replaced_at: Timestamp::from_millis(r.get(2)?),
            replaced_by: apply::col_opt(r, 3)?,
            device: name.map(|n| match code {
                Some(c) => format!("{n} ({c})"),
                None => n,
            }),
            reason: r.get(6)?,
            session: r.get(7)?,
            state: serde_json::from_str(&state).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    8,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
        })
    })?;
    rows.collect()
}

/// Why a version could not be restored. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error(
        "there is no saved version {0}; list them with `whiz-backoffice versions list --entity KIND --id ID`"
    )]
    NotFound(i64),
    #[error("version {id} cannot be restored: {reason}")]
    Refused { id: i64, reason: String },
    #[error("the Back Office database failed: {0}")]
    Db(#[from] rusqlite::Error),
}

/// What restoring a version did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub entity: EntityKind,
    pub entity_id: String,
    /// The version that now holds the state the restore replaced (`None`:
    /// the record already had the restored values; nothing changed).
    pub saved_as: Option<i64>,
}

/// Writes a saved state back as the record's newest version: the current
/// state is saved as a version too, the saved values are written with a
/// fresh server clock, and the change is recorded so every till pulls it.
pub fn restore_version(
    conn: &mut Connection,
    clock: &dyn Clock,
    version: i64,
) -> Result<Restored, VersionError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let state: Option<String> = tx
        .query_row(
            "SELECT state FROM record_versions WHERE id = ?1",
            [version],
            |r| r.get(0),
        )
        .optional()?;
    let state = state.ok_or(VersionError::NotFound(version))?;
    let refused = |reason: String| VersionError::Refused {
        id: version,
        reason,
    };
    let body: ChangeBody = serde_json::from_str(&state)
        .map_err(|e| refused(format!("its saved state cannot be read ({e})")))?;
    let record = record_of(body).ok_or_else(|| refused("it is not a mutable record".into()))?;
    let kind = record.entity();
    let id = record.id();
    let branch = match &record {
        FullRecord::Expense(e) => e.branch_id,
        _ => BranchId::from_uuid(Uuid::nil()),
    };
    let writer = Writer {
        // The server itself: the changes it records name no device.
        device: DeviceId::from_uuid(Uuid::nil()),
        branch,
        now: clock.now(),
        max_ahead: 0,
        replaced_by: None,
        session: None,
        reason: "version_restore",
    };
    let fail = |e: ApplyError| match e {
        ApplyError::Reject { reason, .. } => refused(reason),
        ApplyError::Db(e) => VersionError::Db(e),
    };
    let before: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| {
        r.get(0)
    })?;
    let current = load(&tx, kind, &id).map_err(fail)?;
    let saved_as = match &current {
        Some(current) if digest(current) == digest(&record) => {
            return Ok(Restored {
                entity: kind,
                entity_id: id,
                saved_as: None,
            });
        }
        Some(current) => Some(overwrite(&tx, &writer, current, &record).map_err(fail)?),
        None => {
            apply_record(&tx, &writer, FullSyncMode::Overwrite, &record).map_err(fail)?;
            None
        }
    };
    tx.execute("UPDATE changes SET origin = NULL WHERE seq > ?1", [before])?;
    tx.commit()?;
    tracing::info!(version, entity = kind.as_str(), id = %id, "restored a saved version");
    Ok(Restored {
        entity: kind,
        entity_id: id,
        saved_as,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_protocol::ManifestEntry;

    fn part(after: Option<&str>, through: Option<&str>, ids: &[&str]) -> PreviewPart {
        PreviewPart {
            entity: EntityKind::Product,
            after: after.map(str::to_string),
            through: through.map(str::to_string),
            records: ids
                .iter()
                .map(|id| ManifestEntry {
                    id: id.to_string(),
                    digest: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn preview_parts_must_be_sorted_and_inside_their_range() {
        assert!(check_preview(&part(None, None, &["a", "b", "c"])).is_ok());
        assert!(check_preview(&part(Some("a"), Some("c"), &["b", "c"])).is_ok());
        assert!(check_preview(&part(None, None, &["b", "a"])).is_err());
        assert!(check_preview(&part(None, None, &["a", "a"])).is_err());
        assert!(check_preview(&part(Some("a"), None, &["a"])).is_err());
        assert!(check_preview(&part(None, Some("b"), &["c"])).is_err());
        assert!(check_preview(&part(Some("c"), Some("c"), &[])).is_err());
        assert!(check_preview(&part(None, None, &[""])).is_err());
    }

    #[test]
    fn a_fresh_clock_beats_the_newest_and_is_never_behind_now() {
        let now = Timestamp::from_millis(1_000);
        assert_eq!(fresh_hlc(Hlc::ZERO, now), Hlc::new(1_000, 0, SERVER_NODE));
        let ahead = Hlc::new(5_000, 3, 77);
        let fresh = fresh_hlc(ahead, now);
        assert!(fresh > ahead, "{fresh} vs {ahead}");
        assert_eq!(fresh, Hlc::new(5_000, 4, SERVER_NODE));
        let same_ms = Hlc::new(1_000, 0, 99);
        assert!(fresh_hlc(same_ms, now) > same_ms);
        let full = Hlc::new(5_000, u32::MAX, 1);
        assert!(fresh_hlc(full, now) > full);
    }
}
