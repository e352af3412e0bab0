//! The desktop sync engine: delivers the till's outbox to the Back Office
//! and brings other devices' changes back (DESIGN.md, "The desktop loop").
//!
//! - [`plan`]: pure decisions — what a push answer means for each op, what a
//!   `sequence_gap` means, the backoff schedule. No IO; tested with plain cases.
//! - [`client`]: the HTTP client ([`BackOffice`]) with typed errors.
//! - [`engine`]: [`SyncEngine`] — one round at a time (callers join a running
//!   round), push then pull, the timer loop with backoff and nudges, and the
//!   [`SyncStatus`] the Sync Status page watches.
//! - [`full`]: Full Cloud Synchronization (preview, chunked resumable upload)
//!   and the automatic recovery upload after the Back Office lost acknowledged
//!   ops.
//! - [`credentials`]: the Back Office URL (a till setting) and the API key
//!   (OS keyring only, behind [`KeyStore`]).
//!
//! The store side (applying pulled pages, the cursor, sync bookkeeping) is
//! `pos_store::replica`. The protocol is described in `docs/sync-protocol.md`.

pub mod client;
pub mod credentials;
pub mod engine;
pub mod full;
pub mod plan;

pub use client::{BackOffice, ClientError};
pub use credentials::{
    ApiKey, KeyStore, KeyStoreError, KeyringStore, MemoryKeyStore, SetupError,
    configured_backoffice, forget_connection, save_connection,
};
pub use engine::{
    EngineState, QuarantinedOp, RoundKind, SyncConfig, SyncEngine, SyncError, SyncReport,
    SyncStatus,
};
pub use full::{
    EntityPreview, FullSyncOptions, FullSyncPhase, FullSyncPreview, FullSyncProgress,
    FullSyncReport,
};
pub use plan::{Backoff, GapVerdict, PushPlan};
