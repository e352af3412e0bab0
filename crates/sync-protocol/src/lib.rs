//! Wire types shared by the desktop and the Back Office.
//!
//! This crate holds only data shapes (serde), no behaviour: the
//! **operations** a till writes to its outbox ([`op`]) and the sync API's
//! status, push, pull and error messages ([`api`]), Full Cloud
//! Synchronization's steps ([`full`]), and the mobile API's
//! catalog and sale answer ([`mobile`]). Every type here is
//! versioned by [`PROTOCOL_VERSION`] and documented in `docs/sync-protocol.md`.

pub mod api;
pub mod full;
pub mod history;
pub mod mobile;
pub mod op;

pub use api::*;
pub use full::*;
pub use mobile::*;
pub use op::*;

/// The version of the operation and message formats in this crate. A till
/// syncs only with a Back Office of the same version, and is told which of
/// the two to update otherwise.
///
/// 2: the branch model — stock transfers (`transfer_sent`,
/// `transfer_received` ops and changes, `transfer` / `transfer_receipt` in
/// Full Cloud Synchronization) and undone customer merges
/// (`customer_unaliased`). A version-1 till could not read those changes.
pub const PROTOCOL_VERSION: u32 = 2;
