//! Merging the same customer created at two branches (DESIGN.md invariant 6):
//! two tills, offline, each add "Mama Njeri, 0712 345 678"; the Back Office
//! keeps **one** customer and makes the other id an **alias** of it.
//!
//! The rules (documented in docs/sync-protocol.md, "Customers: one person,
//! one account"):
//!
//! - **When.** After a `customer_changed` op writes a phone number, if
//!   another live (not deleted) customer already has that phone (phones are
//!   normalized E.164, so `0712 345 678` and `+254712345678` are the same),
//!   the two are the same person. This covers a customer created with a
//!   phone another branch already registered *and* a phone edit that lands on
//!   another customer's number: an edit at a till can only collide with a
//!   customer that till has not seen yet (its own database refuses a phone a
//!   customer it knows has), which is exactly the two-branch case.
//! - **Who keeps the id.** The customer who held the phone on the server
//!   first (first writer wins). The other id becomes an alias: its row stays
//!   (soft-deleted, so every device frees the phone and old receipts still
//!   find it) and `customer_aliases` maps it to the kept customer. Aliases
//!   always point straight at a live customer: merging a customer that itself
//!   has aliases re-points them.
//! - **Profile fields** fold into the kept customer by their clocks (last
//!   writer wins per field), except that a merge never loses what someone
//!   typed: an empty email or notes never erases a filled one, and two
//!   different notes are both kept (older first) when they fit in
//!   [`MAX_MERGED_NOTES`] characters, else the newer wins.
//! - **Credit limit: the higher of the two.** A limit of 0 is what a cashier
//!   who adds a customer gives (only a manager grants credit), so taking the
//!   newer or the lower would let a cashier's quick add at one branch cancel
//!   the credit a manager approved at another. The higher is the most credit
//!   any manager approved for this person; it is one account, so the limit
//!   is not added up. A manager lowering it afterwards wins as usual.
//! - **Everything that names the alias follows.** A later `customer_changed`
//!   for the alias applies to the kept customer, and so does a
//!   `customer_deleted` made after the merge (`delete_target`). A
//!   merged-away customer stays deleted: Full Cloud Synchronization leaves
//!   a till's stale copy of it alone, and no op brings it back (only an
//!   owner's undo, below). Sales,
//!   payments and ledger entries are append-only and keep the customer id
//!   they were recorded with (every replica holds the same bytes; a merge
//!   found later could not rewrite them anyway); **reads resolve aliases**:
//!   a balance is the sum of the ledger entries recorded under the customer
//!   or any of its aliases ([`customer_balance`]).
//! - **The feed.** A merge records, in this order: the alias's state (a
//!   tombstone, so the till that created it frees the phone), the kept
//!   customer's merged state, then `customer_alias {alias, customer}` (and
//!   one per re-pointed alias). A till applying them ends with one live
//!   customer whose balance sums both ledgers.
//! - **The record.** Every merge writes a `customer_merges` row (alias,
//!   customer, when, why, the branch that created each record). A
//!   re-pointed alias gets a new row naming the record it came through
//!   (`via`); its old row is marked superseded. [`merges_into`] lists a
//!   customer's merges (held and undone) for its history and dashboard page.
//!
//! **Undoing a merge** ([`undo_merge`], an owner from the dashboard, which
//! checks the role and the phone): the alias row goes, the merge row is
//! marked undone (who, when), and the merged-away record comes back live
//! with the phone the owner gave (none, or a number no live customer has:
//! phones are unique among live customers on every till), under a fresh
//! clock newer than the merge's; all in the caller's transaction, with its
//! audit row. The feed records `customer_unaliased {alias}` **before** the
//! revived state, so a till forgets the alias before the record returns.
//! Ledger entries and sales were never rewritten, so those recorded under
//! the alias count for it again and both balances split by themselves; the
//! kept customer's folded profile stays as it is. Decisions:
//!
//! - An undo separates exactly the one record: aliases re-pointed to the
//!   kept customer through it stay there (each has its own row to undo).
//!   A superseded or already undone row is refused, changing nothing.
//! - A `customer_deleted` of the alias made after the merge deleted the kept
//!   customer (`delete_target`) and stays; after the undo the id is an
//!   ordinary customer again, and an older delete naming it loses to the
//!   revival's newer clock.
//! - If the revived phone later collides with a live customer, the merge
//!   rule applies again: one phone, one account.

use pos_domain::{BranchId, CustomerId, Hlc, Money, PhoneNumber, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::{ChangeBody, CustomerPatch, CustomerState, OpBody, RejectCode, Tombstone};

use crate::apply::{
    ApplyError, FieldClocks, OpContext, apply_op, business_currency, clocks_json, col, col_opt,
    customer_state, merge_deleted_at, parse_clocks, parse_text,
};

type Result<T> = std::result::Result<T, ApplyError>;

/// The longest notes a merge writes by keeping both customers' notes (the
/// till's limit on notes).
pub const MAX_MERGED_NOTES: usize = 1000;

fn parse_id(s: &str) -> rusqlite::Result<CustomerId> {
    parse_text(0, s)
}

/// The customer `id` stands for: the customer it was merged into, or itself.
pub fn canonical_customer(conn: &Connection, id: CustomerId) -> rusqlite::Result<CustomerId> {
    let merged: Option<String> = conn
        .prepare_cached("SELECT customer_id FROM customer_aliases WHERE alias_id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    merged.map_or(Ok(id), |s| parse_id(&s))
}

/// Whether `id` (as text) is a customer merged into another.
pub fn is_alias_id(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM customer_aliases WHERE alias_id = ?1)")?
        .query_row([id], |r| r.get(0))
}

/// The customer a `customer_deleted` naming `id` removes. A delete of a
/// merged-away id made after the merge (its clock is newer than the merge's)
/// is about the person: it deletes the kept customer, like any edit naming
/// the alias. One ordered before the merge (or by the same op, as when Full
/// Cloud Synchronization uploads a deleted customer) was about that record
/// alone, which the merge already removed: the kept customer stays.
pub(crate) fn delete_target(
    conn: &Connection,
    ctx: &OpContext,
    id: CustomerId,
) -> Result<CustomerId> {
    let kept = canonical_customer(conn, id)?;
    if kept == id {
        return Ok(id);
    }
    let clocks: String = conn
        .prepare_cached("SELECT field_hlc FROM customers WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))?;
    let merged_at = parse_clocks(&clocks)?
        .get("deleted_at")
        .copied()
        .unwrap_or(Hlc::ZERO);
    Ok(if ctx.hlc > merged_at { kept } else { id })
}

/// The ids merged into customer `id`, oldest record first.
pub fn aliases_of(conn: &Connection, id: CustomerId) -> rusqlite::Result<Vec<CustomerId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.alias_id FROM customer_aliases a JOIN customers c ON c.id = a.alias_id
         WHERE a.customer_id = ?1 ORDER BY c.rowid",
    )?;
    let rows = stmt.query_map([id.to_string()], |r| parse_id(&r.get::<_, String>(0)?))?;
    rows.collect()
}

/// What a customer owes (positive), in the business currency: the sum of the
/// ledger entries recorded under the customer or any id merged into it.
/// `id` may itself be an alias: the balance is then the merged customer's.
pub fn customer_balance(conn: &Connection, id: CustomerId) -> Result<Money> {
    let id = canonical_customer(conn, id)?;
    let sum: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(amount_minor), 0) FROM customer_ledger
             WHERE customer_id = ?1
                OR customer_id IN (SELECT alias_id FROM customer_aliases WHERE customer_id = ?1)",
        )?
        .query_row([id.to_string()], |r| r.get(0))?;
    Money::from_minor(sum, business_currency(conn)?).map_err(|e| {
        ApplyError::Db(rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Integer,
            Box::new(e),
        ))
    })
}

/// The live customer other than `id` who held `id`'s phone first, if `id` is
/// live and has a phone. (A merged-away id is never a holder: it stays
/// deleted, and this keeps the alias table free of cycles regardless.)
pub(crate) fn phone_holder(conn: &Connection, id: CustomerId) -> Result<Option<CustomerId>> {
    let holder: Option<String> = conn
        .prepare_cached(
            "SELECT o.id FROM customers c
             JOIN customers o ON o.phone = c.phone AND o.id <> c.id AND o.deleted_at IS NULL
             WHERE c.id = ?1 AND c.phone IS NOT NULL AND c.deleted_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM customer_aliases a WHERE a.alias_id = o.id)
               AND NOT EXISTS (SELECT 1 FROM customer_aliases a WHERE a.alias_id = c.id)
             ORDER BY o.rowid LIMIT 1",
        )?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    Ok(holder.map(|s| parse_id(&s)).transpose()?)
}

/// Creates a customer the server does not have, deleted (Full Cloud
/// Synchronization uploading a record its till deleted): the profile, then
/// the tombstone, then the phone. A deleted customer holds no phone, so it is
/// never merged into a live customer with the same number (which would fold
/// its old values into that customer).
pub(crate) fn add_deleted(
    conn: &Connection,
    ctx: &OpContext,
    c: &CustomerState,
    deleted_at: Timestamp,
) -> Result<()> {
    let profile = CustomerPatch {
        name: Some(c.name.clone()),
        email: Some(c.email.clone()),
        credit_limit: Some(c.credit_limit),
        notes: Some(c.notes.clone()),
        ..CustomerPatch::new(c.id)
    };
    apply_op(conn, ctx, &OpBody::CustomerChanged(profile))?;
    apply_op(
        conn,
        ctx,
        &OpBody::CustomerDeleted(Tombstone {
            id: c.id,
            deleted_at,
        }),
    )?;
    let phone = CustomerPatch {
        phone: Some(c.phone.clone()),
        ..CustomerPatch::new(c.id)
    };
    apply_op(conn, ctx, &OpBody::CustomerChanged(phone))
}

/// The profile of one customer as a merge reads it.
struct Profile {
    name: String,
    email: Option<String>,
    notes: Option<String>,
    limit: i64,
    clocks: FieldClocks,
    hlc: Hlc,
}

impl Profile {
    fn read(conn: &Connection, id: CustomerId) -> Result<Profile> {
        let (name, email, notes, limit, clocks, hlc): (
            String,
            Option<String>,
            Option<String>,
            i64,
            String,
            String,
        ) = conn
            .prepare_cached(
                "SELECT name, email, notes, credit_limit_minor, field_hlc, hlc
                 FROM customers WHERE id = ?1",
            )?
            .query_row([id.to_string()], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?;
        Ok(Profile {
            name,
            email,
            notes,
            limit,
            clocks: parse_clocks(&clocks)?,
            hlc: parse_text(5, &hlc)?,
        })
    }

    fn clock(&self, field: &str) -> Hlc {
        self.clocks.get(field).copied().unwrap_or(Hlc::ZERO)
    }

    /// Takes `other`'s value of `field`, with the later of the two clocks
    /// (so an edit older than either history cannot undo the merge).
    fn adopt_clock(&mut self, other: &Profile, field: &str) {
        let clock = self.clock(field).max(other.clock(field));
        self.clocks.insert(field.to_string(), clock);
    }
}

/// Folds the profile of `alias` into `kept` (see the module docs).
fn fold_profile(kept: &mut Profile, alias: &Profile) {
    if alias.clock("name") > kept.clock("name") {
        kept.name.clone_from(&alias.name);
        kept.adopt_clock(alias, "name");
    }
    match (&kept.email, &alias.email) {
        (_, None) => {}
        (None, Some(_)) => {
            kept.email.clone_from(&alias.email);
            kept.adopt_clock(alias, "email");
        }
        (Some(_), Some(_)) => {
            if alias.clock("email") > kept.clock("email") {
                kept.email.clone_from(&alias.email);
                kept.adopt_clock(alias, "email");
            }
        }
    }
    match (&kept.notes, &alias.notes) {
        (_, None) => {}
        (Some(a), Some(b)) if a == b => {}
        (None, Some(_)) => {
            kept.notes.clone_from(&alias.notes);
            kept.adopt_clock(alias, "notes");
        }
        (Some(a), Some(b)) => {
            let alias_newer = alias.clock("notes") > kept.clock("notes");
            let (older, newer) = if alias_newer { (a, b) } else { (b, a) };
            let both = format!("{older}\n{newer}");
            kept.notes = Some(if both.chars().count() <= MAX_MERGED_NOTES {
                both
            } else {
                newer.clone()
            });
            kept.adopt_clock(alias, "notes");
        }
    }
    if alias.limit > kept.limit {
        kept.limit = alias.limit;
        kept.adopt_clock(alias, "credit_limit");
    }
    kept.hlc = kept.hlc.max(alias.hlc);
}

/// Merges customer `alias` into customer `kept` (both live, same phone):
/// folds the profile, soft-deletes the alias, maps it (and whatever was
/// merged into it before) to `kept`, and records the changes every device
/// needs, in the order a till can apply them.
pub(crate) fn fold(
    conn: &Connection,
    ctx: &OpContext,
    alias: CustomerId,
    kept: CustomerId,
) -> Result<()> {
    debug_assert_ne!(alias, kept);
    let from = Profile::read(conn, alias)?;
    let mut into = Profile::read(conn, kept)?;
    fold_profile(&mut into, &from);
    into.hlc = into.hlc.max(ctx.hlc);
    conn.prepare_cached(
        "UPDATE customers SET name = ?2, email = ?3, notes = ?4, credit_limit_minor = ?5,
                              field_hlc = ?6, hlc = ?7
         WHERE id = ?1",
    )?
    .execute(params![
        kept.to_string(),
        into.name,
        into.email,
        into.notes,
        into.limit,
        clocks_json(&into.clocks)?,
        into.hlc.to_string(),
    ])?;

    // The alias: a tombstone whose clock is the merge's.
    let mut clocks = from.clocks;
    let deleted_clock = clocks.get("deleted_at").copied().unwrap_or(Hlc::ZERO);
    clocks.insert("deleted_at".into(), deleted_clock.max(ctx.hlc));
    conn.prepare_cached(
        "UPDATE customers SET deleted_at = coalesce(deleted_at, ?2), field_hlc = ?3, hlc = ?4
         WHERE id = ?1",
    )?
    .execute(params![
        alias.to_string(),
        ctx.now.as_millis(),
        clocks_json(&clocks)?,
        from.hlc.max(ctx.hlc).to_string(),
    ])?;

    // Aliases point straight at a live customer: what was merged into the
    // alias now points at the kept customer too.
    let repointed = aliases_of(conn, alias)?;
    conn.prepare_cached("UPDATE customer_aliases SET customer_id = ?2 WHERE customer_id = ?1")?
        .execute(params![alias.to_string(), kept.to_string()])?;
    conn.prepare_cached(
        "INSERT INTO customer_aliases (alias_id, customer_id) VALUES (?1, ?2)
         ON CONFLICT (alias_id) DO UPDATE SET customer_id = excluded.customer_id",
    )?
    .execute(params![alias.to_string(), kept.to_string()])?;
    tracing::info!(%alias, %kept, "merged a customer into another with the same phone");

    ctx.record(
        conn,
        ChangeBody::Customer(customer_state(conn, alias)?),
        None,
    )?;
    ctx.record(
        conn,
        ChangeBody::Customer(customer_state(conn, kept)?),
        None,
    )?;
    for a in std::iter::once(alias).chain(repointed.iter().copied()) {
        ctx.record(
            conn,
            ChangeBody::CustomerAlias {
                alias: a,
                customer: kept,
            },
            None,
        )?;
    }

    // The record of the merge (after the changes above, so the alias's
    // first change, and with it the branch that created it, exists).
    let phone: Option<String> = conn
        .prepare_cached("SELECT phone FROM customers WHERE id = ?1")?
        .query_row([kept.to_string()], |r| r.get(0))?;
    let reason = phone.map_or_else(|| "same phone".to_string(), |p| format!("same phone {p}"));
    record_merge(conn, ctx.now, alias, kept, None, &reason)?;
    for r in repointed {
        let why = format!("{reason} (merged earlier into {})", from.name);
        record_merge(conn, ctx.now, r, kept, Some(alias), &why)?;
    }
    Ok(())
}

/// The branch whose device created customer `id` (the origin of its first
/// change); `None` for a record the dashboard made, or an unknown one.
fn created_branch(conn: &Connection, id: CustomerId) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT d.branch_id FROM devices d WHERE d.id =
            (SELECT ch.origin FROM changes ch
             WHERE ch.entity = 'customer' AND ch.entity_id = ?1
             ORDER BY ch.seq LIMIT 1)",
    )?
    .query_row([id.to_string()], |r| r.get(0))
    .optional()
}

/// Writes the `customer_merges` row of `alias` merged into `kept` (`via`:
/// the customer it had been merged into, for a re-pointed alias, whose
/// older row is marked superseded).
fn record_merge(
    conn: &Connection,
    now: Timestamp,
    alias: CustomerId,
    kept: CustomerId,
    via: Option<CustomerId>,
    reason: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE customer_merges SET superseded_at = ?2
         WHERE alias_id = ?1 AND superseded_at IS NULL AND undone_at IS NULL",
    )?
    .execute(params![alias.to_string(), now.as_millis()])?;
    conn.prepare_cached(
        "INSERT INTO customer_merges (alias_id, customer_id, merged_at, reason, via_id,
                                      alias_branch_id, customer_branch_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        alias.to_string(),
        kept.to_string(),
        now.as_millis(),
        reason,
        via.map(|v| v.to_string()),
        created_branch(conn, alias)?,
        created_branch(conn, kept)?,
    ])?;
    Ok(())
}

/// A branch a merge row names: id, and code and name when the server has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeBranch {
    pub id: BranchId,
    pub code: String,
    pub name: String,
}

/// One merge of a record into a customer (`customer_merges`), with the
/// merged record's own name and phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRecord {
    pub id: i64,
    pub alias: CustomerId,
    pub customer: CustomerId,
    pub alias_name: String,
    pub alias_phone: Option<String>,
    pub merged_at: Timestamp,
    pub reason: String,
    /// A re-pointed alias: the customer it had been merged into before.
    pub via: Option<CustomerId>,
    pub alias_branch: Option<MergeBranch>,
    pub customer_branch: Option<MergeBranch>,
    /// Re-pointed by a later merge (a newer row says where it went).
    pub superseded_at: Option<Timestamp>,
    pub undone_at: Option<Timestamp>,
    /// The dashboard account that undid it, and its name.
    pub undone_by: Option<String>,
    pub undone_by_name: Option<String>,
}

impl MergeRecord {
    /// Whether this merge holds now: the alias stands for the customer.
    pub fn is_current(&self) -> bool {
        self.superseded_at.is_none() && self.undone_at.is_none()
    }
}

const MERGE_SELECT: &str = "
    SELECT m.id, m.alias_id, m.customer_id, c.name, c.phone, m.merged_at, m.reason, m.via_id,
           m.alias_branch_id, ab.code, ab.name, m.customer_branch_id, kb.code, kb.name,
           m.superseded_at, m.undone_at, m.undone_by, u.name
    FROM customer_merges m
    JOIN customers c ON c.id = m.alias_id
    LEFT JOIN branches ab ON ab.id = m.alias_branch_id
    LEFT JOIN branches kb ON kb.id = m.customer_branch_id
    LEFT JOIN web_users u ON u.id = m.undone_by";

fn merge_branch(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<MergeBranch>> {
    let Some(id) = col_opt::<BranchId>(r, i)? else {
        return Ok(None);
    };
    Ok(Some(MergeBranch {
        id,
        code: r.get::<_, Option<String>>(i + 1)?.unwrap_or_default(),
        name: r.get::<_, Option<String>>(i + 2)?.unwrap_or_default(),
    }))
}

fn merge_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MergeRecord> {
    let at = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(Timestamp::from_millis))
    };
    Ok(MergeRecord {
        id: r.get(0)?,
        alias: col(r, 1)?,
        customer: col(r, 2)?,
        alias_name: r.get(3)?,
        alias_phone: r.get(4)?,
        merged_at: Timestamp::from_millis(r.get(5)?),
        reason: r.get(6)?,
        via: col_opt(r, 7)?,
        alias_branch: merge_branch(r, 8)?,
        customer_branch: merge_branch(r, 11)?,
        superseded_at: at(14)?,
        undone_at: at(15)?,
        undone_by: r.get(16)?,
        undone_by_name: r.get(17)?,
    })
}

/// The merges into customer `id`, oldest first: those that hold and those
/// an owner undid (not the rows a later merge re-pointed elsewhere).
pub fn merges_into(conn: &Connection, id: CustomerId) -> rusqlite::Result<Vec<MergeRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{MERGE_SELECT} WHERE m.customer_id = ?1 AND m.superseded_at IS NULL ORDER BY m.id"
    ))?;
    let rows = stmt.query_map([id.to_string()], merge_row)?;
    rows.collect()
}

/// Merge row `id`, if there is one.
pub fn merge_record(conn: &Connection, id: i64) -> rusqlite::Result<Option<MergeRecord>> {
    conn.prepare_cached(&format!("{MERGE_SELECT} WHERE m.id = ?1"))?
        .query_row([id], merge_row)
        .optional()
}

/// Undoes merge `merge` (an owner, from the dashboard; the caller checked
/// the role and the phone and writes the audit row, in the same
/// transaction): the alias is forgotten, the merge row marked undone by
/// `by`, and the merged-away record comes back live with `phone` (`None`:
/// no phone), all under `ctx.hlc`, which must be newer than the record's
/// clock (`write::hlc_for`). The feed gets `customer_unaliased` first, then
/// the revived record's state, so a till frees the alias before the record
/// comes back. The kept customer is not touched: its folded profile stays.
/// Sales and ledger entries were never rewritten, so those recorded under
/// the alias count for it again. Returns the revived record's id.
///
/// A merge already undone, or re-pointed by a later merge, is refused
/// (`invalid`), changing nothing.
pub fn undo_merge(
    conn: &Connection,
    ctx: &OpContext,
    merge: i64,
    phone: Option<&PhoneNumber>,
    by: &str,
) -> Result<CustomerId> {
    let Some(m) = merge_record(conn, merge)? else {
        return Err(ApplyError::Reject {
            code: RejectCode::UnknownReference,
            reason: format!("there is no merge {merge}"),
        });
    };
    let refuse = |reason: String| {
        Err(ApplyError::Reject {
            code: RejectCode::Invalid,
            reason,
        })
    };
    if m.undone_at.is_some() {
        return refuse(format!(
            "the merge of {} was already undone: it is its own customer again",
            m.alias_name
        ));
    }
    if m.superseded_at.is_some() {
        return refuse(format!(
            "{} was merged again since, into another customer; undo the merge there",
            m.alias_name
        ));
    }
    let gone = conn
        .prepare_cached("DELETE FROM customer_aliases WHERE alias_id = ?1 AND customer_id = ?2")?
        .execute(params![m.alias.to_string(), m.customer.to_string()])?;
    if gone != 1 {
        return refuse(format!(
            "{} is no longer merged into this customer",
            m.alias_name
        ));
    }
    conn.prepare_cached("UPDATE customer_merges SET undone_at = ?2, undone_by = ?3 WHERE id = ?1")?
        .execute(params![merge, ctx.now.as_millis(), by])?;
    tracing::info!(alias = %m.alias, kept = %m.customer, "undid a customer merge");
    ctx.record(conn, ChangeBody::CustomerUnaliased { alias: m.alias }, None)?;
    let id = m.alias.to_string();
    merge_deleted_at(conn, ctx, "customers", "customer", &id, None)?;
    // Records the revived state. A phone a live customer holds would merge
    // them again (one phone, one account): the dashboard refuses such a
    // phone before getting here.
    apply_op(
        conn,
        ctx,
        &OpBody::CustomerChanged(CustomerPatch {
            phone: Some(phone.cloned()),
            ..CustomerPatch::new(m.alias)
        }),
    )?;
    Ok(m.alias)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(
        name: &str,
        email: Option<&str>,
        notes: Option<&str>,
        limit: i64,
        at: u64,
    ) -> Profile {
        let clock = Hlc::new(at, 0, 1);
        let clocks = ["name", "email", "notes", "credit_limit"]
            .into_iter()
            .map(|f| (f.to_string(), clock))
            .collect();
        Profile {
            name: name.into(),
            email: email.map(Into::into),
            notes: notes.map(Into::into),
            limit,
            clocks,
            hlc: clock,
        }
    }

    #[test]
    fn a_merge_keeps_the_newer_name_every_value_typed_and_the_higher_limit() {
        let mut kept = profile(
            "Njeri",
            Some("njeri@example.com"),
            Some("pays Fridays"),
            5_000_00,
            10,
        );
        let alias = profile("Mama Njeri", None, Some("sister of Wanjiru"), 0, 20);
        fold_profile(&mut kept, &alias);
        assert_eq!(kept.name, "Mama Njeri", "the newer name wins");
        assert_eq!(
            kept.email.as_deref(),
            Some("njeri@example.com"),
            "an empty email erases nothing"
        );
        assert_eq!(
            kept.notes.as_deref(),
            Some("pays Fridays\nsister of Wanjiru")
        );
        assert_eq!(
            kept.limit, 5_000_00,
            "a cashier's 0 does not cancel a manager's limit"
        );
        assert_eq!(kept.clock("credit_limit"), Hlc::new(10, 0, 1));
        assert_eq!(kept.clock("notes"), Hlc::new(20, 0, 1));
        assert_eq!(kept.hlc, Hlc::new(20, 0, 1));
    }

    #[test]
    fn an_older_alias_loses_its_name_but_brings_a_higher_limit_and_a_missing_email() {
        let mut kept = profile("Mama Njeri", None, None, 1_000_00, 20);
        let alias = profile("Njeri", Some("n@example.com"), Some("x"), 3_000_00, 10);
        fold_profile(&mut kept, &alias);
        assert_eq!(kept.name, "Mama Njeri");
        assert_eq!(kept.email.as_deref(), Some("n@example.com"));
        assert_eq!(kept.notes.as_deref(), Some("x"));
        assert_eq!(kept.limit, 3_000_00);
        // The adopted fields carry the later clock of the two histories.
        assert_eq!(kept.clock("credit_limit"), Hlc::new(20, 0, 1));
        assert_eq!(kept.clock("email"), Hlc::new(20, 0, 1));
    }

    #[test]
    fn notes_too_long_together_keep_the_newer() {
        let long = "a".repeat(MAX_MERGED_NOTES - 5);
        let mut kept = profile("N", None, Some(&long), 0, 10);
        let alias = profile("N", None, Some("newer note"), 0, 20);
        fold_profile(&mut kept, &alias);
        assert_eq!(kept.notes.as_deref(), Some("newer note"));
        let mut kept = profile("N", None, Some("same"), 0, 10);
        fold_profile(&mut kept, &profile("N", None, Some("same"), 0, 20));
        assert_eq!(kept.notes.as_deref(), Some("same"));
    }
}
