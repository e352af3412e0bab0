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
//!   a till's stale copy of it alone, and nothing brings it back. Sales,
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

use pos_domain::{CustomerId, Hlc, Money, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::{ChangeBody, CustomerPatch, CustomerState, OpBody, Tombstone};

use crate::apply::{
    ApplyError, FieldClocks, OpContext, apply_op, business_currency, clocks_json, customer_state,
    parse_clocks, parse_text,
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
    for a in std::iter::once(alias).chain(repointed) {
        ctx.record(
            conn,
            ChangeBody::CustomerAlias {
                alias: a,
                customer: kept,
            },
            None,
        )?;
    }
    Ok(())
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
