//! WHIZ POS desktop: the Tauri shell.
//!
//! The shell only wires things together. At start it finds the app's data
//! and log folders, starts logging, opens the till's database through
//! [`pos_app::App`] (which migrates it), starts the sync loop and forwards
//! its status to the UI as `sync-status` events. Every command the UI
//! invokes is one line in [`commands`]; all the behaviour lives in the core
//! crates.

#[cfg(test)]
mod bindings;
mod commands;
mod logging;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pos_app::{App, AppConfig};
use pos_domain::SystemClock;
use pos_sync::{KeyStore, KeyringStore, MemoryKeyStore, SyncConfig};
use tauri::{Emitter, Manager};

/// The event carrying [`pos_app::SyncStatusView`] whenever it changes.
pub const SYNC_STATUS: &str = "sync-status";
/// The event carrying [`pos_app::FullSyncProgressView`] during a Full Cloud
/// Synchronization.
pub const FULL_SYNC_PROGRESS: &str = "full-sync-progress";

/// What the commands share.
pub struct Shell {
    app: Arc<App>,
    started: Instant,
    ready: AtomicBool,
}

impl std::fmt::Debug for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell")
            .field("started", &self.started)
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

impl Shell {
    /// Reports, once, how long the start took until the sales screen was
    /// interactive (the start-up benchmark reads this line).
    fn ui_ready(&self) {
        if !self.ready.swap(true, Ordering::SeqCst) {
            let ms = self.started.elapsed().as_millis();
            eprintln!("whiz-pos: ui ready after {ms} ms");
            tracing::info!(ms, "ui ready");
        }
    }
}

/// Settings read from the environment, for tests and unusual installs.
struct Env {
    /// `WHIZ_DATA_DIR`: the database and `logs/` go here instead of the OS
    /// app-data folder.
    data_dir: Option<PathBuf>,
    /// `WHIZ_KEYSTORE=memory`: keep the API key in memory only (tests).
    memory_keys: bool,
    /// `WHIZ_SYNC_INTERVAL_SECS`: the push/pull loop's period (default 10).
    sync_interval: Option<Duration>,
    /// `WHIZ_SYNC_NUDGE_DELAY_MS`: how long after a sale the loop waits to
    /// gather a burst before pushing (default 500).
    nudge_delay: Option<Duration>,
}

impl Env {
    fn read() -> Env {
        Env {
            data_dir: std::env::var_os("WHIZ_DATA_DIR").map(PathBuf::from),
            memory_keys: std::env::var("WHIZ_KEYSTORE").is_ok_and(|v| v == "memory"),
            sync_interval: number("WHIZ_SYNC_INTERVAL_SECS").map(Duration::from_secs),
            nudge_delay: number("WHIZ_SYNC_NUDGE_DELAY_MS").map(Duration::from_millis),
        }
    }
}

/// A whole number from the environment; absent or unreadable is `None`.
fn number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.trim().parse().ok())
}

/// Runs the desktop app until its window closes.
pub fn run() {
    let started = Instant::now();
    tauri::Builder::default()
        .setup(move |tauri_app| {
            let env = Env::read();
            let paths = tauri_app.path();
            let data_dir = match &env.data_dir {
                Some(dir) => dir.clone(),
                None => paths.app_data_dir()?,
            };
            let log_dir = match &env.data_dir {
                Some(dir) => dir.join("logs"),
                None => paths.app_log_dir()?,
            };
            std::fs::create_dir_all(&data_dir)?;
            let guard = logging::init(&log_dir)?;
            tauri_app.manage(guard);
            tracing::info!(data_dir = %data_dir.display(), version = env!("CARGO_PKG_VERSION"), "starting");

            let keys: Arc<dyn KeyStore> = if env.memory_keys {
                Arc::new(MemoryKeyStore::new())
            } else {
                Arc::new(KeyringStore::new())
            };
            let mut sync = SyncConfig::default();
            if let Some(interval) = env.sync_interval {
                sync.interval = interval;
            }
            if let Some(delay) = env.nudge_delay {
                sync.nudge_delay = delay;
            }
            let app = App::open(AppConfig {
                data_dir,
                keys,
                sync,
                clock: Arc::new(SystemClock),
            })
            .inspect_err(|e| tracing::error!(%e, "cannot open the till's database"))?;
            let app = Arc::new(app);
            start_sync(&app, tauri_app.handle().clone());
            #[cfg(target_os = "linux")]
            if let Some(window) = tauri_app.get_webview_window("main") {
                window.with_webview(small_caches)?;
            }
            tauri_app.manage(Shell {
                app,
                started,
                ready: AtomicBool::new(false),
            });
            Ok(())
        })
        .invoke_handler(commands::handler())
        .run(tauri::generate_context!())
        .expect("WHIZ POS could not start its window");
}

/// Turns WebKit's memory caches down: the till's pages are embedded in the
/// binary, so caching them buys nothing.
#[cfg(target_os = "linux")]
fn small_caches(webview: tauri::webview::PlatformWebview) {
    use webkit2gtk::{CacheModel, WebContextExt, WebViewExt};
    if let Some(context) = webview.inner().context() {
        context.set_cache_model(CacheModel::DocumentViewer);
    }
}

/// Starts the background push/pull loop and forwards every status change
/// to the UI.
fn start_sync(app: &Arc<App>, handle: tauri::AppHandle) {
    let engine_app = Arc::clone(app);
    tauri::async_runtime::spawn(async move { engine_app.engine().run().await });

    let app = Arc::clone(app);
    let mut status = app.engine().subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            let view = app.sync_status_view(&status.borrow_and_update().clone());
            if let Err(e) = handle.emit(SYNC_STATUS, view) {
                tracing::warn!(%e, "cannot send the sync status to the window");
            }
            if status.changed().await.is_err() {
                break;
            }
        }
    });
}
