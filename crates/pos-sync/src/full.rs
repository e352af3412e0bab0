//! Full Cloud Synchronization, the till's side (DESIGN.md invariant 8;
//! the wire is `sync_protocol::full`).
//!
//! - [`SyncEngine::full_sync_preview`] pushes what is pending (so queued ops
//!   take their normal path), then sends the till's manifest part by part and
//!   adds up, per entity, what the Back Office would add, overwrite, and what
//!   only it has. The manager reads that before anything changes.
//! - [`SyncEngine::full_sync_apply`] uploads the records the preview named,
//!   read afresh, in chunks of at most [`MAX_FULL_SYNC_RECORDS`], reporting
//!   progress after each; removes records only on the server only when the
//!   manager ticked [`FullSyncOptions::remove_server_only`]; finishes the
//!   session; then runs a normal push and pull so this till converges.
//!   A chunk that fails for a transient reason is sent again with the same
//!   `(session, chunk)`: the server answers a repeat without applying twice.
//!   A run cut short (the network, a crash) is resumed by previewing again:
//!   what already landed previews as unchanged.
//! - **Recovery** ([`FullSyncMode::Restore`]) runs by itself when the Back
//!   Office turns out to have lost operations it had acknowledged (restored
//!   from an older backup): the till uploads what the server lacks or holds
//!   older, merged by last-writer-wins on the records' own clocks — nothing
//!   newer is overwritten — and the server then accepts the till's next op.
//!
//! Nothing here runs beside a sync round: both hold the engine's exclusive
//! lock, so the timer waits while a Full Cloud Synchronization runs.

use std::time::Duration;

use sync_protocol::{
    ApplyAnswer, ApplyChunk, EntityKind, FinishRequest, FullRecord, FullSyncMode, FullSyncRequest,
    FullSyncResponse, MAX_FULL_SYNC_CHUNK_BYTES, MAX_FULL_SYNC_RECORDS, MAX_MANIFEST_ENTRIES,
    PreviewPart, RecordRef, RecordRejection,
};
use uuid::Uuid;

use crate::client::{BackOffice, ClientError};
use crate::engine::{EngineState, SyncEngine, SyncError, SyncReport};

/// What one entity would go through.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntityPreview {
    pub entity: Option<EntityKind>,
    /// Records this till has and the Back Office does not.
    pub to_add: Vec<String>,
    /// Records both have with different values (mutable records only).
    pub to_overwrite: Vec<String>,
    /// Live records only the Back Office has. Append-only ones are always
    /// kept; mutable ones are removed (soft) only if the manager ticks it.
    pub only_on_server: Vec<String>,
    pub unchanged: u64,
}

impl EntityPreview {
    /// Whether applying would change anything for this entity (removal
    /// aside).
    pub fn has_work(&self) -> bool {
        !self.to_add.is_empty() || !self.to_overwrite.is_empty()
    }
}

/// The preview the manager confirms; [`SyncEngine::full_sync_apply`] takes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FullSyncPreview {
    /// In upload order ([`EntityKind::ALL`]).
    pub entities: Vec<EntityPreview>,
}

impl FullSyncPreview {
    pub fn entity(&self, kind: EntityKind) -> Option<&EntityPreview> {
        self.entities.iter().find(|e| e.entity == Some(kind))
    }

    /// Totals over every entity: (to add, to overwrite, only on server).
    pub fn totals(&self) -> (u64, u64, u64) {
        self.entities.iter().fold((0, 0, 0), |(a, o, s), e| {
            (
                a + e.to_add.len() as u64,
                o + e.to_overwrite.len() as u64,
                s + e.only_on_server.len() as u64,
            )
        })
    }
}

/// What the manager chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FullSyncOptions {
    /// Soft-remove products, categories, customers, users and expenses that
    /// only the Back Office has. Off unless the manager ticks it.
    pub remove_server_only: bool,
}

/// Where a run is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FullSyncProgress {
    pub phase: FullSyncPhase,
    /// Records (or manifest parts while previewing) done so far.
    pub done: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullSyncPhase {
    Previewing,
    Uploading,
    Finishing,
    /// The closing push and pull.
    Converging,
    Done,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FullSyncReport {
    pub session: Option<Uuid>,
    pub chunks: u32,
    /// Chunks the server had already applied (a retry after a lost answer).
    pub repeated_chunks: u32,
    pub added: u64,
    pub overwritten: u64,
    pub unchanged: u64,
    pub removed: u64,
    /// Records the Back Office refused, each with its reason.
    pub rejected: Vec<RecordRejection>,
    /// The device sequence the Back Office expects next after the run.
    pub next_device_seq: u64,
    /// The closing push and pull.
    pub round: SyncReport,
}

impl FullSyncReport {
    fn add(&mut self, answer: ApplyAnswer) {
        self.chunks += 1;
        self.repeated_chunks += u32::from(answer.duplicate);
        self.added += answer.added;
        self.overwritten += answer.overwritten;
        self.unchanged += answer.unchanged;
        self.removed += answer.removed;
        self.rejected.extend(answer.rejected);
    }
}

/// How many times a chunk is sent before the run stops (transient failures).
const CHUNK_ATTEMPTS: u32 = 5;

/// Splits `records`, in order, into runs whose JSON is at most `max_bytes`
/// each (a record larger than that alone in its run), so a chunk of many
/// large records (sales or transfers of many lines) still fits in a request.
fn by_size(records: Vec<FullRecord>, max_bytes: usize) -> Vec<Vec<FullRecord>> {
    let mut runs: Vec<Vec<FullRecord>> = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0usize;
    for r in records {
        let size = serde_json::to_vec(&r).map_or(0, |v| v.len());
        if !current.is_empty() && bytes + size > max_bytes {
            runs.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(r);
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

impl SyncEngine {
    /// Step 1 of **Full Cloud Synchronization**: push what is pending, then
    /// compare this till's records with the Back Office's. Changes nothing
    /// at the Back Office beyond the push.
    pub async fn full_sync_preview(&self) -> Result<FullSyncPreview, SyncError> {
        let client = self.client()?;
        let _exclusive = self.exclusive().await;
        self.set_state(EngineState::Syncing);
        let result = async {
            self.check_status_now(&client).await?;
            let mut report = SyncReport::default();
            match self.push_all(&client, &mut report).await {
                // The preview shows what the server lacks; the apply repairs it.
                Ok(()) | Err(SyncError::ServerLostOps { .. }) => {}
                Err(e) => return Err(e),
            }
            self.preview(&client, &|_| {}).await
        }
        .await;
        self.finish_state(&result).await;
        result
    }

    /// Step 2: upload what `preview` named, as this till has it now, in
    /// resumable chunks, calling `progress` as it goes; then push and pull.
    pub async fn full_sync_apply(
        &self,
        preview: &FullSyncPreview,
        options: FullSyncOptions,
        progress: &(dyn Fn(FullSyncProgress) + Send + Sync),
    ) -> Result<FullSyncReport, SyncError> {
        let client = self.client()?;
        let _exclusive = self.exclusive().await;
        self.set_state(EngineState::Syncing);
        let result = async {
            self.check_status_now(&client).await?;
            let mut report = self
                .upload(&client, preview, FullSyncMode::Overwrite, options, progress)
                .await?;
            progress(FullSyncProgress {
                phase: FullSyncPhase::Converging,
                done: 0,
                total: 0,
            });
            let mut round = SyncReport::default();
            self.push_all(&client, &mut round).await?;
            self.pull_all(&client, &mut round).await?;
            report.round = round;
            progress(FullSyncProgress {
                phase: FullSyncPhase::Done,
                done: 1,
                total: 1,
            });
            Ok(report)
        }
        .await;
        self.finish_state(&result).await;
        result
    }

    /// The recovery upload after the Back Office lost acknowledged ops:
    /// everything it lacks or holds older, merged by last-writer-wins.
    pub(crate) async fn recover(&self, client: &BackOffice) -> Result<FullSyncReport, SyncError> {
        tracing::warn!(
            "the Back Office lost operations it had acknowledged: uploading this till's records"
        );
        let preview = self.preview(client, &|_| {}).await?;
        self.upload(
            client,
            &preview,
            FullSyncMode::Restore,
            FullSyncOptions::default(),
            &|_| {},
        )
        .await
    }

    async fn preview(
        &self,
        client: &BackOffice,
        progress: &(dyn Fn(FullSyncProgress) + Send + Sync),
    ) -> Result<FullSyncPreview, SyncError> {
        let mut preview = FullSyncPreview::default();
        let total = EntityKind::ALL.len() as u64;
        for (i, entity) in EntityKind::ALL.into_iter().enumerate() {
            progress(FullSyncProgress {
                phase: FullSyncPhase::Previewing,
                done: i as u64,
                total,
            });
            let manifest = self
                .with_store(move |s| s.full_sync_manifest(entity))
                .await?;
            let mut summary = EntityPreview {
                entity: Some(entity),
                ..EntityPreview::default()
            };
            let parts: Vec<_> = if manifest.is_empty() {
                vec![Vec::new()]
            } else {
                manifest
                    .chunks(MAX_MANIFEST_ENTRIES)
                    .map(<[_]>::to_vec)
                    .collect()
            };
            let last = parts.len() - 1;
            let mut after: Option<String> = None;
            for (n, records) in parts.into_iter().enumerate() {
                let through = (n < last).then(|| records.last().map(|e| e.id.clone()));
                let through = through.flatten();
                let part = PreviewPart {
                    entity,
                    after: after.clone(),
                    through: through.clone(),
                    records,
                };
                let answer = match send_retrying(client, &FullSyncRequest::Preview(part)).await? {
                    FullSyncResponse::Preview(a) => a,
                    other => return Err(unexpected("preview", &other)),
                };
                summary.to_add.extend(answer.to_add);
                summary.to_overwrite.extend(answer.to_overwrite);
                summary.only_on_server.extend(answer.only_on_server);
                summary.unchanged += answer.unchanged;
                after = through;
            }
            preview.entities.push(summary);
        }
        Ok(preview)
    }

    async fn upload(
        &self,
        client: &BackOffice,
        preview: &FullSyncPreview,
        mode: FullSyncMode,
        options: FullSyncOptions,
        progress: &(dyn Fn(FullSyncProgress) + Send + Sync),
    ) -> Result<FullSyncReport, SyncError> {
        // Read before uploading: everything acknowledged so far is in the
        // records sent below.
        let acknowledged_seq = self.with_store(|s| s.acknowledged_seq()).await?;
        let remove = options.remove_server_only && mode == FullSyncMode::Overwrite;
        let total: u64 = preview
            .entities
            .iter()
            .map(|e| {
                let removals = match e.entity {
                    Some(k) if remove && k.is_removable() => e.only_on_server.len(),
                    _ => 0,
                };
                (e.to_add.len() + e.to_overwrite.len() + removals) as u64
            })
            .sum();
        let session = Uuid::now_v7();
        let mut report = FullSyncReport {
            session: Some(session),
            ..FullSyncReport::default()
        };
        let mut done = 0u64;
        let mut chunk_no = 0u32;
        progress(FullSyncProgress {
            phase: FullSyncPhase::Uploading,
            done,
            total,
        });
        for entity_preview in &preview.entities {
            let Some(entity) = entity_preview.entity else {
                continue;
            };
            let mut ids: Vec<String> = entity_preview.to_add.clone();
            ids.extend(entity_preview.to_overwrite.iter().cloned());
            let removals: Vec<RecordRef> = if remove && entity.is_removable() {
                entity_preview
                    .only_on_server
                    .iter()
                    .map(|id| RecordRef {
                        entity,
                        id: id.clone(),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            for batch in ids.chunks(MAX_FULL_SYNC_RECORDS) {
                let batch = batch.to_vec();
                let records: Vec<FullRecord> = self
                    .with_store(move |s| s.full_sync_records(entity, &batch))
                    .await?;
                for records in by_size(records, MAX_FULL_SYNC_CHUNK_BYTES) {
                    let n = records.len() as u64;
                    chunk_no += 1;
                    let answer =
                        send_chunk(client, session, chunk_no, mode, records, Vec::new()).await?;
                    report.add(answer);
                    done += n;
                    progress(FullSyncProgress {
                        phase: FullSyncPhase::Uploading,
                        done,
                        total,
                    });
                }
            }
            for batch in removals.chunks(MAX_FULL_SYNC_RECORDS) {
                chunk_no += 1;
                let answer =
                    send_chunk(client, session, chunk_no, mode, Vec::new(), batch.to_vec()).await?;
                report.add(answer);
                done += batch.len() as u64;
                progress(FullSyncProgress {
                    phase: FullSyncPhase::Uploading,
                    done,
                    total,
                });
            }
        }
        progress(FullSyncProgress {
            phase: FullSyncPhase::Finishing,
            done,
            total,
        });
        let finish = FullSyncRequest::Finish(FinishRequest {
            session,
            acknowledged_seq,
        });
        match send_retrying(client, &finish).await? {
            FullSyncResponse::Finish(f) => report.next_device_seq = f.next_device_seq,
            other => return Err(unexpected("finish", &other)),
        }
        for r in &report.rejected {
            tracing::warn!(entity = r.entity.as_str(), id = %r.id, reason = %r.reason, "full sync: record refused");
        }
        Ok(report)
    }

    async fn finish_state<T>(&self, result: &Result<T, SyncError>) {
        let state = match result {
            Err(e) if e.is_unreachable() => EngineState::Unreachable,
            _ => EngineState::Online,
        };
        if let Err(e) = result {
            let message = e.to_string();
            if let Err(store_err) = self
                .with_store(move |s| s.record_sync_error(&message))
                .await
            {
                tracing::error!(error = %store_err, "could not record the sync error");
            }
        }
        self.refresh_counts().await;
        self.set_state(state);
    }
}

/// Sends a step again after transient failures (the server answers a
/// repeated chunk or finish without doing it twice).
async fn send_retrying(
    client: &BackOffice,
    step: &FullSyncRequest,
) -> Result<FullSyncResponse, SyncError> {
    let mut attempt = 1;
    loop {
        match client.full_sync(step).await {
            Ok(answer) => return Ok(answer),
            Err(e) if e.is_transient() && attempt < CHUNK_ATTEMPTS => {
                let wait = Duration::from_millis(250 << attempt.min(4));
                tracing::warn!(error = %e, attempt, "full sync step failed: sending it again");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn send_chunk(
    client: &BackOffice,
    session: Uuid,
    chunk: u32,
    mode: FullSyncMode,
    records: Vec<FullRecord>,
    remove: Vec<RecordRef>,
) -> Result<ApplyAnswer, SyncError> {
    let step = FullSyncRequest::Apply(ApplyChunk {
        session,
        chunk,
        mode,
        records,
        remove,
    });
    match send_retrying(client, &step).await? {
        FullSyncResponse::Apply(a) => Ok(a),
        other => Err(unexpected("apply", &other)),
    }
}

fn unexpected(asked: &str, got: &FullSyncResponse) -> SyncError {
    let got = match got {
        FullSyncResponse::Preview(_) => "preview",
        FullSyncResponse::Apply(_) => "apply",
        FullSyncResponse::Finish(_) => "finish",
    };
    SyncError::Client(ClientError::Protocol {
        status: 200,
        detail: format!("asked to {asked}, the Back Office answered a {got} step"),
    })
}

#[cfg(test)]
mod tests {
    use pos_domain::TaxCode;
    use sync_protocol::TaxRateRecord;

    use super::*;

    fn rate(code: &str, name_len: usize) -> FullRecord {
        FullRecord::TaxRate(TaxRateRecord {
            code: TaxCode::parse(code).unwrap(),
            name: "x".repeat(name_len),
            basis_points: 1600,
            deleted: false,
        })
    }

    #[test]
    fn chunks_are_cut_by_size_in_order_and_a_big_record_goes_alone() {
        let size = |r: &FullRecord| serde_json::to_vec(r).unwrap().len();
        let small = size(&rate("A", 10));
        let records = vec![
            rate("A", 10),
            rate("B", 10),
            rate("C", 10),
            rate("D", 5000),
            rate("E", 10),
        ];
        // Room for two small records per run.
        let runs = by_size(records, 2 * small + 1);
        let codes: Vec<Vec<String>> = runs
            .iter()
            .map(|run| run.iter().map(FullRecord::id).collect())
            .collect();
        assert_eq!(codes, [vec!["A", "B"], vec!["C"], vec!["D"], vec!["E"]]);
        assert!(by_size(Vec::new(), 10).is_empty());
        let all = by_size(vec![rate("A", 10), rate("B", 10)], usize::MAX);
        assert_eq!(all.len(), 1, "everything fits in one run");
    }
}
