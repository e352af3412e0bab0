//! Opening the Back Office database: pragmas, migrations and the epoch.
//!
//! The server holds one connection (see [`crate::AppState`]); the CLI opens
//! its own next to a running server, which WAL mode and the busy timeout
//! allow.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pos_domain::{Clock, Hlc, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::Epoch;
use uuid::Uuid;

/// How long a writer waits for another (the CLI beside the server) to finish.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The database could not be opened or brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "could not open the Back Office database at {path}: {source}; check the path (--database or WHIZ_BACKOFFICE_DB) and that this user may write there"
    )]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the Back Office database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Opens (creating if needed) and migrates the database at `path`, and gives
/// a new database its epoch.
pub fn open(path: &Path, clock: &dyn Clock) -> Result<Connection, DbError> {
    let conn = Connection::open(path).map_err(|source| DbError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    setup(conn, clock)
}

/// A throwaway database in memory (unit tests).
pub fn open_in_memory(clock: &dyn Clock) -> Result<Connection, DbError> {
    setup(Connection::open_in_memory()?, clock)
}

/// Page cache of the server's connection, in KiB.
const CACHE_KIB: i64 = 64 * 1024;

/// SQLite's automatic checkpoint (inside a commit) only past this many pages
/// of log (~32 MiB): the background checkpointer normally gets there first.
const AUTOCHECKPOINT_PAGES: i64 = 8_000;

/// How often the background checkpointer looks at what was written.
pub const CHECKPOINT_POLL: Duration = Duration::from_millis(250);

/// Checkpoint once this many writes were counted ([`AppState::note_writes`])…
///
/// [`AppState::note_writes`]: crate::AppState::note_writes
pub const CHECKPOINT_AFTER_WRITES: u64 = 500;

/// …or this many while writes are heavy (at least
/// [`CHECKPOINT_HEAVY_WRITES`] in the last poll): what a burst leaves is
/// checkpointed during it, not later in the middle of quiet traffic, where
/// the checkpoint's sync of the database file would delay a device's
/// request…
pub const CHECKPOINT_DURING_BURST: u64 = 100;

/// Writes in a poll that count as a burst.
pub const CHECKPOINT_HEAVY_WRITES: u64 = 20;

/// …or any at all this long after the last checkpoint.
pub const CHECKPOINT_AT_LEAST_EVERY: Duration = Duration::from_secs(30);

/// Copies the write-ahead log into the database file from a connection of its
/// own, until the task is dropped: during bursts of pushes, or every
/// [`CHECKPOINT_AT_LEAST_EVERY`] while anything was written.
///
/// A checkpoint inside a commit (SQLite's default, every ~4 MiB of log) made
/// the device whose push crossed the threshold wait for the database file to
/// be written and synced. Here it runs beside the requests: a passive
/// checkpoint never blocks the writer, and commits still sync the log
/// (`synchronous=FULL`), so nothing acknowledged depends on it. It is not
/// run for a trickle of small writes, so its sync of the database file does
/// not keep meeting quiet devices' requests.
pub async fn checkpoint_loop(state: crate::AppState, path: PathBuf) {
    let open = |path: &Path| -> rusqlite::Result<Connection> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_millis(100))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(conn)
    };
    let mut conn = match open(&path) {
        Ok(conn) => Some(conn),
        Err(e) => {
            tracing::warn!(error = %e, "no background checkpoints: SQLite checkpoints inside commits");
            return;
        }
    };
    let mut tick = tokio::time::interval(CHECKPOINT_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut pending, mut last) = (0u64, tokio::time::Instant::now());
    loop {
        tick.tick().await;
        let written = state.take_writes();
        pending += written;
        let due = pending >= CHECKPOINT_AFTER_WRITES
            || (pending >= CHECKPOINT_DURING_BURST && written >= CHECKPOINT_HEAVY_WRITES)
            || (pending > 0 && last.elapsed() >= CHECKPOINT_AT_LEAST_EVERY);
        if !due {
            continue;
        }
        let Some(c) = conn.take() else { return };
        let done = tokio::task::spawn_blocking(move || {
            let res = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
            if let Err(e) = res {
                tracing::debug!(error = %e, "background checkpoint");
            }
            c
        })
        .await;
        match done {
            Ok(c) => conn = Some(c),
            Err(_) => return,
        }
        (pending, last) = (0, tokio::time::Instant::now());
    }
}

fn setup(mut conn: Connection, clock: &dyn Clock) -> Result<Connection, DbError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if mode != "wal" && mode != "memory" {
        tracing::warn!(mode, "could not switch the database to WAL");
    }
    conn.pragma_update(None, "foreign_keys", true)?;
    // The server acknowledges ops to devices, which then delete them: an
    // acknowledged op must survive a power cut, so every commit is synced.
    conn.pragma_update(None, "synchronous", "FULL")?;
    // A push of 500 sales dirties a few MiB of pages; with SQLite's default
    // 2 MiB cache they spill into the log mid-transaction and are read back.
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    // Each pushed op runs in a savepoint, whose journal holds the original of
    // every page the op touches: in memory, not in a temporary file (the
    // file's writes were the largest single cost of applying a sale).
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checkpoints run off the request path ([`checkpoint_loop`]); SQLite's
    // own, inside whichever commit crosses the threshold, is a backstop.
    conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)?;
    conn.set_prepared_statement_cache_capacity(256);
    crate::schema::migrate(&mut conn)?;
    ensure_epoch(&conn, clock.now())?;
    Ok(conn)
}

fn ensure_epoch(conn: &Connection, now: Timestamp) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (singleton, epoch, created_at) VALUES (1, ?1, ?2)
         ON CONFLICT (singleton) DO NOTHING",
        params![Uuid::now_v7().to_string(), now.as_millis()],
    )?;
    Ok(())
}

/// The database's epoch.
pub fn epoch(conn: &Connection) -> rusqlite::Result<Epoch> {
    let text: Option<String> = conn
        .query_row("SELECT epoch FROM meta WHERE singleton = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    let text = text.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    Uuid::parse_str(&text).map(Epoch).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Gives the database a new epoch: what an owner runs after restoring a
/// backup, so every device re-bootstraps instead of trusting a cursor that
/// may point past the restored data. Returns the new epoch.
pub fn restore_epoch(conn: &Connection, clock: &dyn Clock) -> rusqlite::Result<Epoch> {
    let epoch = Epoch(Uuid::now_v7());
    conn.execute(
        "UPDATE meta SET epoch = ?1, created_at = ?2 WHERE singleton = 1",
        params![epoch.0.to_string(), clock.now().as_millis()],
    )?;
    Ok(epoch)
}

/// Runs `f` with commits that are not synced to disk on their own (they ride
/// on the next durable commit): for bookkeeping a power cut may lose, such as
/// when a device last pulled. Never for anything a device sent.
pub fn unsynced<T, E: From<rusqlite::Error>>(
    conn: &mut Connection,
    f: impl FnOnce(&mut Connection) -> Result<T, E>,
) -> Result<T, E> {
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let result = f(conn);
    // Back to power-safe before anything else can write.
    conn.pragma_update(None, "synchronous", "FULL")?;
    result
}

/// The node id the server stamps its own changes with (branches made by the
/// CLI). Devices' nodes are the low 64 bits of random UUIDs; 0 is the server.
pub const SERVER_NODE: u64 = 0;

/// A clock reading for a change the server itself makes.
pub fn server_hlc(now: Timestamp) -> Hlc {
    Hlc::new(now.as_millis().max(0) as u64, 0, SERVER_NODE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pos_domain::ManualClock;

    #[test]
    fn bookkeeping_commits_unsynced_and_everything_else_stays_synced() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(Timestamp::from_millis(1_000));
        let mut conn = open(&dir.path().join("bo.sqlite3"), &clock).unwrap();
        let level = |c: &Connection| -> i64 {
            c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap()
        };
        assert_eq!(level(&conn), 2, "FULL");
        let inside = unsynced(&mut conn, |c| Ok::<_, rusqlite::Error>(level(c))).unwrap();
        assert_eq!(inside, 1, "NORMAL while bookkeeping");
        assert_eq!(level(&conn), 2);
        let failed: Result<(), rusqlite::Error> =
            unsynced(&mut conn, |_| Err(rusqlite::Error::InvalidQuery));
        assert!(failed.is_err());
        assert_eq!(level(&conn), 2, "restored after a failure too");
    }

    #[test]
    fn a_new_database_gets_an_epoch_that_stays_until_restored() {
        let clock = ManualClock::new(Timestamp::from_millis(1_000));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bo.sqlite3");
        let conn = open(&path, &clock).unwrap();
        let first = epoch(&conn).unwrap();
        drop(conn);
        let conn = open(&path, &clock).unwrap();
        assert_eq!(epoch(&conn).unwrap(), first);
        let new = restore_epoch(&conn, &clock).unwrap();
        assert_ne!(new, first);
        assert_eq!(epoch(&conn).unwrap(), new);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
}
