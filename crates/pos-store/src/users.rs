//! Till users: cashiers, managers and owners, with PINs stored only as argon2
//! hashes.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use pos_domain::{Name, Pin, Role, UserId};
use rusqlite::params;
use sync_protocol::{OpBody, UserPatch};

use crate::{Actor, Result, Store, StoreError, Tx};

/// Hashes a PIN with argon2id and a random salt (PHC string).
pub(crate) fn hash_pin(pin: &Pin) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pin.expose(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid(format!("could not secure the PIN: {e}")))
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
