//! Logs: a file per day in the app's log folder, the last 14 kept, and
//! warnings on stderr. `RUST_LOG` overrides the level (default `info`).

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// Keeps the log writer flushing until the app exits.
pub struct LogGuard(#[allow(dead_code)] WorkerGuard);

pub fn init(dir: &Path) -> Result<LogGuard, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("whiz-pos")
        .filename_suffix("log")
        .max_log_files(14)
        .build(dir)?;
    let (file, guard) = tracing_appender::non_blocking(appender);
    let writer = file.and(std::io::stderr.with_max_level(tracing::Level::WARN));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(writer)
        .try_init();
    Ok(LogGuard(guard))
}
