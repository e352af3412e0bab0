//! The server's shared state: the configuration, the clock, and the one
//! database connection.
//!
//! SQLite has one writer at a time, so the server holds a single connection
//! behind a mutex and runs every database call on tokio's blocking pool
//! ([`AppState::db`]): the async workers never wait on disk.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pos_domain::{Clock, Timestamp};
use rusqlite::Connection;

use crate::Config;
use crate::db::{self, DbError};
use crate::error::ApiError;

/// Cheap to clone: everything is behind one `Arc`.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    clock: Arc<dyn Clock>,
    conn: Mutex<Connection>,
    /// Rows written (about) since the background checkpointer last looked.
    writes: AtomicU64,
}

impl AppState {
    /// Opens (creating and migrating) the database named in `config`.
    pub fn open(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, DbError> {
        let conn = db::open(&config.database, clock.as_ref())?;
        Ok(Self::with_connection(config, clock, conn))
    }

    /// A state over a connection already opened with [`db::open`].
    pub fn with_connection(config: Config, clock: Arc<dyn Clock>, conn: Connection) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                config,
                clock,
                conn: Mutex::new(conn),
                writes: AtomicU64::new(0),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Counts writes for the background checkpointer (a pushed op counts
    /// one, a request's own bookkeeping one).
    pub fn note_writes(&self, n: u64) {
        self.inner.writes.fetch_add(n, Ordering::Relaxed);
    }

    /// The writes counted since the last call.
    pub fn take_writes(&self) -> u64 {
        self.inner.writes.swap(0, Ordering::Relaxed)
    }

    /// The database file, if the connection has one (not in memory).
    pub fn database_file(&self) -> Option<std::path::PathBuf> {
        let conn = self
            .inner
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        conn.path()
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from)
    }

    /// Runs `f` with the connection on the blocking pool.
    ///
    /// A panic inside `f` is answered as an internal error; the mutex is
    /// taken back even if poisoned, because a transaction that did not commit
    /// rolled back when it was dropped, so the connection is sound.
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &dyn Clock) -> Result<T, ApiError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut conn = inner
                .conn
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut conn, inner.clock.as_ref())
        })
        .await?
    }
}
