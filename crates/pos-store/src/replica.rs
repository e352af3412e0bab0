//! The replica side of sync: applying what the Back Office sends back, and
//! the one row of sync bookkeeping the engine and the Sync Status page read.
//!
//! [`Store::apply_pulled`] applies one page of the change feed **and** stores
//! the page's cursor in one immediate transaction: an interrupted pull resumes
//! exactly where it stopped, never skipping a change and never half-applying a
//! page. Applying queues no outbox op (it never calls [`crate::Tx::enqueue`]):
//! the server already has these changes.
//!
//! How each kind of change lands:
//!
//! - **Mutable records** (branches, products, categories, customers, users,
//!   settings, tax rates, expenses) arrive whole, as the server's merged state,
//!   and are upserted — except the fields that an op still in this till's
//!   outbox (pending or quarantined) changes: the server has not seen that
//!   change yet, so the local value stays (invariant 5). The op reaches the
//!   server and wins or loses there; a later pull brings the result.
//!   A tombstone sets `deleted_at`; a pending local delete is kept likewise.
//! - **Append-only records** (sales with their lines, payments, movements and
//!   ledger entry; stock movements; ledger entries) are inserted once by id: a
//!   till's own sale coming back is recognised and skipped. The immediate
//!   transaction makes "is it here? insert it" atomic, and unlike
//!   `INSERT OR IGNORE` it never hides another constraint (a receipt number
//!   or M-Pesa code already used by a different sale).
//! - **Customer aliases** are recorded in `customer_aliases`: the Back Office
//!   merged the same person added at two branches, and a balance sums the
//!   ledger entries of the customer and of every id merged into it. Another
//!   branch's credit-sale ledger entries arrive without their sale (sales
//!   belong to their branch) and are kept without the link to it.
//!   `customer_unaliased` (an owner undid a merge) deletes the alias row,
//!   idempotently; the revived customer's state comes right after it.
//!
//! A change that a local constraint refuses (a product whose category has not
//! arrived, a customer whose phone number a local customer still holds, a
//! receipt number already taken) does not block the feed: it is **held** in
//! `sync_held_changes` with the reason, retried after every page, replaced by
//! any later change to the same record, and shown on the Sync Status page.
//! Any other failure rolls the whole page back, cursor included.
//!
//! Triggers keep product search (FTS) and stock levels consistent with what
//! is applied here, exactly as for local writes.

use std::collections::HashSet;

use pos_domain::{Hlc, Permission, Timestamp};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use sync_protocol::{
    BranchState, CategoryState, Change, ChangeBody, Cursor, CustomerState, Epoch, ExpenseState,
    LedgerEntryRecord, OpBody, ProductState, PullResponse, SaleRecord, SettingsState,
    TaxRateRecord, UserState,
};

use crate::customers::insert_ledger_entry;
use crate::outbox::OutboxStats;
use crate::sales::insert_sale;
use crate::sql::json;
use crate::stock::insert_movement;
use crate::{Actor, Result, Store, StoreError, Tx};

/// What applying one pulled page did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApplyStats {
    /// Changes in the page.
    pub changes: usize,
    /// Records inserted or updated with the server's state.
    pub written: usize,
    /// Records updated except for fields a queued local op still changes.
    pub kept_local: usize,
    /// Append-only records already here (this till's own, or a replay).
    pub already_present: usize,
    /// Changes of this page that a local constraint refused (now held).
    pub held: usize,
    /// Held changes (of this or earlier pages) that applied on retry.
    pub released: usize,
    /// Changes still held after this page.
    pub still_held: u64,
}

/// A pulled change this till could not apply yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldChange {
    /// The server's change sequence.
    pub seq: u64,
    /// `product`, `sale`, `customer`, …
    pub entity: String,
    pub entity_id: String,
    pub reason: String,
    pub held_at: Timestamp,
}

/// Everything the Sync Status page shows that the store knows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncState {
    /// This till's Back Office (Settings); `None` until an owner enters it.
    pub backoffice_url: Option<String>,
    /// Where the next pull resumes; `None`: from the beginning.
    pub cursor: Option<Cursor>,
    /// The Back Office epoch of the last page applied.
    pub epoch: Option<Epoch>,
    /// Last push round that left no op undelivered (pending ops all acknowledged).
    pub last_push_at: Option<Timestamp>,
    /// Last pull round that reached the end of the feed.
    pub last_pull_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    /// This till's clock minus the Back Office's; positive: the till is ahead.
    pub clock_skew_ms: Option<i64>,
    pub server_version: Option<String>,
    pub outbox: OutboxStats,
    /// Pulled changes waiting in `sync_held_changes`.
    pub held_changes: u64,
}

/// The longest Back Office URL accepted.
const MAX_URL_LEN: usize = 2_048;

/// How one change went.
pub(crate) enum Applied {
    Written,
    KeptLocal,
    AlreadyPresent,
}

/// How one change went, including a refusal that holds it.
enum Guarded {
    Done(Applied),
    Held,
}

impl Store {
    /// Applies one page of pulled changes and advances the cursor to the
    /// page's `next_cursor`, all in one transaction (see the module docs).
    ///
    /// Refuses a page from another epoch than the stored cursor's
    /// ([`StoreError::EpochMismatch`]): the caller resets the cursor and
    /// pulls from the beginning.
    pub fn apply_pulled(&mut self, page: &PullResponse) -> Result<ApplyStats> {
        if page.next_cursor.epoch != page.epoch {
            return Err(StoreError::Invalid(format!(
                "the Back Office sent a page of epoch {} with a cursor of epoch {}; \
                 it is misbehaving: report this to support",
                page.epoch, page.next_cursor.epoch
            )));
        }
        if let Some(ours) = self.sync_cursor()?
            && ours.epoch != page.epoch
        {
            return Err(StoreError::EpochMismatch {
                ours: ours.epoch,
                page: page.epoch,
            });
        }
        // An empty page that leaves the cursor where it is changes nothing:
        // an idle round writes nothing (held changes, if any, are retried).
        if page.changes.is_empty() && self.sync_cursor()? == Some(page.next_cursor) {
            let still_held = held_count(self.conn())?;
            if still_held == 0 {
                return Ok(ApplyStats::default());
            }
        }
        let stats = self.write(|tx| {
            let mut stats = ApplyStats {
                changes: page.changes.len(),
                ..ApplyStats::default()
            };
            // Whether `sync_held_changes` may have rows: when it has none
            // (nearly always), no applied change has a held one to replace.
            let mut maybe_held = held_count(tx)? > 0;
            let mut rest = &page.changes[..];
            while !rest.is_empty() {
                let inserted = insert_new_products(tx, rest, maybe_held)?;
                if inserted > 0 {
                    stats.written += inserted;
                    rest = &rest[inserted..];
                    continue;
                }
                let change = &rest[0];
                rest = &rest[1..];
                match apply_guarded(tx, change.seq, &change.body, &mut maybe_held)? {
                    Guarded::Done(Applied::Written) => stats.written += 1,
                    Guarded::Done(Applied::KeptLocal) => stats.kept_local += 1,
                    Guarded::Done(Applied::AlreadyPresent) => stats.already_present += 1,
                    Guarded::Held => stats.held += 1,
                }
            }
            if maybe_held {
                stats.released = retry_held(tx)?;
            }
            stats.still_held = held_count(tx)?;
            tx.execute(
                "UPDATE sync_state SET cursor = ?1, epoch = ?2 WHERE singleton = 1",
                params![page.next_cursor.to_string(), page.epoch.to_string()],
            )?;
            Ok(stats)
        })?;
        let touches_identity = page
            .changes
            .iter()
            .any(|c| matches!(c.body, ChangeBody::Branch(_) | ChangeBody::Settings(_)));
        if touches_identity {
            self.reload_identity()?;
        }
        Ok(stats)
    }

    /// Where the next pull resumes; `None`: from the beginning.
    pub fn sync_cursor(&self) -> Result<Option<Cursor>> {
        let text: Option<String> = self.conn().query_row(
            "SELECT cursor FROM sync_state WHERE singleton = 1",
            [],
            |r| r.get(0),
        )?;
        text.map(|t| {
            t.parse::<Cursor>()
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .transpose()
    }

    /// Forgets the cursor (and the changes held under it), so the next pull
    /// starts from the beginning: after the Back Office changed its epoch
    /// (restored from a backup) or this till was pointed at another one.
    /// Nothing local is lost: every pulled change applies idempotently.
    pub fn reset_sync_cursor(&mut self) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE sync_state SET cursor = NULL, epoch = NULL WHERE singleton = 1",
                [],
            )?;
            tx.execute("DELETE FROM sync_held_changes", [])?;
            Ok(())
        })
    }

    /// Records a push round that left nothing undelivered, and the clock
    /// skew if the server said what time it was.
    pub fn record_push(&mut self, server_time: Option<Timestamp>) -> Result<()> {
        self.write_unsynced(|tx| {
            let now = tx.now().as_millis();
            tx.execute(
                "UPDATE sync_state SET last_push_at = ?1 WHERE singleton = 1",
                [now],
            )?;
            if let Some(server) = server_time {
                write_skew(tx, now, server)?;
            }
            Ok(())
        })
    }

    /// Records a pull round that reached the end of the feed.
    pub fn record_pull(&mut self) -> Result<()> {
        self.write_unsynced(|tx| {
            tx.execute(
                "UPDATE sync_state SET last_pull_at = ?1 WHERE singleton = 1",
                [tx.now().as_millis()],
            )?;
            Ok(())
        })
    }

    /// Records what `GET /api/status` said: the server's version and time
    /// (for the clock skew).
    pub fn record_server_status(&mut self, version: &str, server_time: Timestamp) -> Result<()> {
        self.write_unsynced(|tx| {
            let now = tx.now().as_millis();
            tx.execute(
                "UPDATE sync_state SET server_version = ?1 WHERE singleton = 1",
                [version],
            )?;
            write_skew(tx, now, server_time)
        })
    }

    /// Records a failed sync round for the Sync Status page. The last error
    /// stays until the next one; the last push and pull times show whether
    /// syncing has recovered since.
    pub fn record_sync_error(&mut self, message: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE sync_state SET last_error = ?1, last_error_at = ?2 WHERE singleton = 1",
                params![message, tx.now().as_millis()],
            )?;
            Ok(())
        })
    }

    /// What the Sync Status page shows about syncing.
    pub fn sync_state(&self) -> Result<SyncState> {
        let mut state = self.conn().query_row(
            "SELECT backoffice_url, cursor, epoch, last_push_at, last_pull_at, last_error,
                    last_error_at, clock_skew_ms, server_version
             FROM sync_state WHERE singleton = 1",
            [],
            |r| {
                Ok(SyncState {
                    backoffice_url: r.get(0)?,
                    cursor: crate::sql::col_parse_opt::<Cursor>(r, 1)?,
                    epoch: r
                        .get::<_, Option<String>>(2)?
                        .map(|t| {
                            uuid::Uuid::parse_str(&t).map(Epoch).map_err(|e| {
                                rusqlite::Error::FromSqlConversionFailure(
                                    2,
                                    rusqlite::types::Type::Text,
                                    Box::new(e),
                                )
                            })
                        })
                        .transpose()?,
                    last_push_at: r.get::<_, Option<i64>>(3)?.map(Timestamp::from_millis),
                    last_pull_at: r.get::<_, Option<i64>>(4)?.map(Timestamp::from_millis),
                    last_error: r.get(5)?,
                    last_error_at: r.get::<_, Option<i64>>(6)?.map(Timestamp::from_millis),
                    clock_skew_ms: r.get(7)?,
                    server_version: r.get(8)?,
                    outbox: OutboxStats::default(),
                    held_changes: 0,
                })
            },
        )?;
        state.outbox = self.outbox_stats()?;
        state.held_changes = held_count(self.conn())?;
        Ok(state)
    }

    /// The pulled changes waiting to be applied, oldest first.
    pub fn held_changes(&self) -> Result<Vec<HeldChange>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT seq, entity, entity_id, reason, held_at FROM sync_held_changes ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(HeldChange {
                seq: r.get::<_, i64>(0)? as u64,
                entity: r.get(1)?,
                entity_id: r.get(2)?,
                reason: r.get(3)?,
                held_at: Timestamp::from_millis(r.get(4)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// This till's Back Office URL, if an owner has entered one.
    pub fn backoffice_url(&self) -> Result<Option<String>> {
        Ok(self.conn().query_row(
            "SELECT backoffice_url FROM sync_state WHERE singleton = 1",
            [],
            |r| r.get(0),
        )?)
    }

    /// Sets (or with `None` clears) this till's Back Office URL (owners
    /// only). A local setting: never queued, never synced. Pointing the till
    /// at a different URL forgets the pull cursor, since a cursor means
    /// nothing to another server; the next pull starts from the beginning.
    pub fn set_backoffice_url(&mut self, actor: &Actor, url: Option<&str>) -> Result<()> {
        actor.require(Permission::ManageSettings, "change the Back Office address")?;
        let url = url.map(check_url).transpose()?;
        self.write(|tx| {
            let current: Option<String> = tx.query_row(
                "SELECT backoffice_url FROM sync_state WHERE singleton = 1",
                [],
                |r| r.get(0),
            )?;
            if current == url {
                return Ok(());
            }
            tx.execute(
                "UPDATE sync_state SET backoffice_url = ?1, cursor = NULL, epoch = NULL
                 WHERE singleton = 1",
                [&url],
            )?;
            tx.execute("DELETE FROM sync_held_changes", [])?;
            Ok(())
        })
    }
}

/// A plausible http(s) URL, trimmed and without a trailing slash. (The sync
/// engine parses it fully before calling this.)
fn check_url(text: &str) -> Result<String> {
    let url = text.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let ok = match rest {
        Some(rest) => {
            !rest.is_empty()
                && url.len() <= MAX_URL_LEN
                && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if ok {
        Ok(url.to_string())
    } else {
        Err(StoreError::Invalid(format!(
            "'{text}' is not a Back Office address; enter it as https://your-server or http://192.168.1.10:5000"
        )))
    }
}

fn write_skew(tx: &Connection, now_ms: i64, server: Timestamp) -> Result<()> {
    tx.execute(
        "UPDATE sync_state SET clock_skew_ms = ?1, skew_measured_at = ?2 WHERE singleton = 1",
        params![now_ms.saturating_sub(server.as_millis()), now_ms],
    )?;
    Ok(())
}

fn held_count(conn: &Connection) -> Result<u64> {
    Ok(
        conn.query_row("SELECT COUNT(*) FROM sync_held_changes", [], |r| {
            r.get::<_, i64>(0)
        })? as u64,
    )
}

/// The entity name and id of a change (as the Back Office's feed names them).
fn describe(body: &ChangeBody) -> (&'static str, String) {
    match body {
        ChangeBody::Branch(b) => ("branch", b.id.to_string()),
        ChangeBody::Product(p) => ("product", p.id.to_string()),
        ChangeBody::Category(c) => ("category", c.id.to_string()),
        ChangeBody::Customer(c) => ("customer", c.id.to_string()),
        ChangeBody::CustomerAlias { alias, .. } => ("customer_alias", alias.to_string()),
        // The same entity as the alias it undoes: a held alias change is
        // superseded by its undoing.
        ChangeBody::CustomerUnaliased { alias } => ("customer_alias", alias.to_string()),
        ChangeBody::User(u) => ("user", u.id.to_string()),
        ChangeBody::Settings(_) => ("settings", "settings".to_string()),
        ChangeBody::TaxRate(t) => ("tax_rate", t.code.to_string()),
        ChangeBody::Expense(e) => ("expense", e.id.to_string()),
        ChangeBody::StockMoved(m) => ("stock_movement", m.id.to_string()),
        ChangeBody::LedgerEntry(e) => ("ledger_entry", e.id.to_string()),
        ChangeBody::Sale(s) => ("sale", s.id.to_string()),
        ChangeBody::TransferSent(t) => ("transfer", t.id.to_string()),
        ChangeBody::TransferReceived(r) => ("transfer_receipt", r.id.to_string()),
    }
}

/// Whether a failure is a local constraint refusing this one change (hold
/// it), as opposed to a failure of the database (abort the page).
fn is_refusal(e: &StoreError) -> bool {
    use rusqlite::ffi;
    match e {
        StoreError::Database(rusqlite::Error::SqliteFailure(f, _)) => matches!(
            f.extended_code,
            ffi::SQLITE_CONSTRAINT_UNIQUE
                | ffi::SQLITE_CONSTRAINT_FOREIGNKEY
                | ffi::SQLITE_CONSTRAINT_CHECK
                | ffi::SQLITE_CONSTRAINT_NOTNULL
                | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        ),
        _ => false,
    }
}

fn refusal_reason(entity: &str, id: &str, e: &StoreError) -> String {
    let hint = match e {
        StoreError::Database(rusqlite::Error::SqliteFailure(f, _))
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            " (it refers to a record this till does not have yet)"
        }
        StoreError::Database(rusqlite::Error::SqliteFailure(f, _))
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            " (a different local record already uses this value)"
        }
        _ => "",
    };
    format!("{entity} {id}: {e}{hint}")
}

/// Applies one change inside a savepoint: a constraint refusal rolls back
/// just this change and holds it; any other error is returned.
/// `maybe_held`: whether `sync_held_changes` may have rows (set when this
/// change is held).
fn apply_guarded(
    tx: &mut Tx<'_>,
    seq: u64,
    body: &ChangeBody,
    maybe_held: &mut bool,
) -> Result<Guarded> {
    let (entity, id) = describe(body);
    let savepoint = !written_by_one_statement(body);
    if savepoint {
        tx.prepare_cached("SAVEPOINT pulled_change")?.execute([])?;
    }
    match apply_one(tx, body) {
        Ok(applied) => {
            if savepoint {
                tx.prepare_cached("RELEASE pulled_change")?.execute([])?;
            }
            // This change supersedes any older held one for the same record.
            if *maybe_held {
                tx.prepare_cached(
                    "DELETE FROM sync_held_changes WHERE entity = ?1 AND entity_id = ?2 AND seq <= ?3",
                )?
                .execute(params![entity, id, seq as i64])?;
            }
            Ok(Guarded::Done(applied))
        }
        Err(e) => {
            if savepoint {
                tx.execute_batch("ROLLBACK TO pulled_change; RELEASE pulled_change")?;
            }
            if !is_refusal(&e) {
                return Err(e);
            }
            let reason = refusal_reason(entity, &id, &e);
            tracing::warn!(seq, %reason, "pulled change held");
            tx.prepare_cached(
                "DELETE FROM sync_held_changes WHERE entity = ?1 AND entity_id = ?2 AND seq < ?3",
            )?
            .execute(params![entity, id, seq as i64])?;
            tx.prepare_cached(
                "INSERT INTO sync_held_changes (seq, entity, entity_id, body, reason, held_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (seq) DO UPDATE SET reason = excluded.reason",
            )?
            .execute(params![
                seq as i64,
                entity,
                id,
                json(body)?,
                reason,
                tx.now().as_millis()
            ])?;
            *maybe_held = true;
            Ok(Guarded::Held)
        }
    }
}

/// Whether applying `body` writes with a single SQL statement (after reads
/// only). SQLite undoes a statement that fails as a whole, triggers
/// included, so such a change needs no savepoint to be refused alone; the
/// others (a sale's rows, settings) get one.
///
/// This matters for a bootstrap: every SAVEPOINT makes FTS5 flush the
/// product names it holds in memory into a new index segment (and merge
/// segments), which cost a quarter of applying a page of products.
/// Keep this list true when an `apply_*` below gains a second write.
fn written_by_one_statement(body: &ChangeBody) -> bool {
    matches!(
        body,
        ChangeBody::Product(_)
            | ChangeBody::Category(_)
            | ChangeBody::TaxRate(_)
            | ChangeBody::CustomerAlias { .. }
            | ChangeBody::CustomerUnaliased { .. }
            | ChangeBody::StockMoved(_)
            | ChangeBody::LedgerEntry(_)
    )
}

/// Tries every held change again, oldest first. Returns how many applied.
fn retry_held(tx: &mut Tx<'_>) -> Result<usize> {
    let held: Vec<(i64, String)> = tx
        .prepare_cached("SELECT seq, body FROM sync_held_changes ORDER BY seq")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut released = 0;
    let mut maybe_held = true;
    for (seq, text) in held {
        let body: ChangeBody = serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("held change {seq}: {e}")))?;
        if let Guarded::Done(_) = apply_guarded(tx, seq as u64, &body, &mut maybe_held)? {
            released += 1;
        }
    }
    Ok(released)
}

fn apply_one(tx: &mut Tx<'_>, body: &ChangeBody) -> Result<Applied> {
    match body {
        ChangeBody::Branch(b) => apply_branch(tx, b),
        ChangeBody::Product(p) => apply_product(tx, p),
        ChangeBody::Category(c) => apply_category(tx, c),
        ChangeBody::Customer(c) => apply_customer(tx, c),
        ChangeBody::CustomerAlias { alias, customer } => {
            tx.prepare_cached(
                "INSERT INTO customer_aliases (alias_id, customer_id) VALUES (?1, ?2)
                 ON CONFLICT (alias_id) DO UPDATE SET customer_id = excluded.customer_id",
            )?
            .execute(params![alias.to_string(), customer.to_string()])?;
            Ok(Applied::Written)
        }
        // An owner undid the merge on the Back Office: the id is its own
        // customer again (its revived state follows in the feed). Deleting
        // an alias this till does not have is nothing: idempotent.
        ChangeBody::CustomerUnaliased { alias } => {
            tx.prepare_cached("DELETE FROM customer_aliases WHERE alias_id = ?1")?
                .execute([alias.to_string()])?;
            Ok(Applied::Written)
        }
        ChangeBody::User(u) => apply_user(tx, u),
        ChangeBody::Settings(s) => apply_settings(tx, s),
        ChangeBody::TaxRate(r) => apply_tax_rate(tx, r),
        ChangeBody::Expense(e) => apply_expense(tx, e),
        ChangeBody::StockMoved(m) => {
            if exists(tx, "stock_movements", &m.id.to_string())? {
                return Ok(Applied::AlreadyPresent);
            }
            insert_movement(tx, m)?;
            Ok(Applied::Written)
        }
        ChangeBody::LedgerEntry(e) => {
            if exists(tx, "customer_ledger", &e.id.to_string())? {
                return Ok(Applied::AlreadyPresent);
            }
            // Customers are shared but sales are not: another branch's credit
            // sale never comes here, only its ledger entry. Keep the entry
            // (the customer's balance is the sum over every branch) without
            // the link to a sale this till will never have; its reference
            // names the receipt. An entry of this branch whose sale has not
            // arrived yet is held until it does, link and all.
            if let Some(sale) = e.sale_id
                && e.branch_id != tx.identity().branch_id
                && !exists(tx, "sales", &sale.to_string())?
            {
                let unlinked = LedgerEntryRecord {
                    sale_id: None,
                    ..e.clone()
                };
                insert_ledger_entry(tx, &unlinked)?;
                return Ok(Applied::Written);
            }
            insert_ledger_entry(tx, e)?;
            Ok(Applied::Written)
        }
        ChangeBody::Sale(s) => apply_sale(tx, s),
        ChangeBody::TransferSent(t) => crate::transfers::apply_pulled_sent(tx, t),
        ChangeBody::TransferReceived(r) => crate::transfers::apply_pulled_received(tx, r),
    }
}

fn exists(tx: &Connection, table: &str, id: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached(&format!(
            "SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?1)"
        ))?
        .query_row([id], |r| r.get(0))?)
}

/// Inserts a sale once, with whichever of its movements and ledger entry are
/// not here yet (they may have arrived on their own).
fn apply_sale(tx: &Tx<'_>, s: &SaleRecord) -> Result<Applied> {
    if exists(tx, "sales", &s.id.to_string())? {
        return Ok(Applied::AlreadyPresent);
    }
    let mut sale = s.clone();
    let mut movements = Vec::with_capacity(sale.movements.len());
    for m in sale.movements {
        if !exists(tx, "stock_movements", &m.id.to_string())? {
            movements.push(m);
        }
    }
    sale.movements = movements;
    if let Some(e) = &sale.ledger_entry
        && exists(tx, "customer_ledger", &e.id.to_string())?
    {
        sale.ledger_entry = None;
    }
    insert_sale(tx, &sale)?;
    Ok(Applied::Written)
}

/// The columns of a record that ops still in the outbox (pending or
/// quarantined) change: the server has not seen those values yet.
fn queued_columns(tx: &Connection, entity: &str, id: &str) -> Result<HashSet<&'static str>> {
    let mut stmt = tx.prepare_cached("SELECT payload FROM outbox WHERE entity_id = ?1")?;
    let payloads = stmt
        .query_map([id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut cols = HashSet::new();
    for payload in payloads {
        let body: OpBody = serde_json::from_str(&payload)
            .map_err(|e| StoreError::Corrupt(format!("queued op for {id}: {e}")))?;
        let (of, changed) = op_columns(&body);
        if of == entity {
            cols.extend(changed);
        }
    }
    Ok(cols)
}

/// The entity an op is about and the columns it changes.
fn op_columns(body: &OpBody) -> (&'static str, Vec<&'static str>) {
    fn some<T>(field: &Option<T>, cols: &[&'static str], out: &mut Vec<&'static str>) {
        if field.is_some() {
            out.extend_from_slice(cols);
        }
    }
    let mut c = Vec::new();
    let entity = match body {
        OpBody::ProductChanged(p) => {
            some(&p.name, &["name"], &mut c);
            some(&p.sku, &["sku"], &mut c);
            some(&p.barcode, &["barcode"], &mut c);
            some(&p.category_id, &["category_id"], &mut c);
            some(&p.price, &["price_minor", "currency"], &mut c);
            some(&p.tax_code, &["tax_code"], &mut c);
            some(&p.image, &["image"], &mut c);
            some(&p.track_stock, &["track_stock"], &mut c);
            some(&p.low_stock, &["low_stock_milli"], &mut c);
            "product"
        }
        OpBody::CategoryChanged(p) => {
            some(&p.name, &["name"], &mut c);
            some(&p.sort_order, &["sort_order"], &mut c);
            "category"
        }
        OpBody::CustomerChanged(p) => {
            some(&p.name, &["name"], &mut c);
            some(&p.phone, &["phone"], &mut c);
            some(&p.email, &["email"], &mut c);
            some(&p.credit_limit, &["credit_limit_minor", "currency"], &mut c);
            some(&p.notes, &["notes"], &mut c);
            "customer"
        }
        OpBody::UserChanged(p) => {
            some(&p.name, &["name"], &mut c);
            some(&p.role, &["role"], &mut c);
            some(&p.pin_hash, &["pin_hash"], &mut c);
            some(&p.active, &["active"], &mut c);
            "user"
        }
        OpBody::ExpenseChanged(p) => {
            some(&p.branch_id, &["branch_id"], &mut c);
            some(&p.device_id, &["device_id"], &mut c);
            some(&p.user_id, &["user_id"], &mut c);
            some(&p.category, &["category"], &mut c);
            some(&p.description, &["description"], &mut c);
            some(&p.amount, &["amount_minor", "currency"], &mut c);
            some(&p.paid_with, &["paid_with"], &mut c);
            some(&p.reference, &["reference"], &mut c);
            some(&p.spent_at, &["spent_at"], &mut c);
            some(&p.business_day, &["business_day"], &mut c);
            "expense"
        }
        OpBody::SettingsChanged(p) => {
            some(&p.store_name, &["store_name"], &mut c);
            some(&p.address, &["address"], &mut c);
            some(&p.phone, &["phone"], &mut c);
            some(&p.tax_pin, &["tax_pin"], &mut c);
            some(&p.receipt_header, &["receipt_header"], &mut c);
            some(&p.receipt_footer, &["receipt_footer"], &mut c);
            some(&p.currency, &["currency"], &mut c);
            some(&p.time_zone, &["time_zone"], &mut c);
            some(&p.tax_mode, &["tax_mode"], &mut c);
            "settings"
        }
        OpBody::TaxRateChanged(_) => {
            c.extend_from_slice(&["name", "basis_points", "deleted_at"]);
            "tax_rate"
        }
        OpBody::ProductDeleted(_) => {
            c.push("deleted_at");
            "product"
        }
        OpBody::CategoryDeleted(_) => {
            c.push("deleted_at");
            "category"
        }
        OpBody::CustomerDeleted(_) => {
            c.push("deleted_at");
            "customer"
        }
        OpBody::UserDeleted(_) => {
            c.push("deleted_at");
            "user"
        }
        OpBody::ExpenseDeleted(_) => {
            c.push("deleted_at");
            "expense"
        }
        OpBody::SaleRecorded(_)
        | OpBody::StockMoved(_)
        | OpBody::LedgerEntryAdded(_)
        | OpBody::TransferSent(_)
        | OpBody::TransferReceived(_) => "",
    };
    (entity, c)
}

/// Inserts a mutable record with the server's state, or updates it except
/// for the columns queued local ops change (invariant 5).
fn upsert(
    tx: &mut Tx<'_>,
    table: &'static str,
    entity: &'static str,
    id: String,
    hlc: Hlc,
    columns: Vec<(&'static str, Value)>,
) -> Result<Applied> {
    tx.observe(hlc);
    let local_hlc: Option<String> = tx
        .prepare_cached(&format!("SELECT hlc FROM {table} WHERE id = ?1"))?
        .query_row([&id], |r| r.get(0))
        .optional()?;
    let Some(local_hlc) = local_hlc else {
        let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
        let marks: Vec<String> = (1..=columns.len() + 2).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {table} (id, hlc, {}) VALUES ({})",
            names.join(", "),
            marks.join(", ")
        );
        let values = [Value::from(id), Value::from(hlc.to_string())]
            .into_iter()
            .chain(columns.into_iter().map(|(_, v)| v));
        tx.prepare_cached(&sql)?.execute(params_from_iter(values))?;
        return Ok(Applied::Written);
    };
    let kept = queued_columns(tx, entity, &id)?;
    let pulled_hlc = hlc.to_string();
    // A record with local values kept carries the later of the two clocks.
    let row_hlc = if !kept.is_empty() && local_hlc > pulled_hlc {
        local_hlc
    } else {
        pulled_hlc
    };
    let columns: Vec<(&'static str, Value)> = columns
        .into_iter()
        .filter(|(c, _)| !kept.contains(c))
        .chain([("hlc", Value::from(row_hlc))])
        .collect();
    let sets: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (c, _))| format!("{c} = ?{}", i + 2))
        .collect();
    let sql = format!("UPDATE {table} SET {} WHERE id = ?1", sets.join(", "));
    let values = std::iter::once(Value::from(id)).chain(columns.into_iter().map(|(_, v)| v));
    tx.prepare_cached(&sql)?.execute(params_from_iter(values))?;
    Ok(if kept.is_empty() {
        Applied::Written
    } else {
        Applied::KeptLocal
    })
}

fn text(s: &str) -> Value {
    Value::from(s.to_string())
}

fn opt_text<T: AsRef<str>>(s: Option<T>) -> Value {
    s.map_or(Value::Null, |s| Value::from(s.as_ref().to_string()))
}

fn opt_int(v: Option<i64>) -> Value {
    v.map_or(Value::Null, Value::from)
}

fn ts(t: Option<Timestamp>) -> Value {
    opt_int(t.map(Timestamp::as_millis))
}

fn apply_branch(tx: &mut Tx<'_>, b: &BranchState) -> Result<Applied> {
    upsert(
        tx,
        "branches",
        "branch",
        b.id.to_string(),
        b.hlc,
        vec![
            ("code", text(&b.code)),
            ("name", text(&b.name)),
            ("time_zone", text(b.time_zone.name())),
            ("deleted_at", ts(b.deleted_at)),
        ],
    )
}

fn apply_product(tx: &mut Tx<'_>, p: &ProductState) -> Result<Applied> {
    upsert(
        tx,
        "products",
        "product",
        p.id.to_string(),
        p.hlc,
        product_columns(p),
    )
}

/// Most products a multi-row insert writes at once.
const PRODUCTS_PER_INSERT: usize = 100;

/// Inserts the products at the head of `changes` that this till does not
/// have yet (a bootstrap is all of them) with multi-row INSERTs, and returns
/// how many changes that consumed (0: the head is something else, or a
/// product already here, and goes the usual way).
///
/// One statement per [`PRODUCTS_PER_INSERT`] products instead of one each:
/// FTS5 flushes the names it holds in memory into a new index segment at the
/// start of every statement that writes through a trigger, and those
/// flushes (and the merges of the segments they leave) were most of the
/// cost of a page. A product not here has no local value to keep
/// (invariant 5): it is inserted whole, as `upsert` would. If SQLite refuses
/// a statement (a constraint), it undoes it whole and the products go the
/// usual way, one by one, so only the refused one is held.
fn insert_new_products(tx: &mut Tx<'_>, changes: &[Change], maybe_held: bool) -> Result<usize> {
    let mut run: Vec<&ProductState> = Vec::new();
    let mut ids = HashSet::new();
    for change in changes.iter().take(PRODUCTS_PER_INSERT) {
        let ChangeBody::Product(p) = &change.body else {
            break;
        };
        let id = p.id.to_string();
        if !ids.insert(id.clone()) || exists(tx, "products", &id)? {
            break;
        }
        run.push(p);
    }
    if run.len() < 2 {
        return Ok(0);
    }
    let columns = product_columns(run[0]);
    let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
    let width = names.len() + 2;
    let rows: Vec<String> = (0..run.len())
        .map(|r| {
            let marks: Vec<String> = (1..=width).map(|i| format!("?{}", r * width + i)).collect();
            format!("({})", marks.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO products (id, hlc, {}) VALUES {}",
        names.join(", "),
        rows.join(", ")
    );
    let values = run.iter().flat_map(|p| {
        [
            Value::from(p.id.to_string()),
            Value::from(p.hlc.to_string()),
        ]
        .into_iter()
        .chain(product_columns(p).into_iter().map(|(_, v)| v))
    });
    let inserted = if run.len() == PRODUCTS_PER_INSERT {
        tx.prepare_cached(&sql)?.execute(params_from_iter(values))
    } else {
        tx.prepare(&sql)?.execute(params_from_iter(values))
    };
    if let Err(e) = inserted {
        // SQLite undid the statement whole.
        let e = StoreError::from(e);
        return if is_refusal(&e) { Ok(0) } else { Err(e) };
    }
    for (p, change) in run.iter().zip(changes) {
        tx.observe(p.hlc);
        if maybe_held {
            tx.prepare_cached(
                "DELETE FROM sync_held_changes WHERE entity = 'product' AND entity_id = ?1 AND seq <= ?2",
            )?
            .execute(params![p.id.to_string(), change.seq as i64])?;
        }
    }
    Ok(run.len())
}

/// The columns of a pulled product, but its id and clock.
fn product_columns(p: &ProductState) -> Vec<(&'static str, Value)> {
    vec![
        ("name", text(p.name.as_str())),
        ("sku", opt_text(p.sku.as_ref().map(|s| s.as_str()))),
        ("barcode", opt_text(p.barcode.as_ref().map(|b| b.as_str()))),
        (
            "category_id",
            opt_text(p.category_id.map(|c| c.to_string())),
        ),
        ("price_minor", Value::from(p.price.minor())),
        ("currency", text(p.price.currency().code())),
        ("tax_code", text(p.tax_code.as_str())),
        ("image", opt_text(p.image.as_deref())),
        ("track_stock", Value::from(p.track_stock)),
        ("low_stock_milli", opt_int(p.low_stock.map(|q| q.milli()))),
        ("created_at", Value::from(p.created_at.as_millis())),
        ("deleted_at", ts(p.deleted_at)),
    ]
}

fn apply_category(tx: &mut Tx<'_>, c: &CategoryState) -> Result<Applied> {
    upsert(
        tx,
        "categories",
        "category",
        c.id.to_string(),
        c.hlc,
        vec![
            ("name", text(c.name.as_str())),
            ("sort_order", Value::from(c.sort_order)),
            ("deleted_at", ts(c.deleted_at)),
        ],
    )
}

fn apply_customer(tx: &mut Tx<'_>, c: &CustomerState) -> Result<Applied> {
    upsert(
        tx,
        "customers",
        "customer",
        c.id.to_string(),
        c.hlc,
        vec![
            ("name", text(c.name.as_str())),
            ("phone", opt_text(c.phone.as_ref().map(|p| p.as_str()))),
            ("email", opt_text(c.email.as_deref())),
            ("credit_limit_minor", Value::from(c.credit_limit.minor())),
            ("currency", text(c.credit_limit.currency().code())),
            ("notes", opt_text(c.notes.as_deref())),
            ("created_at", Value::from(c.created_at.as_millis())),
            ("deleted_at", ts(c.deleted_at)),
        ],
    )
}

fn apply_user(tx: &mut Tx<'_>, u: &UserState) -> Result<Applied> {
    upsert(
        tx,
        "users",
        "user",
        u.id.to_string(),
        u.hlc,
        vec![
            ("name", text(u.name.as_str())),
            ("role", text(u.role.as_str())),
            ("pin_hash", text(&u.pin_hash)),
            ("active", Value::from(u.active)),
            ("created_at", Value::from(u.created_at.as_millis())),
            ("deleted_at", ts(u.deleted_at)),
        ],
    )
}

fn apply_expense(tx: &mut Tx<'_>, e: &ExpenseState) -> Result<Applied> {
    upsert(
        tx,
        "expenses",
        "expense",
        e.id.to_string(),
        e.hlc,
        vec![
            ("branch_id", text(&e.branch_id.to_string())),
            ("device_id", text(&e.device_id.to_string())),
            ("user_id", text(&e.user_id.to_string())),
            ("category", text(e.category.as_str())),
            ("description", text(&e.description)),
            ("amount_minor", Value::from(e.amount.minor())),
            ("currency", text(e.amount.currency().code())),
            ("paid_with", text(e.paid_with.as_str())),
            ("reference", opt_text(e.reference.as_deref())),
            ("spent_at", Value::from(e.spent_at.as_millis())),
            ("business_day", text(&e.business_day)),
            ("created_at", Value::from(e.created_at.as_millis())),
            ("deleted_at", ts(e.deleted_at)),
        ],
    )
}

/// Business settings: one row per setting, each kept local while a queued
/// `settings_changed` op changes it. The business time zone is also this
/// till's branch's zone (as `update_settings` does locally).
fn apply_settings(tx: &mut Tx<'_>, s: &SettingsState) -> Result<Applied> {
    tx.observe(s.hlc);
    let kept = queued_columns(tx, "settings", "settings")?;
    let rows: [(&str, String); 9] = [
        ("store_name", s.store_name.clone()),
        ("address", s.address.clone()),
        ("phone", s.phone.clone()),
        ("tax_pin", s.tax_pin.clone()),
        ("receipt_header", s.receipt_header.clone()),
        ("receipt_footer", s.receipt_footer.clone()),
        ("currency", s.currency.code().to_string()),
        ("time_zone", s.time_zone.name().to_string()),
        ("tax_mode", s.tax_mode.as_str().to_string()),
    ];
    let hlc = s.hlc.to_string();
    {
        let mut stmt =
            tx.prepare_cached("UPDATE business_settings SET value = ?2, hlc = ?3 WHERE key = ?1")?;
        for (key, value) in rows.iter().filter(|(k, _)| !kept.contains(k)) {
            stmt.execute(params![key, value, hlc])?;
        }
    }
    if !kept.contains("time_zone") {
        tx.execute(
            "UPDATE branches SET time_zone = ?2 WHERE id = ?1",
            params![tx.identity().branch_id.to_string(), s.time_zone.name()],
        )?;
    }
    Ok(if kept.is_empty() {
        Applied::Written
    } else {
        Applied::KeptLocal
    })
}

/// A tax rate: the record is whole and carries no clock, so a queued local
/// change to the same code keeps the local rate entirely.
fn apply_tax_rate(tx: &mut Tx<'_>, r: &TaxRateRecord) -> Result<Applied> {
    let code = r.code.as_str();
    if !queued_columns(tx, "tax_rate", code)?.is_empty() {
        return Ok(Applied::KeptLocal);
    }
    tx.prepare_cached(
        "INSERT INTO tax_rates (code, name, basis_points, hlc, deleted_at)
         VALUES (?1, ?2, ?3, ?4, CASE WHEN ?5 THEN ?6 END)
         ON CONFLICT (code) DO UPDATE SET name = excluded.name,
             basis_points = excluded.basis_points,
             deleted_at = CASE WHEN ?5 THEN COALESCE(tax_rates.deleted_at, ?6) END",
    )?
    .execute(params![
        code,
        r.name,
        r.basis_points,
        Hlc::ZERO.to_string(),
        r.deleted,
        tx.now().as_millis()
    ])?;
    Ok(Applied::Written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ProductUpdate;
    use crate::customers::NewCustomer;
    use crate::sales::{Checkout, CheckoutLine};
    use crate::testkit::{Kit, T0, kes, kit};
    use pos_domain::{
        BranchId, CategoryId, Currency, CustomerId, DeviceId, Discount, ExpenseId, LedgerEntryId,
        MovementId, MovementKind, Name, PaymentMethod, PhoneNumber, ProductId, Quantity, Role,
        SaleId, TaxCode, TaxMode, Tender, TimeZone, UserId,
    };
    use sync_protocol::{ExpensePaidWith, LedgerEntryRecord, LedgerKind, StockMovementRecord};
    use uuid::Uuid;

    const EPOCH: Epoch = Epoch(Uuid::from_u128(0x0193_b1c2_0000_7000_8000_0000_0000_0001));

    fn name(s: &str) -> Name {
        Name::parse("name", s).unwrap()
    }

    /// A clock reading `ms` after T0 from another device.
    fn hlc(ms: i64) -> Hlc {
        Hlc::new((T0.as_millis() + ms) as u64, 0, 0xfeed)
    }

    /// A page of `bodies` numbered from `first`, ending the feed.
    fn page(first: u64, bodies: Vec<ChangeBody>) -> PullResponse {
        crate::testkit::page(EPOCH, first, bodies)
    }

    fn product_state(id: ProductId, product: &str, price: i64, at: i64) -> ProductState {
        ProductState {
            id,
            name: name(product),
            sku: None,
            barcode: None,
            category_id: None,
            price: kes(price),
            tax_code: TaxCode::parse("VAT16").unwrap(),
            image: None,
            track_stock: true,
            low_stock: None,
            created_at: T0,
            hlc: hlc(at),
            deleted_at: None,
        }
    }

    fn customer_state(id: CustomerId, who: &str, phone: Option<&str>, at: i64) -> CustomerState {
        CustomerState {
            id,
            name: name(who),
            phone: phone.map(|p| PhoneNumber::parse(p).unwrap()),
            email: None,
            credit_limit: kes(1_000_00),
            notes: None,
            created_at: T0,
            hlc: hlc(at),
            deleted_at: None,
        }
    }

    fn user_state(id: UserId, who: &str) -> UserState {
        UserState {
            id,
            name: name(who),
            role: Role::Cashier,
            pin_hash: "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA".into(),
            active: true,
            created_at: T0,
            hlc: hlc(1),
            deleted_at: None,
        }
    }

    fn ops_queued(k: &Kit) -> i64 {
        k.count("outbox")
    }

    fn next_op_seq(k: &Kit) -> i64 {
        k.store
            .conn()
            .query_row("SELECT next_op_seq FROM device_identity", [], |r| r.get(0))
            .unwrap()
    }

    /// Every synced table, row by row, for "nothing changed" assertions.
    const SYNCED: [&str; 17] = [
        "branches",
        "users",
        "categories",
        "products",
        "customers",
        "customer_aliases",
        "sales",
        "sale_lines",
        "payments",
        "stock_movements",
        "stock_levels",
        "customer_ledger",
        "expenses",
        "business_settings",
        "tax_rates",
        "outbox",
        "sync_held_changes",
    ];

    /// Another till at another branch sells one of its products: returns the
    /// changes that bring that sale here (branch, cashier, product, sale).
    fn another_tills_sale() -> (Vec<ChangeBody>, SaleRecord) {
        let mut other = kit();
        let tea = other.product("Tea leaves", 120_00);
        let cashier = other.cashier();
        let mut sale = other
            .store
            .checkout(
                &cashier,
                &Checkout {
                    sale_id: SaleId::new(),
                    lines: vec![CheckoutLine {
                        product_id: tea.id,
                        quantity: Quantity::units(2),
                        discount: Discount::None,
                    }],
                    discount: Discount::None,
                    tenders: vec![Tender::Cash {
                        tendered: kes(240_00),
                    }],
                    customer_id: None,
                },
            )
            .unwrap();
        sale.receipt_no = "WEST-T1-000001".into();
        let branch = other.store.identity().branch_id;
        let bodies = vec![
            ChangeBody::Branch(BranchState {
                id: branch,
                code: "WEST".into(),
                name: "Westlands".into(),
                time_zone: TimeZone::NAIROBI,
                hlc: hlc(1),
                deleted_at: None,
            }),
            ChangeBody::User(user_state(cashier.user_id, "Otieno")),
            ChangeBody::Product(product_state(tea.id, "Tea leaves", 120_00, 1)),
            ChangeBody::Sale(sale.clone()),
        ];
        (bodies, sale)
    }

    #[test]
    fn a_page_of_every_kind_applies_and_queues_nothing() {
        let mut k = kit();
        let here = k.store.identity().branch_id;
        let device = k.store.identity().device_id;
        let (mut bodies, sale) = another_tills_sale();
        let category = CategoryId::new();
        let flour = ProductId::new();
        let customer = CustomerId::new();
        let alias = CustomerId::new();
        let expense = ExpenseId::new();
        let restock = MovementId::new();
        let payment = LedgerEntryId::new();
        let mut flour_state = product_state(flour, "Maize flour 2kg", 210_00, 2);
        flour_state.category_id = Some(category);
        flour_state.barcode = Some(pos_domain::Barcode::parse("6161100000012").unwrap());
        bodies.extend([
            ChangeBody::Category(CategoryState {
                id: category,
                name: name("Flour"),
                sort_order: 3,
                hlc: hlc(2),
                deleted_at: None,
            }),
            ChangeBody::Product(flour_state),
            ChangeBody::StockMoved(StockMovementRecord {
                id: restock,
                product_id: flour,
                branch_id: here,
                device_id: device,
                kind: MovementKind::Restock,
                quantity: Quantity::units(24),
                sale_id: None,
                user_id: None,
                note: Some("delivery".into()),
                created_at: T0,
            }),
            ChangeBody::Customer(customer_state(
                customer,
                "Mama Njeri",
                Some("0712345678"),
                3,
            )),
            ChangeBody::Customer(customer_state(alias, "Njeri W.", None, 3)),
            ChangeBody::CustomerAlias { alias, customer },
            ChangeBody::LedgerEntry(LedgerEntryRecord {
                id: payment,
                customer_id: customer,
                branch_id: here,
                device_id: device,
                kind: LedgerKind::Adjustment,
                amount: kes(300_00),
                sale_id: None,
                method: None,
                reference: None,
                user_id: None,
                note: Some("opening balance".into()),
                created_at: T0,
            }),
            ChangeBody::Expense(ExpenseState {
                id: expense,
                branch_id: here,
                device_id: device,
                user_id: k.owner.user_id,
                category: name("Transport"),
                description: "Boda to the wholesaler".into(),
                amount: kes(150_00),
                paid_with: ExpensePaidWith::Mpesa,
                reference: Some("QK7PL3M2XA".into()),
                spent_at: T0,
                business_day: "2026-03-02".into(),
                created_at: T0,
                hlc: hlc(4),
                deleted_at: None,
            }),
            ChangeBody::Settings(SettingsState {
                store_name: "Duka la Mama".into(),
                address: "Moi Avenue, Nairobi".into(),
                phone: "+254712000000".into(),
                tax_pin: "P051234567X".into(),
                receipt_header: "Karibu".into(),
                receipt_footer: "Asante!".into(),
                currency: Currency::KES,
                time_zone: TimeZone::NAIROBI,
                tax_mode: TaxMode::Exclusive,
                hlc: hlc(5),
            }),
            ChangeBody::TaxRate(TaxRateRecord {
                code: TaxCode::parse("VAT8").unwrap(),
                name: "VAT 8%".into(),
                basis_points: 800,
                deleted: false,
            }),
            ChangeBody::TaxRate(TaxRateRecord {
                code: TaxCode::parse("ZERO").unwrap(),
                name: "Zero-rated".into(),
                basis_points: 0,
                deleted: true,
            }),
        ]);
        let ops_before = ops_queued(&k);
        let seq_before = next_op_seq(&k);
        let p = page(1, bodies);

        let stats = k.store.apply_pulled(&p).unwrap();

        assert_eq!(stats.changes, p.changes.len());
        assert_eq!(stats.written, p.changes.len(), "{stats:?}");
        assert_eq!((stats.held, stats.still_held), (0, 0));
        assert_eq!(k.store.sync_cursor().unwrap(), Some(p.next_cursor));
        // Nothing was queued: the server already has all of it.
        assert_eq!(ops_queued(&k), ops_before);
        assert_eq!(next_op_seq(&k), seq_before);

        // The other branch's sale, with its lines, payments and movements.
        assert_eq!(k.store.sale(sale.id).unwrap(), sale);
        let tea = sale.lines[0].product_id;
        assert_eq!(k.store.product(tea).unwrap().price, kes(120_00));
        // Mutable records: found by search (FTS trigger) and by barcode.
        let found = k.store.search_products("maize", 10).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].category_id, Some(category));
        // Stock here is the pulled restock (levels trigger); the other
        // branch's sale moved the other branch's stock only.
        assert_eq!(found[0].stock, Quantity::units(24));
        assert_eq!(
            k.store
                .product_by_code("6161100000012")
                .unwrap()
                .unwrap()
                .id,
            flour
        );
        assert_eq!(k.store.category(category).unwrap().sort_order, 3);
        let c = k.store.customer(customer).unwrap();
        assert_eq!(c.balance, kes(300_00));
        assert_eq!(c.phone, Some(PhoneNumber::parse("+254712345678").unwrap()));
        let aliased: String = k
            .store
            .conn()
            .query_row(
                "SELECT customer_id FROM customer_aliases WHERE alias_id = ?1",
                [alias.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(aliased, customer.to_string());
        let (desc, amount): (String, i64) = k
            .store
            .conn()
            .query_row(
                "SELECT description, amount_minor FROM expenses WHERE id = ?1",
                [expense.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((desc.as_str(), amount), ("Boda to the wholesaler", 150_00));
        let settings = k.store.settings().unwrap();
        assert_eq!(settings.store_name, "Duka la Mama");
        assert_eq!(settings.tax_mode, TaxMode::Exclusive);
        let rates: Vec<String> = k
            .store
            .tax_rates()
            .unwrap()
            .into_iter()
            .map(|r| r.code.to_string())
            .collect();
        assert_eq!(rates, ["EXEMPT", "VAT16", "VAT8"]);
        // The pulled clocks moved this till's clock past them.
        let last: String = k
            .store
            .conn()
            .query_row("SELECT hlc FROM device_identity", [], |r| r.get(0))
            .unwrap();
        assert!(last.parse::<Hlc>().unwrap() > hlc(5));
    }

    #[test]
    fn applying_the_same_page_twice_changes_nothing() {
        let mut k = kit();
        let (bodies, _) = another_tills_sale();
        let p = page(1, bodies);
        let first = k.store.apply_pulled(&p).unwrap();
        let before = k.contents(&SYNCED);
        let identity = k.rows("device_identity");

        let again = k.store.apply_pulled(&p).unwrap();

        assert_eq!(k.contents(&SYNCED), before);
        assert_eq!(k.rows("device_identity"), identity);
        assert_eq!(first.written, 4);
        // Mutable states are rewritten with the same values; the sale is
        // recognised by its id.
        assert_eq!((again.written, again.already_present), (3, 1));
    }

    #[test]
    fn this_tills_own_sale_coming_back_is_not_counted_twice() {
        let mut k = kit();
        let soda = k.product("Soda", 80_00);
        let cashier = k.cashier();
        let sale = k
            .store
            .checkout(
                &cashier,
                &Checkout {
                    sale_id: SaleId::new(),
                    lines: vec![CheckoutLine {
                        product_id: soda.id,
                        quantity: Quantity::units(3),
                        discount: Discount::None,
                    }],
                    discount: Discount::None,
                    tenders: vec![Tender::Cash {
                        tendered: kes(240_00),
                    }],
                    customer_id: None,
                },
            )
            .unwrap();
        let movement = sale.movements[0].clone();
        let before = k.contents(&SYNCED);

        let stats = k
            .store
            .apply_pulled(&page(
                7,
                vec![ChangeBody::Sale(sale), ChangeBody::StockMoved(movement)],
            ))
            .unwrap();

        assert_eq!(stats.already_present, 2);
        assert_eq!(k.contents(&SYNCED), before);
        assert_eq!(k.store.product(soda.id).unwrap().stock, Quantity::units(-3));
    }

    #[test]
    fn a_pending_local_edit_keeps_its_fields_and_the_rest_is_pulled() {
        let mut k = kit();
        let soda = k.product("Soda", 80_00);
        // The creation reached the server.
        let created: Vec<_> = k
            .store
            .outbox_pending(10)
            .unwrap()
            .into_iter()
            .map(|e| e.op.op_id)
            .collect();
        k.store.outbox_acknowledge(&created).unwrap();
        // The manager raises the price; the op has not been pushed yet.
        k.store
            .update_product(
                &k.owner.clone(),
                soda.id,
                ProductUpdate {
                    price: Some(kes(90_00)),
                    ..ProductUpdate::default()
                },
            )
            .unwrap();
        // Meanwhile the Back Office renamed it and (earlier) repriced it.
        let mut pulled = product_state(soda.id, "Soda 500ml", 85_00, -1);
        pulled.sku = Some(pos_domain::Sku::parse("SODA").unwrap());
        let p = page(1, vec![ChangeBody::Product(pulled.clone())]);

        let stats = k.store.apply_pulled(&p).unwrap();

        assert_eq!(stats.kept_local, 1);
        let now = k.store.product(soda.id).unwrap();
        assert_eq!(now.price, kes(90_00), "the unpushed price stays");
        assert_eq!(now.name, "Soda 500ml", "other fields follow the server");
        assert_eq!(now.sku.as_deref(), Some("SODA"));
        // A quarantined op keeps its fields too: it has not reached the server.
        let op = k.store.outbox_pending(10).unwrap()[0].op.op_id;
        k.store.outbox_quarantine(op, "test").unwrap();
        k.store
            .apply_pulled(&page(2, vec![ChangeBody::Product(pulled.clone())]))
            .unwrap();
        assert_eq!(k.store.product(soda.id).unwrap().price, kes(90_00));
        // Once the op is acknowledged, the server's state is the truth.
        k.store.outbox_acknowledge(&[op]).unwrap();
        pulled.price = kes(90_00);
        pulled.name = name("Soda 500ml cold");
        let stats = k
            .store
            .apply_pulled(&page(3, vec![ChangeBody::Product(pulled)]))
            .unwrap();
        assert_eq!((stats.written, stats.kept_local), (1, 0));
        assert_eq!(k.store.product(soda.id).unwrap().name, "Soda 500ml cold");
    }

    #[test]
    fn a_pending_local_delete_and_setting_are_kept() {
        let mut k = kit();
        let soda = k.product("Soda", 80_00);
        k.store.delete_product(&k.owner.clone(), soda.id).unwrap();
        k.store
            .update_settings(
                &k.owner.clone(),
                crate::settings::SettingsUpdate {
                    store_name: Some("Local name".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        let before_footer = k.store.settings().unwrap().receipt_footer;
        assert_eq!(before_footer, "Thank you!");

        k.store
            .apply_pulled(&page(
                1,
                vec![
                    ChangeBody::Product(product_state(soda.id, "Soda", 80_00, 1)),
                    ChangeBody::Settings(SettingsState {
                        store_name: "Server name".into(),
                        address: String::new(),
                        phone: String::new(),
                        tax_pin: String::new(),
                        receipt_header: String::new(),
                        receipt_footer: "Come again".into(),
                        currency: Currency::KES,
                        time_zone: TimeZone::NAIROBI,
                        tax_mode: TaxMode::Inclusive,
                        hlc: hlc(1),
                    }),
                ],
            ))
            .unwrap();

        assert!(k.store.product(soda.id).unwrap().deleted_at.is_some());
        assert!(k.store.search_products("soda", 5).unwrap().is_empty());
        let s = k.store.settings().unwrap();
        assert_eq!(s.store_name, "Local name");
        assert_eq!(s.receipt_footer, "Come again");
    }

    #[test]
    fn the_cursor_moves_only_with_its_page() {
        let mut k = kit();
        let first = page(
            1,
            vec![ChangeBody::Product(product_state(
                ProductId::new(),
                "Rice",
                150_00,
                1,
            ))],
        );
        k.store.apply_pulled(&first).unwrap();
        let before = k.contents(&SYNCED);
        // A failure in the middle of the next page (not a constraint that
        // would hold one change: the database itself refuses).
        k.store
            .conn()
            .execute_batch(
                "CREATE TEMP TRIGGER boom BEFORE INSERT ON main.expenses
                 BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
            )
            .unwrap();
        let here = k.store.identity().branch_id;
        let second = page(
            2,
            vec![
                ChangeBody::Product(product_state(ProductId::new(), "Beans", 180_00, 2)),
                ChangeBody::Expense(ExpenseState {
                    id: ExpenseId::new(),
                    branch_id: here,
                    device_id: k.store.identity().device_id,
                    user_id: k.owner.user_id,
                    category: name("Cleaning"),
                    description: "Soap".into(),
                    amount: kes(50_00),
                    paid_with: ExpensePaidWith::Cash,
                    reference: None,
                    spent_at: T0,
                    business_day: "2026-03-02".into(),
                    created_at: T0,
                    hlc: hlc(2),
                    deleted_at: None,
                }),
                ChangeBody::Category(CategoryState {
                    id: CategoryId::new(),
                    name: name("Grains"),
                    sort_order: 0,
                    hlc: hlc(2),
                    deleted_at: None,
                }),
            ],
        );

        let err = k.store.apply_pulled(&second).unwrap_err();

        assert!(err.to_string().contains("disk on fire"), "{err}");
        assert_eq!(k.contents(&SYNCED), before, "no change of the page stays");
        assert_eq!(k.store.sync_cursor().unwrap(), Some(first.next_cursor));
        // Resuming applies the whole page.
        k.store
            .conn()
            .execute_batch("DROP TRIGGER temp.boom")
            .unwrap();
        let stats = k.store.apply_pulled(&second).unwrap();
        assert_eq!(stats.written, 3);
        assert_eq!(k.store.sync_cursor().unwrap(), Some(second.next_cursor));
    }

    #[test]
    fn new_products_insert_in_bulk_and_a_refused_one_is_held_alone() {
        let mut k = kit();
        let queued = ops_queued(&k);
        let mut products: Vec<ProductState> = (0..250)
            .map(|i| product_state(ProductId::new(), &format!("Maize flour {i}"), 100_00 + i, 1))
            .collect();
        // One in the middle refers to a category this till does not have.
        products[120].category_id = Some(CategoryId::new());
        // One already here: updated, not inserted again.
        let here = products[200].clone();
        k.store
            .apply_pulled(&page(1, vec![ChangeBody::Product(here.clone())]))
            .unwrap();
        let bodies = products.iter().cloned().map(ChangeBody::Product).collect();

        let stats = k.store.apply_pulled(&page(2, bodies)).unwrap();

        assert_eq!((stats.written, stats.held, stats.still_held), (249, 1, 1));
        assert_eq!(
            k.store.held_changes().unwrap()[0].entity_id,
            products[120].id.to_string()
        );
        let count = |k: &Kit| -> i64 {
            k.store
                .conn()
                .query_row("SELECT COUNT(*) FROM products", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(count(&k), 249);
        // Every inserted product is in the search index.
        let indexed: i64 = k
            .store
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM products_fts WHERE products_fts MATCH 'maize'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexed, 249);
        assert_eq!(k.store.search_products("flour 249", 5).unwrap().len(), 1);
        assert_eq!(ops_queued(&k), queued, "pulling queues nothing");
        // Applying the page again changes nothing.
        let bodies = products.iter().cloned().map(ChangeBody::Product).collect();
        k.store.apply_pulled(&page(252, bodies)).unwrap();
        assert_eq!(count(&k), 249);
    }

    #[test]
    fn a_change_a_constraint_refuses_is_held_without_blocking_the_feed() {
        let mut k = kit();
        // A customer created here offline, already pushed (no pending op).
        let local = k
            .store
            .create_customer(
                &k.owner.clone(),
                NewCustomer {
                    name: name("Njeri"),
                    phone: Some(PhoneNumber::parse("0712345678").unwrap()),
                    email: None,
                    credit_limit: kes(0),
                    notes: None,
                },
            )
            .unwrap();
        let ids: Vec<_> = k
            .store
            .outbox_pending(10)
            .unwrap()
            .iter()
            .map(|e| e.op.op_id)
            .collect();
        k.store.outbox_acknowledge(&ids).unwrap();
        // The same person was created at another branch first; the Back
        // Office merged them. Its feed brings the other record before the merge.
        let merged = CustomerId::new();
        let category = CategoryId::new();
        let mut rice = product_state(ProductId::new(), "Rice", 150_00, 1);
        rice.category_id = Some(category);
        let first = page(
            1,
            vec![
                ChangeBody::Customer(customer_state(merged, "Mama Njeri", Some("0712345678"), 1)),
                ChangeBody::Product(rice.clone()),
                ChangeBody::Product(product_state(ProductId::new(), "Beans", 180_00, 1)),
            ],
        );

        let stats = k.store.apply_pulled(&first).unwrap();

        assert_eq!((stats.written, stats.held, stats.still_held), (1, 2, 2));
        assert_eq!(k.store.sync_cursor().unwrap(), Some(first.next_cursor));
        let held = k.store.held_changes().unwrap();
        assert_eq!(held[0].entity, "customer");
        assert!(held[0].reason.contains("UNIQUE"), "{}", held[0].reason);
        assert_eq!(held[1].entity, "product");
        assert!(
            held[1].reason.contains("does not have yet"),
            "{}",
            held[1].reason
        );
        assert_eq!(k.store.sync_state().unwrap().held_changes, 2);

        // The merge: the local id becomes an alias and its record a tombstone;
        // the category arrives. Both held changes now apply.
        let mut gone = customer_state(local.id, "Njeri", Some("0712345678"), 2);
        gone.deleted_at = Some(T0);
        let second = page(
            4,
            vec![
                ChangeBody::Customer(gone),
                ChangeBody::CustomerAlias {
                    alias: local.id,
                    customer: merged,
                },
                ChangeBody::Category(CategoryState {
                    id: category,
                    name: name("Grains"),
                    sort_order: 1,
                    hlc: hlc(2),
                    deleted_at: None,
                }),
            ],
        );
        let stats = k.store.apply_pulled(&second).unwrap();
        // The alias waited for the merged customer too; all three apply.
        assert_eq!((stats.held, stats.released, stats.still_held), (1, 3, 0));
        assert_eq!(k.store.customer(merged).unwrap().name, "Mama Njeri");
        assert_eq!(
            k.store.product(rice.id).unwrap().category_id,
            Some(category)
        );
        assert!(k.store.held_changes().unwrap().is_empty());
    }

    #[test]
    fn a_merged_customer_owes_what_both_ledgers_add_up_to() {
        let mut k = kit();
        let owner = k.owner.clone();
        // Added here offline with 200 on account, all pushed.
        let local = k
            .store
            .create_customer(
                &owner,
                NewCustomer {
                    name: name("Njeri"),
                    phone: Some(PhoneNumber::parse("0712 345 678").unwrap()),
                    email: None,
                    credit_limit: kes(0),
                    notes: None,
                },
            )
            .unwrap();
        k.store
            .adjust_customer_balance(&owner, local.id, kes(200_00), "paper book")
            .unwrap();
        let ids: Vec<_> = k
            .store
            .outbox_pending(10)
            .unwrap()
            .iter()
            .map(|e| e.op.op_id)
            .collect();
        k.store.outbox_acknowledge(&ids).unwrap();
        // The Back Office had her from another branch first, owing 300 there.
        let merged = CustomerId::new();
        let mut gone = customer_state(local.id, "Njeri", Some("0712345678"), 2);
        gone.deleted_at = Some(T0);
        // Her credit sale at the other branch: the sale itself never comes
        // here (sales belong to their branch), its ledger entry does.
        let there = LedgerEntryRecord {
            id: LedgerEntryId::new(),
            customer_id: merged,
            branch_id: BranchId::new(),
            device_id: DeviceId::new(),
            kind: LedgerKind::CreditSale,
            amount: kes(300_00),
            sale_id: Some(SaleId::new()),
            method: None,
            reference: Some("WEST-T1-000009".into()),
            user_id: None,
            note: None,
            created_at: T0,
        };
        // An entry of this branch whose sale has not arrived waits for it.
        let here_unsold = LedgerEntryRecord {
            id: LedgerEntryId::new(),
            branch_id: k.store.identity().branch_id,
            sale_id: Some(SaleId::new()),
            ..there.clone()
        };
        let stats = k
            .store
            .apply_pulled(&page(
                1,
                vec![
                    ChangeBody::Customer(customer_state(
                        merged,
                        "Mama Njeri",
                        Some("+254712345678"),
                        1,
                    )),
                    ChangeBody::LedgerEntry(there.clone()),
                    ChangeBody::LedgerEntry(here_unsold),
                    ChangeBody::Customer(gone),
                    ChangeBody::Customer(customer_state(
                        merged,
                        "Mama Njeri",
                        Some("+254712345678"),
                        3,
                    )),
                    ChangeBody::CustomerAlias {
                        alias: local.id,
                        customer: merged,
                    },
                ],
            ))
            .unwrap();

        assert_eq!(stats.still_held, 1, "{stats:?}");
        assert_eq!(k.store.held_changes().unwrap()[0].entity, "ledger_entry");
        let c = k.store.customer(merged).unwrap();
        assert_eq!(
            c.balance,
            kes(500_00),
            "both ledgers count for the one customer"
        );
        assert_eq!(k.store.customer(local.id).unwrap().balance, kes(0));
        assert!(k.store.customer(local.id).unwrap().deleted_at.is_some());
        assert_eq!(k.store.canonical_customer(local.id).unwrap(), merged);
        assert_eq!(k.store.canonical_customer(merged).unwrap(), merged);
        let ledger = k.store.customer_ledger(merged, 10).unwrap();
        assert_eq!(ledger.len(), 2);
        let far = ledger.iter().find(|e| e.id == there.id).unwrap();
        assert_eq!(
            (far.sale_id, far.reference.as_deref()),
            (None, Some("WEST-T1-000009"))
        );
        assert!(k.store.customer_ledger(local.id, 10).unwrap().is_empty());
        let live = k.store.search_customers("", 10).unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!((live[0].id, live[0].balance), (merged, kes(500_00)));
        // A payment taken here now counts against the merged balance.
        let after = k
            .store
            .record_customer_payment(&owner, merged, kes(450_00), PaymentMethod::Cash, None)
            .unwrap();
        assert_eq!(after.balance, kes(50_00));
    }

    #[test]
    fn an_undone_merge_forgets_the_alias_and_splits_the_balances_idempotently() {
        let mut k = kit();
        let kept = CustomerId::new();
        let alias = CustomerId::new();
        let entry = |customer: CustomerId, minor: i64| LedgerEntryRecord {
            id: LedgerEntryId::new(),
            customer_id: customer,
            branch_id: BranchId::new(),
            device_id: DeviceId::new(),
            kind: LedgerKind::Adjustment,
            amount: kes(minor),
            sale_id: None,
            method: None,
            reference: None,
            user_id: None,
            note: None,
            created_at: T0,
        };
        let mut gone = customer_state(alias, "Njeri W.", Some("0712345678"), 2);
        gone.deleted_at = Some(T0);
        k.store
            .apply_pulled(&page(
                1,
                vec![
                    ChangeBody::Customer(customer_state(kept, "Njeri", Some("0712345678"), 1)),
                    ChangeBody::LedgerEntry(entry(kept, 300_00)),
                    ChangeBody::LedgerEntry(entry(alias, 200_00)),
                    ChangeBody::Customer(gone),
                    ChangeBody::CustomerAlias {
                        alias,
                        customer: kept,
                    },
                ],
            ))
            .unwrap();
        assert_eq!(k.store.customer(kept).unwrap().balance, kes(500_00));
        assert_eq!(k.store.canonical_customer(alias).unwrap(), kept);
        // The offline history lists the alias it knows, without a time.
        let merges = k.store.customer_history(kept, T0).unwrap().merges;
        assert_eq!(merges.len(), 1);
        assert_eq!(
            (merges[0].alias_id, merges[0].name.as_str()),
            (alias, "Njeri W.")
        );
        assert_eq!(merges[0].merged_at, None);

        // An owner undid the merge: the alias goes first, then the record
        // comes back live with another phone.
        let revived = customer_state(alias, "Njeri W.", Some("0722000111"), 4);
        let undo = vec![
            ChangeBody::CustomerUnaliased { alias },
            ChangeBody::Customer(revived.clone()),
        ];
        let stats = k.store.apply_pulled(&page(6, undo.clone())).unwrap();
        assert_eq!((stats.written, stats.held), (2, 0), "{stats:?}");
        let aliases: i64 = k
            .store
            .conn()
            .query_row("SELECT COUNT(*) FROM customer_aliases", [], |r| r.get(0))
            .unwrap();
        assert_eq!(aliases, 0, "the alias row is gone");
        assert_eq!(k.store.canonical_customer(alias).unwrap(), alias);
        assert_eq!(k.store.customer(kept).unwrap().balance, kes(300_00));
        let back = k.store.customer(alias).unwrap();
        assert_eq!(back.balance, kes(200_00));
        assert!(back.deleted_at.is_none());
        assert_eq!(back.phone, Some(PhoneNumber::parse("0722000111").unwrap()));
        let history = k.store.customer_history(alias, T0).unwrap();
        assert_eq!(history.customer.id, alias);
        assert!(history.merges.is_empty());

        // The same changes again (a replayed page): nothing new, no error.
        let stats = k.store.apply_pulled(&page(8, undo)).unwrap();
        assert_eq!(stats.held, 0, "{stats:?}");
        assert_eq!(k.store.canonical_customer(alias).unwrap(), alias);
        assert_eq!(k.store.search_customers("", 10).unwrap().len(), 2);
    }

    #[test]
    fn a_later_change_replaces_a_held_one() {
        let mut k = kit();
        let id = ProductId::new();
        let mut orphan = product_state(id, "Rice", 150_00, 1);
        orphan.category_id = Some(CategoryId::new());
        k.store
            .apply_pulled(&page(1, vec![ChangeBody::Product(orphan)]))
            .unwrap();
        assert_eq!(k.store.held_changes().unwrap().len(), 1);

        let stats = k
            .store
            .apply_pulled(&page(
                2,
                vec![ChangeBody::Product(product_state(
                    id, "Rice 2kg", 300_00, 2,
                ))],
            ))
            .unwrap();

        assert_eq!((stats.written, stats.still_held), (1, 0));
        assert_eq!(k.store.product(id).unwrap().name, "Rice 2kg");
    }

    #[test]
    fn a_page_from_another_epoch_waits_for_a_reset() {
        let mut k = kit();
        k.store.apply_pulled(&page(1, vec![])).unwrap();
        let restored = Epoch(Uuid::now_v7());
        let mut p = page(
            1,
            vec![ChangeBody::Product(product_state(
                ProductId::new(),
                "Rice",
                1_00,
                1,
            ))],
        );
        p.epoch = restored;
        p.next_cursor.epoch = restored;

        let err = k.store.apply_pulled(&p).unwrap_err();
        assert!(matches!(err, StoreError::EpochMismatch { .. }), "{err}");
        assert_eq!(k.count("products"), 0);

        k.store.reset_sync_cursor().unwrap();
        assert_eq!(k.store.sync_cursor().unwrap(), None);
        k.store.apply_pulled(&p).unwrap();
        assert_eq!(k.store.sync_state().unwrap().epoch, Some(restored));
        assert_eq!(k.count("products"), 1);
    }

    #[test]
    fn sync_bookkeeping_skips_the_disk_sync_and_sales_keep_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let clock = std::sync::Arc::new(pos_domain::ManualClock::new(T0));
        let mut store = Store::open_with(
            &dir.path().join("till.sqlite3"),
            clock,
            crate::Durability::PowerSafe,
        )
        .unwrap();
        let synchronous = |s: &Store| -> i64 {
            s.conn()
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(synchronous(&store), 2, "FULL");
        store.record_push(None).unwrap();
        store.record_pull().unwrap();
        assert!(store.sync_state().unwrap().last_pull_at.is_some());
        assert_eq!(synchronous(&store), 2, "back to FULL for what follows");

        // An empty page at the stored cursor writes nothing at all.
        let epoch = Epoch(Uuid::now_v7());
        let page = |seq| PullResponse {
            epoch,
            changes: vec![],
            next_cursor: Cursor { epoch, seq },
            has_more: false,
        };
        store.apply_pulled(&page(7)).unwrap();
        let changes = |s: &Store| -> i64 {
            s.conn()
                .query_row("SELECT total_changes()", [], |r| r.get(0))
                .unwrap()
        };
        let before = changes(&store);
        assert_eq!(store.apply_pulled(&page(7)).unwrap(), ApplyStats::default());
        assert_eq!(changes(&store), before);
        // One that moves the cursor is stored.
        store.apply_pulled(&page(9)).unwrap();
        assert_eq!(store.sync_cursor().unwrap().unwrap().seq, 9);
    }

    #[test]
    fn sync_state_shows_pushes_pulls_errors_and_skew() {
        let mut k = kit();
        let s = k.store.sync_state().unwrap();
        assert_eq!(s.last_push_at, None);
        let pending = s.outbox.pending;

        k.product("Soda", 80_00);
        k.store.record_push(Some(T0.plus_millis(-1_500))).unwrap();
        k.clock.advance_millis(10_000);
        k.store.record_pull().unwrap();
        k.store
            .record_sync_error("Back Office unreachable")
            .unwrap();
        k.store
            .record_server_status("0.1.0", T0.plus_millis(10_000 + 2_000))
            .unwrap();

        let s = k.store.sync_state().unwrap();
        assert_eq!(s.last_push_at, Some(T0));
        assert_eq!(s.last_pull_at, Some(T0.plus_millis(10_000)));
        assert_eq!(s.last_error.as_deref(), Some("Back Office unreachable"));
        assert_eq!(s.last_error_at, Some(T0.plus_millis(10_000)));
        assert_eq!(s.clock_skew_ms, Some(-2_000), "the till is 2 s behind");
        assert_eq!(s.server_version.as_deref(), Some("0.1.0"));
        assert_eq!(s.outbox.pending, pending + 1);
    }

    #[test]
    fn the_backoffice_url_is_checked_and_a_new_one_restarts_the_feed() {
        let mut k = kit();
        let cashier = k.cashier();
        let ops = k.count("outbox");
        assert!(matches!(
            k.store
                .set_backoffice_url(&cashier, Some("https://bo.example")),
            Err(StoreError::Forbidden { .. })
        ));
        for bad in [
            "",
            "bo.example",
            "ftp://bo.example",
            "https://",
            "https://bo example",
        ] {
            assert!(
                matches!(
                    k.store.set_backoffice_url(&k.owner.clone(), Some(bad)),
                    Err(StoreError::Invalid(_))
                ),
                "{bad}"
            );
        }
        let owner = k.owner.clone();
        k.store
            .set_backoffice_url(&owner, Some(" https://bo.example:5000/ "))
            .unwrap();
        assert_eq!(
            k.store.backoffice_url().unwrap().as_deref(),
            Some("https://bo.example:5000")
        );
        k.store.apply_pulled(&page(1, vec![])).unwrap();
        // The same address keeps the cursor; another one forgets it.
        k.store
            .set_backoffice_url(&owner, Some("https://bo.example:5000"))
            .unwrap();
        assert!(k.store.sync_cursor().unwrap().is_some());
        k.store
            .set_backoffice_url(&owner, Some("http://192.168.1.10:5000"))
            .unwrap();
        assert_eq!(k.store.sync_cursor().unwrap(), None);
        k.store.set_backoffice_url(&owner, None).unwrap();
        assert_eq!(k.store.backoffice_url().unwrap(), None);
        assert_eq!(k.count("outbox"), ops, "a local setting queues nothing");
    }

    #[test]
    fn a_pulled_rename_of_this_branch_updates_the_identity() {
        let mut k = kit();
        let here = k.store.identity().branch_id;
        k.store
            .apply_pulled(&page(
                1,
                vec![ChangeBody::Branch(BranchState {
                    id: here,
                    code: "CBD".into(),
                    name: "Nairobi CBD".into(),
                    time_zone: TimeZone::NAIROBI,
                    hlc: hlc(1),
                    deleted_at: None,
                })],
            ))
            .unwrap();
        assert_eq!(k.store.identity().branch_code, "CBD");
    }
}
