//! The sync engine: one round pushes the outbox, then pulls the change feed;
//! a loop runs a round every few seconds, backs off while the Back Office is
//! failing, and publishes a [`SyncStatus`] for the Sync Status page.
//!
//! - **One round at a time.** A caller that asks for a round while one runs
//!   joins it and gets its result (a second round starts only if the running
//!   one does not cover what was asked: a pull asked during a push-only round).
//! - **Push** sends the pending ops oldest first in batches of at most
//!   [`sync_protocol::MAX_PUSH_OPS`], acknowledging and quarantining per the
//!   answer ([`crate::plan`]), until the outbox is empty. Any failure records
//!   itself on the ops and ends the round; nothing is deleted unanswered.
//! - **Pull** asks for pages after the stored cursor until `has_more` is
//!   false, applying each with [`Store::apply_pulled`] (page and cursor in one
//!   transaction). `409 epoch_changed` (the Back Office was restored) resets
//!   the cursor and pulls again from the beginning.
//! - The store sits behind a `std::sync::Mutex` that is locked only inside
//!   `spawn_blocking` closures, never across a network await: a sale never
//!   waits for the network.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use pos_domain::{OpId, Timestamp};
use pos_store::identity::RegisteredIdentity;
use pos_store::{Store, StoreError};
use rand::Rng;
use sync_protocol::{
    Cursor, ErrorCode, MAX_PULL_LIMIT, MAX_PUSH_OPS, PROTOCOL_VERSION, PullResponse, PushRequest,
};
use tokio::sync::{Notify, watch};

use crate::client::{BackOffice, ClientError};
use crate::plan::{Backoff, GapVerdict, judge_gap, plan_push};

/// How the engine behaves; [`SyncConfig::default`] is the desktop's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    /// Between rounds while all is well.
    pub interval: Duration,
    /// After [`SyncEngine::nudge`], wait this long (to gather a burst of
    /// sales) before the round.
    pub nudge_delay: Duration,
    /// Ops per push (at most [`MAX_PUSH_OPS`]).
    pub push_batch: usize,
    /// Changes per pulled page (at most [`MAX_PULL_LIMIT`]). Smaller pages
    /// hold the store's lock for less time; a page of 1,000 products applies
    /// in a few tens of milliseconds, and bigger pages make a bootstrap
    /// faster.
    pub pull_limit: u32,
    /// Retry schedule while failing.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    pub backoff_floor: Duration,
    /// How often `GET /api/status` is asked while all is well (it is also
    /// asked after every failure): version check and clock skew.
    pub status_every: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            interval: Duration::from_secs(10),
            nudge_delay: Duration::from_millis(500),
            push_batch: MAX_PUSH_OPS,
            pull_limit: MAX_PULL_LIMIT,
            backoff_base: Backoff::DEFAULT_BASE,
            backoff_cap: Backoff::DEFAULT_CAP,
            backoff_floor: Backoff::DEFAULT_FLOOR,
            status_every: Duration::from_secs(300),
        }
    }
}

/// What the engine is doing, for the Sync Status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineState {
    /// No Back Office address or API key yet.
    NotConfigured,
    /// Configured; no round has finished since the app started.
    Connecting,
    /// A round is running.
    Syncing,
    /// The last round reached the Back Office (it may still have refused
    /// something: see `last_error`).
    Online,
    /// The last round could not reach the Back Office. Selling goes on.
    Unreachable,
}

/// An op the Back Office rejected for good, set aside with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantinedOp {
    pub op_id: OpId,
    pub device_seq: u64,
    /// `sale_recorded`, `product_changed`, …
    pub kind: &'static str,
    pub reason: String,
}

/// Everything the Sync Status page shows, published on a watch channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    pub state: EngineState,
    /// Ops waiting to be pushed (quarantined ones excluded).
    pub pending: u64,
    pub quarantined: Vec<QuarantinedOp>,
    /// Pulled changes this till could not apply yet.
    pub held_changes: u64,
    pub last_push_at: Option<Timestamp>,
    pub last_pull_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    /// This till's clock minus the Back Office's, in ms (positive: ahead).
    pub clock_skew_ms: Option<i64>,
    /// Consecutive failed rounds.
    pub failures: u32,
    /// While failing: how long until the next attempt.
    pub retry_in: Option<Duration>,
}

impl SyncStatus {
    fn initial(configured: bool) -> SyncStatus {
        SyncStatus {
            state: if configured {
                EngineState::Connecting
            } else {
                EngineState::NotConfigured
            },
            pending: 0,
            quarantined: Vec::new(),
            held_changes: 0,
            last_push_at: None,
            last_pull_at: None,
            last_error: None,
            last_error_at: None,
            clock_skew_ms: None,
            failures: 0,
            retry_in: None,
        }
    }
}

/// Which halves of a round to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundKind {
    /// Push, then pull (the timer and Full rounds).
    Both,
    /// **Push Pending Data**.
    Push,
    /// **Pull Updates**.
    Pull,
}

impl RoundKind {
    fn covers(self, wanted: RoundKind) -> bool {
        self == RoundKind::Both || self == wanted
    }

    fn pushes(self) -> bool {
        self != RoundKind::Pull
    }

    fn pulls(self) -> bool {
        self != RoundKind::Push
    }
}

/// What a round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncReport {
    /// Push requests sent.
    pub push_requests: u32,
    /// Ops acknowledged (`applied` or `duplicate`) and removed.
    pub acknowledged: usize,
    /// Ops rejected and quarantined.
    pub quarantined: usize,
    /// Pages pulled and applied.
    pub pages: u32,
    /// Changes applied from those pages.
    pub changes: usize,
    /// Whether the cursor was reset for a new Back Office epoch.
    pub rebootstrapped: bool,
    /// Whether the Back Office had lost acknowledged ops of this till (it
    /// was restored from a backup) and the till uploaded its records again.
    pub recovered: bool,
}

/// Why a round stopped. Cloneable, so callers that joined a round get the
/// same answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SyncError {
    #[error(
        "this till is not connected to a Back Office yet: an owner enters its address and \
         API key in Settings > Back Office"
    )]
    NotConfigured,

    #[error(transparent)]
    Client(#[from] ClientError),

    #[error(
        "the Back Office speaks sync protocol {server} and this till {ours}: update {}",
        which_to_update(.server, .ours)
    )]
    ProtocolVersion { server: u32, ours: u32 },

    #[error(
        "the Back Office has lost operations #{expected}–#{} of this till that it had \
         already acknowledged (was it restored from a backup?). Nothing was deleted here; \
         a manager should run Full Cloud Synchronization, or call support",
        previous(.first_sent)
    )]
    ServerLostOps { expected: u64, first_sent: u64 },

    #[error(
        "the Back Office refused operation #{first_sent} as out of sequence ({detail}); \
         nothing was deleted and it will be retried: if this persists, call support"
    )]
    SequenceRefused { first_sent: u64, detail: String },

    #[error(
        "the Back Office answered none of the {sent} operations sent ({detail}); they stay \
         queued and will be retried"
    )]
    NoProgress { sent: usize, detail: String },

    #[error(
        "the Back Office's change feed did not move past {cursor}; pulling stopped and will \
         be retried: if this persists, call support"
    )]
    StuckFeed { cursor: String },

    #[error(transparent)]
    Store(Arc<StoreError>),

    #[error("the sync task stopped unexpectedly ({0}); it will be retried")]
    Task(String),
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        SyncError::Store(Arc::new(e))
    }
}

impl SyncError {
    /// Whether the Back Office could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, SyncError::Client(ClientError::Unreachable { .. }))
    }
}

type Outcome = Result<SyncReport, SyncError>;

/// The round in progress: what it covers and where its result will appear.
struct Running {
    kind: RoundKind,
    result: watch::Receiver<Option<Outcome>>,
}

/// The sync engine of one till. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct SyncEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine")
            .field("status", &*self.inner.status.borrow())
            .finish_non_exhaustive()
    }
}

struct Inner {
    store: Arc<Mutex<Store>>,
    client: RwLock<Option<BackOffice>>,
    config: SyncConfig,
    running: Mutex<Option<Running>>,
    status: watch::Sender<SyncStatus>,
    nudged: Notify,
    /// Wakes the loop even while backing off (the Back Office changed).
    reconfigured: Notify,
    stop: AtomicBool,
    stopped: Notify,
    /// When `GET /api/status` last answered (None: not since start or since
    /// the last failure).
    status_checked: Mutex<Option<tokio::time::Instant>>,
    /// Held by a round and by Full Cloud Synchronization: never both at once.
    exclusive: tokio::sync::Mutex<()>,
}

/// A page request already sent; dropping it abandons the request (nothing
/// was applied from it, and pulling is idempotent).
struct Prefetch {
    task: tokio::task::JoinHandle<Result<PullResponse, ClientError>>,
    url: String,
}

impl Prefetch {
    fn start(client: &BackOffice, cursor: Cursor, limit: u32) -> Prefetch {
        let url = client.base_url().to_string();
        let client = client.clone();
        Prefetch {
            task: tokio::spawn(async move { client.pull(Some(cursor), limit).await }),
            url,
        }
    }

    async fn page(mut self) -> Result<PullResponse, ClientError> {
        match (&mut self.task).await {
            Ok(page) => page,
            Err(e) => Err(ClientError::Unreachable {
                url: self.url.clone(),
                detail: format!("the pull stopped: {e}"),
            }),
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Locks the store. A panic while it was held leaves no half transaction
/// (rusqlite rolls back on drop), so a poisoned lock is taken over.
fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

impl SyncEngine {
    /// An engine over `store`, talking to `client` (`None` until the till is
    /// configured; see [`SyncEngine::set_backoffice`]).
    pub fn new(store: Arc<Mutex<Store>>, client: Option<BackOffice>, config: SyncConfig) -> Self {
        let (status, _) = watch::channel(SyncStatus::initial(client.is_some()));
        let engine = SyncEngine {
            inner: Arc::new(Inner {
                store,
                client: RwLock::new(client),
                config,
                running: Mutex::new(None),
                status,
                nudged: Notify::new(),
                reconfigured: Notify::new(),
                stop: AtomicBool::new(false),
                stopped: Notify::new(),
                status_checked: Mutex::new(None),
                exclusive: tokio::sync::Mutex::new(()),
            }),
        };
        engine.refresh_counts_now();
        engine
    }

    /// Points the engine at another Back Office (or none) after Settings
    /// changed. The next round uses it.
    pub fn set_backoffice(&self, client: Option<BackOffice>) {
        let configured = client.is_some();
        *self.inner.client.write().unwrap_or_else(|p| p.into_inner()) = client;
        *lock_checked(&self.inner.status_checked) = None;
        self.inner.status.send_modify(|s| {
            s.state = if configured {
                EngineState::Connecting
            } else {
                EngineState::NotConfigured
            };
            s.failures = 0;
            s.retry_in = None;
        });
        self.inner.reconfigured.notify_one();
    }

    /// The Back Office client the engine uses, if the till is connected
    /// (for one-off reads such as a customer's history at every branch).
    pub fn backoffice(&self) -> Option<BackOffice> {
        self.inner
            .client
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The latest status.
    pub fn status(&self) -> SyncStatus {
        self.inner.status.borrow().clone()
    }

    /// A receiver that sees every status change (for the UI).
    pub fn subscribe(&self) -> watch::Receiver<SyncStatus> {
        self.inner.status.subscribe()
    }

    /// Asks the loop for a round soon (after a sale): it waits
    /// [`SyncConfig::nudge_delay`] to gather a burst, then syncs. While the
    /// Back Office is failing, nudges wait for the backoff.
    pub fn nudge(&self) {
        self.inner.nudged.notify_one();
    }

    /// Push, then pull. Joins a round already running.
    pub async fn sync_once(&self) -> Outcome {
        self.round(RoundKind::Both).await
    }

    /// **Push Pending Data**. Joins a round already running.
    pub async fn push_pending(&self) -> Outcome {
        self.round(RoundKind::Push).await
    }

    /// **Pull Updates**. Joins a round already running.
    pub async fn pull_updates(&self) -> Outcome {
        self.round(RoundKind::Pull).await
    }

    /// Runs a round of `kind`, or waits for the one running if it covers
    /// `kind` and returns its result.
    pub async fn round(&self, kind: RoundKind) -> Outcome {
        loop {
            let (lead, covered, mut result) = {
                let mut running = lock_checked(&self.inner.running);
                match running.as_ref() {
                    Some(r) => (None, r.kind.covers(kind), r.result.clone()),
                    None => {
                        let (tx, rx) = watch::channel(None);
                        *running = Some(Running {
                            kind,
                            result: rx.clone(),
                        });
                        (Some(tx), true, rx)
                    }
                }
            };
            if let Some(tx) = lead {
                // Clears the slot even if this future is dropped half-way;
                // joiners then see the sender gone and try again.
                let _slot = SlotGuard(&self.inner.running);
                let outcome = self.run_round(kind).await;
                drop(_slot);
                tx.send_replace(Some(outcome.clone()));
                return outcome;
            }
            loop {
                if let Some(outcome) = result.borrow_and_update().clone() {
                    if covered {
                        return outcome;
                    }
                    break;
                }
                if result.changed().await.is_err() {
                    // The running round was abandoned: start one.
                    break;
                }
            }
        }
    }

    /// The loop: a round every [`SyncConfig::interval`], sooner after a
    /// nudge, backing off with jitter while rounds fail; retries even when
    /// nothing new is written. Returns after [`SyncEngine::stop`].
    pub async fn run(&self) {
        let mut backoff = Backoff::new(
            self.inner.config.backoff_base,
            self.inner.config.backoff_cap,
            self.inner.config.backoff_floor,
        );
        while !self.inner.stop.load(Ordering::SeqCst) {
            let outcome = self.sync_once().await;
            let reconfigured = self.inner.reconfigured.notified();
            let (wait, healthy) = match &outcome {
                Ok(_) | Err(SyncError::NotConfigured) => {
                    backoff.reset();
                    (self.inner.config.interval, true)
                }
                Err(e) => {
                    let delay = backoff.next_delay(rand::thread_rng().r#gen::<u64>());
                    tracing::warn!(error = %e, retry_in = ?delay, "sync round failed");
                    (delay, false)
                }
            };
            self.inner.status.send_modify(|s| {
                s.failures = backoff.failures();
                s.retry_in = (!healthy).then_some(wait);
            });
            let stopped = self.inner.stopped.notified();
            if self.inner.stop.load(Ordering::SeqCst) {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.inner.nudged.notified(), if healthy => {
                    tokio::time::sleep(self.inner.config.nudge_delay).await;
                }
                () = reconfigured => {
                    backoff.reset();
                }
                () = stopped => {}
            }
        }
    }

    /// Ends [`SyncEngine::run`] after its current round.
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.stopped.notify_waiters();
    }

    /// Runs `f` on the store on a blocking thread (the lock is never held
    /// across a network await, and a long page never stalls the runtime).
    pub(crate) async fn with_store<T, F>(&self, f: F) -> Result<T, SyncError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> pos_store::Result<T> + Send + 'static,
    {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&store)))
            .await
            .map_err(|e| SyncError::Task(e.to_string()))?
            .map_err(SyncError::from)
    }

    /// The configured Back Office, or [`SyncError::NotConfigured`].
    pub(crate) fn client(&self) -> Result<BackOffice, SyncError> {
        let client = self
            .inner
            .client
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        client.ok_or_else(|| {
            self.set_state(EngineState::NotConfigured);
            SyncError::NotConfigured
        })
    }

    pub(crate) fn set_state(&self, state: EngineState) {
        self.inner.status.send_modify(|s| s.state = state);
    }

    /// Waits until no round and no Full Cloud Synchronization runs.
    pub(crate) async fn exclusive(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.exclusive.lock().await
    }

    async fn run_round(&self, kind: RoundKind) -> Outcome {
        let client = self.client()?;
        let _exclusive = self.exclusive().await;
        self.set_state(EngineState::Syncing);
        let mut report = SyncReport::default();
        let mut outcome = self.check_status(&client).await;
        if outcome.is_ok() && kind.pushes() {
            outcome = self.push_all(&client, &mut report).await;
        }
        if outcome.is_ok() && kind.pulls() {
            outcome = self.pull_all(&client, &mut report).await;
        }
        let state = match &outcome {
            Err(e) if e.is_unreachable() => EngineState::Unreachable,
            _ => EngineState::Online,
        };
        if let Err(e) = &outcome {
            *lock_checked(&self.inner.status_checked) = None;
            let message = e.to_string();
            if let Err(store_err) = self
                .with_store(move |s| s.record_sync_error(&message))
                .await
            {
                tracing::error!(error = %store_err, "could not record the sync error");
            }
        }
        self.refresh_counts().await;
        self.inner.status.send_modify(|s| s.state = state);
        outcome.map(|()| report)
    }

    /// Asks `GET /api/status` now, due or not.
    pub(crate) async fn check_status_now(&self, client: &BackOffice) -> Result<(), SyncError> {
        *lock_checked(&self.inner.status_checked) = None;
        self.check_status(client).await
    }

    /// Asks `GET /api/status` on the first round, after a failure, and every
    /// [`SyncConfig::status_every`]: the protocol version must match, and the
    /// server's time gives the clock skew.
    async fn check_status(&self, client: &BackOffice) -> Result<(), SyncError> {
        let due = lock_checked(&self.inner.status_checked)
            .is_none_or(|at| at.elapsed() >= self.inner.config.status_every);
        if !due {
            return Ok(());
        }
        let status = client.status().await?;
        if status.protocol != PROTOCOL_VERSION {
            return Err(SyncError::ProtocolVersion {
                server: status.protocol,
                ours: PROTOCOL_VERSION,
            });
        }
        self.with_store(move |s| s.record_server_status(&status.version, status.server_time))
            .await?;
        // The key says which device and branch this till is: adopt it before
        // anything is pushed (idempotent; refused if the till is another device).
        let info = client.device().await?;
        let identity = RegisteredIdentity {
            device_id: info.device_id,
            device_code: info.device_code,
            device_name: info.device_name,
            branch_id: info.branch.id,
            branch_code: info.branch.code,
            branch_name: info.branch.name,
            time_zone: info.branch.time_zone,
        };
        self.with_store(move |s| s.adopt_identity(&identity))
            .await?;
        *lock_checked(&self.inner.status_checked) = Some(tokio::time::Instant::now());
        Ok(())
    }

    /// Pushes the outbox until it is empty (quarantined ops aside). If the
    /// Back Office lost ops it had acknowledged, uploads this till's records
    /// ([`crate::full`]'s recovery) once and goes on.
    pub(crate) async fn push_all(
        &self,
        client: &BackOffice,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let mut batch = self.inner.config.push_batch.clamp(1, MAX_PUSH_OPS);
        let mut server_time = None;
        loop {
            let limit = batch as u32;
            let pending = self.with_store(move |s| s.outbox_pending(limit)).await?;
            if pending.is_empty() {
                self.with_store(move |s| s.record_push(server_time)).await?;
                return Ok(());
            }
            let request = PushRequest {
                ops: pending.into_iter().map(|e| e.op).collect(),
            };
            let sent: Vec<OpId> = request.ops.iter().map(|o| o.op_id).collect();
            let first_sent = request.ops.first().map_or(0, |o| o.device_seq);
            report.push_requests += 1;
            let response = match client.push(&request).await {
                Ok(r) => r,
                Err(ClientError::Server {
                    code: ErrorCode::PayloadTooLarge,
                    ..
                }) if batch > 1 => {
                    // Nothing was applied: send the same ops in smaller batches.
                    batch = (batch / 2).max(1);
                    continue;
                }
                Err(e) => {
                    let error = match &e {
                        ClientError::Server {
                            code: ErrorCode::SequenceGap,
                            expected_seq,
                            ..
                        } => gap_error(judge_gap(*expected_seq, first_sent)),
                        _ => SyncError::Client(e),
                    };
                    if matches!(error, SyncError::ServerLostOps { .. }) && !report.recovered {
                        report.recovered = true;
                        match self.recover(client).await {
                            Ok(_) => continue,
                            Err(e) if e.is_unreachable() => return Err(e),
                            // The lost-ops error says what a manager can do.
                            Err(e) => tracing::error!(error = %e, "the recovery upload failed"),
                        }
                    }
                    let message = error.to_string();
                    self.with_store(move |s| s.outbox_record_failure(&sent, &message))
                        .await?;
                    return Err(error);
                }
            };
            server_time = Some(response.server_time);
            let plan = plan_push(&request.ops, &response);
            for anomaly in &plan.anomalies {
                tracing::warn!(%anomaly, "odd push answer");
            }
            let progressed = plan.made_progress();
            report.acknowledged += plan.acknowledge.len();
            report.quarantined += plan.quarantine.len();
            let keep = plan.keep.clone();
            let detail = plan
                .anomalies
                .first()
                .cloned()
                .unwrap_or_else(|| "no results".to_string());
            self.with_store(move |s| {
                s.outbox_acknowledge(&plan.acknowledge)?;
                for (op, reason) in &plan.quarantine {
                    tracing::warn!(%op, %reason, "op rejected by the Back Office: quarantined");
                    s.outbox_quarantine(*op, reason)?;
                }
                Ok(())
            })
            .await?;
            if !progressed {
                let error = SyncError::NoProgress {
                    sent: keep.len(),
                    detail,
                };
                let message = error.to_string();
                self.with_store(move |s| s.outbox_record_failure(&keep, &message))
                    .await?;
                return Err(error);
            }
        }
    }

    /// Pulls and applies pages until the feed has no more.
    pub(crate) async fn pull_all(
        &self,
        client: &BackOffice,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let limit = self.inner.config.pull_limit.clamp(1, MAX_PULL_LIMIT);
        let mut cursor = self.with_store(|s| s.sync_cursor()).await?;
        // The request for the next page, sent while this one is applied: the
        // server and the network work while the till writes. Its cursor is
        // this page's `next_cursor`, which is what applying this page stores.
        let mut prefetch: Option<Prefetch> = None;
        loop {
            let fetched = match prefetch.take() {
                Some(next) => next.page().await,
                None => client.pull(cursor, limit).await,
            };
            let page = match fetched {
                Ok(page) => page,
                Err(ClientError::Server {
                    code: ErrorCode::EpochChanged,
                    ..
                }) if !report.rebootstrapped => {
                    self.rebootstrap(client, report).await?;
                    cursor = None;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let has_more = page.has_more;
            let advanced = cursor != Some(page.next_cursor);
            let next = page.next_cursor;
            if has_more && advanced {
                prefetch = Some(Prefetch::start(client, next, limit));
            }
            let applied = self.with_store(move |s| s.apply_pulled(&page)).await;
            match applied {
                Ok(stats) => {
                    report.pages += 1;
                    report.changes += stats.changes;
                    cursor = Some(next);
                }
                Err(SyncError::Store(e))
                    if matches!(*e, StoreError::EpochMismatch { .. }) && !report.rebootstrapped =>
                {
                    drop(prefetch.take());
                    self.rebootstrap(client, report).await?;
                    cursor = None;
                    continue;
                }
                Err(e) => return Err(e),
            }
            if !has_more {
                self.with_store(|s| s.record_pull()).await?;
                return Ok(());
            }
            if !advanced {
                return Err(SyncError::StuckFeed {
                    cursor: next.to_string(),
                });
            }
        }
    }

    /// The Back Office has a new epoch (it was restored from a backup): if it
    /// lost ops this till saw acknowledged, upload this till's records first
    /// (pulling the older states back would otherwise overwrite newer local
    /// values); then forget the cursor and pull from the start.
    async fn rebootstrap(
        &self,
        client: &BackOffice,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        tracing::warn!("the Back Office changed epoch: pulling everything again");
        report.rebootstrapped = true;
        let theirs = client.device().await?.acknowledged_seq;
        let ours = self.with_store(|s| s.acknowledged_seq()).await?;
        if theirs < ours && !report.recovered {
            report.recovered = true;
            self.recover(client).await?;
        }
        self.with_store(|s| s.reset_sync_cursor()).await
    }

    /// Re-reads the outbox and sync bookkeeping into the status (call after
    /// local writes so the pending count is current).
    pub async fn refresh_counts(&self) {
        let engine = self.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || engine.refresh_counts_now()).await {
            tracing::error!(error = %e, "could not refresh the sync status");
        }
    }

    /// [`SyncEngine::refresh_counts`] on the caller's thread, for callers
    /// outside the runtime (the app's quick commands). Locks the store:
    /// never call it while holding the store's lock.
    pub fn refresh_counts_now(&self) {
        let read = {
            let store = lock(&self.inner.store);
            store
                .sync_state()
                .and_then(|state| Ok((state, store.outbox_quarantined()?)))
        };
        match read {
            Ok((state, quarantined)) => self.inner.status.send_modify(|s| {
                s.pending = state.outbox.pending;
                s.quarantined = quarantined
                    .into_iter()
                    .map(|e| QuarantinedOp {
                        op_id: e.op.op_id,
                        device_seq: e.op.device_seq,
                        kind: e.op.body.kind(),
                        reason: e.quarantine_reason.unwrap_or_default(),
                    })
                    .collect();
                s.held_changes = state.held_changes;
                s.last_push_at = state.last_push_at;
                s.last_pull_at = state.last_pull_at;
                s.last_error = state.last_error;
                s.last_error_at = state.last_error_at;
                s.clock_skew_ms = state.clock_skew_ms;
            }),
            Err(e) => tracing::error!(error = %e, "could not read the sync status"),
        }
    }
}

fn which_to_update(server: &u32, ours: &u32) -> &'static str {
    if server > ours {
        "this till's app"
    } else {
        "the Back Office"
    }
}

fn previous(seq: &u64) -> u64 {
    seq.saturating_sub(1)
}

fn gap_error(verdict: GapVerdict) -> SyncError {
    match verdict {
        GapVerdict::ServerLostOps {
            expected,
            first_sent,
        } => SyncError::ServerLostOps {
            expected,
            first_sent,
        },
        GapVerdict::ServerAhead {
            expected,
            first_sent,
        } => SyncError::SequenceRefused {
            first_sent,
            detail: format!("it expects #{expected} and refused to answer the earlier ones"),
        },
        GapVerdict::Unexplained { first_sent } => SyncError::SequenceRefused {
            first_sent,
            detail: "it did not say which it expects".into(),
        },
    }
}

fn lock_checked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Empties the running-round slot when the leading round ends or is dropped.
struct SlotGuard<'a>(&'a Mutex<Option<Running>>);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *lock_checked(self.0) = None;
    }
}
