//! Wire types shared by the desktop and the Back Office.
//!
//! This crate holds only data shapes (serde), no behaviour. Today it defines
//! the **operations** a till writes to its outbox ([`op`]); the sync API's
//! push/pull messages join it with the sync engine. Every type here is
//! versioned by [`PROTOCOL_VERSION`] and documented in `docs/sync-protocol.md`.

pub mod op;

pub use op::*;

/// The version of the operation and message formats in this crate.
pub const PROTOCOL_VERSION: u32 = 1;
