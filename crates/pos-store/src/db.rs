//! Opening the database and the two handles every service uses: reads over a
//! plain connection, writes inside one immediate transaction ([`Tx`]) that also
//! stamps the operations it queues.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pos_domain::{BranchId, Clock, DeviceId, Hlc, HlcClock, OpId, TimeZone, Timestamp};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use sync_protocol::{OpBody, OpEnvelope};

use crate::sql::{col_parse, json};
use crate::{Result, StoreError, migrate};

/// How long a write waits for another connection's write before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Page cache per connection: 64 MiB keeps the hot index pages of a large
/// till (a million sales) in memory.
const CACHE_KIB: i64 = 64 * 1024;

/// WAL pages after which a commit checkpoints by itself (~32 MiB). The app
/// checkpoints when idle ([`Store::checkpoint`]), so this is only a backstop:
/// a checkpoint inside a commit is what a cashier would feel as a pause.
const AUTOCHECKPOINT_PAGES: i64 = 8_000;

/// How durable a commit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every commit is on disk before it returns (`synchronous=FULL`): a sale
    /// survives a power cut the moment the receipt prints. The default.
    #[default]
    PowerSafe,
    /// Commits survive a crash of the app but maybe not of the machine
    /// (`synchronous=NORMAL`). For tests and bulk imports.
    CrashSafe,
}

/// The local database of one till.
///
/// Writes take `&mut self`: a till has one writer, and the UI shell wraps the
/// store in a mutex. Every write is one immediate transaction.
pub struct Store {
    conn: Connection,
    clock: Arc<dyn Clock>,
    identity: Identity,
    durability: Durability,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// Which device this till is and which branch it sells for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub device_id: DeviceId,
    pub device_code: String,
    pub branch_id: BranchId,
    pub branch_code: String,
    pub time_zone: TimeZone,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, migrates it, and
    /// makes sure this till has an identity.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Store> {
        Self::open_with(path, clock, Durability::default())
    }

    pub fn open_with(path: &Path, clock: Arc<dyn Clock>, durability: Durability) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Self::setup(conn, clock, durability)
    }

    /// A throwaway database in memory (tests).
    pub fn open_in_memory(clock: Arc<dyn Clock>) -> Result<Store> {
        Self::setup(Connection::open_in_memory()?, clock, Durability::CrashSafe)
    }

    fn setup(mut conn: Connection, clock: Arc<dyn Clock>, durability: Durability) -> Result<Store> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // WAL lets readers (reports, the sync engine) run beside the writer.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if mode != "wal" && mode != "memory" {
            tracing::warn!(mode, "could not switch the database to WAL");
        }
        conn.pragma_update(None, "foreign_keys", true)?;
        let sync = match durability {
            Durability::PowerSafe => "FULL",
            Durability::CrashSafe => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)?;
        conn.set_prepared_statement_cache_capacity(256);
        migrate::migrate(&mut conn)?;
        let identity = ensure_identity(&mut conn, clock.now())?;
        Ok(Store {
            conn,
            clock,
            identity,
            durability,
        })
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Like [`Store::write`], for bookkeeping that may be lost to a power cut
    /// (when this till last pushed and pulled): its commit is not synced to
    /// disk on its own but rides on the next durable commit, so an idle sync
    /// round costs no disk sync. Never for anything a user entered.
    pub(crate) fn write_unsynced<T>(
        &mut self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        if self.durability == Durability::CrashSafe {
            return self.write(f);
        }
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let result = self.write(f);
        // Back to power-safe before anything else can write.
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        result
    }

    /// Takes on a new identity (see `adopt_identity`).
    pub(crate) fn set_identity(&mut self, identity: Identity) {
        self.identity = identity;
    }

    /// Reads the identity again after pulled changes renamed this till's
    /// branch or moved its time zone.
    pub(crate) fn reload_identity(&mut self) -> Result<()> {
        self.identity = load_identity(&self.conn)?;
        Ok(())
    }

    /// Follows a change of this branch's time zone (see `update_settings`).
    pub(crate) fn set_time_zone(&mut self, zone: TimeZone) {
        self.identity.time_zone = zone;
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Runs `f` inside one immediate transaction and commits it; any error
    /// rolls everything back. Operations queued with [`Tx::enqueue`] commit
    /// with the change they describe, or not at all.
    pub fn write<T>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let now = self.clock.now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (hlc, next_seq): (String, i64) = tx.query_row(
            "SELECT hlc, next_op_seq FROM device_identity WHERE singleton = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let last: Hlc = hlc
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("device clock '{hlc}'")))?;
        let node = Hlc::node_of(self.identity.device_id);
        let mut w = Tx {
            tx,
            now,
            identity: &self.identity,
            clock: HlcClock::resume(node, last),
            next_seq,
            queued: 0,
        };
        let out = f(&mut w)?;
        w.finish()?;
        Ok(out)
    }

    /// Moves committed pages from the write-ahead log into the database file.
    /// Call it when the till is idle (between customers, after a sync round):
    /// it never blocks a reader or the next sale, and it keeps the log short so
    /// that commits never have to do it themselves. Returns the pages moved.
    pub fn checkpoint(&self) -> Result<u64> {
        let (_busy, _log, moved): (i64, i64, i64) =
            self.conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
        Ok(moved.max(0) as u64)
    }

    /// Read-only access to the connection (queries and reports).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// A write transaction: the change and the operations that describe it.
pub struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    now: Timestamp,
    identity: &'a Identity,
    clock: HlcClock,
    next_seq: i64,
    queued: u32,
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("now", &self.now)
            .field("queued", &self.queued)
            .finish_non_exhaustive()
    }
}

impl<'a> Tx<'a> {
    /// The time of this transaction: every record it writes carries it.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn identity(&self) -> &Identity {
        self.identity
    }

    /// A fresh clock reading for a change made in this transaction.
    pub fn tick(&mut self) -> Hlc {
        self.clock.tick(self.now)
    }

    /// Queues `body` in the outbox with the next device sequence number and a
    /// new op id, in this transaction.
    pub fn enqueue(&mut self, body: OpBody) -> Result<OpEnvelope> {
        let hlc = self.tick();
        self.enqueue_at(body, hlc)
    }

    /// Moves this device's clock past `remote`, a clock read on a record
    /// pulled from the Back Office, so an edit made after seeing it orders
    /// after it. A clock already past `remote` is left as it is.
    pub fn observe(&mut self, remote: Hlc) {
        if remote > self.clock.last() {
            self.clock.observe(remote, self.now);
        }
    }

    /// Like [`Tx::enqueue`], with the clock reading the change was stamped with.
    pub fn enqueue_at(&mut self, body: OpBody, hlc: Hlc) -> Result<OpEnvelope> {
        let env = OpEnvelope {
            op_id: OpId::new(),
            device_seq: self.next_seq as u64,
            hlc,
            created_at: self.now,
            body,
        };
        self.tx
            .prepare_cached(
                "INSERT INTO outbox (seq, op_id, kind, entity_id, payload, hlc, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                self.next_seq,
                env.op_id.to_string(),
                env.body.kind(),
                env.body.entity_id(),
                json(&env.body)?,
                env.hlc.to_string(),
                self.now.as_millis(),
            ])?;
        self.next_seq += 1;
        self.queued += 1;
        Ok(env)
    }

    /// Takes the next receipt number of this till: `BRANCH-TILL-000123`.
    pub fn next_receipt_no(&mut self) -> Result<String> {
        let n: i64 = self
            .tx
            .prepare_cached(
                "UPDATE device_identity SET next_receipt_no = next_receipt_no + 1
                 WHERE singleton = 1 RETURNING next_receipt_no - 1",
            )?
            .query_row([], |r| r.get(0))?;
        Ok(format!(
            "{}-{}-{n:06}",
            self.identity.branch_code, self.identity.device_code
        ))
    }

    fn finish(self) -> Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE device_identity SET hlc = ?1, next_op_seq = ?2 WHERE singleton = 1",
            )?
            .execute(params![self.clock.last().to_string(), self.next_seq])?;
        self.tx.commit()?;
        Ok(())
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.tx
    }
}

/// Makes sure the till has a branch, a device and counters. A fresh install is
/// branch `MAIN`, till `T1`, until it is registered with a Back Office.
fn ensure_identity(conn: &mut Connection, now: Timestamp) -> Result<Identity> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let existing = tx
        .query_row(
            "SELECT device_id FROM device_identity WHERE singleton = 1",
            [],
            |r| r.get::<_, String>(0),
        )
        .optional()?;
    if existing.is_none() {
        let branch = BranchId::new();
        let device = DeviceId::new();
        let hlc = HlcClock::resume(Hlc::node_of(device), Hlc::ZERO)
            .tick(now)
            .to_string();
        tx.execute(
            "INSERT INTO branches (id, code, name, time_zone, hlc) VALUES (?1, 'MAIN', 'Main branch', 'Africa/Nairobi', ?2)",
            params![branch.to_string(), hlc],
        )?;
        tx.execute(
            "INSERT INTO devices (id, branch_id, code, name, kind, hlc) VALUES (?1, ?2, 'T1', 'Till 1', 'desktop', ?3)",
            params![device.to_string(), branch.to_string(), hlc],
        )?;
        tx.execute(
            "INSERT INTO device_identity (singleton, device_id, branch_id, hlc) VALUES (1, ?1, ?2, ?3)",
            params![device.to_string(), branch.to_string(), hlc],
        )?;
    }
    let identity = load_identity(&tx)?;
    tx.commit()?;
    Ok(identity)
}

/// Reads this till's identity: device, branch and the branch's time zone.
fn load_identity(conn: &Connection) -> Result<Identity> {
    let identity = conn.query_row(
        "SELECT i.device_id, d.code, i.branch_id, b.code, b.time_zone
         FROM device_identity i JOIN devices d ON d.id = i.device_id JOIN branches b ON b.id = i.branch_id
         WHERE i.singleton = 1",
        [],
        |r| {
            Ok(Identity {
                device_id: col_parse(r, 0)?,
                device_code: r.get(1)?,
                branch_id: col_parse(r, 2)?,
                branch_code: r.get(3)?,
                time_zone: TimeZone::parse(&r.get::<_, String>(4)?).unwrap_or_default(),
            })
        },
    )?;
    Ok(identity)
}
