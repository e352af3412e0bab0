//! The command layer of the WHIZ POS desktop app.
//!
//! [`App`] has one method per command the web UI calls; the Tauri shell
//! (`src-tauri/`) only forwards to it. The layer adds what the core does not
//! know: who is signed in on this till (with auto-lock), parsing the UI's
//! plain values, and turning answers into the DTOs of [`api`] and errors into
//! [`CommandError`]. Every business rule stays in `pos-store`/`pos-domain`.
//!
//! - [`api`]: the contract with the UI (ts-rs generates its TypeScript).
//! - `app`: [`App`], the commands and the session.
//! - `input`: UI values → validated core types.
//! - `views`: core types → DTOs.
//! - `error`: every core error → [`CommandError`].

pub mod api;
mod app;
mod error;
mod input;
mod views;

pub use api::*;
pub use app::{
    AUTO_LOCK_PREF, App, AppConfig, DATABASE_FILE, DEFAULT_AUTO_LOCK_MINUTES, MAX_AUTO_LOCK_MINUTES,
};
