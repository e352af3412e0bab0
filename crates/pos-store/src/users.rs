//! Till users: cashiers, managers and owners, with PINs stored only as argon2
//! hashes.
//!
//! - The login screen lists [`Store::users`]; [`Store::login`] checks a PIN
//!   and locks a user for [`LOCKOUT_MINUTES`] after [`MAX_PIN_FAILURES`]
//!   wrong PINs in a row. Failed attempts live in `login_attempts`, which is
//!   local to this till: nothing about a login is queued for sync.
//! - Owners manage everyone; managers manage cashiers ([`Role::can_manage`]).
//!   Nobody can delete or deactivate themselves, and the last active owner
//!   can never be deleted, deactivated or demoted.
//! - Changes travel as `UserChanged` patches (only the changed fields; a new
//!   PIN as its argon2 PHC string) and deletes as `UserDeleted` tombstones.
//!   A PIN itself is never stored, logged or queued.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use pos_domain::{Name, Pin, Role, Timestamp, UserId};
use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::{OpBody, Tombstone, UserPatch};

use crate::sql::col_parse;
use crate::{Actor, Result, Store, StoreError, Tx};

/// Wrong PINs in a row that lock a user. The count only resets on a correct
/// PIN, a PIN reset or an unlock, so once a lock has run out a single further
/// wrong PIN locks the user again.
pub const MAX_PIN_FAILURES: u32 = 5;

/// How long a lock lasts, in minutes.
pub const LOCKOUT_MINUTES: i64 = 5;

const MINUTE_MS: i64 = 60_000;

/// A user as the login screen and the user list show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub id: UserId,
    pub name: String,
    pub role: Role,
    pub active: bool,
    /// Set while the user is locked out after too many wrong PINs.
    pub locked_until: Option<Timestamp>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    pub name: Option<Name>,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

/// Hashes a PIN with argon2id and a random salt (PHC string).
pub(crate) fn hash_pin(pin: &Pin) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pin.expose(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid(format!("could not secure the PIN: {e}")))
}

/// Whether `pin` matches the PHC string `phc` (constant-time comparison).
fn verify_pin(pin: &Pin, phc: &str) -> Result<bool> {
    let corrupt = |e: argon2::password_hash::Error| {
        StoreError::Corrupt(format!("a user's PIN hash cannot be read: {e}"))
    };
    let hash = PasswordHash::new(phc).map_err(corrupt)?;
    match Argon2::default().verify_password(pin.expose(), &hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(corrupt(e)),
    }
}

/// What a wrong PIN led to, committed before the error is returned.
enum Failure {
    WrongPin { attempts_left: u32 },
    LockedOut { until: Timestamp },
}

impl Store {
    /// Creates the first user of a fresh till: the owner. Refused once any
    /// user exists.
    pub fn create_first_owner(&mut self, name: Name, pin: &Pin) -> Result<Actor> {
        let pin_hash = hash_pin(pin)?;
        self.write(|tx| {
            let users: i64 = tx.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
            if users > 0 {
                return Err(StoreError::AlreadySetUp);
            }
            insert_user(tx, UserId::new(), &name, Role::Owner, pin_hash)
        })
    }

    /// Live (not deleted) users for the login screen, by name.
    pub fn users(&self) -> Result<Vec<UserSummary>> {
        let now = self.now();
        let mut stmt = self.conn().prepare_cached(
            "SELECT u.id, u.name, u.role, u.active, a.locked_until
             FROM users u LEFT JOIN login_attempts a ON a.user_id = u.id
             WHERE u.deleted_at IS NULL
             ORDER BY u.name COLLATE NOCASE, u.id",
        )?;
        let rows = stmt.query_map([], |r| summary_row(r, now))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One live user.
    pub fn user(&self, id: UserId) -> Result<UserSummary> {
        let now = self.now();
        let row = self
            .conn()
            .prepare_cached(
                "SELECT u.id, u.name, u.role, u.active, a.locked_until, u.deleted_at
                 FROM users u LEFT JOIN login_attempts a ON a.user_id = u.id
                 WHERE u.id = ?1",
            )?
            .query_row([id.to_string()], |r| {
                Ok((summary_row(r, now)?, r.get::<_, Option<i64>>(5)?))
            })
            .optional()?;
        match row {
            None => Err(not_found(id)),
            Some((u, Some(_))) => Err(StoreError::Deleted {
                what: "user",
                name: u.name,
            }),
            Some((u, None)) => Ok(u),
        }
    }

    /// Signs a user in with their PIN.
    ///
    /// Text that is not a PIN (4–8 digits) is refused without counting as an
    /// attempt. A locked user is refused without checking the PIN. A wrong PIN
    /// is counted (and the count committed) before [`StoreError::WrongPin`] or
    /// [`StoreError::LockedOut`] is returned. Nothing is queued for sync.
    pub fn login(&mut self, user_id: UserId, pin: &str) -> Result<Actor> {
        let pin = Pin::parse(pin)?;
        self.authenticate(user_id, &pin)
    }

    /// Adds a user. Owners add anyone; managers add cashiers. Names are unique
    /// among live users, ignoring case, because the login screen lists names.
    pub fn add_user(
        &mut self,
        actor: &Actor,
        name: Name,
        role: Role,
        pin: &Pin,
    ) -> Result<UserSummary> {
        require_manage(actor, role)?;
        // Checked before hashing (hashing is slow); again in the transaction.
        check_name_free(self.conn(), &name, None)?;
        let pin_hash = hash_pin(pin)?;
        let id = UserId::new();
        self.write(|tx| {
            check_name_free(tx, &name, None)?;
            insert_user(tx, id, &name, role, pin_hash)
        })?;
        Ok(UserSummary {
            id,
            name: name.to_string(),
            role,
            active: true,
            locked_until: None,
        })
    }

    /// Renames, changes the role of, deactivates or reactivates a user. The
    /// actor must be able to manage both the user's current and new role.
    /// Queues a patch of the fields that change; changes nothing (and queues
    /// nothing) when every field is already as asked.
    pub fn update_user(
        &mut self,
        actor: &Actor,
        id: UserId,
        update: UserUpdate,
    ) -> Result<UserSummary> {
        if changes_nothing(&plan_update(self.conn(), actor, id, &update)?) {
            return self.user(id);
        }
        self.write(|tx| {
            let change = plan_update(tx, actor, id, &update)?;
            if changes_nothing(&change) {
                return Ok(());
            }
            let hlc = tx.tick();
            tx.execute(
                "UPDATE users SET name = COALESCE(?2, name), role = COALESCE(?3, role),
                                  active = COALESCE(?4, active), hlc = ?5
                 WHERE id = ?1",
                params![
                    id.to_string(),
                    change.name.as_ref().map(Name::as_str),
                    change.role.map(Role::as_str),
                    change.active,
                    hlc.to_string(),
                ],
            )?;
            tx.enqueue_at(OpBody::UserChanged(change), hlc)?;
            Ok(())
        })?;
        self.user(id)
    }

    /// Sets a new PIN for a user (managers for cashiers, owners for anyone)
    /// and lifts any lockout.
    pub fn reset_pin(&mut self, actor: &Actor, id: UserId, pin: &Pin) -> Result<()> {
        managed_user(self.conn(), actor, id)?;
        let pin_hash = hash_pin(pin)?;
        self.write(|tx| {
            managed_user(tx, actor, id)?;
            set_pin_hash(tx, id, pin_hash)
        })
    }

    /// Changes the signed-in user's own PIN. The old PIN is checked like a
    /// login: a wrong one counts towards the lockout.
    pub fn change_own_pin(&mut self, actor: &Actor, old: &str, new: &Pin) -> Result<()> {
        let old = Pin::parse(old)?;
        self.authenticate(actor.user_id, &old)?;
        let pin_hash = hash_pin(new)?;
        self.write(|tx| {
            live_user(tx, actor.user_id)?;
            set_pin_hash(tx, actor.user_id, pin_hash)
        })
    }

    /// Lifts a user's lockout (managers and owners). Local to this till:
    /// nothing is queued.
    pub fn unlock_user(&mut self, actor: &Actor, id: UserId) -> Result<()> {
        if actor.role < Role::Manager {
            return Err(StoreError::Forbidden {
                action: "unlock users",
                needed: Role::Manager,
            });
        }
        self.write(|tx| {
            let user = live_user(tx, id)?;
            // Only users one may manage: otherwise a manager could unlock an
            // owner after every five guesses and try PINs without limit.
            require_manage(actor, user.role)?;
            clear_attempts(tx, id)
        })
    }

    /// Deletes a user (soft: the row stays for old receipts) and queues a
    /// tombstone. Nobody can delete themselves or the last active owner.
    pub fn delete_user(&mut self, actor: &Actor, id: UserId) -> Result<()> {
        self.write(|tx| {
            let user = live_user(tx, id)?;
            if id == actor.user_id {
                return Err(StoreError::Invalid(
                    "you cannot delete yourself; ask another manager or owner to do it".into(),
                ));
            }
            require_manage(actor, user.role)?;
            guard_last_owner(tx, &user, "deleted")?;
            let hlc = tx.tick();
            let now = tx.now();
            tx.execute(
                "UPDATE users SET deleted_at = ?2, hlc = ?3 WHERE id = ?1",
                params![id.to_string(), now.as_millis(), hlc.to_string()],
            )?;
            clear_attempts(tx, id)?;
            tx.enqueue_at(
                OpBody::UserDeleted(Tombstone {
                    id,
                    deleted_at: now,
                }),
                hlc,
            )?;
            Ok(())
        })
    }

    /// Checks a well-formed PIN against a user, counting a wrong one.
    fn authenticate(&mut self, user_id: UserId, pin: &Pin) -> Result<Actor> {
        let now = self.now();
        let user = match find_user(self.conn(), user_id)? {
            Some(u) if !u.deleted => u,
            _ => return Err(not_found(user_id)),
        };
        if !user.active {
            return Err(StoreError::UserInactive(user.name));
        }
        let attempts = self
            .conn()
            .prepare_cached("SELECT locked_until FROM login_attempts WHERE user_id = ?1")?
            .query_row([user_id.to_string()], |r| r.get::<_, Option<i64>>(0))
            .optional()?;
        if let Some(Some(until)) = attempts {
            let until = Timestamp::from_millis(until);
            if until > now {
                return Err(locked_out(now, until));
            }
        }
        if verify_pin(pin, &user.pin_hash)? {
            if attempts.is_some() {
                self.write(|tx| clear_attempts(tx, user_id))?;
            }
            return Ok(Actor {
                user_id,
                name: user.name,
                role: user.role,
            });
        }
        // The count must survive the refusal, so this write succeeds and the
        // error is made after it has committed.
        let failure = self.write(|tx| record_failure(tx, user_id))?;
        Err(match failure {
            Failure::WrongPin { attempts_left } => StoreError::WrongPin { attempts_left },
            Failure::LockedOut { until } => locked_out(now, until),
        })
    }
}

fn locked_out(now: Timestamp, until: Timestamp) -> StoreError {
    let ms = until.as_millis().saturating_sub(now.as_millis()).max(1);
    StoreError::LockedOut {
        minutes: (ms + MINUTE_MS - 1) / MINUTE_MS,
    }
}

fn not_found(id: UserId) -> StoreError {
    StoreError::NotFound {
        what: "user",
        id: id.to_string(),
    }
}

/// Counts a wrong PIN and locks the user once there have been enough.
fn record_failure(tx: &mut Tx<'_>, user_id: UserId) -> Result<Failure> {
    let failures: i64 = tx
        .prepare_cached(
            "INSERT INTO login_attempts (user_id, failures, locked_until) VALUES (?1, 1, NULL)
             ON CONFLICT (user_id) DO UPDATE SET failures = failures + 1
             RETURNING failures",
        )?
        .query_row([user_id.to_string()], |r| r.get(0))?;
    let failures = u32::try_from(failures).unwrap_or(u32::MAX);
    if failures < MAX_PIN_FAILURES {
        return Ok(Failure::WrongPin {
            attempts_left: MAX_PIN_FAILURES - failures,
        });
    }
    let until = tx.now().plus_millis(LOCKOUT_MINUTES * MINUTE_MS);
    tx.execute(
        "UPDATE login_attempts SET locked_until = ?2 WHERE user_id = ?1",
        params![user_id.to_string(), until.as_millis()],
    )?;
    Ok(Failure::LockedOut { until })
}

fn clear_attempts(tx: &Tx<'_>, user_id: UserId) -> Result<()> {
    tx.execute(
        "DELETE FROM login_attempts WHERE user_id = ?1",
        [user_id.to_string()],
    )?;
    Ok(())
}

/// Stores a new PIN hash, lifts the lockout and queues the hash.
fn set_pin_hash(tx: &mut Tx<'_>, id: UserId, pin_hash: String) -> Result<()> {
    let hlc = tx.tick();
    tx.execute(
        "UPDATE users SET pin_hash = ?2, hlc = ?3 WHERE id = ?1",
        params![id.to_string(), pin_hash, hlc.to_string()],
    )?;
    clear_attempts(tx, id)?;
    let patch = UserPatch {
        pin_hash: Some(pin_hash),
        ..UserPatch::new(id)
    };
    tx.enqueue_at(OpBody::UserChanged(patch), hlc)?;
    Ok(())
}

pub(crate) fn insert_user(
    tx: &mut Tx<'_>,
    id: UserId,
    name: &Name,
    role: Role,
    pin_hash: String,
) -> Result<Actor> {
    let hlc = tx.tick();
    tx.execute(
        "INSERT INTO users (id, name, role, pin_hash, active, created_at, hlc) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)",
        params![id.to_string(), name.as_str(), role.as_str(), pin_hash, tx.now().as_millis(), hlc.to_string()],
    )?;
    let patch = UserPatch {
        name: Some(name.clone()),
        role: Some(role),
        pin_hash: Some(pin_hash),
        active: Some(true),
        ..UserPatch::new(id)
    };
    tx.enqueue_at(OpBody::UserChanged(patch), hlc)?;
    Ok(Actor {
        user_id: id,
        name: name.to_string(),
        role,
    })
}

/// A user's row, deleted or not.
struct UserRow {
    id: UserId,
    name: String,
    role: Role,
    pin_hash: String,
    active: bool,
    deleted: bool,
}

fn summary_row(r: &rusqlite::Row<'_>, now: Timestamp) -> rusqlite::Result<UserSummary> {
    Ok(UserSummary {
        id: col_parse(r, 0)?,
        name: r.get(1)?,
        role: col_parse(r, 2)?,
        active: r.get(3)?,
        locked_until: r
            .get::<_, Option<i64>>(4)?
            .map(Timestamp::from_millis)
            .filter(|t| *t > now),
    })
}

fn find_user(conn: &Connection, id: UserId) -> Result<Option<UserRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, name, role, pin_hash, active, deleted_at FROM users WHERE id = ?1",
        )?
        .query_row([id.to_string()], |r| {
            Ok(UserRow {
                id: col_parse(r, 0)?,
                name: r.get(1)?,
                role: col_parse(r, 2)?,
                pin_hash: r.get(3)?,
                active: r.get(4)?,
                deleted: r.get::<_, Option<i64>>(5)?.is_some(),
            })
        })
        .optional()?)
}

/// A user who exists and is not deleted.
fn live_user(conn: &Connection, id: UserId) -> Result<UserRow> {
    match find_user(conn, id)? {
        None => Err(not_found(id)),
        Some(u) if u.deleted => Err(StoreError::Deleted {
            what: "user",
            name: u.name,
        }),
        Some(u) => Ok(u),
    }
}

/// A live user that `actor` may manage.
fn managed_user(conn: &Connection, actor: &Actor, id: UserId) -> Result<UserRow> {
    let user = live_user(conn, id)?;
    require_manage(actor, user.role)?;
    Ok(user)
}

/// Refuses unless `actor` may manage users with `role`.
fn require_manage(actor: &Actor, role: Role) -> Result<()> {
    if actor.role.can_manage(role) {
        return Ok(());
    }
    Err(if role == Role::Cashier {
        StoreError::Forbidden {
            action: "manage cashiers",
            needed: Role::Manager,
        }
    } else {
        StoreError::Forbidden {
            action: "manage managers and owners",
            needed: Role::Owner,
        }
    })
}

/// Refuses a second live user with the same name, ignoring case.
fn check_name_free(conn: &Connection, name: &Name, except: Option<UserId>) -> Result<()> {
    let wanted = name.as_str().to_lowercase();
    let except = except.map(|id| id.to_string()).unwrap_or_default();
    let mut stmt =
        conn.prepare_cached("SELECT name FROM users WHERE deleted_at IS NULL AND id <> ?1")?;
    let mut rows = stmt.query([except])?;
    while let Some(r) = rows.next()? {
        let existing: String = r.get(0)?;
        if existing.to_lowercase() == wanted {
            return Err(StoreError::Invalid(format!(
                "there is already a user called '{existing}'; choose a different name, \
                 for example add an initial"
            )));
        }
    }
    Ok(())
}

/// Refuses to take away the last active owner.
fn guard_last_owner(conn: &Connection, user: &UserRow, what: &str) -> Result<()> {
    if user.role != Role::Owner || !user.active {
        return Ok(());
    }
    let others: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM users
             WHERE role = 'owner' AND active = 1 AND deleted_at IS NULL AND id <> ?1",
        )?
        .query_row([user.id.to_string()], |r| r.get(0))?;
    if others == 0 {
        return Err(StoreError::Invalid(format!(
            "'{}' is the only active owner and cannot be {what}; make another user an owner first",
            user.name
        )));
    }
    Ok(())
}

/// Checks an update and works out the patch of fields that actually change.
fn plan_update(
    conn: &Connection,
    actor: &Actor,
    id: UserId,
    update: &UserUpdate,
) -> Result<UserPatch> {
    let user = managed_user(conn, actor, id)?;
    let change = UserPatch {
        name: update.name.clone().filter(|n| n.as_str() != user.name),
        role: update.role.filter(|r| *r != user.role),
        active: update.active.filter(|a| *a != user.active),
        ..UserPatch::new(id)
    };
    if let Some(role) = change.role {
        require_manage(actor, role)?;
    }
    if change.active == Some(false) {
        if id == actor.user_id {
            return Err(StoreError::Invalid(
                "you cannot deactivate yourself; ask another manager or owner to do it".into(),
            ));
        }
        guard_last_owner(conn, &user, "deactivated")?;
    }
    if change.role.is_some() {
        guard_last_owner(conn, &user, "demoted")?;
    }
    if let Some(name) = &change.name {
        check_name_free(conn, name, Some(id))?;
    }
    Ok(change)
}

fn changes_nothing(patch: &UserPatch) -> bool {
    patch.name.is_none()
        && patch.role.is_none()
        && patch.pin_hash.is_none()
        && patch.active.is_none()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use pos_domain::{DomainError, ManualClock};
    use sync_protocol::OpEnvelope;

    use super::*;
    use crate::Durability;
    use crate::testkit::{Kit, T0, kit};

    const MINUTE: i64 = 60_000;

    fn name(s: &str) -> Name {
        Name::parse("name", s).unwrap()
    }

    fn pin(s: &str) -> Pin {
        Pin::parse(s).unwrap()
    }

    fn actor(u: &UserSummary) -> Actor {
        Actor {
            user_id: u.id,
            name: u.name.clone(),
            role: u.role,
        }
    }

    fn add(kit: &mut Kit, by: &Actor, n: &str, role: Role, p: &str) -> UserSummary {
        kit.store.add_user(by, name(n), role, &pin(p)).unwrap()
    }

    /// Everything a user write can touch except `login_attempts`.
    fn state_but_attempts(kit: &Kit) -> (Vec<(String, i64)>, Vec<String>, Vec<String>) {
        let mut counts = kit.snapshot();
        counts.retain(|(t, _)| t != "login_attempts");
        (counts, kit.rows("users"), kit.rows("outbox"))
    }

    /// Everything a user write can touch.
    type State = ((Vec<(String, i64)>, Vec<String>, Vec<String>), Vec<String>);

    fn state(kit: &Kit) -> State {
        (state_but_attempts(kit), kit.rows("login_attempts"))
    }

    fn ops(kit: &Kit) -> Vec<OpEnvelope> {
        kit.store
            .outbox_pending(100)
            .unwrap()
            .into_iter()
            .map(|e| e.op)
            .collect()
    }

    fn last_op(kit: &Kit) -> OpEnvelope {
        ops(kit).pop().unwrap()
    }

    fn column(kit: &Kit, id: UserId, col: &str) -> String {
        kit.store
            .conn()
            .query_row(
                &format!("SELECT {col} FROM users WHERE id = ?1"),
                [id.to_string()],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// `(failures, locked_until)` of a user, if any.
    fn attempts(kit: &Kit, id: UserId) -> Option<(i64, Option<i64>)> {
        kit.store
            .conn()
            .query_row(
                "SELECT failures, locked_until FROM login_attempts WHERE user_id = ?1",
                [id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .unwrap()
    }

    /// Locks a user as five wrong PINs would, without hashing five times.
    fn lock(kit: &Kit, id: UserId, until: Timestamp) {
        kit.store
            .conn()
            .execute(
                "INSERT OR REPLACE INTO login_attempts (user_id, failures, locked_until)
                 VALUES (?1, 5, ?2)",
                params![id.to_string(), until.as_millis()],
            )
            .unwrap();
    }

    #[test]
    fn users_are_listed_by_name_with_their_locks_and_without_deleted_ones() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let brian = add(&mut kit, &owner, "brian", Role::Cashier, "1111");
        let akinyi = add(&mut kit, &owner, "Akinyi", Role::Manager, "2222");
        lock(&kit, brian.id, T0.plus_millis(MINUTE));

        let users = kit.store.users().unwrap();
        let names: Vec<_> = users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["Akinyi", "brian", "Wanjiru"]);
        assert_eq!(users[0], akinyi);
        assert_eq!(
            users[1],
            UserSummary {
                locked_until: Some(T0.plus_millis(MINUTE)),
                ..brian.clone()
            }
        );
        assert_eq!(users[2].role, Role::Owner);
        assert_eq!(users[2].locked_until, None);

        // An expired lock is not shown.
        kit.clock.advance_millis(MINUTE);
        assert_eq!(kit.store.user(brian.id).unwrap(), brian);

        kit.store.delete_user(&owner, brian.id).unwrap();
        let names: Vec<_> = kit
            .store
            .users()
            .unwrap()
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(names, ["Akinyi", "Wanjiru"]);
        assert!(matches!(
            kit.store.user(brian.id),
            Err(StoreError::Deleted { what: "user", .. })
        ));
    }

    #[test]
    fn a_wrong_pin_is_counted_and_committed_and_the_right_pin_resets_the_count() {
        let mut kit = kit();
        let id = kit.owner.user_id;
        let before = state_but_attempts(&kit);

        let err = kit.store.login(id, "9999").unwrap_err();
        assert!(
            matches!(err, StoreError::WrongPin { attempts_left: 4 }),
            "{err:?}"
        );
        // The refusal committed the count, and changed nothing else.
        assert_eq!(attempts(&kit, id), Some((1, None)));
        assert_eq!(state_but_attempts(&kit), before);

        let err = kit.store.login(id, "0000").unwrap_err();
        assert!(
            matches!(err, StoreError::WrongPin { attempts_left: 3 }),
            "{err:?}"
        );
        assert_eq!(attempts(&kit, id), Some((2, None)));

        let signed_in = kit.store.login(id, "1234").unwrap();
        assert_eq!(signed_in, kit.owner);
        assert_eq!(attempts(&kit, id), None);
        // Logins queue nothing.
        assert_eq!(state_but_attempts(&kit), before);
    }

    #[test]
    fn text_that_is_not_a_pin_is_refused_and_not_counted() {
        let mut kit = kit();
        let id = kit.owner.user_id;
        let before = state(&kit);
        for bad in ["123", "123456789", "12a4", "", "    ", "١٢٣٤"] {
            let err = kit.store.login(id, bad).unwrap_err();
            assert!(
                matches!(err, StoreError::Rule(DomainError::BadPin)),
                "{bad:?}: {err:?}"
            );
            assert_eq!(state(&kit), before, "{bad:?}");
        }
    }

    #[test]
    fn five_wrong_pins_lock_the_user_and_a_lock_is_checked_before_the_pin() {
        let mut kit = kit();
        let id = kit.owner.user_id;
        let before = state_but_attempts(&kit);

        for left in [4, 3, 2, 1] {
            let err = kit.store.login(id, "9999").unwrap_err();
            assert!(
                matches!(err, StoreError::WrongPin { attempts_left } if attempts_left == left),
                "{err:?}"
            );
        }
        let err = kit.store.login(id, "9999").unwrap_err();
        assert!(
            matches!(err, StoreError::LockedOut { minutes: 5 }),
            "{err:?}"
        );
        let until = T0.plus_millis(LOCKOUT_MINUTES * MINUTE);
        assert_eq!(attempts(&kit, id), Some((5, Some(until.as_millis()))));
        assert_eq!(kit.store.user(id).unwrap().locked_until, Some(until));
        assert_eq!(state_but_attempts(&kit), before);

        // While locked even the right PIN is refused, and nothing is counted.
        let locked = state(&kit);
        let err = kit.store.login(id, "1234").unwrap_err();
        assert!(
            matches!(err, StoreError::LockedOut { minutes: 5 }),
            "{err:?}"
        );
        assert_eq!(state(&kit), locked);
        // The PIN is not even checked: an unreadable hash goes unnoticed.
        let hash = column(&kit, id, "pin_hash");
        let set_hash = |kit: &Kit, h: &str| {
            kit.store
                .conn()
                .execute(
                    "UPDATE users SET pin_hash = ?2 WHERE id = ?1",
                    params![id.to_string(), h],
                )
                .unwrap()
        };
        set_hash(&kit, "not a hash");
        let err = kit.store.login(id, "1234").unwrap_err();
        assert!(
            matches!(err, StoreError::LockedOut { minutes: 5 }),
            "{err:?}"
        );
        set_hash(&kit, &hash);

        // Minutes left are rounded up.
        kit.clock.advance_millis(4 * MINUTE + 30_000);
        let err = kit.store.login(id, "1234").unwrap_err();
        assert!(
            matches!(err, StoreError::LockedOut { minutes: 1 }),
            "{err:?}"
        );

        // Once the lock has run out, one more wrong PIN locks again.
        kit.clock.advance_millis(30_000);
        let err = kit.store.login(id, "9999").unwrap_err();
        assert!(
            matches!(err, StoreError::LockedOut { minutes: 5 }),
            "{err:?}"
        );
        let until = T0.plus_millis(2 * LOCKOUT_MINUTES * MINUTE);
        assert_eq!(attempts(&kit, id), Some((6, Some(until.as_millis()))));

        kit.clock.set(until);
        assert_eq!(kit.store.login(id, "1234").unwrap(), kit.owner);
        assert_eq!(attempts(&kit, id), None);
        assert_eq!(state_but_attempts(&kit), before);
    }

    #[test]
    fn unknown_deactivated_and_deleted_users_cannot_log_in() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let before = state(&kit);
        let err = kit.store.login(UserId::new(), "1234").unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound { what: "user", .. }),
            "{err:?}"
        );
        assert_eq!(state(&kit), before);

        let brian = add(&mut kit, &owner, "Brian", Role::Cashier, "1111");
        let off = UserUpdate {
            active: Some(false),
            ..UserUpdate::default()
        };
        kit.store.update_user(&owner, brian.id, off).unwrap();
        let before = state(&kit);
        let err = kit.store.login(brian.id, "1111").unwrap_err();
        assert!(
            matches!(&err, StoreError::UserInactive(n) if n == "Brian"),
            "{err:?}"
        );
        assert_eq!(state(&kit), before);

        kit.store.delete_user(&owner, brian.id).unwrap();
        let before = state(&kit);
        let err = kit.store.login(brian.id, "1111").unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound { what: "user", .. }),
            "{err:?}"
        );
        assert_eq!(state(&kit), before);
    }

    #[test]
    fn owners_add_anyone_and_managers_add_cashiers() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let akinyi = add(&mut kit, &owner, "Akinyi", Role::Manager, "2468");
        assert_eq!(
            akinyi,
            UserSummary {
                id: akinyi.id,
                name: "Akinyi".into(),
                role: Role::Manager,
                active: true,
                locked_until: None,
            }
        );
        assert_eq!(kit.store.user(akinyi.id).unwrap(), akinyi);
        let op = last_op(&kit);
        let OpBody::UserChanged(patch) = &op.body else {
            panic!("{op:?}")
        };
        let hash = column(&kit, akinyi.id, "pin_hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert_eq!(
            *patch,
            UserPatch {
                name: Some(name("Akinyi")),
                role: Some(Role::Manager),
                pin_hash: Some(hash),
                active: Some(true),
                ..UserPatch::new(akinyi.id)
            }
        );
        assert_eq!(op.hlc.to_string(), column(&kit, akinyi.id, "hlc"));

        let manager = actor(&akinyi);
        let brian = add(&mut kit, &manager, "Brian", Role::Cashier, "1357");
        assert_eq!(brian.role, Role::Cashier);
        assert!(matches!(last_op(&kit).body, OpBody::UserChanged(p) if p.id == brian.id));

        let before = state(&kit);
        for role in [Role::Manager, Role::Owner] {
            let err = kit
                .store
                .add_user(&manager, name("Chebet"), role, &pin("1111"))
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    StoreError::Forbidden {
                        needed: Role::Owner,
                        ..
                    }
                ),
                "{err:?}"
            );
            assert_eq!(state(&kit), before);
        }
        let cashier = actor(&brian);
        let err = kit
            .store
            .add_user(&cashier, name("Chebet"), Role::Cashier, &pin("1111"))
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Forbidden {
                    needed: Role::Manager,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(state(&kit), before);
    }

    #[test]
    fn two_live_users_cannot_share_a_name() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let brian = add(&mut kit, &owner, "Brian Otieno", Role::Cashier, "1111");
        let wambui = add(&mut kit, &owner, "Wambui", Role::Cashier, "2222");

        let before = state(&kit);
        for dup in ["brian otieno", "BRIAN OTIENO", "  Brian Otieno "] {
            let err = kit
                .store
                .add_user(&owner, name(dup), Role::Cashier, &pin("3333"))
                .unwrap_err();
            assert!(
                matches!(&err, StoreError::Invalid(m) if m.contains("already a user called 'Brian Otieno'")),
                "{dup}: {err:?}"
            );
            assert_eq!(state(&kit), before, "{dup}");
        }
        let rename = UserUpdate {
            name: Some(name("WANJIRU")),
            ..UserUpdate::default()
        };
        let err = kit
            .store
            .update_user(&owner, wambui.id, rename)
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(m) if m.contains("already a user called 'Wanjiru'")),
            "{err:?}"
        );
        assert_eq!(state(&kit), before);

        // A user may change the case of their own name; a deleted user's
        // name is free again.
        let recase = UserUpdate {
            name: Some(name("WAMBUI")),
            ..UserUpdate::default()
        };
        assert_eq!(
            kit.store
                .update_user(&owner, wambui.id, recase)
                .unwrap()
                .name,
            "WAMBUI"
        );
        kit.store.delete_user(&owner, brian.id).unwrap();
        add(&mut kit, &owner, "brian otieno", Role::Cashier, "3333");
    }

    #[test]
    fn update_user_queues_only_the_changed_fields_and_nothing_when_nothing_changes() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let brian = add(&mut kit, &owner, "Brian", Role::Cashier, "1111");
        let queued = ops(&kit).len();

        let promote = UserUpdate {
            name: Some(name("Brian")),
            role: Some(Role::Manager),
            active: Some(true),
        };
        let updated = kit
            .store
            .update_user(&owner, brian.id, promote.clone())
            .unwrap();
        assert_eq!(
            updated,
            UserSummary {
                role: Role::Manager,
                ..brian.clone()
            }
        );
        assert_eq!(ops(&kit).len(), queued + 1);
        let op = last_op(&kit);
        assert_eq!(
            op.body,
            OpBody::UserChanged(UserPatch {
                role: Some(Role::Manager),
                ..UserPatch::new(brian.id)
            })
        );
        assert_eq!(op.hlc.to_string(), column(&kit, brian.id, "hlc"));

        let before = state(&kit);
        assert_eq!(
            kit.store.update_user(&owner, brian.id, promote).unwrap(),
            updated
        );
        assert_eq!(
            kit.store
                .update_user(&owner, brian.id, UserUpdate::default())
                .unwrap(),
            updated
        );
        assert_eq!(state(&kit), before);

        let rename_and_deactivate = UserUpdate {
            name: Some(name("Brian O.")),
            role: Some(Role::Manager),
            active: Some(false),
        };
        let updated = kit
            .store
            .update_user(&owner, brian.id, rename_and_deactivate)
            .unwrap();
        assert_eq!((updated.name.as_str(), updated.active), ("Brian O.", false));
        assert_eq!(
            last_op(&kit).body,
            OpBody::UserChanged(UserPatch {
                name: Some(name("Brian O.")),
                active: Some(false),
                ..UserPatch::new(brian.id)
            })
        );

        let before = state(&kit);
        let err = kit
            .store
            .update_user(&owner, UserId::new(), UserUpdate::default())
            .unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound { what: "user", .. }),
            "{err:?}"
        );
        assert_eq!(state(&kit), before);
    }

    #[test]
    fn managers_manage_cashiers_only_and_cashiers_nobody() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let akinyi = add(&mut kit, &owner, "Akinyi", Role::Manager, "2468");
        let brian = add(&mut kit, &owner, "Brian", Role::Cashier, "1357");
        let (manager, cashier) = (actor(&akinyi), actor(&brian));
        let rename = |n: &str| UserUpdate {
            name: Some(name(n)),
            ..UserUpdate::default()
        };
        let to_role = |role| UserUpdate {
            role: Some(role),
            ..UserUpdate::default()
        };

        let before = state(&kit);
        let needs = |err: StoreError, role: Role| {
            assert!(
                matches!(err, StoreError::Forbidden { needed, .. } if needed == role),
                "{err:?}"
            )
        };
        let s = &mut kit.store;
        needs(
            s.update_user(&manager, brian.id, to_role(Role::Manager))
                .unwrap_err(),
            Role::Owner,
        );
        needs(
            s.update_user(&manager, akinyi.id, rename("Aki"))
                .unwrap_err(),
            Role::Owner,
        );
        needs(
            s.update_user(&manager, owner.user_id, rename("W"))
                .unwrap_err(),
            Role::Owner,
        );
        needs(
            s.delete_user(&manager, owner.user_id).unwrap_err(),
            Role::Owner,
        );
        needs(
            s.reset_pin(&manager, owner.user_id, &pin("1111"))
                .unwrap_err(),
            Role::Owner,
        );
        needs(
            s.update_user(&cashier, brian.id, rename("B")).unwrap_err(),
            Role::Manager,
        );
        needs(
            s.reset_pin(&cashier, brian.id, &pin("1111")).unwrap_err(),
            Role::Manager,
        );
        needs(
            s.unlock_user(&cashier, brian.id).unwrap_err(),
            Role::Manager,
        );
        needs(s.delete_user(&cashier, akinyi.id).unwrap_err(), Role::Owner);
        assert_eq!(state(&kit), before);

        kit.store
            .update_user(&manager, brian.id, rename("Brian O."))
            .unwrap();
        kit.store.delete_user(&manager, brian.id).unwrap();
        assert!(matches!(last_op(&kit).body, OpBody::UserDeleted(t) if t.id == brian.id));
    }

    #[test]
    fn nobody_removes_themselves_and_the_last_active_owner_stays() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let me = owner.user_id;
        let before = state(&kit);
        let refused = |err: StoreError, text: &str| {
            assert!(
                matches!(&err, StoreError::Invalid(m) if m.contains(text)),
                "{text}: {err:?}"
            )
        };
        let off = UserUpdate {
            active: Some(false),
            ..UserUpdate::default()
        };
        let demote = UserUpdate {
            role: Some(Role::Manager),
            ..UserUpdate::default()
        };
        let s = &mut kit.store;
        refused(
            s.delete_user(&owner, me).unwrap_err(),
            "cannot delete yourself",
        );
        refused(
            s.update_user(&owner, me, off.clone()).unwrap_err(),
            "cannot deactivate yourself",
        );
        refused(
            s.update_user(&owner, me, demote.clone()).unwrap_err(),
            "'Wanjiru' is the only active owner and cannot be demoted; make another user an owner first",
        );
        assert_eq!(state(&kit), before);

        // With a second owner, the first may step down.
        let otieno = add(&mut kit, &owner, "Otieno", Role::Owner, "8642");
        kit.store.update_user(&owner, me, demote).unwrap();
        assert_eq!(kit.store.user(me).unwrap().role, Role::Manager);

        // Otieno is now the last active owner. A session still holding the
        // old owner role (another till, not yet refreshed) cannot remove him.
        let before = state(&kit);
        let s = &mut kit.store;
        refused(
            s.delete_user(&owner, otieno.id).unwrap_err(),
            "only active owner and cannot be deleted",
        );
        refused(
            s.update_user(&owner, otieno.id, off.clone()).unwrap_err(),
            "only active owner and cannot be deactivated",
        );
        let to_cashier = UserUpdate {
            role: Some(Role::Cashier),
            ..UserUpdate::default()
        };
        refused(
            s.update_user(&owner, otieno.id, to_cashier).unwrap_err(),
            "only active owner and cannot be demoted",
        );
        // Nor can he demote himself.
        let him = actor(&otieno);
        refused(
            s.update_user(
                &him,
                otieno.id,
                UserUpdate {
                    role: Some(Role::Manager),
                    ..UserUpdate::default()
                },
            )
            .unwrap_err(),
            "make another user an owner first",
        );
        assert_eq!(state(&kit), before);
    }

    #[test]
    fn reset_pin_replaces_the_hash_and_lifts_the_lock_and_unlock_queues_nothing() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let akinyi = add(&mut kit, &owner, "Akinyi", Role::Manager, "2468");
        let brian = add(&mut kit, &owner, "Brian", Role::Cashier, "1357");
        let manager = actor(&akinyi);
        let until = T0.plus_millis(LOCKOUT_MINUTES * MINUTE);

        // Unlock: local only.
        lock(&kit, brian.id, until);
        let outbox = kit.rows("outbox");
        kit.store.unlock_user(&manager, brian.id).unwrap();
        assert_eq!(attempts(&kit, brian.id), None);
        assert_eq!(kit.rows("outbox"), outbox);

        // A manager cannot unlock an owner (or another manager): that would
        // let them guess an owner's PIN five at a time without end.
        lock(&kit, owner.user_id, until);
        let locked = state(&kit);
        let err = kit.store.unlock_user(&manager, owner.user_id).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Forbidden {
                    needed: Role::Owner,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(state(&kit), locked);
        kit.store.unlock_user(&owner, owner.user_id).unwrap();

        lock(&kit, brian.id, until);
        let before = state(&kit);
        let err = kit.store.unlock_user(&manager, UserId::new()).unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound { what: "user", .. }),
            "{err:?}"
        );
        let err = kit
            .store
            .reset_pin(&owner, UserId::new(), &pin("1111"))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound { what: "user", .. }),
            "{err:?}"
        );
        assert_eq!(state(&kit), before);

        // Reset: a new hash, queued as the only field, and the lock is gone.
        let old_hash = column(&kit, brian.id, "pin_hash");
        kit.store
            .reset_pin(&manager, brian.id, &pin("8642"))
            .unwrap();
        assert_eq!(attempts(&kit, brian.id), None);
        let new_hash = column(&kit, brian.id, "pin_hash");
        assert_ne!(new_hash, old_hash);
        let op = last_op(&kit);
        assert_eq!(
            op.body,
            OpBody::UserChanged(UserPatch {
                pin_hash: Some(new_hash),
                ..UserPatch::new(brian.id)
            })
        );
        assert_eq!(op.hlc.to_string(), column(&kit, brian.id, "hlc"));
        assert_eq!(kit.store.login(brian.id, "8642").unwrap().user_id, brian.id);
        let err = kit.store.login(brian.id, "1357").unwrap_err();
        assert!(
            matches!(err, StoreError::WrongPin { attempts_left: 4 }),
            "{err:?}"
        );
    }

    #[test]
    fn change_own_pin_checks_the_old_pin_like_a_login() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let id = owner.user_id;

        let before = state(&kit);
        let err = kit
            .store
            .change_own_pin(&owner, "12", &pin("5678"))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Rule(DomainError::BadPin)),
            "{err:?}"
        );
        assert_eq!(state(&kit), before);

        let before = state_but_attempts(&kit);
        let err = kit
            .store
            .change_own_pin(&owner, "4321", &pin("5678"))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::WrongPin { attempts_left: 4 }),
            "{err:?}"
        );
        assert_eq!(attempts(&kit, id), Some((1, None)));
        assert_eq!(state_but_attempts(&kit), before);

        kit.store
            .change_own_pin(&owner, "1234", &pin("5678"))
            .unwrap();
        assert_eq!(attempts(&kit, id), None);
        assert_eq!(
            last_op(&kit).body,
            OpBody::UserChanged(UserPatch {
                pin_hash: Some(column(&kit, id, "pin_hash")),
                ..UserPatch::new(id)
            })
        );
        assert_eq!(kit.store.login(id, "5678").unwrap(), owner);
    }

    #[test]
    fn delete_user_is_soft_and_queues_a_tombstone() {
        let mut kit = kit();
        let owner = kit.owner.clone();
        let brian = add(&mut kit, &owner, "Brian", Role::Cashier, "1111");
        kit.clock.advance_millis(1_000);
        kit.store.delete_user(&owner, brian.id).unwrap();

        let deleted_at = T0.plus_millis(1_000);
        let row_deleted_at: i64 = kit
            .store
            .conn()
            .query_row(
                "SELECT deleted_at FROM users WHERE id = ?1",
                [brian.id.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(row_deleted_at, deleted_at.as_millis());
        let op = last_op(&kit);
        assert_eq!(
            op.body,
            OpBody::UserDeleted(Tombstone {
                id: brian.id,
                deleted_at
            })
        );
        assert_eq!(op.hlc.to_string(), column(&kit, brian.id, "hlc"));
        assert!(kit.store.users().unwrap().iter().all(|u| u.id != brian.id));

        let before = state(&kit);
        let gone = |err: StoreError| {
            assert!(
                matches!(&err, StoreError::Deleted { what: "user", name } if name == "Brian"),
                "{err:?}"
            )
        };
        let s = &mut kit.store;
        gone(s.delete_user(&owner, brian.id).unwrap_err());
        gone(
            s.update_user(&owner, brian.id, UserUpdate::default())
                .unwrap_err(),
        );
        gone(s.reset_pin(&owner, brian.id, &pin("2222")).unwrap_err());
        gone(s.unlock_user(&owner, brian.id).unwrap_err());
        let err = s.delete_user(&owner, UserId::new()).unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound { what: "user", .. }),
            "{err:?}"
        );
        assert_eq!(state(&kit), before);
    }

    #[test]
    fn a_pin_is_never_stored_or_queued() {
        const PINS: [&str; 3] = ["58204937", "61739402", "90271463"];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("till.db");
        let clock = Arc::new(ManualClock::new(T0));
        let mut store = Store::open_with(&path, clock, Durability::CrashSafe).unwrap();

        let owner = store
            .create_first_owner(name("Wanjiru"), &pin(PINS[0]))
            .unwrap();
        let brian = store
            .add_user(&owner, name("Brian"), Role::Cashier, &pin(PINS[1]))
            .unwrap();
        assert!(store.login(brian.id, PINS[0]).is_err());
        store.reset_pin(&owner, brian.id, &pin(PINS[2])).unwrap();
        store
            .change_own_pin(&owner, PINS[0], &pin(PINS[1]))
            .unwrap();

        // Every value of every table.
        let tables: Vec<String> = store
            .conn()
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(tables.iter().any(|t| t == "outbox"), "{tables:?}");
        let mut values = 0;
        for table in &tables {
            let mut stmt = store
                .conn()
                .prepare(&format!("SELECT * FROM \"{table}\""))
                .unwrap();
            let n = stmt.column_count();
            let mut rows = stmt.query([]).unwrap();
            while let Some(r) = rows.next().unwrap() {
                for i in 0..n {
                    let text = match r.get::<_, rusqlite::types::Value>(i).unwrap() {
                        rusqlite::types::Value::Text(t) => t,
                        rusqlite::types::Value::Blob(b) => String::from_utf8_lossy(&b).into(),
                        rusqlite::types::Value::Integer(n) => n.to_string(),
                        _ => continue,
                    };
                    values += 1;
                    for p in PINS {
                        assert!(!text.contains(p), "PIN {p} in {table}: {text}");
                    }
                }
            }
        }
        assert!(values > 50, "{values}");

        // The outbox carries hashes instead: one per PIN set.
        let hashes: Vec<String> = store
            .outbox_pending(100)
            .unwrap()
            .into_iter()
            .filter_map(|e| match e.op.body {
                OpBody::UserChanged(p) => p.pin_hash,
                _ => None,
            })
            .collect();
        assert_eq!(hashes.len(), 4, "{hashes:?}");
        assert!(
            hashes.iter().all(|h| h.starts_with("$argon2id$")),
            "{hashes:?}"
        );

        // And the files themselves, byte for byte, before and after checkpointing.
        let scan = |when: &str| {
            for file in ["till.db", "till.db-wal"] {
                let Ok(bytes) = std::fs::read(dir.path().join(file)) else {
                    continue;
                };
                for p in PINS {
                    assert!(
                        !bytes.windows(p.len()).any(|w| w == p.as_bytes()),
                        "PIN {p} in {file} {when}"
                    );
                }
            }
        };
        scan("while open");
        drop(store);
        scan("after closing");
    }
}
